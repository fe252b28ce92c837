/** `torch.nn.modules.normalization`: LayerNorm, GroupNorm. */
import { tuple } from "@pt/pickle";
import { NnError } from "../errors.js";
import { filled, param } from "../init.js";
import { Module, pyFloat } from "../module.js";
import { bool, ints, num, setAll } from "./attrs.js";

/** `nn.LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True)`. */
export class LayerNorm extends Module {
  static override readonly pyModule: string = "torch.nn.modules.normalization";
  static override readonly pyName: string = "LayerNorm";
  constructor(
    normalizedShape: number | readonly number[],
    options: { eps?: number; elementwiseAffine?: boolean } = {},
  ) {
    super();
    const shape = typeof normalizedShape === "number" ? [normalizedShape] : normalizedShape.slice();
    const affine = options.elementwiseAffine ?? true;
    setAll(this, [
      ["normalized_shape", tuple(shape)],
      ["eps", pyFloat(options.eps ?? 1e-5)],
      ["elementwise_affine", affine],
    ]);
    this.registerParameter("weight", affine ? param(filled(shape, 1)) : null);
    this.registerParameter("bias", affine ? param(filled(shape, 0)) : null);
  }
  get normalizedShape(): number[] {
    return ints(this, "normalized_shape");
  }
  get eps(): number {
    return num(this, "eps");
  }
  get elementwiseAffine(): boolean {
    return bool(this, "elementwise_affine");
  }
}

/** `nn.GroupNorm(num_groups, num_channels, eps=1e-5, affine=True)`. */
export class GroupNorm extends Module {
  static override readonly pyModule: string = "torch.nn.modules.normalization";
  static override readonly pyName: string = "GroupNorm";
  constructor(numGroups: number, numChannels: number, options: { eps?: number; affine?: boolean } = {}) {
    super();
    if (numChannels % numGroups !== 0) {
      throw new NnError("InvalidState", "num_channels must be divisible by num_groups", {
        numGroups,
        numChannels,
      });
    }
    const affine = options.affine ?? true;
    setAll(this, [
      ["num_groups", numGroups],
      ["num_channels", numChannels],
      ["eps", pyFloat(options.eps ?? 1e-5)],
      ["affine", affine],
    ]);
    this.registerParameter("weight", affine ? param(filled([numChannels], 1)) : null);
    this.registerParameter("bias", affine ? param(filled([numChannels], 0)) : null);
  }
  get numGroups(): number {
    return num(this, "num_groups");
  }
  get numChannels(): number {
    return num(this, "num_channels");
  }
  get eps(): number {
    return num(this, "eps");
  }
  get affine(): boolean {
    return bool(this, "affine");
  }
}
