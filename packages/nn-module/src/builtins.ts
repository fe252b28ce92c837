/**
 * torch.nn's built-in module classes, under their torch 1.13 qualified names. Constructors build
 * the same `__dict__` (keys, order, value types) torch's constructors build; getters read the
 * constructor attributes from `dict`, so they work as well on modules loaded from a pickle.
 */
import { GLOBAL_NAME, type GlobalNamed, isTuple, PyFloat, type PyTuple, tuple } from "@pt/pickle";
import { type Parameter, Tensor } from "@pt/tensor";
import { NnError } from "./errors.js";
import { filled, longZero, normal, param, uniform } from "./init.js";
import { Module, pyFloat } from "./module.js";

// ---- attribute readers ---------------------------------------------------------------------

function num(m: Module, key: string): number {
  const v = m.dict.get(key);
  if (typeof v === "number") return v;
  if (v instanceof PyFloat) return v.value;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "boolean") return v ? 1 : 0;
  throw new NnError("InvalidState", `${m.className}.${key} is not a number`, { key });
}
function numOrNull(m: Module, key: string): number | null {
  const v = m.dict.get(key);
  return v === null || v === undefined ? null : num(m, key);
}
function bool(m: Module, key: string): boolean {
  const v = m.dict.get(key);
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return v !== 0;
  throw new NnError("InvalidState", `${m.className}.${key} is not a bool`, { key });
}
function str(m: Module, key: string): string {
  const v = m.dict.get(key);
  if (typeof v === "string") return v;
  throw new NnError("InvalidState", `${m.className}.${key} is not a str`, { key });
}
function toNum(v: unknown): number {
  if (typeof v === "number") return v;
  if (v instanceof PyFloat) return v.value;
  if (typeof v === "bigint") return Number(v);
  return Number.NaN;
}
/** An int-or-tuple attribute as an array of numbers (`3` → `[3]`). */
function ints(m: Module, key: string): number[] {
  const v = m.dict.get(key);
  if (Array.isArray(v)) return v.map(toNum);
  if (typeof v === "number" || typeof v === "bigint" || v instanceof PyFloat) return [toNum(v)];
  throw new NnError("InvalidState", `${m.className}.${key} is not an int or a tuple of ints`, { key });
}
/** An int-or-tuple attribute as stored (a number, an array of numbers, or null). */
function intOrTuple(m: Module, key: string): number | number[] | null {
  const v = m.dict.get(key);
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) return v.map(toNum);
  if (typeof v === "string") throw new NnError("InvalidState", `${m.className}.${key} is a str`, { key });
  return toNum(v);
}
function tensorParam(m: Module, key: string): Parameter | null {
  return (m.parametersDict.get(key) ?? null) as Parameter | null;
}
function buffer(m: Module, key: string): Tensor | null {
  return m.buffersDict.get(key) ?? null;
}
const ntuple = (v: number | readonly number[], n: number): PyTuple<number> =>
  tuple(typeof v === "number" ? new Array<number>(n).fill(v) : v.slice());

/** Set several `__dict__` attributes in order (plain attributes, as `self.x = …` does). */
function setAll(m: Module, entries: ReadonlyArray<readonly [string, unknown]>): void {
  for (const [k, v] of entries) m.setAttr(k, v);
}

// ---- functional globals ----------------------------------------------------------------------

/** A torch function global (`torch.nn.functional.relu`), as TransformerEncoderLayer pickles `activation`. */
export class TorchFunction implements GlobalNamed {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get [GLOBAL_NAME](): { module: string; name: string } {
    return { module: this.module, name: this.name };
  }
}
/** `torch.nn.functional.relu`. */
export const F_RELU: TorchFunction = new TorchFunction("torch.nn.functional", "relu");
/** `torch._C._nn.gelu` (what `torch.nn.functional.gelu` pickles as). */
export const F_GELU: TorchFunction = new TorchFunction("torch._C._nn", "gelu");

// ---- containers ------------------------------------------------------------------------------

