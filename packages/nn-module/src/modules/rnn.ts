/** `torch.nn.modules.rnn`: RNN, LSTM, GRU. */
import type { Parameter } from "@pt/tensor";
import { NnError } from "../errors.js";
import { param, uniform } from "../init.js";
import { Module, pyFloat } from "../module.js";
import { bool, num, numOrNull, setAll, str, tensorParam } from "./attrs.js";

/** Options of the RNN constructors. */
export interface RNNOptions {
  readonly numLayers?: number;
  readonly bias?: boolean;
  readonly batchFirst?: boolean;
  readonly dropout?: number;
  readonly bidirectional?: boolean;
  /** LSTM only. */
  readonly projSize?: number;
  /** RNN only. */
  readonly nonlinearity?: "tanh" | "relu";
}

/** torch's `RNNBase`: per-layer weights plus `_flat_weights_names`, `_all_weights`, `_flat_weights`. */
export abstract class RNNBase extends Module {
  static override readonly pyModule: string = "torch.nn.modules.rnn";
  protected init(mode: string, inputSize: number, hiddenSize: number, o: RNNOptions): void {
    const numLayers = o.numLayers ?? 1;
    const bias = o.bias ?? true;
    const bidirectional = o.bidirectional ?? false;
    const projSize = o.projSize ?? 0;
    if (projSize < 0) throw new NnError("InvalidState", "proj_size should be a positive integer or zero");
    if (projSize >= hiddenSize && projSize !== 0)
      throw new NnError("InvalidState", "proj_size has to be smaller than hidden_size");
    setAll(this, [
      ["mode", mode],
      ["input_size", inputSize],
      ["hidden_size", hiddenSize],
      ["num_layers", numLayers],
      ["bias", bias],
      ["batch_first", o.batchFirst ?? false],
      ["dropout", pyFloat(o.dropout ?? 0)],
      ["bidirectional", bidirectional],
      ["proj_size", projSize],
    ]);
    const gate = mode === "LSTM" ? 4 * hiddenSize : mode === "GRU" ? 3 * hiddenSize : hiddenSize;
    const dirs = bidirectional ? 2 : 1;
    const realHidden = projSize > 0 ? projSize : hiddenSize;
    const flatNames: string[] = [];
    const allWeights: string[][] = [];
    this.dict.set("_flat_weights_names", flatNames);
    this.dict.set("_all_weights", allWeights);
    const bound = hiddenSize > 0 ? 1 / Math.sqrt(hiddenSize) : 0;
    for (let layer = 0; layer < numLayers; layer++) {
      for (let d = 0; d < dirs; d++) {
        const inSize = layer === 0 ? inputSize : realHidden * dirs;
        const sfx = d === 1 ? "_reverse" : "";
        const entries: Array<[string, number[]]> = [
          [`weight_ih_l${layer}${sfx}`, [gate, inSize]],
          [`weight_hh_l${layer}${sfx}`, [gate, realHidden]],
        ];
        if (bias) entries.push([`bias_ih_l${layer}${sfx}`, [gate]], [`bias_hh_l${layer}${sfx}`, [gate]]);
        if (projSize > 0) entries.push([`weight_hr_l${layer}${sfx}`, [projSize, hiddenSize]]);
        for (const [name, shape] of entries) this.setAttr(name, param(uniform(shape, bound)));
        flatNames.push(...entries.map(([n]) => n));
        allWeights.push(entries.map(([n]) => n));
      }
    }
    this.dict.set(
      "_flat_weights",
      flatNames.map((n) => this.parametersDict.get(n) ?? null),
    );
  }
  protected override afterSetState(state: Map<unknown, unknown>): void {
    if (state.has("all_weights")) this.dict.set("_all_weights", state.get("all_weights"));
    if (!state.has("proj_size")) this.dict.set("proj_size", 0);
  }
  get mode(): string {
    return str(this, "mode");
  }
  get inputSize(): number {
    return num(this, "input_size");
  }
  get hiddenSize(): number {
    return num(this, "hidden_size");
  }
  get numLayers(): number {
    return num(this, "num_layers");
  }
  get bias(): boolean {
    return bool(this, "bias");
  }
  get batchFirst(): boolean {
    return bool(this, "batch_first");
  }
  get dropout(): number {
    return num(this, "dropout");
  }
  get bidirectional(): boolean {
    return bool(this, "bidirectional");
  }
  get projSize(): number {
    return numOrNull(this, "proj_size") ?? 0;
  }
  /** `_flat_weights_names`. */
  get flatWeightsNames(): string[] {
    const v = this.dict.get("_flat_weights_names");
    return Array.isArray(v) ? v.map(String) : [];
  }
  /** `_all_weights` (names per layer and direction). */
  get allWeights(): string[][] {
    const v = this.dict.get("_all_weights");
    return Array.isArray(v) ? v.map((l) => (Array.isArray(l) ? l.map(String) : [])) : [];
  }
  /** `_flat_weights`: the parameters in `_flat_weights_names` order (the same objects). */
  get flatWeights(): Array<Parameter | null> {
    return this.flatWeightsNames.map((n) => tensorParam(this, n));
  }
}
/** `nn.RNN` (`mode` RNN_TANH or RNN_RELU). */
export class RNN extends RNNBase {
  static override readonly pyName: string = "RNN";
  constructor(inputSize: number, hiddenSize: number, options: RNNOptions = {}) {
    super();
    const nl = options.nonlinearity ?? "tanh";
    if (nl !== "tanh" && nl !== "relu") {
      throw new NnError("InvalidState", `Unknown nonlinearity '${String(nl)}'`);
    }
    // torch sets `nonlinearity` before Module.__init__: it comes first in __dict__
    this.dict = new Map<string, unknown>([["nonlinearity", nl], ...this.dict]);
    this.init(nl === "tanh" ? "RNN_TANH" : "RNN_RELU", inputSize, hiddenSize, options);
  }
  get nonlinearity(): string {
    return str(this, "nonlinearity");
  }
}
/** `nn.LSTM`. */
export class LSTM extends RNNBase {
  static override readonly pyName: string = "LSTM";
  constructor(inputSize: number, hiddenSize: number, options: RNNOptions = {}) {
    super();
    this.init("LSTM", inputSize, hiddenSize, options);
  }
}
/** `nn.GRU`. */
export class GRU extends RNNBase {
  static override readonly pyName: string = "GRU";
  constructor(inputSize: number, hiddenSize: number, options: RNNOptions = {}) {
    super();
    this.init("GRU", inputSize, hiddenSize, options);
  }
}
