/**
 * Walking a loaded object: finding its tensors with their paths (modules by their `state_dict()`
 * names, TorchScript v1 tensors by their module names), stepping into it by a dotted key, and
 * naming values for display. Containers reached twice are visited once (cycles are fine). The
 * one walker of the project: `pt inspect`/`convert`/`diff` and the web inspector use it.
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
import { TorchScriptV1Model } from "@pt/zip-format";

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

/** Python-like text for a dict key that is not a string or number (tuples, None, bools, floats). */
export function keyText(k: unknown): PathElem {
  if (typeof k === "string") return k;
  if (typeof k === "number") return k;
  return shortRepr(k, 60);
}

const MODULE_GROUPS = ["_parameters", "_buffers", "_modules"];

/**
 * The children of `v` for a tree a person reads (the web inspector): a module's parameters,
 * buffers and submodules by name, then its other attributes (private empty ones left out); a
 * tuple of up to 8 plain values is a leaf (shown inline); everything else as {@link childrenOf}.
 */
export function displayChildren(v: unknown): Array<[PathElem, unknown]> | null {
  if (v instanceof Tensor) return null;
  if (v instanceof PyTuple && v.length <= 8 && v.every((x) => typeof x !== "object" || x === null))
    return null;
  if (isModuleLike(v)) {
    const out: Array<[PathElem, unknown]> = [];
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
  return childrenOf(v);
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
  if (v instanceof TorchScriptV1Model) return torchScriptV1Tensors(v);
  return null;
}

function jsonField(o: unknown, k: string): unknown {
  return o !== null && typeof o === "object" && Object.hasOwn(o, k)
    ? (o as Record<string, unknown>)[k]
    : undefined;
}

/**
 * The tensors of a TorchScript v1 archive (`model.json` + `tensors/N`), named as the main module
 * names them (`parameters`, tensor `attributes`, submodules as `sub.name`); a tensor no module
 * names is `tensors.N`.
 */
function torchScriptV1Tensors(m: TorchScriptV1Model): Array<[PathElem, unknown]> {
  const names = new Map<number, string>();
  const visit = (mod: unknown, prefix: string, depth: number) => {
    if (depth > 64 || mod === null || typeof mod !== "object") return;
    const params = jsonField(mod, "parameters");
    const attrs = jsonField(mod, "attributes");
    for (const p of Array.isArray(params) ? params : []) {
      const id = Number(jsonField(p, "tensorId"));
      const name = jsonField(p, "name");
      if (Number.isSafeInteger(id) && typeof name === "string" && !names.has(id))
        names.set(id, prefix + name);
    }
    for (const a of Array.isArray(attrs) ? attrs : []) {
      const id = Number(jsonField(a, "id"));
      const name = jsonField(a, "name");
      if (
        jsonField(a, "type") === "Tensor" &&
        Number.isSafeInteger(id) &&
        typeof name === "string" &&
        !names.has(id)
      )
        names.set(id, prefix + name);
    }
    const subs = jsonField(mod, "submodules");
    for (const sub of Array.isArray(subs) ? subs : []) {
      const name = jsonField(sub, "name");
      if (typeof name === "string") visit(sub, `${prefix}${name}.`, depth + 1);
    }
  };
  visit(jsonField(m.json, "mainModule"), "", 0);
  return m.tensors.map((t, i) => [names.get(i) ?? `tensors.${i}`, t.tensor]);
}

/** A loaded module with torch's `state_dict()` (an `@pt/nn-module` Module, duck-typed). */
interface WithStateDict {
  stateDict(): Map<string, unknown>;
}

function hasStateDict(v: unknown): v is WithStateDict {
  return isModuleLike(v) && typeof (v as { stateDict?: unknown }).stateDict === "function";
}

/**
 * The children of `v` as tensors are named in state dicts: a module gives its `stateDict()` entries
 * (`conv.weight`, one path element each, as torch's `model.state_dict()` names them), other
 * containers their usual children. A module whose state dict cannot be made keeps its attributes.
 */
export function tensorChildren(v: unknown): Array<[PathElem, unknown]> | null {
  if (hasStateDict(v)) {
    try {
      return [...v.stateDict()].map(([k, x]) => [k, x]);
    } catch {
      // a module with a broken structure: fall back to its attributes
    }
  }
  return childrenOf(v);
}

/**
 * Pick one part of a loaded checkpoint by a dotted path (`model`, `state_dict`, `model.encoder`,
 * `layers.0`): at each step the longest run of path segments that is a key is taken (keys may
 * hold dots), then the rest. Modules are stepped into by their state-dict names.
 */
export function selectKey(root: unknown, key: string): unknown {
  const parts = key.split(".");
  let cur = root;
  let i = 0;
  const walked: string[] = [];
  while (i < parts.length) {
    const kids = tensorChildren(cur);
    if (!kids)
      throw new Error(
        `--key ${key}: ${walked.length ? walked.join(".") : "the root"} is ${shortRepr(cur, 40)}, which has no keys`,
      );
    const byName = new Map<string, unknown>();
    // a module: its submodules by name first (`encoder`), then its state-dict entries
    const subs = isModuleLike(cur) ? cur.dict.get("_modules") : undefined;
    if (subs instanceof Map) for (const [k, x] of subs) byName.set(String(k), x);
    for (const [k, x] of kids) if (!byName.has(String(k))) byName.set(String(k), x);
    let found = false;
    for (let j = parts.length; j > i; j--) {
      const name = parts.slice(i, j).join(".");
      if (byName.has(name)) {
        cur = byName.get(name);
        walked.push(name);
        i = j;
        found = true;
        break;
      }
    }
    if (!found) {
      const names = [...byName.keys()];
      throw new Error(
        `--key ${key}: no ${JSON.stringify(parts[i])} in ${walked.length ? walked.join(".") : "the root"} (keys: ${names.slice(0, 10).join(", ")}${names.length > 10 ? `, … ${names.length - 10} more` : ""})`,
      );
    }
  }
  return cur;
}

/**
 * Every dense tensor reachable from `root`, named as in state dicts (modules by their
 * `stateDict()` names: see {@link tensorChildren}), first path wins.
 */
export function findStateTensors(root: unknown): FoundTensor[] {
  return findTensors(root, tensorChildren);
}

/** Every dense tensor reachable from `root` (sparse/nested parts included), first path wins. */
export function findTensors(
  root: unknown,
  children: (v: unknown) => Array<[PathElem, unknown]> | null = childrenOf,
): FoundTensor[] {
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
    const kids = children(v);
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

/**
 * A byte count as `pt inspect` and the web page print it: `999 B`, `1.50 kB`, `12.3 MB`, `107 GB`
 * (decimal units, three significant digits; TB is the largest unit).
 */
export function fmtBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)} ${units[u]}`;
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
