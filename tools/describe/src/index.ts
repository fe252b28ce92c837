/**
 * `@pt/describe` (private, conformance tooling): describes a loaded value in the JSON schema that
 * `apps/conformance/corpus/tools/describe.py` writes from real torch, and compares two descriptions.
 * Built on the packages' own element reader (`@pt/tensor`'s `readElement`) and Python reprs
 * (`@pt/pickle`'s `reprFloat`/`reprStr`/`reprBytes`).
 */
import { Module } from "@pt/nn-module";
import {
  GLOBAL_NAME,
  isTuple,
  PyByteArray,
  PyComplex,
  PyFloat,
  PyFrozenSet,
  PyGlobal,
  PyObject,
  PyOrderedDict,
  PySlice,
} from "@pt/pickle";
import { ALL_DTYPES, type DType, dtypes, isDType, Storage } from "@pt/storage";
import {
  MetaTensor,
  Parameter,
  QuantizedTensor,
  SparseTensor,
  StorageClassRef,
  type Tensor,
  Tensor as TensorClass,
  TorchDevice,
  TorchLayout,
  TorchMemoryFormat,
  TorchQScheme,
  TorchSize,
} from "@pt/tensor";
import { TorchScriptV1Model } from "@pt/zip-format";
import { describeNumpy, isNumpyObject, numpyIdentity } from "./numpy.js";
import {
  complexRepr,
  elements,
  type Json,
  jfloat,
  jint,
  logicalBytes,
  pyQualname,
  pyRepr,
  sha256Hex,
  tensorValues,
} from "./values.js";

export { complexRepr, type Json, logicalBytes, pyRepr, sha256Hex, tensorValues } from "./values.js";

const enc = new TextEncoder();

/** The description of a loaded value: `object` and `storages` as in `apps/conformance/corpus/expected/*.json`. */
export interface Description {
  readonly object: Json;
  readonly storages: Json[];
  readonly n_tensors: number;
}

/** Options of {@link describe}. */
export interface DescribeOptions {
  /** Device printed for tensors and storages (default `"cpu"`: the corpus was described with `map_location='cpu'`). */
  readonly device?: string;
  /** Path of the value itself in `REF` targets (default `"$"`; torch's archive descriptions use `"$data.pkl"`). */
  readonly root?: string;
}

// ---- the describer -----------------------------------------------------------------------------

interface StorageEntry {
  storage: Storage;
  info: Record<string, Json>;
}

const EMPTY_TUPLE_KEY = {};

class Describer {
  readonly groups = new Map<Storage, number>();
  readonly storages: StorageEntry[] = [];
  readonly seen = new Map<object, string>();
  nTensors = 0;
  private readonly internedKeys = new Map<string, object>();
  /** One identity per interned Python object (numpy dtypes are singletons). */
  interned(k: string): object {
    let o = this.internedKeys.get(k);
    if (!o) {
      o = {};
      this.internedKeys.set(k, o);
    }
    return o;
  }
  constructor(readonly device: string) {}

  async storageGroup(storage: Storage, dtype: DType): Promise<number> {
    const g = this.groups.get(storage);
    if (g !== undefined) return g;
    const gid = this.groups.size;
    this.groups.set(storage, gid);
    if (!storage.isLoaded) await storage.load();
    const bytes = storage.bytes;
    this.storages.push({
      storage,
      info: {
        group: gid,
        dtype: dtype.name,
        numel: Math.floor(storage.nbytes / dtype.itemSize),
        nbytes: storage.nbytes,
        sha256: await sha256Hex(bytes),
        device: this.device,
      },
    });
    return gid;
  }

  resolveViews(): void {
    for (const a of this.storages) {
      const ra = a.storage.base;
      if (!ra || a.storage.nbytes === 0) continue;
      const aStart = a.storage.bytes.byteOffset;
      for (const b of this.storages) {
        if (a === b || b.storage.nbytes === 0) continue;
        const root = b.storage.base ?? b.storage;
        if (root !== ra) continue;
        const bStart = b.storage.bytes.byteOffset;
        if (
          bStart <= aStart &&
          aStart + a.storage.nbytes <= bStart + b.storage.nbytes &&
          (a.storage.nbytes < b.storage.nbytes || (a.info.group as number) > (b.info.group as number))
        ) {
          a.info.view_of_group = b.info.group as number;
          a.info.byte_offset = aStart - bStart;
          break;
        }
      }
    }
  }