/** `nn.Sequential`: submodules named "0", "1", … (or the names of an ordered map). */
export class Sequential extends Module {
  static override readonly pyModule: string = "torch.nn.modules.container";
  static override readonly pyName: string = "Sequential";
  constructor(...modules: Module[] | [Map<string, Module>]) {
    super();
    const first = modules[0];
    if (modules.length === 1 && first instanceof Map) {
      for (const [k, m] of first) this.addModule(k, m);
    } else {
      for (const [i, m] of (modules as Module[]).entries()) this.addModule(String(i), m);
    }
  }
  /** Number of submodules. */
  get length(): number {
    return this.modulesDict.size;
  }
  /** The `i`-th submodule (negative counts from the end). */
  at(i: number): Module | null {
    const vals = [...this.modulesDict.values()];
    return vals[i < 0 ? vals.length + i : i] ?? null;
  }
  /** `append(module)`. */
  append(m: Module): this {
    this.addModule(String(this.modulesDict.size), m);
    return this;
  }
}

/** `nn.ModuleList`. */
export class ModuleList extends Module {
  static override readonly pyModule: string = "torch.nn.modules.container";
  static override readonly pyName: string = "ModuleList";
  constructor(modules: Iterable<Module> = []) {
    super();
    for (const m of modules) this.append(m);
  }
  get length(): number {
    return this.modulesDict.size;
  }
  at(i: number): Module | null {
    const vals = [...this.modulesDict.values()];
    return vals[i < 0 ? vals.length + i : i] ?? null;
  }
  append(m: Module): this {
    this.addModule(String(this.modulesDict.size), m);
    return this;
  }
}

/** `nn.ModuleDict`. */
export class ModuleDict extends Module {
  static override readonly pyModule: string = "torch.nn.modules.container";
  static override readonly pyName: string = "ModuleDict";
  constructor(modules: Iterable<readonly [string, Module]> = []) {
    super();
    for (const [k, m] of modules) this.addModule(k, m);
  }
  get(key: string): Module | null {
    return this.modulesDict.get(key) ?? null;
  }
  keys(): string[] {
    return [...this.modulesDict.keys()];
  }
}

// ---- linear ------------------------------------------------------------------------------------

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

// ---- convolution -------------------------------------------------------------------------------

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

// ---- normalization -------------------------------------------------------------------------------

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

// ---- embeddings -----------------------------------------------------------------------------------

/** Options of `Embedding`. */
export interface EmbeddingOptions {
  readonly paddingIdx?: number | null;
  readonly maxNorm?: number | null;
  readonly normType?: number;
  readonly scaleGradByFreq?: boolean;
  readonly sparse?: boolean;
}

function checkPadding(numEmbeddings: number, p: number | null | undefined): number | null {
  if (p === null || p === undefined) return null;
  if (p >= numEmbeddings || p < -numEmbeddings) {
    throw new NnError("InvalidState", "Padding_idx must be within num_embeddings", { paddingIdx: p });
  }
  return p < 0 ? numEmbeddings + p : p;
}

/** `nn.Embedding(num_embeddings, embedding_dim, …)`. */
export class Embedding extends Module {
  static override readonly pyModule: string = "torch.nn.modules.sparse";
  static override readonly pyName: string = "Embedding";
  constructor(numEmbeddings: number, embeddingDim: number, o: EmbeddingOptions = {}) {
    super();
    const pad = checkPadding(numEmbeddings, o.paddingIdx);
    setAll(this, [
      ["num_embeddings", numEmbeddings],
      ["embedding_dim", embeddingDim],
      ["padding_idx", pad],
      ["max_norm", o.maxNorm == null ? null : pyFloat(o.maxNorm)],
      ["norm_type", pyFloat(o.normType ?? 2)],
      ["scale_grad_by_freq", o.scaleGradByFreq ?? false],
    ]);
    const w = normal([numEmbeddings, embeddingDim]);
    if (pad !== null) for (let j = 0; j < embeddingDim; j++) w.set([pad, j], 0);
    this.registerParameter("weight", param(w));
    this.setAttr("sparse", o.sparse ?? false);
  }
  get numEmbeddings(): number {
    return num(this, "num_embeddings");
  }
  get embeddingDim(): number {
    return num(this, "embedding_dim");
  }
  get paddingIdx(): number | null {
    return numOrNull(this, "padding_idx");
  }
  get maxNorm(): number | null {
    return numOrNull(this, "max_norm");
  }
  get normType(): number {
    return num(this, "norm_type");
  }
  get sparse(): boolean {
    return bool(this, "sparse");
  }
  get weight(): Parameter | null {
    return tensorParam(this, "weight");
  }
}

