/** The values torch globals stand for (storage classes, devices, sizes, layouts, qschemes, tensor classes) and the globals that construct them. */
import {
  CALL,
  callable,
  GLOBAL_NAME,
  type GlobalNamed,
  type HookContext,
  NEW,
  PyTuple,
  REDUCE,
  type Reduction,
  tuple,
} from "@pt/pickle";
import { type DType, dtypes } from "@pt/storage";
import { tensor as makeTensor } from "../create.js";
import type { QScheme } from "../quantized.js";
import type { SparseLayout } from "../sparse.js";
import { Parameter, Tensor } from "../tensor.js";
import { args, asTensor, bool, describe, int, ints, TorchPickleError } from "./args.js";

/** A storage class global (`torch FloatStorage`, `torch.storage UntypedStorage`…). */
export class StorageClassRef implements GlobalNamed {
  constructor(
    readonly module: string,
    readonly name: string,
    /** Element dtype; `uint8` for untyped storages. */
    readonly dtype: DType,
    readonly untyped: boolean,
    /** Device implied by the class (`torch.cuda FloatStorage` → `cuda`), else null. */
    readonly device: string | null = null,
  ) {}
  get [GLOBAL_NAME](): { module: string; name: string } {
    return { module: this.module, name: this.name };
  }
}

const storageClassCache = new Map<string, StorageClassRef>();
/** @internal The one StorageClassRef per module and name. */
export function storageClassRef(
  module: string,
  name: string,
  dtype: DType,
  untyped: boolean,
  device: string | null = null,
) {
  const k = `${module}.${name}`;
  let r = storageClassCache.get(k);
  if (!r) {
    r = new StorageClassRef(module, name, dtype, untyped, device);
    storageClassCache.set(k, r);
  }
  return r;
}

/** `torch.storage.UntypedStorage`. */
export const UNTYPED_STORAGE: StorageClassRef = storageClassRef(
  "torch.storage",
  "UntypedStorage",
  dtypes.uint8,
  true,
);

const storageClassByDType = new Map<DType, StorageClassRef>();
/** The class torch pickles for storages of `dtype` (its legacy class, or `torch.storage UntypedStorage`). */
export function storageClassFor(dtype: DType): StorageClassRef {
  let r = storageClassByDType.get(dtype);
  if (r === undefined) {
    r = dtype.storageClass ? storageClassRef("torch", dtype.storageClass, dtype, false) : UNTYPED_STORAGE;
    storageClassByDType.set(dtype, r);
  }
  return r;
}

/** `torch.device` (pickled as `torch.device('cuda', 1)` / `torch.device('cpu')`). */
export class TorchDevice {
  constructor(
    readonly type: string,
    readonly index: number | null = null,
  ) {}
  /** Parse `cpu`, `cuda:1`. */
  static parse(s: string): TorchDevice {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::(\d+))?$/.exec(s);
    if (!m) throw new TorchPickleError(`invalid device string '${s}'`, { device: s });
    return new TorchDevice(m[1]!, m[2] === undefined ? null : Number(m[2]));
  }
  toString(): string {
    return this.index === null ? this.type : `${this.type}:${this.index}`;
  }
  [REDUCE](): Reduction {
    return { func: G.device, args: this.index === null ? [this.type] : [this.type, this.index] };
  }
}

/** `torch.Size`: a tuple of ints (it is a `PyTuple`). Pickles as `torch.Size((…,))`. */
export class TorchSize extends PyTuple<number> {
  [REDUCE](): Reduction {
    return { func: G.Size, args: [tuple(Array.from(this))] };
  }
}
/** Make a `torch.Size`. */
export function torchSize(dims: Iterable<number>): TorchSize {
  const s = new TorchSize();
  for (const d of dims) s.push(d);
  return s;
}

/** A layout (`torch.strided`, `torch.sparse_coo`…). */
export class TorchLayout {
  private constructor(readonly name: "strided" | SparseLayout | "_mkldnn") {}
  private static cache = new Map<string, TorchLayout>();
  static of(name: string): TorchLayout {
    const n = name.startsWith("torch.") ? name.slice(6) : name;
    if (
      !["strided", "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc", "_mkldnn"].includes(
        n,
      )
    ) {
      throw new TorchPickleError(`unknown layout '${name}'`, { layout: name });
    }
    let l = TorchLayout.cache.get(n);
    if (!l) {
      l = new TorchLayout(n as TorchLayout["name"]);
      TorchLayout.cache.set(n, l);
    }
    return l;
  }
  [REDUCE](): Reduction {
    return { func: G.getLayout, args: [`torch.${this.name}`] };
  }
}

