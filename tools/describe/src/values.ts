import {
  isTuple,
  PyByteArray,
  PyComplex,
  PyFloat,
  PyFrozenSet,
  PyGlobal,
  PyOrderedDict,
  reprBytes,
  reprFloat,
  reprStr,
} from "@pt/pickle";
import { type DType, dtypes, isDType, Storage } from "@pt/storage";
import {
  type Complex,
  Parameter,
  readElement,
  type Scalar,
  Tensor as TensorClass,
  TorchDevice,
  TorchSize,
} from "@pt/tensor";

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** SHA-256 hex digest (Web Crypto: Node ≥ 20 and browsers). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  let s = "";
  for (const b of d) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Python's `jnum`: ints beyond 2^53 as strings, non-finite floats as `'nan'`/`'inf'`/`'-inf'`. */
export function jint(v: number | bigint): Json {
  if (typeof v === "bigint") {
    const lim = 2n ** 53n;
    return v < lim && v > -lim ? Number(v) : v.toString();
  }
  return Math.abs(v) < 2 ** 53 ? v : String(BigInt(v));
}
export function jfloat(x: number): Json {
  if (Number.isNaN(x)) return "nan";
  if (x === Number.POSITIVE_INFINITY) return "inf";
  if (x === Number.NEGATIVE_INFINITY) return "-inf";
  return x;
}

// ---- Python repr (for dict-key paths and non-str keys) ----------------------------------------

