/** `torch.nn.modules.transformer`: TransformerEncoderLayer, TransformerEncoder, and the deep copy its `_get_clones` makes. */
import { isTuple, tuple } from "@pt/pickle";
import { Tensor } from "@pt/tensor";
import { param } from "../init.js";
import { Module } from "../module.js";
import { GELU, MultiheadAttention, ReLU } from "./activation.js";
import { bool, num, numOrNull } from "./attrs.js";
import { ModuleList } from "./container.js";
import { Dropout } from "./dropout.js";
import { F_GELU, F_RELU } from "./functional.js";
import { Linear } from "./linear.js";
import { LayerNorm } from "./normalization.js";

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