  async tensor(t: Tensor | SparseTensor | MetaTensor): Promise<Record<string, Json>> {
    this.nTensors++;
    const requiresGrad = (t as { requiresGrad?: boolean }).requiresGrad ?? false;
    if (t instanceof SparseTensor) {
      const d: Record<string, Json> = {
        _type: "tensor",
        class: "torch.Tensor",
        dtype: t.values.dtype.name,
        shape: [...t.shape],
        layout: t.layout,
        requires_grad: requiresGrad,
        device: this.device,
      };
      if (t.layout === "sparse_coo") {
        const idx = t.indices as Tensor;
        d.is_coalesced = t.isCoalesced;
        d.sparse_dim = idx.shape[0] ?? 0;
        d.dense_dim = t.values.shape.length - 1;
        d.indices = await this.tensor(idx);
        d.values = await this.tensor(t.values);
      } else {
        d.crow_indices = await this.tensor(t.compressedIndices as Tensor);
        d.col_indices = await this.tensor(t.plainIndices as Tensor);
        d.values = await this.tensor(t.values);
      }
      return d;
    }
    if (t instanceof MetaTensor) {
      return {
        _type: "tensor",
        class: "torch.Tensor",
        dtype: t.dtype.name,
        shape: [...t.shape],
        layout: "strided",
        requires_grad: requiresGrad,
        device: t.device,
        stride: [...t.stride],
      };
    }
    const d: Record<string, Json> = {
      _type: "tensor",
      class: t instanceof Parameter ? "torch.nn.parameter.Parameter" : (subclassName(t) ?? "torch.Tensor"),
      dtype: t.dtype.name,
      shape: [...t.shape],
      layout: "strided",
      requires_grad: requiresGrad,
      device: this.device,
      stride: [...t.stride],
      storage_offset: t.storageOffset,
    };
    d.storage_group = await this.storageGroup(t.storage, t.dtype);
    d.storage_numel = Math.floor(t.storage.nbytes / t.dtype.itemSize);
    d.storage_nbytes = t.storage.nbytes;
    const raw = logicalBytes(t.storage.bytes, t.dtype.itemSize, t.storageOffset, t.shape, t.stride);
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (t instanceof QuantizedTensor) {
      const q = t.qparams;
      d.qscheme = q.qscheme;
      if (q.qscheme === "per_tensor_affine") {
        d.q_scale = jfloat(q.scale);
        d.q_zero_point = q.zeroPoint;
      } else {
        d.q_per_channel_axis = q.axis;
        d.q_per_channel_scales = await tensorValues(
          dtypes.float64,
          new Uint8Array(Float64Array.from(q.scales).buffer),
          q.scales.length,
        );
        d.q_per_channel_zero_points = await tensorValues(
          dtypes.int64,
          new Uint8Array(BigInt64Array.from(q.zeroPoints, (z) => BigInt(Math.round(z))).buffer),
          q.zeroPoints.length,
        );
      }
      // torch's int_repr: the plain integer dtype over the same typed array (qint8 → int8, quint* → uint8)
      const intDtype =
        ALL_DTYPES.find((x) => x.kind === "int" && x.arrayKind === t.dtype.arrayKind) ?? dtypes.uint8;
      d.int_repr = await tensorValues(intDtype, raw, numel);
      d.dequantized = await tensorValues(dtypes.float32, dequantizedBytes(t, raw, numel), numel);
      return d;
    }
    Object.assign(d, await tensorValues(t.dtype, raw, numel));
    return d;
  }

