/** `torch.nn.modules.activation`: the activations and MultiheadAttention. */
import type { Parameter, Tensor } from "@pt/tensor";
import { NnError } from "../errors.js";
import { filled, normal, param, uniform } from "../init.js";
import { Module, pyFloat } from "../module.js";
import { bool, num, numOrNull, setAll, str, tensorParam } from "./attrs.js";
import { Linear, NonDynamicallyQuantizableLinear } from "./linear.js";

/** Options of `MultiheadAttention`. */
export interface MultiheadAttentionOptions {
  readonly dropout?: number;
  readonly bias?: boolean;
  readonly addBiasKv?: boolean;
  readonly addZeroAttn?: boolean;
  readonly kdim?: number | null;
  readonly vdim?: number | null;
  readonly batchFirst?: boolean;
}

function xavierUniform(shape: number[]): Tensor {
  const fanIn = shape[1]! * shape.slice(2).reduce((a, b) => a * b, 1);
  const fanOut = shape[0]! * shape.slice(2).reduce((a, b) => a * b, 1);
  return uniform(shape, Math.sqrt(6 / (fanIn + fanOut)));
}

/** `nn.MultiheadAttention(embed_dim, num_heads, …)`. */
export class MultiheadAttention extends Module {
  static override readonly pyModule: string = "torch.nn.modules.activation";
  static override readonly pyName: string = "MultiheadAttention";
  constructor(embedDim: number, numHeads: number, o: MultiheadAttentionOptions = {}) {
    super();
    const kdim = o.kdim ?? embedDim;
    const vdim = o.vdim ?? embedDim;
    const same = kdim === embedDim && vdim === embedDim;
    const headDim = Math.floor(embedDim / numHeads);
    if (headDim * numHeads !== embedDim) {
      throw new NnError("InvalidState", "embed_dim must be divisible by num_heads", { embedDim, numHeads });
    }
    setAll(this, [
      ["embed_dim", embedDim],
      ["kdim", kdim],
      ["vdim", vdim],
      ["_qkv_same_embed_dim", same],
      ["num_heads", numHeads],
      ["dropout", pyFloat(o.dropout ?? 0)],
      ["batch_first", o.batchFirst ?? false],
      ["head_dim", headDim],
    ]);
    if (!same) {
      this.registerParameter("q_proj_weight", param(xavierUniform([embedDim, embedDim])));
      this.registerParameter("k_proj_weight", param(xavierUniform([embedDim, kdim])));
      this.registerParameter("v_proj_weight", param(xavierUniform([embedDim, vdim])));
      this.registerParameter("in_proj_weight", null);
    } else {
      this.registerParameter("in_proj_weight", param(xavierUniform([3 * embedDim, embedDim])));
      this.registerParameter("q_proj_weight", null);
      this.registerParameter("k_proj_weight", null);
      this.registerParameter("v_proj_weight", null);
    }
    const bias = o.bias ?? true;
    this.registerParameter("in_proj_bias", bias ? param(filled([3 * embedDim], 0)) : null);
    const outProj = new NonDynamicallyQuantizableLinear(embedDim, embedDim, { bias });
    if (bias) {
      const b = outProj.bias;
      if (b) b.storage.bytes.fill(0);
    }
    this.setAttr("out_proj", outProj);
    if (o.addBiasKv) {
      this.setAttr("bias_k", param(normal([1, 1, embedDim], 0, Math.sqrt(2 / (1 + embedDim)))));
      this.setAttr("bias_v", param(normal([1, 1, embedDim], 0, Math.sqrt(2 / (1 + embedDim)))));
    } else {
      this.setAttr("bias_k", null);
      this.setAttr("bias_v", null);
    }
    this.setAttr("add_zero_attn", o.addZeroAttn ?? false);
  }
  protected override afterSetState(): void {
    if (!this.dict.has("_qkv_same_embed_dim")) this.dict.set("_qkv_same_embed_dim", true);
  }
  get embedDim(): number {
    return num(this, "embed_dim");
  }
  get kdim(): number {
    return num(this, "kdim");
  }
  get vdim(): number {
    return num(this, "vdim");
  }
  get numHeads(): number {
    return num(this, "num_heads");
  }
  get headDim(): number {
    return num(this, "head_dim");
  }
  get dropout(): number {
    return num(this, "dropout");
  }
  get batchFirst(): boolean {
    return bool(this, "batch_first");
  }
  get qkvSameEmbedDim(): boolean {
    return bool(this, "_qkv_same_embed_dim");
  }
  get inProjWeight(): Parameter | null {
    return tensorParam(this, "in_proj_weight");
  }
  get outProj(): Linear | null {
    const m = this.modulesDict.get("out_proj");
    return m instanceof Linear ? m : null;
  }
}