/** Python's `repr()` of the values pickles produce (used for dict-key paths and non-str keys). */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "string") return reprStr(v);
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "number") return Number.isInteger(v) && !Object.is(v, -0) ? String(v) : reprFloat(v);
  if (v instanceof PyFloat) return reprFloat(v.value);
  if (v instanceof PyByteArray) return `bytearray(${reprBytes(v)})`;
  if (v instanceof Uint8Array) return reprBytes(v);
  if (v instanceof TorchSize) return `torch.Size([${[...v].join(", ")}])`;
  if (isTuple(v)) return v.length === 1 ? `(${pyRepr(v[0])},)` : `(${v.map(pyRepr).join(", ")})`;
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(", ")}]`;
  if (v instanceof PyComplex) return complexRepr(v);
  if (isDType(v)) return `torch.${v.name}`;
  if (v instanceof TorchDevice)
    return `device(type='${v.type}'${v.index === null ? "" : `, index=${v.index}`})`;
  if (v instanceof PyGlobal) return `<class '${v.qualifiedName}'>`;
  if (v instanceof PyFrozenSet)
    return v.size === 0 ? "frozenset()" : `frozenset({${[...v].map(pyRepr).join(", ")}})`;
  if (v instanceof Set) return v.size === 0 ? "set()" : `{${[...v].map(pyRepr).join(", ")}}`;
  return `<${(v as object).constructor?.name ?? "object"}>`;
}

/** Python's `repr(complex)`. */
export function complexRepr(c: PyComplex): string {
  const part = (x: number) => {
    const r = reprFloat(x);
    return r.endsWith(".0") ? r.slice(0, -2) : r;
  };
  if (c.re === 0 && !Object.is(c.re, -0)) return `${part(c.im)}j`;
  const im = Object.is(c.im, -0) || c.im < 0 ? part(c.im) : `+${part(c.im)}`;
  return `(${part(c.re)}${im}j)`;
}

export function pyQualname(v: unknown): string {
  if (v === null || v === undefined) return "builtins.NoneType";
  if (typeof v === "boolean") return "builtins.bool";
  if (typeof v === "number") return Number.isInteger(v) ? "builtins.int" : "builtins.float";
  if (typeof v === "bigint") return "builtins.int";
  if (typeof v === "string") return "builtins.str";
  if (v instanceof PyFloat) return "builtins.float";
  if (v instanceof PyByteArray) return "builtins.bytearray";
  if (v instanceof Uint8Array) return "builtins.bytes";
  if (v instanceof TorchSize) return "torch.Size";
  if (isTuple(v)) return "builtins.tuple";
  if (Array.isArray(v)) return "builtins.list";
  if (v instanceof PyFrozenSet) return "builtins.frozenset";
  if (v instanceof Set) return "builtins.set";
  if (v instanceof PyOrderedDict) return "collections.OrderedDict";
  if (v instanceof Map) return "builtins.dict";
  if (v instanceof PyComplex) return "builtins.complex";
  if (v instanceof Parameter) return "torch.nn.parameter.Parameter";
  if (v instanceof TensorClass) return "torch.Tensor";
  if (isDType(v)) return "torch.dtype";
  if (v instanceof TorchDevice) return "torch.device";
  return `builtins.${(v as object).constructor?.name ?? "object"}`;
}

// ---- element decoding --------------------------------------------------------------------------

/**
 * Element `i` of little-endian `raw` as `dtype`, through `@pt/tensor`'s `readElement` (packed
 * quantized dtypes are hashed and summed per byte, as torch's describer reads their int repr).
 */
export function elements(dtype: DType, raw: Uint8Array): (i: number) => Scalar {
  const as = dtype.valuesPerItem !== 1 ? dtypes.uint8 : dtype;
  const arr = Storage.fromBytes(as, raw).typedAs(as);
  return (i) => readElement(arr, as, i);
}

/** The logical elements of a strided view as contiguous little-endian bytes (row-major). */
export function logicalBytes(
  bytes: Uint8Array,
  itemSize: number,
  offset: number,
  shape: readonly number[],
  stride: readonly number[],
): Uint8Array {
  const numel = shape.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(numel * itemSize);
  if (numel === 0) return out;
  const nd = shape.length;
  const idx = new Array<number>(nd).fill(0);
  let src = offset;
  for (let n = 0; n < numel; n++) {
    const p = src * itemSize;
    out.set(bytes.subarray(p, p + itemSize), n * itemSize);
    for (let d = nd - 1; d >= 0; d--) {
      idx[d] = (idx[d] as number) + 1;
      src += stride[d] as number;
      if ((idx[d] as number) < (shape[d] as number)) break;
      src -= (stride[d] as number) * (shape[d] as number);
      idx[d] = 0;
    }
  }
  return out;
}

/** torch describe's `tensor_values`: numel, data_sha256, sum (+ finite_abs_sum / sum_imag), first8. */
export async function tensorValues(
  dtype: DType,
  raw: Uint8Array,
  numel: number,
): Promise<Record<string, Json>> {
  const d: Record<string, Json> = { numel };
  d.data_sha256 = await sha256Hex(raw);
  const get = elements(dtype, raw);
  if (dtype.isComplex) {
    let re = 0;
    let im = 0;
    const first: Json[] = [];
    for (let i = 0; i < numel; i++) {
      const { re: a, im: b } = get(i) as Complex;
      re += a;
      im += b;
      if (i < 8) first.push([jfloat(a), jfloat(b)]);
    }
    d.sum = jfloat(re);
    d.sum_imag = jfloat(im);
    d.first8 = first;
  } else if (dtype.kind === "bool") {
    let s = 0;
    const first: Json[] = [];
    for (let i = 0; i < numel; i++) {
      const v = get(i) as boolean;
      if (v) s++;
      if (i < 8) first.push(v);
    }
    d.sum = s;
    d.first8 = first;
  } else if (dtype.isFloatingPoint) {
    const vals = new Float64Array(numel);
    for (let i = 0; i < numel; i++) vals[i] = get(i) as number;
    d.sum = jfloat(pairwiseSum(vals, false));
    d.finite_abs_sum = jfloat(pairwiseSum(vals, true));
    d.first8 = Array.from(vals.subarray(0, 8), jfloat);
  } else {
    let s = 0n;
    const first: Json[] = [];
    for (let i = 0; i < numel; i++) {
      const v = get(i) as number | bigint;
      s += BigInt(v);
      if (i < 8) first.push(jint(dtype.isSigned ? BigInt.asIntN(64, BigInt(v)) : BigInt(v)));
    }
    d.sum = jint(BigInt.asIntN(64, s));
    d.first8 = first;
  }
  return d;
}

/** Sum in float64 with a cascade of 8 lanes (close to torch's vectorised reduction). */
function pairwiseSum(v: Float64Array, finiteAbs: boolean): number {
  const f = finiteAbs ? (x: number) => (Number.isFinite(x) ? Math.abs(x) : 0) : (x: number) => x;
  const rec = (lo: number, hi: number): number => {
    if (hi - lo <= 128) {
      let s = 0;
      for (let i = lo; i < hi; i++) s += f(v[i] as number);
      return s;
    }
    const mid = lo + ((hi - lo) >> 1);
    return rec(lo, mid) + rec(mid, hi);
  };
  return rec(0, v.length);
}
