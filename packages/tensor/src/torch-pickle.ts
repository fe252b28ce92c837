/**
 * Torch's pickle bindings: what the globals in a torch pickle mean (loading), and how tensors,
 * storages, dtypes, devices and sizes reduce to exactly what torch writes (saving).
 */
import {
  asTuple,
  CALL,
  type Callable,
  callable,
  GLOBAL_NAME,
  type GlobalNamed,
  GlobalRegistry,
  type HookContext,
  isTuple,
  NEW,
  PyFloat,
  PyGlobal,
  type PyStr,
  PyTuple,
  REDUCE,
  type Reduction,
  SETSTATE,
  tuple,
} from "@pt/pickle";
import { ALL_DTYPES, type DType, dtypes, Storage } from "@pt/storage";
import { tensor as makeTensor } from "./create.js";
import { TensorError } from "./errors.js";
import { type QParams, type QScheme, QuantizedTensor } from "./quantized.js";
import { MetaTensor, type SparseLayout, SparseTensor } from "./sparse.js";
import { Parameter, Tensor } from "./tensor.js";

/** An error while interpreting or producing torch pickle values. */
export class TorchPickleError extends TensorError {
  override name = "TorchPickleError";
  constructor(
    message: string,
    details: Readonly<Record<string, unknown>> = {},
    options?: { cause?: unknown },
  ) {
    super("Pickle", message, details, options);
  }
}

const msg = (e: unknown) => (e instanceof TensorError ? e.torchMessage : (e as Error).message);
const where = (ctx: HookContext | undefined) => (ctx ? ` (${ctx.opcode} at offset ${ctx.offset})` : "");