  async value(o: unknown, path: string, depth: number): Promise<Json> {
    if (depth > 60) return { _type: "DEPTH_LIMIT", class: pyQualname(o) };
    if (o === null || o === undefined) return null;
    if (typeof o === "boolean") return o;
    if (typeof o === "number") {
      if (Number.isInteger(o) && !Object.is(o, -0)) return jint(o);
      return Number.isFinite(o) ? o : { _type: "float", value: jfloat(o) };
    }
    if (typeof o === "bigint") return jint(o);
    if (o instanceof PyFloat)
      return Number.isFinite(o.value) ? o.value : { _type: "float", value: jfloat(o.value) };
    if (typeof o === "string") {
      const cps = Array.from(o);
      if (cps.length > 2000)
        return {
          _type: "str",
          len: cps.length,
          sha256: await sha256Hex(enc.encode(o)),
          head: cps.slice(0, 200).join(""),
        };
      return o;
    }
    if (o instanceof Uint8Array && !(o instanceof PyByteArray) && o.constructor === Uint8Array)
      return this.bytes(o, "bytes");
    if (o instanceof PyByteArray) return this.bytes(o, "bytearray");
    if (typeof o !== "object") return String(o);
    const npId = numpyIdentity(o);
    const identity: object =
      npId !== null
        ? this.interned(npId)
        : isTuple(o) && o.length === 0 && !(o instanceof TorchSize)
          ? EMPTY_TUPLE_KEY
          : o;
    const excluded = isDType(o) || o instanceof TorchDevice || o instanceof TorchSize;
    const prev = this.seen.get(identity);
    if (prev !== undefined && !excluded) return { _type: "REF", to: prev };
    this.seen.set(identity, path);
    if (o instanceof TensorClass || o instanceof SparseTensor || o instanceof MetaTensor)
      return this.tensor(o);
    if (isDType(o)) return { _type: "torch.dtype", value: `torch.${o.name}` };
    if (o instanceof TorchLayout) return { _type: "torch.layout", value: `torch.${o.name}` };
    if (o instanceof TorchQScheme) return { _type: "torch.qscheme", value: `torch.${o.name}` };
    if (o instanceof TorchMemoryFormat) return { _type: "torch.memory_format", value: String(o) };
    if (o instanceof TorchDevice) return { _type: "torch.device", value: o.toString() };
    if (o instanceof TorchSize) return { _type: "torch.Size", value: [...o] };
    if (o instanceof Storage) {
      const dtype = o.dtype;
      const t = new TensorClass(o, 0, [o.numel], [1], { dtype });
      const values = await this.tensor(t);
      return {
        _type: "storage",
        class: o.untyped ? "torch.storage.UntypedStorage" : "torch.storage.TypedStorage",
        dtype: dtype.name,
        size: o.numel,
        values,
      };
    }
    if (o instanceof TorchScriptV1Model) {
      const tensors: Json[] = [];
      for (const e of o.tensors) {
        const t = e.tensor;
        tensors.push({
          index: e.index,
          dataType: e.dataType,
          dims: [...t.shape],
          strides: [...t.stride],
          offset: t.storageOffset,
          record: e.record,
          record_nbytes: t.storage.nbytes,
          device: e.device,
          requiresGrad: e.requiresGrad,
          values: await tensorValues(
            t.dtype,
            logicalBytes(t.storage.bytes, t.dtype.itemSize, t.storageOffset, t.shape, t.stride),
            t.shape.reduce((a, b) => a * b, 1),
          ),
        });
      }
      return {
        _type: "model_json_v1",
        producerName: o.producerName,
        producerVersion: o.producerVersion,
        protoVersion: o.protoVersion,
        mainModule_name: o.mainModuleName,
        tensors,
      };
    }
    if (isNumpyObject(o)) return describeNumpy(o as PyObject, (v, p) => this.value(v, p, depth + 1), path);
    if (o instanceof Map) {
      const cls = o instanceof PyOrderedDict ? "collections.OrderedDict" : "builtins.dict";
      const items = [...o.entries()];
      const lim = 3000;
      const d: Record<string, Json> = { _type: cls, len: items.length };
      d.keys = items
        .slice(0, lim)
        .map(([k]) =>
          typeof k === "string" ? k : { _key_type: pyQualname(k), repr: pyRepr(k).slice(0, 200) },
        );
      const out: Json[] = [];
      for (const [k, v] of items.slice(0, lim))
        out.push([
          typeof k === "string" ? k : pyRepr(k).slice(0, 200),
          await this.value(v, `${path}[${pyRepr(k)}]`, depth + 1),
        ]);
      d.items = out;
      if (items.length > lim) d.truncated = true;
      if (o instanceof PyOrderedDict && o.attributes && o.attributes.size > 0)
        d.attrs = await this.value(new Map(o.attributes), `${path}.__dict__`, depth + 1);
      return d;
    }
    if (Array.isArray(o)) {
      const lim = 256;
      const items: Json[] = [];
      for (let i = 0; i < Math.min(o.length, lim); i++)
        items.push(await this.value(o[i], `${path}[${i}]`, depth + 1));
      const d: Record<string, Json> = {
        _type: isTuple(o) ? "builtins.tuple" : "builtins.list",
        len: o.length,
        items,
      };
      if (o.length > lim) d.truncated = true;
      return d;
    }
    if (o instanceof Set) {
      const reprs = [...o].map((x) => pyRepr(x).slice(0, 100)).sort(cmpCodePoints);
      return {
        _type: o instanceof PyFrozenSet ? "builtins.frozenset" : "builtins.set",
        len: o.size,
        items_sorted_repr: reprs.slice(0, 256),
      };
    }
    if (o instanceof PyObject) return this.stub(o.cls.qualifiedName, o, path, depth);
    if (o instanceof Module) {
      const cls = o.pyClass;
      return {
        _type: "stub",
        class: `${cls.module}.${cls.name}`,
        state: await this.value(o.dict, `${path}.state`, depth + 1),
      };
    }
    if (o instanceof PyComplex) return { _type: "object", class: "builtins.complex", repr: complexRepr(o) };
    if (o instanceof PySlice)
      return {
        _type: "object",
        class: "builtins.slice",
        repr: `slice(${pyRepr(o.start)}, ${pyRepr(o.stop)}, ${pyRepr(o.step)})`,
      };
    const named = globalName(o);
    if (named) {
      // A global used as a value. Functions torch's describer resolves are `builtins.function`
      // objects with an empty `__dict__`; classes stay classes.
      if (/^[a-z_]/.test(named.name.split(".").pop() ?? ""))
        return {
          _type: "object",
          class: "builtins.function",
          state: await this.value(new Map(), `${path}.__dict__`, depth + 1),
        };
      return { _type: "object", class: "builtins.type", repr: `<class '${named.module}.${named.name}'>` };
    }
    return { _type: "object", class: pyQualname(o), repr: pyRepr(o).slice(0, 300) };
  }

