/** `torch.nn.modules.batchnorm`: BatchNorm1d/2d/3d. */
import type { Parameter, Tensor } from "@pt/tensor";
import { filled, longZero, param } from "../init.js";
import { Module, pyFloat } from "../module.js";
import { bool, buffer, num, numOrNull, setAll, tensorParam, toNum } from "./attrs.js";

/** Options of the BatchNorm constructors. */
export interface BatchNormOptions {
  readonly eps?: number;
  /** null: cumulative moving average. Default 0.1. */
  readonly momentum?: number | null;
  readonly affine?: boolean;
  readonly trackRunningStats?: boolean;
}

/** torch's `_NormBase`/`_BatchNorm` (`_version` 2). */
export abstract class BatchNormBase extends Module {
  static override readonly pyModule: string = "torch.nn.modules.batchnorm";
  static override readonly version: number = 2;
  protected init(numFeatures: number, o: BatchNormOptions): void {
    const affine = o.affine ?? true;
    const track = o.trackRunningStats ?? true;
    const momentum = o.momentum === undefined ? 0.1 : o.momentum;
    setAll(this, [
      ["num_features", numFeatures],
      ["eps", pyFloat(o.eps ?? 1e-5)],
      ["momentum", momentum === null ? null : pyFloat(momentum)],
      ["affine", affine],
      ["track_running_stats", track],
    ]);
    this.registerParameter("weight", affine ? param(filled([numFeatures], 1)) : null);
    this.registerParameter("bias", affine ? param(filled([numFeatures], 0)) : null);
    this.registerBuffer("running_mean", track ? filled([numFeatures], 0) : null);
    this.registerBuffer("running_var", track ? filled([numFeatures], 1) : null);
    this.registerBuffer("num_batches_tracked", track ? longZero() : null);
  }
  /** torch 1.13: a checkpoint of `_version` < 2 gets `num_batches_tracked = tensor(0)` when missing. */
  protected override loadFromStateDict(
    stateDict: Map<string, unknown>,
    prefix: string,
    localMetadata: Map<string, unknown>,
    strict: boolean,
    missingKeys: string[],
    unexpectedKeys: string[],
    errorMsgs: string[],
  ): void {
    const v = localMetadata.get("version");
    const version = v === undefined || v === null ? null : toNum(v);
    if ((version === null || version < 2) && this.trackRunningStats) {
      const key = `${prefix}num_batches_tracked`;
      if (!stateDict.has(key)) stateDict.set(key, longZero());
    }
    super.loadFromStateDict(stateDict, prefix, localMetadata, strict, missingKeys, unexpectedKeys, errorMsgs);
  }
  get numFeatures(): number {
    return num(this, "num_features");
  }
  get eps(): number {
    return num(this, "eps");
  }
  get momentum(): number | null {
    return numOrNull(this, "momentum");
  }
  get affine(): boolean {
    return bool(this, "affine");
  }
  get trackRunningStats(): boolean {
    return bool(this, "track_running_stats");
  }
  get weight(): Parameter | null {
    return tensorParam(this, "weight");
  }
  get bias(): Parameter | null {
    return tensorParam(this, "bias");
  }
  get runningMean(): Tensor | null {
    return buffer(this, "running_mean");
  }
  get runningVar(): Tensor | null {
    return buffer(this, "running_var");
  }
  get numBatchesTracked(): Tensor | null {
    return buffer(this, "num_batches_tracked");
  }
}
/** `nn.BatchNorm1d`. */
export class BatchNorm1d extends BatchNormBase {
  static override readonly pyName: string = "BatchNorm1d";
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super();
    this.init(numFeatures, options);
  }
}
/** `nn.BatchNorm2d`. */
export class BatchNorm2d extends BatchNormBase {
  static override readonly pyName: string = "BatchNorm2d";
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super();
    this.init(numFeatures, options);
  }
}
/** `nn.BatchNorm3d`. */
export class BatchNorm3d extends BatchNormBase {
  static override readonly pyName: string = "BatchNorm3d";
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super();
    this.init(numFeatures, options);
  }
}
