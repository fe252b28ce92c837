import { UnknownDTypeError } from "./errors.js";

/** The JavaScript typed array a dtype's elements are held in (complex dtypes use two lanes per element). */
export type ArrayKind =
  | "Float64Array"
  | "Float32Array"
  | "Int32Array"
  | "Int16Array"
  | "Int8Array"
  | "Uint8Array"
  | "Uint16Array"
  | "Uint32Array"
  | "BigInt64Array"
  | "BigUint64Array";

/** Any typed array a storage can be viewed as. */
export type TypedArray =
  | Float64Array
  | Float32Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** Names of every dtype torch serializes. */
export type DTypeName =
  | "float64"
  | "float32"
  | "float16"
  | "bfloat16"
  | "complex128"
  | "complex64"
  | "complex32"
  | "int64"
  | "int32"
  | "int16"
  | "int8"
  | "uint8"
  | "uint16"
  | "uint32"
  | "uint64"
  | "bool"
  | "float8_e4m3fn"
  | "float8_e5m2"
  | "float8_e4m3fnuz"
  | "float8_e5m2fnuz"
  | "float8_e8m0fnu"
  | "float4_e2m1fn_x2"
  | "bits8"
  | "bits16"
  | "bits1x8"
  | "bits2x4"
  | "bits4x2"
  | "qint8"
  | "quint8"
  | "qint32"
  | "quint4x2"
  | "quint2x4";

/**
 * A torch dtype. Instances are singletons: compare with `===`.
 *
 * - `arrayKind`: the typed array holding the raw elements. float16/bfloat16 are held as their
 *   `Uint16Array` bit patterns, float8 as `Uint8Array` bytes (torch 2.x's packed `float4_e2m1fn_x2`
 *   and `bits*` dtypes as their raw bytes / 16-bit words), complex as two lanes per element
 *   (`complex32` as two float16 bit patterns), bool as `Uint8Array` 0/1, quantized as their
 *   underlying integers (`quint4x2`/`quint2x4` pack 2/4 values per byte).
 */
export class DType {
  /** @internal */
  constructor(
    /** torch's name, e.g. `float32`. */
    readonly name: DTypeName,
    /** Size of one element in bytes. */
    readonly itemSize: number,
    /** Legacy storage class (`FloatStorage`), or null when torch saves it as `UntypedStorage` + `_rebuild_tensor_v3`. */
    readonly storageClass: string | null,
    readonly arrayKind: ArrayKind,
    readonly isFloatingPoint: boolean,
    readonly isComplex: boolean,
    readonly isQuantized: boolean,
    readonly isSigned: boolean,
    /** Legacy tensor type name as torch prints it (`torch.FloatTensor`), or null. */
    readonly tensorTypeName: string | null,
    /** Other names torch accepts (`float` for float32, `half` for float16…). */
    readonly aliases: readonly string[] = [],
  ) {
    Object.freeze(this);
  }
  /** `torch.float32`. */
  get qualifiedName(): string {
    return `torch.${this.name}`;
  }
  /** Typed-array lanes per element: 2 for complex, else 1. */
  get lanes(): number {
    return this.isComplex ? 2 : 1;
  }
  /** Whether elements are read as `bigint` (int64, uint64). */
  get isBigInt(): boolean {
    return this.arrayKind === "BigInt64Array" || this.arrayKind === "BigUint64Array";
  }
  toString(): string {
    return this.qualifiedName;
  }
}

function d(
  name: DTypeName,
  itemSize: number,
  storage: string | null,
  kind: ArrayKind,
  flags: { float?: boolean; complex?: boolean; quant?: boolean; signed?: boolean },
  tensorType: string | null,
  aliases: string[] = [],
): DType {
  return new DType(
    name,
    itemSize,
    storage === null ? null : `${storage}Storage`,
    kind,
    flags.float ?? false,
    flags.complex ?? false,
    flags.quant ?? false,
    flags.signed ?? false,
    tensorType === null ? null : `torch.${tensorType}Tensor`,
    aliases,
  );
}

