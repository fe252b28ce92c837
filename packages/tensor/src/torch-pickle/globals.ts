/** `torchGlobals()`: the registry of everything torch pickles, assembled from the rebuild table and the value classes. */
import { GLOBAL_NAME, type GlobalNamed, GlobalRegistry } from "@pt/pickle";
import { ALL_DTYPES, dtypes } from "@pt/storage";
import { torchRebuildFunctions as G } from "./rebuild.js";
import { installTorchPickleProtocols } from "./reduce.js";
import {
  PARAMETER_CLASS,
  storageClassFor,
  storageClassRef,
  TENSOR_CLASS,
  TorchClassRef,
  TorchLayout,
  TorchQScheme,
  UNTYPED_STORAGE,
} from "./values.js";

/** Options of `torchGlobals`. */
export interface TorchGlobalsOptions {
  /** Also register the `torch.cuda *Storage` classes of pre-1.0 files (default true). */
  readonly legacyCudaStorages?: boolean;
}

/**
 * A GlobalRegistry with everything torch pickles: rebuild functions, storage classes, dtypes,
 * `torch.Size`, `torch.device`, `_get_layout`, layouts, qschemes, `torch.Tensor`, `Parameter`.
 * Merge it with your own registry for other classes (`registry.merge(torchGlobals())`).
 */
export function torchGlobals(options: TorchGlobalsOptions = {}): GlobalRegistry {
  installTorchPickleProtocols();
  const r = new GlobalRegistry();
  for (const fn of Object.values(G)) {
    const gn = (fn as GlobalNamed)[GLOBAL_NAME];
    r.register(gn.module, gn.name, fn);
  }
  for (const d of ALL_DTYPES) {
    r.register("torch", d.name, d);
    for (const a of d.aliases) r.register("torch", a, d);
    if (d.storageClass) {
      r.register("torch", d.storageClass, storageClassFor(d));
      if (options.legacyCudaStorages ?? true) {
        r.register(
          "torch.cuda",
          d.storageClass,
          storageClassRef("torch.cuda", d.storageClass, d, false, "cuda"),
        );
      }
    }
  }
  const untyped = UNTYPED_STORAGE;
  r.register("torch.storage", "UntypedStorage", untyped);
  r.register("torch", "UntypedStorage", storageClassRef("torch", "UntypedStorage", dtypes.uint8, true));
  r.register("torch.storage", "TypedStorage", new TorchClassRef("torch.storage", "TypedStorage"));
  r.register("torch", "TypedStorage", new TorchClassRef("torch", "TypedStorage"));
  for (const l of [
    "strided",
    "sparse_coo",
    "sparse_csr",
    "sparse_csc",
    "sparse_bsr",
    "sparse_bsc",
    "_mkldnn",
  ]) {
    r.register("torch", l, TorchLayout.of(l));
  }
  for (const q of [
    "per_tensor_affine",
    "per_channel_affine",
    "per_tensor_symmetric",
    "per_channel_symmetric",
    "per_channel_affine_float_qparams",
  ] as const) {
    r.register("torch", q, TorchQScheme.of(q));
  }
  r.register("torch", "Tensor", TENSOR_CLASS);
  r.register("torch._tensor", "Tensor", TENSOR_CLASS);
  r.register("torch.nn.parameter", "Parameter", PARAMETER_CLASS);
  return r;
}

let tensorTypes: GlobalRegistry | undefined;
/**
 * The legacy tensor type classes (`torch.FloatTensor`, `torch.cuda.FloatTensor`…, one per dtype
 * with a `tensorTypeName`) as `TorchClassRef`s: what pre-1.0 tar files pickle for a tensor's type.
 * Not part of `torchGlobals()` (later files never pickle them); merge it in where they appear.
 */
export function torchTensorTypes(): GlobalRegistry {
  if (tensorTypes) return tensorTypes;
  const r = new GlobalRegistry();
  for (const d of ALL_DTYPES) {
    if (!d.tensorTypeName) continue;
    const name = d.tensorTypeName.slice("torch.".length);
    r.register("torch", name, new TorchClassRef("torch", name));
    r.register("torch.cuda", name, new TorchClassRef("torch.cuda", name));
  }
  tensorTypes = r;
  return r;
}