/** A qscheme (`torch.per_tensor_affine`…). */
export class TorchQScheme implements GlobalNamed {
  private constructor(readonly name: QScheme) {}
  private static cache = new Map<string, TorchQScheme>();
  static of(name: QScheme): TorchQScheme {
    let q = TorchQScheme.cache.get(name);
    if (!q) {
      q = new TorchQScheme(name);
      TorchQScheme.cache.set(name, q);
    }
    return q;
  }
  get [GLOBAL_NAME]() {
    return { module: "torch", name: this.name };
  }
}

/** A class global torch pickles tensors with (`torch.Tensor`, `torch.nn.parameter.Parameter`). */
export class TorchClassRef implements GlobalNamed {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get [GLOBAL_NAME]() {
    return { module: this.module, name: this.name };
  }
}

/** A nested tensor (`_rebuild_nested_tensor`): one flat buffer and per-component sizes/strides/offsets. */
export class NestedTensor {
  constructor(
    readonly buffer: Tensor,
    readonly sizes: Tensor,
    readonly strides: Tensor,
    readonly offsets: Tensor,
  ) {}
  /** The components, as views of the buffer's storage. */
  unbind(): Tensor[] {
    const n = this.sizes.shape[0] ?? 0;
    const toNums = (t: Tensor) => (t.dim() === 0 ? [] : t.values().map((v) => Number(v)));
    const out: Tensor[] = [];
    for (let i = 0; i < n; i++) {
      const shape = this.sizes.dim() === 2 ? toNums(this.sizes.select(0, i)) : [];
      const stride = this.strides.dim() === 2 ? toNums(this.strides.select(0, i)) : [];
      const off = Number(this.offsets.get([i]));
      out.push(
        new Tensor(this.buffer.storage, this.buffer.storageOffset + off, shape, stride, {
          dtype: this.buffer.dtype,
        }),
      );
    }
    return out;
  }
}

/** The globals that construct these values (`torch.Size`, `torch.device`, `_get_layout`); part of the rebuild table. */
export const VALUE_GLOBALS = {
  Size: callable("torch", "Size", (a, ctx) => {
    const [dims] = args(a, 0, 1, "torch.Size", ctx);
    return torchSize(dims === undefined ? [] : ints(dims, "torch.Size"));
  }),
  device: callable("torch", "device", (a, ctx) => {
    const [t, i] = args(a, 1, 2, "torch.device", ctx);
    if (typeof t !== "string")
      throw new TorchPickleError(`torch.device: expected a string, got ${describe(t)}`);
    if (i === undefined || i === null) return TorchDevice.parse(t);
    return new TorchDevice(t, int(i, "device index"));
  }),
  getLayout: callable("torch.serialization", "_get_layout", (a, ctx) => {
    const [n] = args(a, 1, 1, "_get_layout", ctx);
    if (typeof n !== "string")
      throw new TorchPickleError(`_get_layout: expected a string, got ${describe(n)}`);
    return TorchLayout.of(n);
  }),
};
const G = VALUE_GLOBALS;

/** `torch.Tensor`, as a registry value (used as `_rebuild_from_type_v2`'s `new_type`). */
export const TENSOR_CLASS = new TorchClassRef("torch", "Tensor");
/** `torch.nn.parameter.Parameter`: callable and constructible (`Parameter(data, requires_grad)`). */
export const PARAMETER_CLASS = Object.assign(new TorchClassRef("torch.nn.parameter", "Parameter"), {
  [CALL](a: PyTuple, ctx: HookContext) {
    const [d, rg] = args(a, 0, 2, "Parameter", ctx);
    const data = d === undefined || d === null ? makeTensor([]) : asTensor(d, "Parameter data");
    return new Parameter(data, rg === undefined ? true : bool(rg));
  },
  [NEW](a: PyTuple, _kw: Map<string, unknown> | null, ctx: HookContext) {
    return PARAMETER_CLASS[CALL](a, ctx);
  },
});
