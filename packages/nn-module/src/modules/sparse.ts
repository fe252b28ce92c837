/** `torch.nn.modules.sparse`: Embedding, EmbeddingBag. */
import type { Parameter } from "@pt/tensor";
import { NnError } from "../errors.js";
import { normal, param } from "../init.js";
import { Module, pyFloat } from "../module.js";
import { bool, num, numOrNull, setAll, str, tensorParam } from "./attrs.js";

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