/** Activations whose only attribute is `inplace`. */
abstract class InplaceActivation extends Module {
  static override readonly pyModule: string = "torch.nn.modules.activation";
  constructor(options: { inplace?: boolean } = {}) {
    super();
    this.setAttr("inplace", options.inplace ?? false);
  }
  get inplace(): boolean {
    return bool(this, "inplace");
  }
}
/** `nn.ReLU`. */
export class ReLU extends InplaceActivation {
  static override readonly pyName: string = "ReLU";
}
/** `nn.SiLU`. */
export class SiLU extends InplaceActivation {
  static override readonly pyName: string = "SiLU";
}
/** `nn.Mish`. */
export class Mish extends InplaceActivation {
  static override readonly pyName: string = "Mish";
}
/** `nn.Hardswish`. */
export class Hardswish extends InplaceActivation {
  static override readonly pyName: string = "Hardswish";
}
/** `nn.Hardsigmoid`. */
export class Hardsigmoid extends InplaceActivation {
  static override readonly pyName: string = "Hardsigmoid";
}

/** Activations without attributes. */
abstract class PlainActivation extends Module {
  static override readonly pyModule: string = "torch.nn.modules.activation";
}
/** `nn.Tanh`. */
export class Tanh extends PlainActivation {
  static override readonly pyName: string = "Tanh";
}
/** `nn.Sigmoid`. */
export class Sigmoid extends PlainActivation {
  static override readonly pyName: string = "Sigmoid";
}

/** `nn.GELU(approximate='none')`. */
export class GELU extends Module {
  static override readonly pyModule: string = "torch.nn.modules.activation";
  static override readonly pyName: string = "GELU";
  constructor(options: { approximate?: "none" | "tanh" } = {}) {
    super();
    this.setAttr("approximate", options.approximate ?? "none");
  }
  get approximate(): string {
    return str(this, "approximate");
  }
}

/** `nn.Softmax(dim=None)`. */
export class Softmax extends Module {
  static override readonly pyModule: string = "torch.nn.modules.activation";
  static override readonly pyName: string = "Softmax";
  constructor(dim: number | null = null) {
    super();
    this.setAttr("dim", dim);
  }
  protected override afterSetState(): void {
    if (!this.dict.has("dim")) this.dict.set("dim", null);
  }
  get dim(): number | null {
    return numOrNull(this, "dim");
  }
}
/** `nn.LogSoftmax(dim=None)`. */
export class LogSoftmax extends Softmax {
  static override readonly pyName: string = "LogSoftmax";
}

/** `nn.LeakyReLU(negative_slope=0.01, inplace=False)`. */
export class LeakyReLU extends Module {
  static override readonly pyModule: string = "torch.nn.modules.activation";
  static override readonly pyName: string = "LeakyReLU";
  constructor(negativeSlope = 0.01, options: { inplace?: boolean } = {}) {
    super();
    setAll(this, [
      ["negative_slope", pyFloat(negativeSlope)],
      ["inplace", options.inplace ?? false],
    ]);
  }
  get negativeSlope(): number {
    return num(this, "negative_slope");
  }
}

/** `nn.ELU(alpha=1.0, inplace=False)`. */
export class ELU extends Module {
  static override readonly pyModule: string = "torch.nn.modules.activation";
  static override readonly pyName: string = "ELU";
  constructor(alpha = 1, options: { inplace?: boolean } = {}) {
    super();
    setAll(this, [
      ["alpha", pyFloat(alpha)],
      ["inplace", options.inplace ?? false],
    ]);
  }
  get alpha(): number {
    return num(this, "alpha");
  }
}

/** `nn.Hardtanh(min_val=-1.0, max_val=1.0, inplace=False)`. */
export class Hardtanh extends Module {
  static override readonly pyModule: string = "torch.nn.modules.activation";
  static override readonly pyName: string = "Hardtanh";
  constructor(minVal = -1, maxVal = 1, options: { inplace?: boolean } = {}) {
    super();
    setAll(this, [
      ["min_val", pyFloat(minVal)],
      ["max_val", pyFloat(maxVal)],
      ["inplace", options.inplace ?? false],
    ]);
  }
  get minVal(): number {
    return num(this, "min_val");
  }
  get maxVal(): number {
    return num(this, "max_val");
  }
}
/** `nn.ReLU6` (a Hardtanh from 0.0 to 6.0). */
export class ReLU6 extends Hardtanh {
  static override readonly pyName: string = "ReLU6";
  constructor(options: { inplace?: boolean } = {}) {
    super(0, 6, options);
  }
}

/** `nn.Softplus(beta=1, threshold=20)` (ints, as torch's defaults). */
export class Softplus extends Module {
  static override readonly pyModule: string = "torch.nn.modules.activation";
  static override readonly pyName: string = "Softplus";
  constructor(beta = 1, threshold = 20) {
    super();
    setAll(this, [
      ["beta", beta],
      ["threshold", threshold],
    ]);
  }
  get beta(): number {
    return num(this, "beta");
  }
  get threshold(): number {
    return num(this, "threshold");
  }
}

/** `nn.PReLU(num_parameters=1, init=0.25)`. */
export class PReLU extends Module {
  static override readonly pyModule: string = "torch.nn.modules.activation";
  static override readonly pyName: string = "PReLU";
  constructor(numParameters = 1, init = 0.25) {
    super();
    this.setAttr("num_parameters", numParameters);
    this.registerParameter("weight", param(filled([numParameters], init)));
  }
  get numParameters(): number {
    return num(this, "num_parameters");
  }
}
