/**
 * Walking a loaded object for display: the children of each container, short Python-like text
 * for leaves. Mirrors what `pt inspect` prints (modules show parameters, buffers and submodules
 * by name), so the page and the CLI show the same tree.
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

/** An `nn.Module` loaded as a real module (duck-typed: `className` + `dict`). */
export interface ModuleLike {
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

const MODULE_GROUPS = ["_parameters", "_buffers", "_modules"];

/** Python-like text for a dict key. */
export function keyText(k: unknown): string {
  if (typeof k === "string") return k;
  if (typeof k === "number") return String(k);
  return shortRepr(k, 60);
}

/** The children of a container value as [key label, child], or null for leaves. */
export function childrenOf(v: unknown): Array<[string, unknown]> | null {
  if (v instanceof Tensor) return null;
  if (v instanceof PyTuple && v.length <= 8 && v.every((x) => typeof x !== "object" || x === null))
    return null;
  if (isModuleLike(v)) {
    // parameters, buffers and submodules by name, then the other attributes (as `pt inspect`)
    const out: Array<[string, unknown]> = [];
    for (const g of MODULE_GROUPS) {
      const m = v.dict.get(g);
      if (m instanceof Map) for (const [k, x] of m) out.push([String(k), x]);
    }
    for (const [k, x] of v.dict) {
      if (MODULE_GROUPS.includes(k) || k === "training") continue;
      if (k.startsWith("_") && (x === null || ((x instanceof Map || x instanceof Set) && x.size === 0)))
        continue;
      out.push([k, x]);
    }
    return out;
  }
  if (v instanceof Map) return [...v].map(([k, x]) => [keyText(k), x]);
  if (Array.isArray(v)) return v.map((x, i) => [`[${i}]`, x]);
  if (v instanceof Set) return [...v].map((x, i) => [`[${i}]`, x]);
  if (v instanceof PyObject) {
    const out: Array<[string, unknown]> = [];
    if (v.args.length) out.push(["__args__", v.args]);
    if (v.state !== undefined) {
      if (v.state instanceof Map) for (const [k, x] of v.state) out.push([keyText(k), x]);
      else out.push(["__state__", v.state]);
    }
    if (v.listItems)
      v.listItems.forEach((x, i) => {
        out.push([`[${i}]`, x]);
      });
    if (v.dictItems) for (const [k, x] of v.dictItems) out.push([keyText(k), x]);
    return out;
  }
  if (v instanceof SparseTensor) {
    const out: Array<[string, unknown]> = [];
    if (v.indices) out.push(["indices", v.indices]);
    if (v.compressedIndices) out.push(["compressed_indices", v.compressedIndices]);
    if (v.plainIndices) out.push(["plain_indices", v.plainIndices]);
    out.push(["values", v.values]);
    return out;
  }
  if (v instanceof NestedTensor) return [["buffer", v.buffer]];
  return null;
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

/** Short Python-like text of a value (containers give their class and size). */
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
  if (v instanceof PyOrderedDict) {
    const meta = v.attributes?.get("_metadata");
    return `OrderedDict[${v.size}]${meta instanceof Map ? ` (_metadata for ${meta.size} modules)` : ""}`;
  }
  if (v instanceof Map) return `dict[${v.size}]`;
  if (v instanceof PyFrozenSet) return `frozenset[${v.size}]`;
  if (v instanceof Set) return `set[${v.size}]`;
  if (v instanceof PyObject) return `${v.cls.qualifiedName} (placeholder: class not loaded)`;
  if (isModuleLike(v)) return `${v.className} (nn.Module)`;
  if (v instanceof SparseTensor) return `SparseTensor ${v.layout} ${v.dtype.name} [${v.shape.join(", ")}]`;
  const name = (v as { constructor?: { name?: string } }).constructor?.name;
  return `<${name ?? typeof v}>`;
}