/** `nn.EmbeddingBag(num_embeddings, embedding_dim, …, mode='mean')`. */
export class EmbeddingBag extends Module {
  static override readonly pyModule: string = "torch.nn.modules.sparse";
  static override readonly pyName: string = "EmbeddingBag";
  constructor(
    numEmbeddings: number,
    embeddingDim: number,
    o: EmbeddingOptions & { mode?: "sum" | "mean" | "max"; includeLastOffset?: boolean } = {},
  ) {
    super();
    const pad = checkPadding(numEmbeddings, o.paddingIdx);
    setAll(this, [
      ["num_embeddings", numEmbeddings],
      ["embedding_dim", embeddingDim],
      ["max_norm", o.maxNorm == null ? null : pyFloat(o.maxNorm)],
      ["norm_type", pyFloat(o.normType ?? 2)],
      ["scale_grad_by_freq", o.scaleGradByFreq ?? false],
      ["padding_idx", pad],
    ]);
    const w = normal([numEmbeddings, embeddingDim]);
    if (pad !== null) for (let j = 0; j < embeddingDim; j++) w.set([pad, j], 0);
    this.registerParameter("weight", param(w));
    setAll(this, [
      ["mode", o.mode ?? "mean"],
      ["sparse", o.sparse ?? false],
      ["include_last_offset", o.includeLastOffset ?? false],
    ]);
  }
  get numEmbeddings(): number {
    return num(this, "num_embeddings");
  }
  get embeddingDim(): number {
    return num(this, "embedding_dim");
  }
  get mode(): string {
    return str(this, "mode");
  }
  get paddingIdx(): number | null {
    return numOrNull(this, "padding_idx");
  }
}

// ---- recurrent -------------------------------------------------------------------------------------

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

// ---- attention and transformer --------------------------------------------------------------------

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

/** Options of `TransformerEncoderLayer`. */
export interface TransformerEncoderLayerOptions {
  readonly dimFeedforward?: number;
  readonly dropout?: number;
  /** `"relu"`/`"gelu"` (pickled as the functional global), or a module. Default "relu". */
  readonly activation?: "relu" | "gelu" | Module;
  readonly layerNormEps?: number;
  readonly batchFirst?: boolean;
  readonly normFirst?: boolean;
}

/** `nn.TransformerEncoderLayer(d_model, nhead, …)`. */
export class TransformerEncoderLayer extends Module {
  static override readonly pyModule: string = "torch.nn.modules.transformer";
  static override readonly pyName: string = "TransformerEncoderLayer";
  constructor(dModel: number, nhead: number, o: TransformerEncoderLayerOptions = {}) {
    super();
    const dropout = o.dropout ?? 0.1;
    const eps = o.layerNormEps ?? 1e-5;
    const ff = o.dimFeedforward ?? 2048;
    const batchFirst = o.batchFirst ?? false;
    this.setAttr("self_attn", new MultiheadAttention(dModel, nhead, { dropout, batchFirst }));
    this.setAttr("linear1", new Linear(dModel, ff));
    this.setAttr("dropout", new Dropout(dropout));
    this.setAttr("linear2", new Linear(ff, dModel));
    this.setAttr("norm_first", o.normFirst ?? false);
    this.setAttr("norm1", new LayerNorm(dModel, { eps }));
    this.setAttr("norm2", new LayerNorm(dModel, { eps }));
    this.setAttr("dropout1", new Dropout(dropout));
    this.setAttr("dropout2", new Dropout(dropout));
    const a = o.activation ?? "relu";
    const act = a === "relu" ? F_RELU : a === "gelu" ? F_GELU : a;
    const code = act === F_RELU || act instanceof ReLU ? 1 : act === F_GELU || act instanceof GELU ? 2 : 0;
    this.setAttr("activation_relu_or_gelu", code);
    this.setAttr("activation", act);
  }
  protected override afterSetState(): void {
    if (!this.dict.has("activation")) this.dict.set("activation", F_RELU);
  }
  get normFirst(): boolean {
    return bool(this, "norm_first");
  }
  /** 1 for relu, 2 for gelu, 0 otherwise. */
  get activationReluOrGelu(): number {
    return numOrNull(this, "activation_relu_or_gelu") ?? 0;
  }
  /** The activation: a `TorchFunction`, a module, or whatever the pickle held. */
  get activation(): unknown {
    return this.getAttr("activation");
  }
  get selfAttn(): MultiheadAttention | null {
    const m = this.modulesDict.get("self_attn");
    return m instanceof MultiheadAttention ? m : null;
  }
}

