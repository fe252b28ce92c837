/** Test helper: the JS twin of fixtures/describe.py, and its inverse (descriptor → JS value). */
import {
  isTuple,
  PyByteArray,
  PyComplex,
  PyFloat,
  PyFrozenSet,
  PyOrderedDict,
  PySlice,
  PyTuple,
  tuple,
} from "../src/index.js";
import { reprFloat } from "../src/text.js";

export type Desc = [string, ...unknown[]];

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (h) => Number.parseInt(h, 16));

export function describe(value: unknown): Desc {
  const ids = new Map<object, number>();
  const node = (v: unknown): Desc => {
    if (v === null) return ["none"];
    if (typeof v === "boolean") return ["bool", v];
    if (typeof v === "bigint") return ["int", v.toString()];
    if (typeof v === "number") return Number.isInteger(v) ? ["int", String(v)] : ["float", reprFloat(v)];
    if (v instanceof PyFloat) return ["float", reprFloat(v.value)];
    if (typeof v === "string") return ["str", v];
    if (isTuple(v) && v.length === 0) return ["tuple", null, []];
    if (typeof v !== "object") throw new Error(`cannot describe ${typeof v}`);
    const seen = ids.get(v);
    if (seen !== undefined) return ["ref", seen];
    const me = ids.size;
    ids.set(v, me);
    if (v instanceof PyByteArray) return ["bytearray", me, hex(v)];
    if (v instanceof Uint8Array) return ["bytes", me, hex(v)];
    if (v instanceof PyComplex) return ["complex", me, reprFloat(v.re), reprFloat(v.im)];
    if (v instanceof PySlice) return ["slice", me, node(v.start), node(v.stop), node(v.step)];
    if (isTuple(v)) return ["tuple", me, v.map(node)];
    if (Array.isArray(v)) return ["list", me, v.map(node)];
    if (v instanceof PyOrderedDict) {
      const items = Array.from(v, ([k, x]) => [node(k), node(x)]);
      const attrs = v.attributes?.size ? Array.from(v.attributes, ([k, x]) => [k, node(x)]) : null;
      return ["odict", me, items, attrs];
    }
    if (v instanceof Map) return ["dict", me, Array.from(v, ([k, x]) => [node(k), node(x)])];
    if (v instanceof PyFrozenSet) return ["frozenset", me, Array.from(v, node)];
    if (v instanceof Set) return ["set", me, Array.from(v, node)];
    throw new Error(`cannot describe ${(v as object).constructor?.name}`);
  };
  return node(value);
}

const pyFloat = (s: string): number =>
  s === "nan"
    ? Number.NaN
    : s === "inf"
      ? Number.POSITIVE_INFINITY
      : s === "-inf"
        ? Number.NEGATIVE_INFINITY
        : Number(s);

/** Build the JS value a descriptor stands for (with the same sharing and cycles). */
export function fromDescriptor(desc: Desc): unknown {
  const byId = new Map<number, unknown>();
  const build = (d: Desc): unknown => {
    const [kind, ...rest] = d;
    switch (kind) {
      case "none":
        return null;
      case "bool":
        return rest[0];
      case "int": {
        const n = Number(rest[0]);
        return Number.isSafeInteger(n) ? n : BigInt(rest[0] as string);
      }
      case "float": {
        const x = pyFloat(rest[0] as string);
        return Number.isInteger(x) ? new PyFloat(x) : x;
      }
      case "str":
        return rest[0];
      case "ref":
        return byId.get(rest[0] as number);
    }
    const id = rest[0] as number | null;
    const reg = <T>(v: T): T => {
      if (id !== null) byId.set(id, v);
      return v;
    };
    switch (kind) {
      case "bytes":
        return reg(unhex(rest[1] as string));
      case "bytearray":
        return reg(new PyByteArray(unhex(rest[1] as string)));
      case "complex":
        return reg(new PyComplex(pyFloat(rest[1] as string), pyFloat(rest[2] as string)));
      case "slice": {
        const s = new PySlice(build(rest[1] as Desc), build(rest[2] as Desc), build(rest[3] as Desc));
        return reg(s);
      }
      case "tuple": {
        const t = reg(new PyTuple());
        for (const x of rest[1] as Desc[]) t.push(build(x));
        return id === null ? tuple() : t;
      }
      case "list": {
        const a: unknown[] = reg([]);
        for (const x of rest[1] as Desc[]) a.push(build(x));
        return a;
      }
      case "dict":
      case "odict": {
        const m = reg(kind === "odict" ? new PyOrderedDict() : new Map());
        for (const [k, x] of rest[1] as [Desc, Desc][]) m.set(build(k), build(x));
        if (kind === "odict" && rest[2]) {
          (m as PyOrderedDict).attributes = new Map(
            (rest[2] as [string, Desc][]).map(([k, x]) => [k, build(x)]),
          );
        }
        return m;
      }
      case "set":
      case "frozenset": {
        const s = reg(kind === "set" ? new Set() : new PyFrozenSet());
        for (const x of rest[1] as Desc[]) s.add(build(x));
        return s;
      }
    }
    throw new Error(`unknown descriptor ${kind}`);
  };
  return build(desc);
}