/** Every dtype, by torch name. */
export const dtypes = {
  float64: d("float64", 8, "Double", "Float64Array", { float: true, signed: true }, "Double", ["double"]),
  float32: d("float32", 4, "Float", "Float32Array", { float: true, signed: true }, "Float", ["float"]),
  float16: d("float16", 2, "Half", "Uint16Array", { float: true, signed: true }, "Half", ["half"]),
  bfloat16: d("bfloat16", 2, "BFloat16", "Uint16Array", { float: true, signed: true }, "BFloat16"),
  complex128: d(
    "complex128",
    16,
    "ComplexDouble",
    "Float64Array",
    { complex: true, signed: true },
    "ComplexDouble",
    ["cdouble"],
  ),
  complex64: d(
    "complex64",
    8,
    "ComplexFloat",
    "Float32Array",
    { complex: true, signed: true },
    "ComplexFloat",
    ["cfloat"],
  ),
  complex32: d("complex32", 4, null, "Uint16Array", { complex: true, signed: true }, "ComplexHalf", [
    "chalf",
  ]),
  int64: d("int64", 8, "Long", "BigInt64Array", { signed: true }, "Long", ["long"]),
  int32: d("int32", 4, "Int", "Int32Array", { signed: true }, "Int", ["int"]),
  int16: d("int16", 2, "Short", "Int16Array", { signed: true }, "Short", ["short"]),
  int8: d("int8", 1, "Char", "Int8Array", { signed: true }, "Char"),
  uint8: d("uint8", 1, "Byte", "Uint8Array", {}, "Byte"),
  uint16: d("uint16", 2, null, "Uint16Array", {}, null),
  uint32: d("uint32", 4, null, "Uint32Array", {}, null),
  uint64: d("uint64", 8, null, "BigUint64Array", {}, null),
  bool: d("bool", 1, "Bool", "Uint8Array", {}, "Bool"),
  float8_e4m3fn: d("float8_e4m3fn", 1, null, "Uint8Array", { float: true, signed: true }, null),
  float8_e5m2: d("float8_e5m2", 1, null, "Uint8Array", { float: true, signed: true }, null),
  float8_e4m3fnuz: d("float8_e4m3fnuz", 1, null, "Uint8Array", { float: true, signed: true }, null),
  float8_e5m2fnuz: d("float8_e5m2fnuz", 1, null, "Uint8Array", { float: true, signed: true }, null),
  float8_e8m0fnu: d("float8_e8m0fnu", 1, null, "Uint8Array", { float: true }, null),
  // torch 2.x packed and bit dtypes: opaque bytes (two float4 values per byte; bitsN: raw bits)
  float4_e2m1fn_x2: d("float4_e2m1fn_x2", 1, null, "Uint8Array", {}, null),
  bits8: d("bits8", 1, null, "Uint8Array", {}, null),
  bits16: d("bits16", 2, null, "Uint16Array", {}, null),
  bits1x8: d("bits1x8", 1, null, "Uint8Array", {}, null),
  bits2x4: d("bits2x4", 1, null, "Uint8Array", {}, null),
  bits4x2: d("bits4x2", 1, null, "Uint8Array", {}, null),
  qint8: d("qint8", 1, "QInt8", "Int8Array", { quant: true, signed: true }, "QInt8"),
  quint8: d("quint8", 1, "QUInt8", "Uint8Array", { quant: true }, "QUInt8"),
  qint32: d("qint32", 4, "QInt32", "Int32Array", { quant: true, signed: true }, "QInt32"),
  quint4x2: d("quint4x2", 1, "QUInt4x2", "Uint8Array", { quant: true }, "QUInt4x2"),
  quint2x4: d("quint2x4", 1, "QUInt2x4", "Uint8Array", { quant: true }, "QUInt2x4"),
} as const satisfies Record<DTypeName, DType>;

/** All dtypes in table order. */
export const ALL_DTYPES: readonly DType[] = Object.freeze(Object.values(dtypes));

const byName = new Map<string, DType>();
const byStorage = new Map<string, DType>();
for (const t of ALL_DTYPES) {
  byName.set(t.name, t);
  for (const a of t.aliases) byName.set(a, t);
  if (t.storageClass) byStorage.set(t.storageClass, t);
}

/**
 * Look up a dtype by torch name (`float32`), alias (`float`, `half`, `long`) or qualified name
 * (`torch.float32`). Throws `UnknownDTypeError` for anything else.
 */
export function dtypeFromName(name: string): DType {
  const key = name.startsWith("torch.") ? name.slice(6) : name;
  const t = byName.get(key);
  if (!t) throw new UnknownDTypeError(name);
  return t;
}

/** Like `dtypeFromName` but returns undefined instead of throwing. */
export function findDType(name: string): DType | undefined {
  return byName.get(name.startsWith("torch.") ? name.slice(6) : name);
}

/** Look up the dtype of a legacy storage class (`FloatStorage`, or `torch.FloatStorage`). */
export function dtypeFromStorageClass(name: string): DType {
  const key = name.startsWith("torch.") ? name.slice(6) : name;
  const t = byStorage.get(key);
  if (!t) throw new UnknownDTypeError(name, "storage class");
  return t;
}

/** Whether `v` is one of the dtype singletons. */
export function isDType(v: unknown): v is DType {
  return v instanceof DType;
}

/** Bytes per lane of the dtype's typed array (e.g. 4 for complex64's Float32Array). */
export function laneSize(dtype: DType): number {
  return dtype.itemSize / dtype.lanes;
}