/** `nn.TransformerEncoder(encoder_layer, num_layers, norm=None)`: `num_layers` deep copies of the layer. */
export class TransformerEncoder extends Module {
  static override readonly pyModule: string = "torch.nn.modules.transformer";
  static override readonly pyName: string = "TransformerEncoder";
  constructor(
    encoderLayer: Module,
    numLayers: number,
    o: { norm?: Module | null; enableNestedTensor?: boolean; maskCheck?: boolean } = {},
  ) {
    super();
    const layers: Module[] = [];
    for (let i = 0; i < numLayers; i++) layers.push(deepCopyModule(encoderLayer));
    this.setAttr("layers", new ModuleList(layers));
    this.setAttr("num_layers", numLayers);
    this.setAttr("norm", o.norm ?? null);
    this.setAttr("enable_nested_tensor", o.enableNestedTensor ?? true);
    this.setAttr("mask_check", o.maskCheck ?? true);
  }
  get numLayers(): number {
    return num(this, "num_layers");
  }
  get layers(): ModuleList | null {
    const m = this.modulesDict.get("layers");
    return m instanceof ModuleList ? m : null;
  }
}

// ---- dropout, activations, pooling, reshaping ---------------------------------------------------

/** A module whose `__dict__` holds only simple constructor attributes. */
function simple<T extends readonly (readonly [string, unknown])[]>(m: Module, attrs: T): void {
  setAll(m, attrs);
}

