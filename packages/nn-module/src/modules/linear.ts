/** `torch.nn.modules.linear`: Identity, Linear, Bilinear. */
import type { Parameter } from "@pt/tensor";
import { param, uniform } from "../init.js";
import { Module } from "../module.js";
import { num, setAll, tensorParam } from "./attrs.js";

/** `nn.Identity`. */
export class Identity extends Module {
  static override readonly pyModule: string = "torch.nn.modules.linear";
  static override readonly pyName: string = "Identity";
}

/** `nn.Linear(in_features, out_features, bias=True)`. */
export class Linear extends Module {
  static override readonly pyModule: string = "torch.nn.modules.linear";
  static override readonly pyName: string = "Linear";
  constructor(inFeatures: number, outFeatures: number, options: { bias?: boolean } = {}) {
    super();
    setAll(this, [
      ["in_features", inFeatures],
      ["out_features", outFeatures],
    ]);
    const bound = inFeatures > 0 ? 1 / Math.sqrt(inFeatures) : 0;
    this.registerParameter("weight", param(uniform([outFeatures, inFeatures], bound)));
    this.registerParameter("bias", (options.bias ?? true) ? param(uniform([outFeatures], bound)) : null);
  }
  get inFeatures(): number {
    return num(this, "in_features");
  }
  get outFeatures(): number {
    return num(this, "out_features");
  }
  get weight(): Parameter | null {
    return tensorParam(this, "weight");
  }
  get bias(): Parameter | null {
    return tensorParam(this, "bias");
  }
}

/** `nn.modules.linear.NonDynamicallyQuantizableLinear` (MultiheadAttention's `out_proj`). */
export class NonDynamicallyQuantizableLinear extends Linear {
  static override readonly pyName: string = "NonDynamicallyQuantizableLinear";
}

/** `nn.Bilinear(in1_features, in2_features, out_features, bias=True)`. */
export class Bilinear extends Module {
  static override readonly pyModule: string = "torch.nn.modules.linear";
  static override readonly pyName: string = "Bilinear";
  constructor(in1: number, in2: number, out: number, options: { bias?: boolean } = {}) {
    super();
    setAll(this, [
      ["in1_features", in1],
      ["in2_features", in2],
      ["out_features", out],
    ]);
    const bound = in1 > 0 ? 1 / Math.sqrt(in1) : 0;
    this.registerParameter("weight", param(uniform([out, in1, in2], bound)));
    this.registerParameter("bias", (options.bias ?? true) ? param(uniform([out], bound)) : null);
  }
  get in1Features(): number {
    return num(this, "in1_features");
  }
  get in2Features(): number {
    return num(this, "in2_features");
  }
  get outFeatures(): number {
    return num(this, "out_features");
  }
}
