/**
 * Walking a loaded object: finding its tensors with their paths, and naming values for display.
 * Containers reached twice are visited once (cycles are fine).
 */
import {
  PyByteArray,
  PyComplex,
  PyFloat,
  PyFrozenSet,
  PyGlobal,
  PyObject,
  PyOrderedDict,
  PyTuple,
} from "@pt/pickle";
import { isDType, Storage } from "@pt/storage";
import {
  MetaTensor,
  NestedTensor,
  Parameter,
  QuantizedTensor,
  SparseTensor,
  Tensor,
  TorchDevice,
} from "@pt/tensor";

/** A step from a container to a child: a dict key (string or number) or a list/tuple index. */
export type PathElem = string | number;

/** A dense tensor found in the object, with the path of its first occurrence. */
export interface FoundTensor {
  readonly path: PathElem[];
  readonly tensor: Tensor;
  /** `Parameter` for `torch.nn.Parameter`, else `Tensor`. */
  readonly cls: "Tensor" | "Parameter";
}

/** An `nn.Module` loaded as a real module (duck-typed: `className` + `dict`). */
interface ModuleLike {
  readonly className: string;
  readonly dict: Map<string, unknown>;
}

export function isModuleLike(v: unknown): v is ModuleLike {
  return (
    typeof v === "object" &&
    v !== null &&
    (v as { dict?: unknown }).dict instanceof Map &&
    typeof (v as { className?: unknown }).className === "string"
  );
}

/** Python-like text for a dict key that is not a string or number (tuples, None, bools, floats). */
export function keyText(k: unknown): PathElem {
  if (typeof k === "string") return k;
  if (typeof k === "number") return k;
  return shortRepr(k, 60);
}

/** The children of a container value, with their path elements, or null for leaves. */
export function childrenOf(v: unknown): Array<[PathElem, unknown]> | null {
  if (v instanceof Map) return [...v].map(([k, x]) => [keyText(k), x]);
  if (Array.isArray(v)) return v.map((x, i) => [i, x]);
  if (v instanceof Set) return [...v].map((x, i) => [i, x]);
  if (isModuleLike(v)) return [...v.dict].map(([k, x]) => [k, x]);
  if (v instanceof PyObject) {
    const out: Array<[PathElem, unknown]> = [];
    if (v.args.length) out.push(["__args__", v.args]);
    if (v.state !== undefined) {
      if (v.state instanceof Map) for (const [k, x] of v.state) out.push([keyText(k), x]);
      else out.push(["__state__", v.state]);
    }
    if (v.listItems)
      v.listItems.forEach((x, i) => {
        out.push([i, x]);
      });
    if (v.dictItems) for (const [k, x] of v.dictItems) out.push([keyText(k), x]);
    return out;
  }
  if (v instanceof SparseTensor) {
    const out: Array<[PathElem, unknown]> = [];
    if (v.indices) out.push(["indices", v.indices]);
    if (v.compressedIndices) out.push(["compressed_indices", v.compressedIndices]);
    if (v.plainIndices) out.push(["plain_indices", v.plainIndices]);
    out.push(["values", v.values]);
    return out;
  }
  if (v instanceof NestedTensor) return [["buffer", v.buffer]];
  return null;
}

/** Every dense tensor reachable from `root` (sparse/nested parts included), first path wins. */
export function findTensors(root: unknown): FoundTensor[] {
  const out: FoundTensor[] = [];
  const seen = new Set<object>();
  const visit = (v: unknown, path: PathElem[]) => {
    if (typeof v !== "object" || v === null) return;
    if (seen.has(v)) return;
    seen.add(v);
    if (v instanceof Tensor) {
      out.push({ path, tensor: v, cls: v instanceof Parameter ? "Parameter" : "Tensor" });
      return;
    }
    const kids = childrenOf(v);
    if (kids) for (const [k, x] of kids) visit(x, [...path, k]);
  };
  visit(root, []);
  return out;
}

/** Storages that appear as values themselves (`torch.save(tensor.storage())`), first path wins. */
export function findBareStorages(root: unknown): Storage[] {
  const out: Storage[] = [];
  const seen = new Set<object>();
  const visit = (v: unknown) => {
    if (typeof v !== "object" || v === null || seen.has(v) || v instanceof Tensor) return;
    seen.add(v);
    if (v instanceof Storage) {
      out.push(v);
      return;
    }
    const kids = childrenOf(v);
    if (kids) for (const [, x] of kids) visit(x);
  };
  visit(root);
  return out;
}

/** `a.b[0]['x y']`-style text for a path. */
export function pathText(path: readonly PathElem[]): string {
  if (path.length === 0) return "<root>";
  let s = "";
  for (const p of path) {
    if (typeof p === "number") s += `[${p}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_.]*$/.test(p)) s += s ? `.${p}` : p;
    else s += `[${JSON.stringify(p)}]`;
  }
  return s;
}

function reprStr(s: string, max: number): string {
  const body = s.length > max ? `${s.slice(0, max)}…` : s;
  return `'${body.replace(/\\/g, "\\\\").replace(/'/g, "\\'").replace(/\n/g, "\\n")}'`;
}

function fmtFloat(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Number.POSITIVE_INFINITY) return "inf";
  if (x === Number.NEGATIVE_INFINITY) return "-inf";
  if (Object.is(x, -0)) return "-0.0";
  return Number.isInteger(x) ? `${x}.0` : String(x);
}

/** Short Python-like text of a leaf value (containers give their class and size). */
export function shortRepr(v: unknown, max = 80): string {
  if (v === null || v === undefined) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : fmtFloat(v);
  if (typeof v === "bigint") return String(v);
  if (typeof v === "string") return reprStr(v, max);
  if (v instanceof PyFloat) return fmtFloat(v.value);
  if (v instanceof PyComplex)
    return `(${fmtFloat(v.re)}${v.im < 0 || Object.is(v.im, -0) ? "" : "+"}${fmtFloat(v.im)}j)`;
  if (v instanceof PyByteArray) return `bytearray(${v.length} bytes)`;
  if (v instanceof Uint8Array) return `bytes(${v.length})`;
  if (v instanceof PyGlobal) return `<global ${v.qualifiedName}>`;
  if (isDType(v)) return v.qualifiedName;
  if (v instanceof TorchDevice) return `device('${v.toString()}')`;
  if (v instanceof Storage) return `Storage(${v.dtype.name}[${v.numel}], ${v.device})`;
  if (v instanceof MetaTensor) return `MetaTensor(${v.dtype.name}, [${v.shape.join(", ")}])`;
  if (v instanceof QuantizedTensor || v instanceof Tensor)
    return `${v instanceof Parameter ? "Parameter" : "Tensor"}(${v.dtype.name}, [${v.shape.join(", ")}])`;
  if (v instanceof PyTuple) {
    if (v.length <= 8 && v.every((x) => typeof x !== "object" || x === null))
      return `(${v.map((x) => shortRepr(x, 20)).join(", ")}${v.length === 1 ? "," : ""})`;
    return `tuple[${v.length}]`;
  }
  if (Array.isArray(v)) return `list[${v.length}]`;
  if (v instanceof PyOrderedDict) return `OrderedDict[${v.size}]`;
  if (v instanceof Map) return `dict[${v.size}]`;
  if (v instanceof PyFrozenSet) return `frozenset[${v.size}]`;
  if (v instanceof Set) return `set[${v.size}]`;
  if (v instanceof PyObject) return `${v.cls.qualifiedName}(…)`;
  if (isModuleLike(v)) return v.className;
  const name = (v as { constructor?: { name?: string } }).constructor?.name;
  return `<${name ?? typeof v}>`;
}
