/** `torch.nn.modules.conv`: Conv1d/2d/3d, ConvTranspose1d/2d. */
import { type PyTuple, tuple } from "@pt/pickle";
import type { Parameter } from "@pt/tensor";
import { NnError } from "../errors.js";
import { param, uniform } from "../init.js";
import { Module } from "../module.js";
import { bool, ints, ntuple, num, setAll, str, tensorParam } from "./attrs.js";

/** Options of the convolution constructors (ints or per-dimension tuples). */
export interface ConvOptions {
  readonly stride?: number | readonly number[];
  /** An int/tuple, or `"valid"` / `"same"` (non-transposed only). */
  readonly padding?: number | readonly number[] | "valid" | "same";
  readonly dilation?: number | readonly number[];
  readonly groups?: number;
  readonly bias?: boolean;
  readonly paddingMode?: "zeros" | "reflect" | "replicate" | "circular";
  /** ConvTranspose only. */
  readonly outputPadding?: number | readonly number[];
}

/** torch's `_ConvNd`: the attributes shared by Conv1d/2d/3d and ConvTranspose1d/2d. */
export abstract class ConvNd extends Module {
  static override readonly pyModule: string = "torch.nn.modules.conv";
  protected init(
    n: number,
    transposed: boolean,
    inChannels: number,
    outChannels: number,
    kernelSize: number | readonly number[],
    o: ConvOptions,
  ): void {
    const groups = o.groups ?? 1;
    if (groups <= 0) throw new NnError("InvalidState", "groups must be a positive integer", { groups });
    if (inChannels % groups !== 0)
      throw new NnError("InvalidState", "in_channels must be divisible by groups");
    if (outChannels % groups !== 0)
      throw new NnError("InvalidState", "out_channels must be divisible by groups");
    const k = ntuple(kernelSize, n);
    const dilation = ntuple(o.dilation ?? 1, n);
    const p = o.padding ?? 0;
    const padding: PyTuple<number> | string = typeof p === "string" ? p : ntuple(p, n);
    let reversed: PyTuple<number>;
    if (typeof padding === "string") {
      const r: number[] = [];
      for (let d = n - 1; d >= 0; d--) {
        const total = padding === "same" ? dilation[d]! * (k[d]! - 1) : 0;
        const left = Math.floor(total / 2);
        r.push(left, total - left);
      }
      reversed = tuple(r);
    } else {
      reversed = tuple([...padding].reverse().flatMap((x) => [x, x]));
    }
    setAll(this, [
      ["in_channels", inChannels],
      ["out_channels", outChannels],
      ["kernel_size", k],
      ["stride", ntuple(o.stride ?? 1, n)],
      ["padding", padding],
      ["dilation", dilation],
      ["transposed", transposed],
      ["output_padding", ntuple(o.outputPadding ?? 0, n)],
      ["groups", groups],
      ["padding_mode", o.paddingMode ?? "zeros"],
      ["_reversed_padding_repeated_twice", reversed],
    ]);
    const wshape = transposed
      ? [inChannels, outChannels / groups, ...k]
      : [outChannels, inChannels / groups, ...k];
    const fanIn = wshape[1]! * k.reduce((a, b) => a * b, 1);
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    this.registerParameter("weight", param(uniform(wshape, bound)));
    this.registerParameter("bias", (o.bias ?? true) ? param(uniform([outChannels], bound)) : null);
  }
  protected override afterSetState(): void {
    if (!this.dict.has("padding_mode")) this.dict.set("padding_mode", "zeros");
  }
  get inChannels(): number {
    return num(this, "in_channels");
  }
  get outChannels(): number {
    return num(this, "out_channels");
  }
  get kernelSize(): number[] {
    return ints(this, "kernel_size");
  }
  get stride(): number[] {
    return ints(this, "stride");
  }
  /** Per-dimension padding, or `"valid"`/`"same"`. */
  get padding(): number[] | string {
    const v = this.dict.get("padding");
    return typeof v === "string" ? v : ints(this, "padding");
  }
  get dilation(): number[] {
    return ints(this, "dilation");
  }
  get transposed(): boolean {
    return bool(this, "transposed");
  }
  get outputPadding(): number[] {
    return ints(this, "output_padding");
  }
  get groups(): number {
    return num(this, "groups");
  }
  get paddingMode(): string {
    return str(this, "padding_mode");
  }
  get weight(): Parameter | null {
    return tensorParam(this, "weight");
  }
  get bias(): Parameter | null {
    return tensorParam(this, "bias");
  }
}

/** `nn.Conv1d`. */
export class Conv1d extends ConvNd {
  static override readonly pyName: string = "Conv1d";
  constructor(inC: number, outC: number, kernelSize: number | readonly number[], options: ConvOptions = {}) {
    super();
    this.init(1, false, inC, outC, kernelSize, options);
  }
}
/** `nn.Conv2d`. */
export class Conv2d extends ConvNd {
  static override readonly pyName: string = "Conv2d";
  constructor(inC: number, outC: number, kernelSize: number | readonly number[], options: ConvOptions = {}) {
    super();
    this.init(2, false, inC, outC, kernelSize, options);
  }
}
/** `nn.Conv3d`. */
export class Conv3d extends ConvNd {
  static override readonly pyName: string = "Conv3d";
  constructor(inC: number, outC: number, kernelSize: number | readonly number[], options: ConvOptions = {}) {
    super();
    this.init(3, false, inC, outC, kernelSize, options);
  }
}
/** `nn.ConvTranspose1d`. */
export class ConvTranspose1d extends ConvNd {
  static override readonly pyName: string = "ConvTranspose1d";
  constructor(inC: number, outC: number, kernelSize: number | readonly number[], options: ConvOptions = {}) {
    super();
    this.init(1, true, inC, outC, kernelSize, options);
  }
}
/** `nn.ConvTranspose2d`. */
export class ConvTranspose2d extends ConvNd {
  static override readonly pyName: string = "ConvTranspose2d";
  constructor(inC: number, outC: number, kernelSize: number | readonly number[], options: ConvOptions = {}) {
    super();
    this.init(2, true, inC, outC, kernelSize, options);
  }
}
