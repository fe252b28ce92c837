/** `torch.nn.modules.pooling`: max, average and adaptive pooling. */
import { type PyTuple, tuple } from "@pt/pickle";
import { Module } from "../module.js";
import { bool, intOrTuple, ints, ntuple, setAll, toNum } from "./attrs.js";

/** Options of the max-pooling constructors. */
export interface MaxPoolOptions {
  readonly stride?: number | readonly number[] | null;
  readonly padding?: number | readonly number[];
  readonly dilation?: number | readonly number[];
  readonly returnIndices?: boolean;
  readonly ceilMode?: boolean;
}
const asPy = (v: number | readonly number[]): number | PyTuple<number> =>
  typeof v === "number" ? v : tuple(v.slice());

/** torch's `_MaxPoolNd`: attributes stored as given (ints or tuples). */
export abstract class MaxPoolNd extends Module {
  static override readonly pyModule: string = "torch.nn.modules.pooling";
  constructor(kernelSize: number | readonly number[], o: MaxPoolOptions = {}) {
    super();
    setAll(this, [
      ["kernel_size", asPy(kernelSize)],
      ["stride", asPy(o.stride ?? kernelSize)],
      ["padding", asPy(o.padding ?? 0)],
      ["dilation", asPy(o.dilation ?? 1)],
      ["return_indices", o.returnIndices ?? false],
      ["ceil_mode", o.ceilMode ?? false],
    ]);
  }
  get kernelSize(): number | number[] | null {
    return intOrTuple(this, "kernel_size");
  }
  get stride(): number | number[] | null {
    return intOrTuple(this, "stride");
  }
  get padding(): number | number[] | null {
    return intOrTuple(this, "padding");
  }
  get dilation(): number | number[] | null {
    return intOrTuple(this, "dilation");
  }
  get ceilMode(): boolean {
    return bool(this, "ceil_mode");
  }
}
/** `nn.MaxPool1d`. */
export class MaxPool1d extends MaxPoolNd {
  static override readonly pyName: string = "MaxPool1d";
}
/** `nn.MaxPool2d`. */
export class MaxPool2d extends MaxPoolNd {
  static override readonly pyName: string = "MaxPool2d";
}

/** `nn.AvgPool1d` (torch stores kernel_size/stride/padding as 1-tuples). */
export class AvgPool1d extends Module {
  static override readonly pyModule: string = "torch.nn.modules.pooling";
  static override readonly pyName: string = "AvgPool1d";
  constructor(
    kernelSize: number | readonly number[],
    o: {
      stride?: number | readonly number[] | null;
      padding?: number | readonly number[];
      ceilMode?: boolean;
      countIncludePad?: boolean;
    } = {},
  ) {
    super();
    setAll(this, [
      ["kernel_size", ntuple(kernelSize, 1)],
      ["stride", ntuple(o.stride ?? kernelSize, 1)],
      ["padding", ntuple(o.padding ?? 0, 1)],
      ["ceil_mode", o.ceilMode ?? false],
      ["count_include_pad", o.countIncludePad ?? true],
    ]);
  }
  get kernelSize(): number[] {
    return ints(this, "kernel_size");
  }
  get stride(): number[] {
    return ints(this, "stride");
  }
  get padding(): number[] {
    return ints(this, "padding");
  }
}

/** `nn.AvgPool2d` (attributes stored as given). */
export class AvgPool2d extends Module {
  static override readonly pyModule: string = "torch.nn.modules.pooling";
  static override readonly pyName: string = "AvgPool2d";
  constructor(
    kernelSize: number | readonly number[],
    o: {
      stride?: number | readonly number[] | null;
      padding?: number | readonly number[];
      ceilMode?: boolean;
      countIncludePad?: boolean;
      divisorOverride?: number | null;
    } = {},
  ) {
    super();
    setAll(this, [
      ["kernel_size", asPy(kernelSize)],
      ["stride", asPy(o.stride ?? kernelSize)],
      ["padding", asPy(o.padding ?? 0)],
      ["ceil_mode", o.ceilMode ?? false],
      ["count_include_pad", o.countIncludePad ?? true],
      ["divisor_override", o.divisorOverride ?? null],
    ]);
  }
  get kernelSize(): number | number[] | null {
    return intOrTuple(this, "kernel_size");
  }
  get stride(): number | number[] | null {
    return intOrTuple(this, "stride");
  }
  get padding(): number | number[] | null {
    return intOrTuple(this, "padding");
  }
}

/** torch's `_AdaptiveAvgPoolNd`: `output_size` as given (null entries allowed). */
export abstract class AdaptiveAvgPoolNd extends Module {
  static override readonly pyModule: string = "torch.nn.modules.pooling";
  constructor(outputSize: number | readonly (number | null)[]) {
    super();
    this.setAttr("output_size", typeof outputSize === "number" ? outputSize : tuple(outputSize.slice()));
  }
  /** `output_size` (a number, or a tuple whose null entries keep the input size). */
  get outputSize(): number | Array<number | null> {
    const v = this.dict.get("output_size");
    if (Array.isArray(v)) return v.map((x) => (x === null ? null : toNum(x)));
    return toNum(v);
  }
}
/** `nn.AdaptiveAvgPool1d`. */
export class AdaptiveAvgPool1d extends AdaptiveAvgPoolNd {
  static override readonly pyName: string = "AdaptiveAvgPool1d";
}
/** `nn.AdaptiveAvgPool2d`. */
export class AdaptiveAvgPool2d extends AdaptiveAvgPoolNd {
  static override readonly pyName: string = "AdaptiveAvgPool2d";
}
/** `nn.AdaptiveMaxPool1d/2d` share `_AdaptiveMaxPoolNd`: `output_size`, `return_indices`. */
export abstract class AdaptiveMaxPoolNd extends Module {
  static override readonly pyModule: string = "torch.nn.modules.pooling";
  constructor(outputSize: number | readonly (number | null)[], options: { returnIndices?: boolean } = {}) {
    super();
    this.setAttr("output_size", typeof outputSize === "number" ? outputSize : tuple(outputSize.slice()));
    this.setAttr("return_indices", options.returnIndices ?? false);
  }
  get returnIndices(): boolean {
    return bool(this, "return_indices");
  }
}
/** `nn.AdaptiveMaxPool1d`. */
export class AdaptiveMaxPool1d extends AdaptiveMaxPoolNd {
  static override readonly pyName: string = "AdaptiveMaxPool1d";
}
/** `nn.AdaptiveMaxPool2d`. */
export class AdaptiveMaxPool2d extends AdaptiveMaxPoolNd {
  static override readonly pyName: string = "AdaptiveMaxPool2d";
}

/** `nn.Flatten(start_dim=1, end_dim=-1)`. */