/** `nn.Dropout(p=0.5, inplace=False)`. */
export class Dropout extends Module {
  static override readonly pyModule: string = "torch.nn.modules.dropout";
  static override readonly pyName: string = "Dropout";
  constructor(p = 0.5, options: { inplace?: boolean } = {}) {
    super();
    if (p < 0 || p > 1) {
      throw new NnError("InvalidState", `dropout probability has to be between 0 and 1, but got ${p}`, { p });
    }
    simple(this, [
      ["p", pyFloat(p)],
      ["inplace", options.inplace ?? false],
    ]);
  }
  get p(): number {
    return num(this, "p");
  }
  get inplace(): boolean {
    return bool(this, "inplace");
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
    simple(this, [
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
    simple(this, [
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
    simple(this, [
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
    simple(this, [
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
    simple(this, [
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
    simple(this, [
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
    simple(this, [
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
export class Flatten extends Module {
  static override readonly pyModule: string = "torch.nn.modules.flatten";
  static override readonly pyName: string = "Flatten";
  constructor(startDim = 1, endDim = -1) {
    super();
    simple(this, [
      ["start_dim", startDim],
      ["end_dim", endDim],
    ]);
  }
  get startDim(): number {
    return num(this, "start_dim");
  }
  get endDim(): number {
    return num(this, "end_dim");
  }
}

/** `nn.Unflatten(dim, unflattened_size)`. */
export class Unflatten extends Module {
  static override readonly pyModule: string = "torch.nn.modules.flatten";
  static override readonly pyName: string = "Unflatten";
  constructor(dim: number, unflattenedSize: readonly number[]) {
    super();
    simple(this, [
      ["dim", dim],
      ["unflattened_size", tuple(unflattenedSize.slice())],
    ]);
  }
  get dim(): number {
    return num(this, "dim");
  }
  get unflattenedSize(): number[] {
    return ints(this, "unflattened_size");
  }
}

// ---- deep copy (TransformerEncoder's _get_clones) ---------------------------------------------------

/**
 * `copy.deepcopy(module)`: new storages for every tensor (sharing inside the module kept),
 * new containers, the same immutable values and globals.
 */
export function deepCopyModule<M extends Module>(m: M): M {
  const memo = new Map<unknown, unknown>();
  const copy = (v: unknown): unknown => {
    if (v === null || typeof v !== "object") return v;
    if (memo.has(v)) return memo.get(v);
    if (v instanceof Tensor) {
      const storage = memo.get(v.storage) ?? v.storage.clone();
      memo.set(v.storage, storage);
      const t = new Tensor(storage as Tensor["storage"], v.storageOffset, v.shape, v.stride, {
        dtype: v.dtype,
        requiresGrad: v.requiresGrad,
      });
      const out = v.constructor === Tensor ? t : (param(t) as Tensor);
      if (v.constructor !== Tensor) out.requiresGrad = v.requiresGrad;
      memo.set(v, out);
      return out;
    }
    if (v instanceof Module) {
      // same class and own fields (GenericModule's class name, a subclass's extras), copied dict
      const n = Object.create(Object.getPrototypeOf(v) as object) as Module;
      memo.set(v, n);
      for (const k of Object.keys(v)) {
        if (k !== "dict")
          (n as unknown as Record<string, unknown>)[k] = (v as unknown as Record<string, unknown>)[k];
      }
      n.dict = new Map();
      for (const [k, x] of v.dict) n.dict.set(k, copy(x));
      return n;
    }
    if (isTuple(v)) {
      const t = tuple(v.map(copy));
      memo.set(v, t);
      return t;
    }
    if (Array.isArray(v)) {
      const a: unknown[] = [];
      memo.set(v, a);
      for (const x of v) a.push(copy(x));
      return a;
    }
    if (v instanceof Map) {
      const n = new (v.constructor as MapConstructor)();
      memo.set(v, n);
      for (const [k, x] of v) n.set(k, copy(x));
      const attrs = (v as { attributes?: unknown }).attributes;
      if (attrs instanceof Map) (n as unknown as { attributes: unknown }).attributes = copy(attrs);
      return n;
    }
    if (v instanceof Set) {
      const n = new (v.constructor as SetConstructor)(v);
      memo.set(v, n);
      return n;
    }
    return v;
  };
  return copy(m) as M;
}

// ---- the class list ----------------------------------------------------------------------------------

/** Every built-in class, for the registry. */
export const BUILTIN_MODULE_CLASSES = [
  Sequential,
  ModuleList,
  ModuleDict,
  Identity,
  Linear,
  NonDynamicallyQuantizableLinear,
  Bilinear,
  Conv1d,
  Conv2d,
  Conv3d,
  ConvTranspose1d,
  ConvTranspose2d,
  BatchNorm1d,
  BatchNorm2d,
  BatchNorm3d,
  LayerNorm,
  GroupNorm,
  Embedding,
  EmbeddingBag,
  RNN,
  LSTM,
  GRU,
  MultiheadAttention,
  TransformerEncoderLayer,
  TransformerEncoder,
  Dropout,
  ReLU,
  SiLU,
  Mish,
  Hardswish,
  Hardsigmoid,
  Tanh,
  Sigmoid,
  GELU,
  Softmax,
  LogSoftmax,
  LeakyReLU,
  ELU,
  Hardtanh,
  ReLU6,
  Softplus,
  PReLU,
  MaxPool1d,
  MaxPool2d,
  AvgPool1d,
  AvgPool2d,
  AdaptiveAvgPool1d,
  AdaptiveAvgPool2d,
  AdaptiveMaxPool1d,
  AdaptiveMaxPool2d,
  Flatten,
  Unflatten,
] as const;