  private async stub(cls: string, o: PyObject, path: string, depth: number): Promise<Json> {
    const d: Record<string, Json> = { _type: "stub", class: cls };
    const called = o.origin === "reduce" || o.origin === "inst" || o.origin === "obj";
    if (called && o.args.length > 0) d.args = await this.value([...o.args], `${path}.args`, depth + 1);
    if (called && o.kwargs && o.kwargs.size > 0)
      d.kwargs = await this.value(new Map(o.kwargs), `${path}.kwargs`, depth + 1);
    if (o.state !== undefined) d.state = await this.value(o.state, `${path}.state`, depth + 1);
    if (o.dictItems) d.setitems = await this.value(new Map(o.dictItems), `${path}.items`, depth + 1);
    if (o.listItems) d.appends = await this.value([...o.listItems], `${path}.list`, depth + 1);
    return d;
  }

  private async bytes(b: Uint8Array, type: string): Promise<Json> {
    let head = "";
    for (const c of b.subarray(0, 32)) head += c.toString(16).padStart(2, "0");
    return { _type: type, len: b.length, sha256: await sha256Hex(b), head_hex: head };
  }
}

/**
 * torch's CPU dequantization, which the description hashes: `(q - zero_point) * scale` in float32
 * (scale rounded to float32 first).
 */
function dequantizedBytes(t: QuantizedTensor, raw: Uint8Array, numel: number): Uint8Array {
  const q = t.qparams;
  const get = elements(t.dtype, raw); // quint8 reads as its uint8 values
  const out = new Float32Array(numel);
  if (q.qscheme === "per_tensor_affine") {
    const s = Math.fround(q.scale);
    for (let i = 0; i < numel; i++) out[i] = Math.fround((get(i) as number) - q.zeroPoint) * s;
    return new Uint8Array(out.buffer);
  }
  const deq = t.dequantize();
  return logicalBytes(deq.storage.bytes, 4, deq.storageOffset, deq.shape, deq.stride);
}

