/**
 * Test helper: compares a loaded value with the torch description of the same file
 * (`apps/conformance/corpus/expected/*.json`, `apps/conformance/fixtures/*.json`): the `object` tree
 * (tensor dtype/shape/stride/offset/storage numel/requires_grad/values, containers, keys,
 * shared references) and the `storages` list (storage identity in order of first use,
 * dtype/numel/nbytes/sha256, and views of other storages with their byte offsets).
 */
import { createHash } from "node:crypto";
import { isTuple, PyComplex, PyFloat, PyGlobal, PyObject, PyOrderedDict } from "@pt/pickle";
import { isDType, Storage } from "@pt/storage";
import { Parameter, QuantizedTensor, SparseTensor, Tensor, TorchDevice, TorchSize } from "@pt/tensor";

export function sha256(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

type J = unknown;
interface ExpectedStorage {
  group: number;
  dtype: string;
  numel: number;
  nbytes: number;
  sha256: string;
  device: string;
  view_of_group?: number;
  byte_offset?: number;
}

function logicalBytes(t: Tensor): Uint8Array {
  const d = t.data();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

function num(v: unknown): number | bigint | null {
  if (typeof v === "number" || typeof v === "bigint") return v;
  if (v instanceof PyFloat) return v.value;
  return null;
}

export class Comparator {
  readonly errors: string[] = [];
  private readonly groups = new Map<Storage, number>();
  private readonly order: Storage[] = [];
  private readonly paths = new Map<string, unknown>();

  private fail(path: string, msg: string): void {
    if (this.errors.length < 50) this.errors.push(`${path}: ${msg}`);
  }

  private eq(path: string, what: string, want: unknown, got: unknown): void {
    if (JSON.stringify(want) !== JSON.stringify(got))
      this.fail(path, `${what}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
  }

  group(s: Storage): number {
    let g = this.groups.get(s);
    if (g === undefined) {
      g = this.order.length;
      this.groups.set(s, g);
      this.order.push(s);
    }
    return g;
  }

  compare(e: J, a: unknown, path = "$"): void {
    // numpy scalars (float64/int64 subclasses of Python numbers are described as plain values) stay opaque
    if (
      a instanceof PyObject &&
      a.cls.name === "scalar" &&
      (typeof e !== "object" || e === null || (e as { _type?: string })._type === "float")
    )
      return;
    if (e === null || typeof e === "boolean") {
      if (a !== e) this.fail(path, `expected ${String(e)}, got ${String(a)}`);
      return;
    }
    if (typeof e === "number") {
      const n = num(a);
      if (n === null || Number(n) !== e) this.fail(path, `expected ${e}, got ${String(a)}`);
      return;
    }
    if (typeof e === "string") {
      if (typeof a === "string" ? a !== e : typeof a === "bigint" ? a.toString() !== e : true) {
        this.fail(
          path,
          `expected '${e.slice(0, 60)}', got ${typeof a === "string" ? `'${a.slice(0, 60)}'` : String(a)}`,
        );
      }
      return;
    }
    if (Array.isArray(e)) {
      this.fail(path, "unexpected bare array in description");
      return;
    }
    const o = e as Record<string, J>;
    const type = o._type as string;
    if (type === "REF") {
      const target = this.paths.get(o.to as string);
      if (target === undefined) this.fail(path, `REF to unknown path ${String(o.to)}`);
      else if (target !== a) this.fail(path, `should be the same object as ${String(o.to)}`);
      return;
    }
    if (
      a !== null &&
      typeof a === "object" &&
      !isDType(a) &&
      !(a instanceof TorchDevice) &&
      !(a instanceof TorchSize)
    ) {
      this.paths.set(path, a);
    }
    switch (type) {
      case "float": {
        const n = num(a);
        const v = o.value;
        const ok =
          n !== null &&
          (v === "nan"
            ? Number.isNaN(Number(n))
            : v === "inf"
              ? n === Number.POSITIVE_INFINITY
              : v === "-inf"
                ? n === Number.NEGATIVE_INFINITY
                : false);
        if (!ok) this.fail(path, `expected float ${String(v)}, got ${String(a)}`);
        return;
      }
      case "tensor":
        this.tensor(o, a, path);
        return;
      case "storage": {
        if (!(a instanceof Storage)) {
          this.fail(path, `expected a storage, got ${describe(a)}`);
          return;
        }
        this.eq(path, "storage dtype", o.dtype, a.dtype.name);
        this.eq(path, "storage size", o.size, a.numel);
        const values = o.values as Record<string, J> | undefined;
        if (values) {
          const g = this.group(a);
          this.eq(path, "storage group", values.storage_group, g);
          this.eq(path, "storage numel", values.storage_numel, a.numel);
          if (typeof values.data_sha256 === "string")
            this.eq(path, "storage data sha256", values.data_sha256, sha256(a.bytes));
        }
        return;
      }
      case "torch.dtype":
        if (!isDType(a) || a.qualifiedName !== o.value)
          this.fail(path, `expected dtype ${String(o.value)}, got ${describe(a)}`);
        return;
      case "torch.device":
        if (!(a instanceof TorchDevice) || a.toString() !== o.value)
          this.fail(path, `expected device ${String(o.value)}, got ${describe(a)}`);
        return;
      case "torch.Size":
        if (!(a instanceof TorchSize)) this.fail(path, `expected torch.Size, got ${describe(a)}`);
        else this.eq(path, "torch.Size", o.value, [...a]);
        return;
      case "builtins.list":
      case "builtins.tuple": {
        const wantTuple = type === "builtins.tuple";
        if (!Array.isArray(a) || isTuple(a) !== wantTuple) {
          this.fail(path, `expected a ${wantTuple ? "tuple" : "list"}, got ${describe(a)}`);
          return;
        }
        this.eq(path, "length", o.len, a.length);
        (o.items as J[]).forEach((item, i) => {
          this.compare(item, a[i], `${path}[${i}]`);
        });
        return;
      }
      case "builtins.dict":
      case "collections.OrderedDict": {
        const wantOrdered = type === "collections.OrderedDict";
        if (!(a instanceof Map) || a instanceof PyOrderedDict !== wantOrdered) {
          this.fail(path, `expected ${type}, got ${describe(a)}`);
          return;
        }
        this.eq(path, "length", o.len, a.size);
        const entries = [...a.entries()];
        (o.keys as J[]).forEach((k, i) => {
          if (typeof k === "string" && entries[i]?.[0] !== k)
            this.fail(path, `key ${i}: expected '${k}', got ${String(entries[i]?.[0])}`);
        });
        (o.items as [J, J][]).forEach(([k, v], i) => {
          this.compare(v, entries[i]?.[1], `${path}[${typeof k === "string" ? `'${k}'` : k}]`);
        });
        if (o.attrs !== undefined) {
          const attrs = a instanceof PyOrderedDict ? a.attributes : null;
          if (!attrs) this.fail(path, "expected attributes (_metadata)");
          else this.compare(o.attrs, new Map(attrs), `${path}.__dict__`);
        }
        return;
      }
      case "builtins.set":
      case "builtins.frozenset":
        if (!(a instanceof Set)) this.fail(path, `expected a set, got ${describe(a)}`);
        else this.eq(path, "set size", o.len, a.size);
        return;
      case "bytes":
      case "bytearray":
        if (!(a instanceof Uint8Array)) this.fail(path, `expected bytes, got ${describe(a)}`);
        else {
          this.eq(path, "bytes length", o.len, a.length);
          this.eq(path, "bytes sha256", o.sha256, sha256(a));
        }
        return;
      case "numpy.ndarray":
        if (!(a instanceof PyObject) || !a.cls.name.includes("_reconstruct"))
          this.fail(path, `expected an opaque numpy array, got ${describe(a)}`);
        return;
      case "stub":
      case "object": {
        if (o.class === "builtins.complex" && a instanceof PyComplex) return;
        if (o.class === "builtins.function" && a instanceof PyGlobal) return;
        if (!(a instanceof PyObject)) {
          this.fail(path, `expected an opaque ${String(o.class)} object, got ${describe(a)}`);
          return;
        }
        const cls = String(o.class);
        const got = a.cls instanceof PyGlobal ? a.cls.qualifiedName : String(a.cls);
        if (!cls.endsWith(a.cls.name) && got !== cls) this.fail(path, `expected class ${cls}, got ${got}`);
        if (o.args !== undefined) this.compare(o.args, [...a.args], `${path}.args`);
        if (o.state !== undefined) this.compare(o.state, a.state, `${path}.state`);
        if (o.setitems !== undefined) this.compare(o.setitems, new Map(a.dictItems ?? []), `${path}.items`);
        if (o.appends !== undefined) this.compare(o.appends, a.listItems ?? [], `${path}.list`);
        return;
      }
      default:
        // Other described kinds (numpy scalars, complex, layouts…) are checked for presence only.
        if (a === undefined) this.fail(path, `missing ${type}`);
    }
  }

  private tensor(o: Record<string, J>, a: unknown, path: string): void {
    if (a instanceof SparseTensor) {
      this.eq(path, "layout", o.layout, a.layout);
      this.eq(path, "dtype", o.dtype, a.values.dtype.name);
      this.eq(path, "shape", o.shape, [...a.shape]);
      if (o.is_coalesced !== undefined) this.eq(path, "is_coalesced", o.is_coalesced, a.isCoalesced);
      const sub: [string, Tensor | null][] = [
        ["indices", a.indices],
        ["crow_indices", a.compressedIndices],
        ["col_indices", a.plainIndices],
        ["values", a.values],
      ];
      for (const [k, t] of sub) if (o[k] !== undefined) this.compare(o[k], t, `${path}.${k}`);
      return;
    }
    if (!(a instanceof Tensor)) {
      this.fail(path, `expected a tensor, got ${describe(a)}`);
      return;
    }
    const cls = o.class === "torch.nn.parameter.Parameter" ? Parameter : Tensor;
    if (cls === Parameter ? !(a instanceof Parameter) : a instanceof Parameter)
      this.fail(path, `expected ${String(o.class)}`);
    this.eq(path, "dtype", o.dtype, a.dtype.name);
    this.eq(path, "shape", o.shape, [...a.shape]);
    this.eq(path, "requires_grad", o.requires_grad, a.requiresGrad);
    if (o.stride !== undefined) this.eq(path, "stride", o.stride, [...a.stride]);
    if (o.storage_offset !== undefined) this.eq(path, "storage_offset", o.storage_offset, a.storageOffset);
    if (o.storage_group !== undefined) this.eq(path, "storage_group", o.storage_group, this.group(a.storage));
    if (o.storage_numel !== undefined) {
      const numel = a.storage.nbytes / a.dtype.itemSize;
      this.eq(path, "storage_numel", o.storage_numel, numel);
    }
    if (a instanceof QuantizedTensor) {
      const q = a.qparams;
      if (o.q_scale !== undefined && q.qscheme === "per_tensor_affine") {
        this.eq(path, "q_scale", o.q_scale, q.scale);
        this.eq(path, "q_zero_point", o.q_zero_point, q.zeroPoint);
      }
      const ir = o.int_repr as Record<string, J> | undefined;
      if (ir?.data_sha256 && !["quint4x2", "quint2x4"].includes(a.dtype.name)) {
        this.eq(path, "int_repr sha256", ir.data_sha256, sha256(logicalBytes(a)));
      }
      return;
    }
    if (typeof o.data_sha256 === "string")
      this.eq(path, "data sha256", o.data_sha256, sha256(logicalBytes(a)));
  }

  /** Compare the `storages` list (call after `compare` of the whole object). */
  storages(expected: ExpectedStorage[]): void {
    this.eq("storages", "count", expected.length, this.order.length);
    const ranges = this.order.map((s) => {
      const root = s.base ?? s;
      const off = s.base ? s.bytes.byteOffset - root.bytes.byteOffset : 0;
      return { root, off, n: s.nbytes };
    });
    expected.forEach((e, i) => {
      const s = this.order[i];
      if (!s) return;
      const p = `storages[${i}]`;
      this.eq(p, "dtype", e.dtype, s.dtype.name);
      this.eq(p, "numel", e.numel, s.numel);
      this.eq(p, "nbytes", e.nbytes, s.nbytes);
      this.eq(p, "sha256", e.sha256, sha256(s.bytes));
      this.eq(p, "device", e.device, s.device);
      let viewOf: number | undefined;
      let byteOffset: number | undefined;
      const a = ranges[i]!;
      for (let j = 0; j < ranges.length; j++) {
        const b = ranges[j]!;
        if (j === i || a.n === 0 || b.n === 0 || a.root !== b.root) continue;
        if (b.off <= a.off && a.off + a.n <= b.off + b.n && (a.n < b.n || i > j)) {
          viewOf = j;
          byteOffset = a.off - b.off;
          break;
        }
      }
      this.eq(p, "view_of_group", e.view_of_group, viewOf);
      this.eq(p, "byte_offset", e.byte_offset, byteOffset);
    });
  }
}

function describe(a: unknown): string {
  if (a === null) return "null";
  if (typeof a === "object") return (a as object).constructor?.name ?? "object";
  return `${typeof a} ${String(a)}`;
}

/** Compare a loaded value with a description; returns the list of differences (empty = equal). */
export function compareWithDescription(
  description: { object: J; storages?: ExpectedStorage[] },
  value: unknown,
): string[] {
  const c = new Comparator();
  c.compare(description.object, value);
  if (description.storages) c.storages(description.storages);
  return c.errors;
}
