import { isTuple, PyComplex, PyFloat, PyObject } from "@pt/pickle";
import { type DType, dtypeFromNumpyCode } from "@pt/storage";
import { complexRepr, type Json, logicalBytes, sha256Hex, tensorValues } from "./values.js";

/**
 * numpy values in a pickle loaded with the opaque policy are `PyObject` records of
 * `numpy.core.multiarray._reconstruct` + BUILD (arrays), `numpy.core.multiarray.scalar` (scalars)
 * and `numpy.dtype` (dtypes); numpy 2 (torch 2.x's files) names `numpy._core.multiarray`. This decodes
 * them for descriptions, without numpy.
 */

const ARRAY = "numpy.core.multiarray._reconstruct";
const SCALAR = "numpy.core.multiarray.scalar";
const DTYPE = "numpy.dtype";

interface NpDType {
  /** numpy's name (`float32`) or, for non-native byte order, its descr (`>i4`). */
  readonly str: string;
  readonly name: string;
  readonly kind: string;
  readonly itemSize: number;
  readonly bigEndian: boolean;
  readonly dtype: DType;
}

/** The class of a numpy record; numpy 2's `numpy._core.multiarray` names as numpy 1's `numpy.core.multiarray`. */
function cls(o: unknown): string | null {
  if (!(o instanceof PyObject)) return null;
  const q = o.cls.qualifiedName;
  return q.startsWith("numpy._core.") ? `numpy.core.${q.slice(12)}` : q;
}

/** Whether `o` is a numpy array, scalar or dtype record. */
export function isNumpyObject(o: unknown): boolean {
  const c = cls(o);
  return c === ARRAY || c === SCALAR || c === DTYPE;
}

/** The identity torch's describer would see: numpy dtypes are interned singletons in Python. */
export function numpyIdentity(o: unknown): string | null {
  if (cls(o) !== DTYPE) return null;
  const d = npDType(o as PyObject);
  return d ? `numpy.dtype:${d.str}` : null;
}

function npDType(o: PyObject): NpDType | null {
  const code = o.args[0];
  if (typeof code !== "string") return null;
  const m = /^([<>|=]?)([a-z])(\d+)$/.exec(code);
  if (!m) return null;
  const key = `${m[2]}${m[3]}`;
  const dtype = dtypeFromNumpyCode(key); // the dtype table's numpy column
  if (!dtype) return null;
  const name = dtype.name;
  const state = o.state;
  const order = isTuple(state) && typeof state[1] === "string" ? state[1] : m[1] || "=";
  const bigEndian = order === ">";
  const itemSize = Number(m[3]);
  const str = bigEndian && itemSize > 1 ? `>${key}` : name;
  return { str, name, kind: m[2] as string, itemSize, bigEndian, dtype };
}

function storageDType(d: NpDType): DType {
  return d.dtype;
}

function swapped(raw: Uint8Array, d: NpDType): Uint8Array {
  if (!d.bigEndian || d.itemSize === 1) return raw;
  const lane = d.kind === "c" ? d.itemSize / 2 : d.itemSize;
  const out = new Uint8Array(raw);
  for (let i = 0; i < out.length; i += lane) out.subarray(i, i + lane).reverse();
  return out;
}

function num(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (v instanceof PyFloat) return v.value;
  return Number.NaN;
}

function jfloat(x: number): Json {
  return Number.isNaN(x) ? "nan" : x === Infinity ? "inf" : x === -Infinity ? "-inf" : x;
}

/** Describe a numpy record as torch's describer describes real numpy values. */
export async function describeNumpy(
  o: PyObject,
  describeValue: (v: unknown, path: string) => Promise<Json>,
  path: string,
): Promise<Json> {
  const c = cls(o);
  if (c === DTYPE) {
    const d = npDType(o);
    return { _type: "numpy.dtype", value: d ? d.str : String(o.args[0]) };
  }
  if (c === SCALAR) {
    const [dt, data] = o.args;
    const d = dt instanceof PyObject ? npDType(dt) : null;
    const sd = d ? storageDType(d) : null;
    if (!d || !sd || !(data instanceof Uint8Array) || data.length !== d.itemSize)
      return { _type: "stub", class: SCALAR, args: await describeValue([...o.args], `${path}.args`) };
    const raw = swapped(data, d);
    const v = await tensorValues(sd, raw, 1);
    const first = (v.first8 as Json[])[0] as Json;
    if (d.kind === "f" && d.itemSize === 8)
      return typeof first === "number" ? first : { _type: "float", value: first };
    if (d.kind === "c") {
      const [re, im] = first as [number, number];
      return { _type: `numpy.${d.name}`, value: complexRepr(new PyComplex(num(re), num(im))) };
    }
    // numpy 1's bool scalar class is `numpy.bool_`; numpy 2 (whose pickles name `numpy._core`) calls it `numpy.bool`
    const numpy2 = o.cls.qualifiedName.startsWith("numpy._core.");
    return { _type: `numpy.${d.kind === "b" && !numpy2 ? "bool_" : d.name}`, value: first };
  }
  // ndarray: _reconstruct(ndarray, (0,), b'b') then BUILD (version, shape, dtype, is_fortran, rawdata)
  const st = o.state;
  if (!isTuple(st) || st.length < 5 || !(st[2] instanceof PyObject))
    return { _type: "stub", class: ARRAY, state: await describeValue(st, `${path}.state`) };
  const shape = (st[1] as unknown[]).map((x) => num(x));
  const d = npDType(st[2]);
  const sd = d ? storageDType(d) : null;
  const raw = st[4];
  if (!d || !sd || !(raw instanceof Uint8Array))
    return { _type: "numpy.ndarray", dtype: d?.str ?? "object", shape };
  const fortran = st[3] === true;
  const numel = shape.reduce((a, b) => a * b, 1);
  // C-order bytes of the array as stored (the byte order of the dtype kept)
  let cbytes = raw;
  if (fortran && shape.length > 1) {
    const stride: number[] = [];
    let s = 1;
    for (const n of shape) {
      stride.push(s);
      s *= n;
    }
    cbytes = logicalBytes(raw, d.itemSize, 0, shape, stride);
  }
  const out: Record<string, Json> = {
    _type: "numpy.ndarray",
    dtype: d.str,
    shape,
    sha256: await sha256Hex(cbytes),
  };
  if ("fiub".includes(d.kind)) {
    const v = await tensorValues(sd, swapped(cbytes, d), numel);
    const first = v.first8 as Json[];
    out.sum = d.kind === "f" ? (v.sum as Json) : jfloat(Number(v.sum));
    out.first8 = first;
  }
  return out;
}