function globalName(o: unknown): { module: string; name: string } | null {
  if (o instanceof PyGlobal) return { module: o.module, name: o.name };
  if (o instanceof StorageClassRef) return { module: o.module, name: o.name };
  const g = (o as { [GLOBAL_NAME]?: { module: string; name: string } })[GLOBAL_NAME];
  return g && typeof g.module === "string" ? g : null;
}

function cmpCodePoints(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const c = (x[i] as string).codePointAt(0) as number;
    const e = (y[i] as string).codePointAt(0) as number;
    if (c !== e) return c - e;
  }
  return x.length - y.length;
}

/**
 * Describe a loaded value in the JSON schema of `apps/conformance/corpus/expected/*.json` (written by
 * `tools/describe.py` from real torch): `object` (tensors with dtype, shape, stride, offset,
 * storage group, SHA-256 of the logical values, sum, first 8 values; dicts with keys then items and
 * `_metadata` as `attrs`; `REF`s for objects reached again; inert classes as `stub`s) and
 * `storages` (one entry per distinct storage in order of first use). Lazy storages are loaded.
 */
export async function describe(value: unknown, options: DescribeOptions = {}): Promise<Description> {
  const d = new Describer(options.device ?? "cpu");
  const object = await d.value(value, options.root ?? "$", 0);
  d.resolveViews();
  return { object, storages: d.storages.map((s) => s.info), n_tensors: d.nTensors };
}

const TOLERANT = new Set(["sum", "finite_abs_sum", "sum_imag"]);

/**
 * Compare our description with torch's: a list of differences (`path: ours vs expected`), empty
 * when equal. Key order is ignored; `sum`/`finite_abs_sum`/`sum_imag` are compared with a relative
 * tolerance of 1e-9 (torch sums in another order); everything else exactly (numbers by value, so
 * `396` equals `396.0`).
 */
export function compareDescriptions(
  ours: unknown,
  expected: unknown,
  path = "$",
  tolerant = false,
): string[] {
  const out: string[] = [];
  const show = (v: unknown) => {
    const s = JSON.stringify(v);
    return s === undefined ? "undefined" : s.length > 120 ? `${s.slice(0, 117)}...` : s;
  };
  if (typeof ours === "number" && typeof expected === "number") {
    if (ours === expected) return out;
    if (tolerant && Math.abs(ours - expected) <= 1e-9 * Math.max(1, Math.abs(ours), Math.abs(expected)))
      return out;
    out.push(`${path}: ${show(ours)} vs expected ${show(expected)}`);
    return out;
  }
  if (Array.isArray(ours) && Array.isArray(expected)) {
    if (ours.length !== expected.length)
      out.push(`${path}: length ${ours.length} vs expected ${expected.length}`);
    for (let i = 0; i < Math.min(ours.length, expected.length); i++)
      out.push(...compareDescriptions(ours[i], expected[i], `${path}[${i}]`, tolerant));
    return out;
  }
  if (
    ours &&
    expected &&
    typeof ours === "object" &&
    typeof expected === "object" &&
    !Array.isArray(ours) &&
    !Array.isArray(expected)
  ) {
    const a = ours as Record<string, unknown>;
    const b = expected as Record<string, unknown>;
    for (const k of Object.keys(b)) {
      if (!(k in a)) out.push(`${path}.${k}: missing (expected ${show(b[k])})`);
      else out.push(...compareDescriptions(a[k], b[k], `${path}.${k}`, TOLERANT.has(k)));
    }
    for (const k of Object.keys(a)) if (!(k in b)) out.push(`${path}.${k}: unexpected ${show(a[k])}`);
    return out;
  }
  if (ours !== expected) out.push(`${path}: ${show(ours)} vs expected ${show(expected)}`);
  return out;
}

/** `module.name` of a tensor subclass (`_rebuild_from_type_v2`'s class, `Tensor.pySubclass`), else null. */
function subclassName(t: Tensor): string | null {
  const c = t.pySubclass as { [GLOBAL_NAME]?: { module: string; name: string } } | null;
  if (c instanceof PyGlobal) return `${c.module}.${c.name}`;
  const g = c?.[GLOBAL_NAME];
  if (!g) return null;
  const n = `${g.module}.${g.name}`;
  return n === "torch._tensor.Tensor" ? "torch.Tensor" : n;
}