// ---- value classes for torch globals -----------------------------------------------------

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
function storageClassRef(
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

// ---- argument helpers ---------------------------------------------------------------------

/** `what` + `suffix` names the argument in the error (two parts: nothing is concatenated unless it throws). */
function int(v: unknown, what: string, suffix = ""): number {
  if (typeof v === "number" && Number.isSafeInteger(v)) return v;
  if (suffix !== "") what = `${what}${suffix}`;
  if (typeof v === "bigint" && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) {
    return Number(v);
  }
  if (typeof v === "boolean") return v ? 1 : 0;
  throw new TorchPickleError(`${what} must be an integer, got ${describe(v)}`, { what });
}
function float(v: unknown, what: string): number {
  if (typeof v === "number") return v;
  if (v instanceof PyFloat) return v.value;
  if (typeof v === "bigint") return Number(v);
  throw new TorchPickleError(`${what} must be a number, got ${describe(v)}`, { what });
}
/** Element `i` of an int tuple; its name (`fn` + `suffix` + `[i]`) is only built for the error. */
function intAt(v: readonly unknown[], i: number, fn: string, suffix: string): number {
  const x: unknown = v[i];
  return typeof x === "number" && Number.isSafeInteger(x) ? x : int(x, `${fn}${suffix}[${i}]`);
}
function ints(v: unknown, fn: string, suffix = ""): number[] {
  if (!Array.isArray(v)) {
    const what = `${fn}${suffix}`;
    throw new TorchPickleError(`${what} must be a tuple of ints, got ${describe(v)}`, { what });
  }
  const n = v.length;
  // Tensors keep this array (frozen) as their shape/stride: up to 4 dimensions as literals (packed,
  // exactly as long: a pushed array would reserve 16 slots), longer ones preallocated.
  switch (n) {
    case 0:
      return [];
    case 1:
      return [intAt(v, 0, fn, suffix)];
    case 2:
      return [intAt(v, 0, fn, suffix), intAt(v, 1, fn, suffix)];
    case 3:
      return [intAt(v, 0, fn, suffix), intAt(v, 1, fn, suffix), intAt(v, 2, fn, suffix)];
    case 4:
      return [
        intAt(v, 0, fn, suffix),
        intAt(v, 1, fn, suffix),
        intAt(v, 2, fn, suffix),
        intAt(v, 3, fn, suffix),
      ];
  }
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = intAt(v, i, fn, suffix);
  return out;
}
function describe(v: unknown): string {
  if (v === null) return "None";
  if (Array.isArray(v)) return isTuple(v) ? `a tuple of ${v.length}` : `a list of ${v.length}`;
  if (typeof v === "object") return (v as object).constructor?.name ?? "an object";
  return `${typeof v} ${String(v)}`;
}
function args(a: PyTuple, min: number, max: number, fn: string, ctx?: HookContext): unknown[] {
  if (a.length < min || a.length > max) {
    throw new TorchPickleError(
      `${fn} takes ${min === max ? min : `${min} to ${max}`} arguments, got ${a.length}${where(ctx)}`,
      { fn, got: a.length },
    );
  }
  return a;
}
function asStorage(v: unknown, fn: string): Storage {
  if (v instanceof Storage) return v;
  throw new TorchPickleError(`${fn}: expected a storage (from persistent_load), got ${describe(v)}`, { fn });
}
function asTensor(v: unknown, what: string): Tensor {
  if (v instanceof Tensor) return v;
  throw new TorchPickleError(`${what} must be a tensor, got ${describe(v)}`, { what });
}
function asDType(v: unknown, what: string): DType {
  if (ALL_DTYPES.includes(v as DType)) return v as DType;
  throw new TorchPickleError(`${what} must be a dtype, got ${describe(v)}`, { what });
}
function bool(v: unknown): boolean {
  return v === true || v === 1;
}
function stateToAttributes(state: unknown): Map<string, unknown> | null {
  if (state === null || state === undefined) return null;
  if (state instanceof Map) return state.size ? new Map([...state].map(([k, v]) => [String(k), v])) : null;
  if (isTuple(state) && state.length === 2) {
    const m = new Map<string, unknown>();
    for (const part of state) if (part instanceof Map) for (const [k, v] of part) m.set(String(k), v);
    return m.size ? m : null;
  }
  throw new TorchPickleError(`Invalid serialized state: ${describe(state)}`);
}

function rebuildStrided(
  storage: Storage,
  offset: unknown,
  size: unknown,
  stride: unknown,
  dtype: DType | undefined,
  fn: string,
  requiresGrad = false,
): Tensor {
  try {
    return new Tensor(
      storage,
      int(offset, fn, " storage_offset"),
      Object.freeze(ints(size, fn, " size")),
      Object.freeze(ints(stride, fn, " stride")),
      { dtype: dtype ?? storage.dtype, requiresGrad },
    );
  } catch (e) {
    if (e instanceof TorchPickleError) throw e;
    throw new TorchPickleError(`${fn}: ${msg(e)}`, {}, { cause: e });
  }
}

// ---- the rebuild functions ----------------------------------------------------------------

const U = "torch._utils";
const G = {
  rebuildTensor: callable(U, "_rebuild_tensor", (a, ctx) => {
    const [s, o, sz, st] = args(a, 4, 4, "_rebuild_tensor", ctx);
    return rebuildStrided(asStorage(s, "_rebuild_tensor"), o, sz, st, undefined, "_rebuild_tensor");
  }),
  rebuildTensorV2: callable(U, "_rebuild_tensor_v2", (a, ctx) => {
    // indexed, not destructured: destructuring a tuple goes through its iterator (hot: per tensor)
    const v = args(a, 6, 7, "_rebuild_tensor_v2", ctx);
    const s = v[0];
    const o = v[1];
    const sz = v[2];
    const st = v[3];
    const rg = v[4];
    const meta = v[6];
    const t = rebuildStrided(
      asStorage(s, "_rebuild_tensor_v2"),
      o,
      sz,
      st,
      undefined,
      "_rebuild_tensor_v2",
      bool(rg),
    );
    if (meta instanceof Map && meta.size) t.pyAttributes = new Map([["__metadata__", meta]]);
    return t;
  }),
  rebuildTensorV3: callable(U, "_rebuild_tensor_v3", (a, ctx) => {
    const [s, o, sz, st, rg, , dt, meta] = args(a, 7, 8, "_rebuild_tensor_v3", ctx);
    const t = rebuildStrided(
      asStorage(s, "_rebuild_tensor_v3"),
      o,
      sz,
      st,
      asDType(dt, "dtype"),
      "_rebuild_tensor_v3",
    );
    t.requiresGrad = bool(rg);
    if (meta instanceof Map && meta.size) t.pyAttributes = new Map([["__metadata__", meta]]);
    return t;
  }),
  rebuildParameter: callable(U, "_rebuild_parameter", (a, ctx) => {
    const v = args(a, 3, 3, "_rebuild_parameter", ctx);
    const d = v[0];
    const rg = v[1];
    return new Parameter(asTensor(d, "_rebuild_parameter data"), bool(rg));
  }),
  rebuildParameterWithState: callable(U, "_rebuild_parameter_with_state", (a, ctx) => {
    const [d, rg, , state] = args(a, 4, 4, "_rebuild_parameter_with_state", ctx);
    const p = new Parameter(asTensor(d, "_rebuild_parameter_with_state data"), bool(rg));
    p.pyAttributes = stateToAttributes(state);
    return p;
  }),
  rebuildQTensor: callable(U, "_rebuild_qtensor", (a, ctx) => {
    const [s, o, sz, st, qp, rg] = args(a, 7, 7, "_rebuild_qtensor", ctx);
    const storage = asStorage(s, "_rebuild_qtensor");
    if (!Array.isArray(qp) || !(qp[0] instanceof TorchQScheme)) {
      throw new TorchPickleError(`_rebuild_qtensor: invalid quantizer params ${describe(qp)}`);
    }
    const scheme = qp[0].name;
    let qparams: QParams;
    if (scheme === "per_tensor_affine") {
      qparams = { qscheme: scheme, scale: float(qp[1], "scale"), zeroPoint: int(qp[2], "zero_point") };
    } else if (scheme === "per_channel_affine" || scheme === "per_channel_affine_float_qparams") {
      const vec = (v: unknown, what: string) =>
        Float64Array.from(
          v instanceof Tensor ? v.toFloat64Array() : Array.isArray(v) ? v.map((x) => float(x, what)) : [],
        );
      // torch writes per_channel_affine for both; floating zero points mean float qparams
      const zp = qp[2];
      const floatZp =
        scheme === "per_channel_affine_float_qparams" ||
        (zp instanceof Tensor && zp.dtype.isFloatingPoint) ||
        (Array.isArray(zp) &&
          zp.some((z) => z instanceof PyFloat || (typeof z === "number" && !Number.isInteger(z))));
      qparams = {
        qscheme: floatZp ? "per_channel_affine_float_qparams" : "per_channel_affine",
        scales: vec(qp[1], "scales"),
        zeroPoints: vec(qp[2], "zero_points"),
        axis: int(qp[3], "axis"),
        ...(qp[1] instanceof Tensor && qp[2] instanceof Tensor
          ? { tensors: { scales: qp[1], zeroPoints: qp[2] } }
          : {}),
      };
    } else {
      throw new TorchPickleError(`Can't deserialize quantized tensor with qscheme torch.${scheme}`);
    }
    try {
      return new QuantizedTensor(
        storage,
        int(o, "storage_offset"),
        ints(sz, "size"),
        ints(st, "stride"),
        qparams,
        {
          requiresGrad: bool(rg),
        },
      );
    } catch (e) {
      throw new TorchPickleError(`_rebuild_qtensor: ${msg(e)}`, {}, { cause: e });
    }
  }),
  rebuildSparseTensor: callable(U, "_rebuild_sparse_tensor", (a, ctx) =>
    rebuildSparse(a, "_rebuild_sparse_tensor", ctx),
  ),
  rebuildSparseCsrTensor: callable(U, "_rebuild_sparse_csr_tensor", (a, ctx) =>
    rebuildSparse(a, "_rebuild_sparse_csr_tensor", ctx),
  ),
  rebuildNestedTensor: callable(U, "_rebuild_nested_tensor", (a, ctx) => {
    const [b, sz, st, off] = args(a, 4, 4, "_rebuild_nested_tensor", ctx);
    return new NestedTensor(
      asTensor(b, "buffer"),
      asTensor(sz, "sizes"),
      asTensor(st, "strides"),
      asTensor(off, "offsets"),
    );
  }),
  rebuildMeta: callable(U, "_rebuild_meta_tensor_no_storage", (a, ctx) => {
    const [dt, sz, st, rg] = args(a, 4, 4, "_rebuild_meta_tensor_no_storage", ctx);
    return new MetaTensor(asDType(dt, "dtype"), ints(sz, "size"), ints(st, "stride"), bool(rg));
  }),
  rebuildWrapperSubclass: callable(U, "_rebuild_wrapper_subclass", (a, ctx) => {
    const [cls, dt, sz, st, off, , dev, rg] = args(a, 8, 8, "_rebuild_wrapper_subclass", ctx);
    const m = new MetaTensor(
      asDType(dt, "dtype"),
      ints(sz, "size"),
      ints(st, "stride"),
      bool(rg),
      int(off, "storage_offset"),
      dev instanceof TorchDevice ? dev.toString() : String(dev),
    );
    m.subclass = cls;
    return m;
  }),
  rebuildDeviceTensorFromNumpy: callable(U, "_rebuild_device_tensor_from_numpy", (a, ctx) =>
    rebuildFromNumpy(a, "_rebuild_device_tensor_from_numpy", ctx),
  ),
  rebuildXlaTensor: callable(U, "_rebuild_xla_tensor", (a, ctx) =>
    rebuildFromNumpy(a, "_rebuild_xla_tensor", ctx),
  ),
  rebuildFromTypeV2: callable("torch._tensor", "_rebuild_from_type_v2", (a, ctx) => {
    const [func, newType, fargs, state] = args(a, 4, 4, "_rebuild_from_type_v2", ctx);
    return rebuildFromType(func, newType, fargs, state, ctx);
  }),
  rebuildFromType: callable("torch._tensor", "_rebuild_from_type", (a, ctx) => {
    const [func, newType, fargs, state] = args(a, 4, 4, "_rebuild_from_type", ctx);
    return rebuildFromType(func, newType, fargs, state, ctx);
  }),
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

function rebuildSparse(a: PyTuple, fn: string, ctx?: HookContext): SparseTensor {
  const [layout, data] = args(a, 2, 2, fn, ctx);
  if (!(layout instanceof TorchLayout) || layout.name === "strided" || layout.name === "_mkldnn") {
    throw new TorchPickleError(`${fn}: rebuilding sparse tensor for layout ${describe(layout)}`);
  }
  if (!Array.isArray(data)) throw new TorchPickleError(`${fn}: data must be a tuple, got ${describe(data)}`);
  try {
    if (layout.name === "sparse_coo") {
      const [ind, val, size, coalesced] = data;
      return SparseTensor.coo(
        asTensor(ind, "indices"),
        asTensor(val, "values"),
        ints(size, "size"),
        bool(coalesced),
      );
    }
    const [c, p, val, size] = data;
    return SparseTensor.compressed(
      layout.name,
      asTensor(c, "compressed indices"),
      asTensor(p, "plain indices"),
      asTensor(val, "values"),
      ints(size, "size"),
    );
  } catch (e) {
    if (e instanceof TorchPickleError) throw e;
    throw new TorchPickleError(`${fn}: ${msg(e)}`, {}, { cause: e });
  }
}

function rebuildFromNumpy(a: PyTuple, fn: string, ctx?: HookContext): Tensor {
  const [data, dt, dev, rg] = args(a, 4, 4, fn, ctx);
  if (!(data instanceof Tensor)) {
    throw new TorchPickleError(`${fn}: needs a numpy array decoded as a Tensor, got ${describe(data)}`, {
      fn,
    });
  }
  const dtype = asDType(dt, "dtype");
  const t = makeTensor(data.values(), {
    dtype,
    shape: data.shape,
    device: String(dev),
    requiresGrad: bool(rg),
  });
  return t;
}

function rebuildFromType(
  func: unknown,
  newType: unknown,
  fargs: unknown,
  state: unknown,
  ctx?: HookContext,
): unknown {
  if (!func || typeof (func as Partial<Callable>)[CALL] !== "function") {
    throw new TorchPickleError(`_rebuild_from_type_v2: ${describe(func)} is not callable${where(ctx)}`);
  }
  if (!isTuple(fargs)) throw new TorchPickleError(`_rebuild_from_type_v2: args must be a tuple${where(ctx)}`);
  const r = (func as Callable)[CALL](fargs, ctx ?? { offset: -1, opcode: "REDUCE" });
  if (r instanceof Tensor) {
    if (!(newType === TENSOR_CLASS || newType === PARAMETER_CLASS)) r.pySubclass = newType;
    const attrs = stateToAttributes(state);
    if (attrs) r.pyAttributes = attrs;
  }
  return r;
}

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

/** The module-level rebuild callables (each a `callable` with its GLOBAL_NAME). */
export const torchRebuildFunctions = G;

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
  r.register("torch._utils", "_rebuild_xla_tensor", G.rebuildXlaTensor);
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

// ---- persistent ids -----------------------------------------------------------------------

/** A parsed `('storage', storage_class, key, location, numel[, view_metadata])` persistent id. */
export interface StoragePid {
  /** Element dtype of the storage (`uint8` for untyped). */
  readonly dtype: DType;
  readonly untyped: boolean;
  /** Record key (`data/<key>` in zip files; the storage key in legacy files). */
  readonly key: string;
  /** Location tag (`cpu`, `cuda:0`…). */
  readonly location: string;
  /** Element count (bytes for untyped storages). */
  readonly numel: number;
  /** Byte size (`numel * dtype.itemSize`). */
  readonly nbytes: number;
  /** Legacy views: `{ viewKey, offset, size }` in elements, or null. */
  readonly viewMetadata: { readonly viewKey: string; readonly offset: number; readonly size: number } | null;
}

/**
 * Parse a storage persistent id, as both container formats receive it in `persistentLoad`.
 * The format then returns a `Storage` (shared per key) that the rebuild functions wrap.
 */
export function parseStoragePid(pid: unknown): StoragePid {
  if (!isTuple(pid) || pid.length < 5 || pid.length > 6 || pid[0] !== "storage") {
    throw new TorchPickleError(
      `unsupported persistent id ${describe(pid)}: expected ('storage', class, key, location, numel[, view])`,
      {},
    );
  }
  const cls = pid[1];
  let dtype: DType;
  let untyped: boolean;
  if (cls instanceof StorageClassRef) {
    dtype = cls.dtype;
    untyped = cls.untyped;
  } else if (ALL_DTYPES.includes(cls as DType)) {
    dtype = cls as DType; // some writers put a dtype in the class slot
    untyped = false;
  } else if (cls instanceof PyGlobal) {
    throw new TorchPickleError(`unknown storage class ${cls.qualifiedName}`, {
      storageClass: cls.qualifiedName,
    });
  } else {
    throw new TorchPickleError(`persistent id storage class must be a storage class, got ${describe(cls)}`);
  }
  const key =
    typeof pid[2] === "string"
      ? pid[2]
      : typeof pid[2] === "number" || typeof pid[2] === "bigint"
        ? String(pid[2])
        : null;
  if (key === null) throw new TorchPickleError(`persistent id key must be a string, got ${describe(pid[2])}`);
  const loc = pid[3];
  const location = loc instanceof TorchDevice ? loc.toString() : typeof loc === "string" ? loc : null;
  if (location === null)
    throw new TorchPickleError(`persistent id location must be a string, got ${describe(loc)}`);
  const numel = int(pid[4], "persistent id numel");
  if (numel < 0) throw new TorchPickleError(`persistent id numel ${numel} is negative`, { numel });
  let viewMetadata: StoragePid["viewMetadata"] = null;
  const vm = pid[5];
  if (vm !== undefined && vm !== null) {
    if (!Array.isArray(vm) || vm.length !== 3) {
      throw new TorchPickleError(`view metadata must be (view_key, offset, size), got ${describe(vm)}`);
    }
    viewMetadata = {
      viewKey: String(vm[0]),
      offset: int(vm[1], "view offset"),
      size: int(vm[2], "view size"),
    };
  }
  return { dtype, untyped, key, location, numel, nbytes: numel * dtype.itemSize, viewMetadata };
}

/**
 * What a saver writes for a storage argument: torch pickles a storage *as seen with a dtype*.
 * A Tensor's reduction passes the Storage itself when that is what torch would write, else a
 * `StorageView` (cached, so the same pair is the same object).
 */
export class StorageView {
  constructor(
    readonly storage: Storage,
    readonly dtype: DType,
    readonly untyped: boolean,
  ) {}
}
const viewCache = new WeakMap<Storage, Map<string, StorageView>>();
function storageView(storage: Storage, dtype: DType, untyped: boolean): StorageView {
  let m = viewCache.get(storage);
  if (!m) {
    m = new Map();
    viewCache.set(storage, m);
  }
  const k = `${dtype.name}:${untyped}`;
  let v = m.get(k);
  if (!v) {
    v = new StorageView(storage, dtype, untyped);
    m.set(k, v);
  }
  return v;
}

/** What a format's `persistentId` needs to know about a storage argument, or null if `obj` is not one. */
export interface SavedStorage {
  /** The storage whose bytes are written (key storages by this object). */
  readonly storage: Storage;
  /** The dtype torch records (the storage class's dtype, `uint8` when untyped). */
  readonly dtype: DType;
  readonly untyped: boolean;
  readonly storageClass: StorageClassRef;
  /** Count for the persistent id (bytes when untyped). */
  readonly numel: number;
}

/** Recognise a storage argument in a reduction (a `Storage` or a `StorageView`). */
export function savedStorage(obj: unknown): SavedStorage | null {
  let storage: Storage;
  let dtype: DType;
  let untyped: boolean;
  if (obj instanceof Storage) {
    storage = obj;
    untyped = obj.untyped || obj.dtype.storageClass === null;
    dtype = untyped ? dtypes.uint8 : obj.dtype;
  } else if (obj instanceof StorageView) {
    storage = obj.storage;
    untyped = obj.untyped;
    dtype = obj.dtype;
  } else return null;
  const storageClass = untyped ? UNTYPED_STORAGE : storageClassFor(dtype);
  return { storage, dtype, untyped, storageClass, numel: storage.nbytes / dtype.itemSize };
}

/** The persistent id torch writes for a storage argument with record key `key`. */
export function storagePersistentId(obj: unknown, key: string | PyStr): PyTuple {
  const s = savedStorage(obj);
  if (!s) throw new TorchPickleError(`not a storage: ${describe(obj)}`);
  return asTuple(["storage", s.storageClass, key, s.storage.device, s.numel]);
}

// ---- reductions (saving) ------------------------------------------------------------------

/** Which torch's pickles to reproduce: 1.13 (`_rebuild_sparse_csr_tensor`), or 2.x. */
export type TorchFlavor = "1.13" | "2.x";

function storageArg(t: Tensor): unknown {
  if (!t.dtype.storageClass) {
    return t.storage.untyped ? t.storage : storageView(t.storage, dtypes.uint8, true);
  }
  return t.storage.dtype === t.dtype && !t.storage.untyped
    ? t.storage
    : storageView(t.storage, t.dtype, false);
}
const pyFloat = (x: number): number | PyFloat => (Number.isInteger(x) ? new PyFloat(x) : x);

function attributesState(v: Tensor): Map<string, unknown> | null {
  if (!v.pyAttributes) return null;
  const m = new Map([...v.pyAttributes].filter(([k]) => k !== "__metadata__"));
  return m.size ? m : null;
}

const ORDERED_DICT = new PyGlobal("collections", "OrderedDict");
const NO_ARGS = tuple();

/**
 * The empty `OrderedDict()` torch passes to every rebuild as its backward hooks: pickled exactly as
 * an empty `PyOrderedDict` (`collections.OrderedDict`, `()`, REDUCE, memoized), but one small object
 * per saved tensor rather than a Map, since the pickler keeps every one alive until it is done.
 */
export class BackwardHooks {
  [REDUCE](): Reduction {
    return { func: ORDERED_DICT, args: NO_ARGS };
  }
}
const hooks = (): BackwardHooks => new BackwardHooks();

/**
 * The reduction torch writes for a torch value (Tensor, Parameter, quantized, sparse, meta, Size,
 * device, layout). Tensor subclasses (`pySubclass`) become `_rebuild_from_type_v2(func, cls, args,
 * state)` in both flavours; with `"2.x"`, plain tensors carrying `pyAttributes` do too (1.13 drops
 * them, as torch 1.13 does), and Parameters with attributes use `_rebuild_parameter_with_state`.
 */
export function torchReduce(v: unknown, flavor: TorchFlavor = "1.13"): Reduction {
  if (v instanceof Parameter) {
    const data = v.asTensor();
    const state = flavor === "2.x" ? attributesState(v) : null;
    if (state) return { func: G.rebuildParameterWithState, args: [data, v.requiresGrad, hooks(), state] };
    return { func: G.rebuildParameter, args: [data, v.requiresGrad, hooks()] };
  }
  if (v instanceof Tensor && !(v instanceof QuantizedTensor)) {
    const state = attributesState(v);
    if (v.pySubclass !== null || (flavor === "2.x" && state)) {
      const inner = torchReduceInternal(v);
      return {
        func: G.rebuildFromTypeV2,
        args: [inner.func, v.pySubclass ?? TENSOR_CLASS, tuple(inner.args), state ?? new Map()],
      };
    }
  }
  return torchReduceInternal(v, flavor);
}

function torchReduceInternal(v: unknown, flavor: TorchFlavor = "1.13"): Reduction {
  if (v instanceof QuantizedTensor) {
    const q = v.qparams;
    const qp =
      q.qscheme === "per_tensor_affine"
        ? tuple([TorchQScheme.of("per_tensor_affine"), pyFloat(q.scale), q.zeroPoint])
        : tuple([
            TorchQScheme.of("per_channel_affine"),
            ...(q.tensors
              ? [q.tensors.scales, q.tensors.zeroPoints]
              : q.qscheme === "per_channel_affine_float_qparams"
                ? [
                    makeTensor(Array.from(q.scales), { dtype: dtypes.float32 }),
                    makeTensor(Array.from(q.zeroPoints), { dtype: dtypes.float32 }),
                  ]
                : [
                    makeTensor(Array.from(q.scales), { dtype: dtypes.float64 }),
                    makeTensor(
                      Array.from(q.zeroPoints, (z) => BigInt(Math.round(z))),
                      { dtype: dtypes.int64 },
                    ),
                  ]),
            q.axis,
          ]);
    return {
      func: G.rebuildQTensor,
      args: [
        storageView(v.storage, v.dtype, false),
        v.storageOffset,
        tuple(v.shape),
        tuple(v.stride),
        qp,
        v.requiresGrad,
        hooks(),
      ],
    };
  }
  if (v instanceof Tensor) {
    if (!v.dtype.storageClass) {
      return {
        func: G.rebuildTensorV3,
        args: [
          storageArg(v),
          v.storageOffset,
          tuple(v.shape),
          tuple(v.stride),
          v.requiresGrad,
          hooks(),
          v.dtype,
        ],
      };
    }
    return {
      func: G.rebuildTensorV2,
      args: asTuple([
        storageArg(v),
        v.storageOffset,
        tuple(v.shape),
        tuple(v.stride),
        v.requiresGrad,
        hooks(),
      ]),
    };
  }
  if (v instanceof SparseTensor) {
    const layout = TorchLayout.of(v.layout);
    if (v.layout === "sparse_coo") {
      const data = [v.indices!, v.values, torchSize(v.shape)];
      if (flavor === "2.x") data.push(v.isCoalesced as never);
      return { func: G.rebuildSparseTensor, args: [layout, tuple(data)] };
    }
    const data = tuple([v.compressedIndices!, v.plainIndices!, v.values, torchSize(v.shape)]);
    if (flavor === "1.13" && v.layout !== "sparse_csr") {
      throw new TorchPickleError(`torch 1.13 cannot pickle ${v.layout} tensors`);
    }
    return {
      func: flavor === "1.13" ? G.rebuildSparseCsrTensor : G.rebuildSparseTensor,
      args: [layout, data],
    };
  }
  if (v instanceof MetaTensor) {
    return { func: G.rebuildMeta, args: [v.dtype, tuple(v.shape), tuple(v.stride), v.requiresGrad] };
  }
  if (v instanceof TorchSize || v instanceof TorchDevice || v instanceof TorchLayout) return v[REDUCE]();
  throw new TorchPickleError(`no torch reduction for ${describe(v)}`);
}

/**
 * Reducers by constructor for `dumps({ reducers })`, producing the given flavour's reductions
 * (the `REDUCE` methods installed on the classes produce torch 1.13's).
 */
export function torchReducers(flavor: TorchFlavor = "1.13"): Map<unknown, (value: never) => Reduction> {
  installTorchPickleProtocols(); // dtypes (pickled as globals) need theirs too
  const m = new Map<unknown, (value: never) => Reduction>();
  for (const cls of [
    Tensor,
    Parameter,
    QuantizedTensor,
    SparseTensor,
    MetaTensor,
    TorchSize,
    TorchDevice,
    TorchLayout,
  ]) {
    m.set(cls, (value: never) => torchReduce(value, flavor));
  }
  return m;
}

let installed = false;
/**
 * Give torch values their pickle protocols: `REDUCE` on Tensor/Parameter/QuantizedTensor/
 * SparseTensor/MetaTensor (torch 1.13 reductions; v3 for dtypes without a storage class),
 * `GLOBAL_NAME` on DType and storage classes, `SETSTATE` on Tensor. Idempotent. Importing the
 * package does not run it (it is free of side effects): `torchGlobals()`, `torchReducers()` and the
 * format packages' savers call it; call it yourself before pickling torch values with `dumps`
 * without `reducers: torchReducers()`.
 */
export function installTorchPickleProtocols(): void {
  if (installed) return;
  installed = true;
  for (const cls of [Tensor, SparseTensor, MetaTensor]) {
    Object.defineProperty(cls.prototype, REDUCE, {
      value(this: unknown) {
        return torchReduce(this);
      },
      configurable: true,
    });
  }
  Object.defineProperty(Tensor.prototype, SETSTATE, {
    value(this: Tensor, state: unknown) {
      const attrs = stateToAttributes(isTuple(state) && state.length !== 2 ? null : state);
      if (attrs) this.pyAttributes = new Map([...(this.pyAttributes ?? []), ...attrs]);
      return undefined;
    },
    configurable: true,
  });
  const dtypeProto = Object.getPrototypeOf(dtypes.float32) as object;
  Object.defineProperty(dtypeProto, GLOBAL_NAME, {
    get(this: DType) {
      return { module: "torch", name: this.name };
    },
    configurable: true,
  });
}
