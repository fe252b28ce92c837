import type { Float8Format } from "./convert.js";
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

/**
 * How one element's value sits in the dtype's typed array: what element readers and writers
 * (`@pt/tensor`'s `readElement`/`writeElement`) and bulk conversions (`toFloat64Array`) switch on.
 *
 * - `native`: the typed array value is the element (float32/64, the integers; int64/uint64 as
 *   `bigint`; torch 2.x's `bits*`/`float4_e2m1fn_x2` as their raw bytes or words);
 * - `bool-byte`: 0/1 bytes;
 * - `half-bits`, `bfloat16-bits`: float16/bfloat16 bit patterns;
 * - a `Float8Format` (`e4m3fn`…): 8-bit float bytes;
 * - `complex`: two native lanes (re, im); `complex-half`: two float16 bit patterns (complex32);
 * - `uint4x2`, `uint2x4`: 2 or 4 unsigned values packed per byte (`quint4x2`, `quint2x4`).
 */
export type ElementEncoding =
  | "native"
  | "bool-byte"
  | "half-bits"
  | "bfloat16-bits"
  | Float8Format
  | "complex"
  | "complex-half"
  | "uint4x2"
  | "uint2x4";

const FLOAT8_ENCODINGS: ReadonlySet<string> = new Set<Float8Format>([
  "e4m3fn",
  "e5m2",
  "e4m3fnuz",
  "e5m2fnuz",
  "e8m0fnu",
]);
/** Whether an element encoding is one of the 8-bit float formats. */
export function isFloat8Encoding(e: ElementEncoding): e is Float8Format {
  return FLOAT8_ENCODINGS.has(e);
}

/** What kind of numbers a dtype holds (`DType.isFloatingPoint`, `isComplex`, `isQuantized` come from it). */
export type DTypeKind = "float" | "complex" | "int" | "bool" | "quantized" | "bits";

/**
 * One row of the dtype table: everything a package needs to know about a dtype. Every field is
 * required (`null` where the dtype has none), so a row that forgets one does not type-check.
 */
export interface DTypeRow {
  /** Size of one element in bytes. */
  readonly itemSize: number;
  /** The typed array holding the raw elements. */
  readonly arrayKind: ArrayKind;
  /** How an element's value is encoded in that array. */
  readonly element: ElementEncoding;
  readonly kind: DTypeKind;
  readonly signed: boolean;
  /** Legacy storage class stem (`Float` → `FloatStorage`), or null: saved as `UntypedStorage` + `_rebuild_tensor_v3`. */
  readonly storage: string | null;
  /** Legacy tensor type stem (`Float` → `torch.FloatTensor`), or null. */
  readonly tensorType: string | null;
  /** The safetensors dtype code (`F32`), or null when safetensors has none. */
  readonly safetensors: string | null;
  /** numpy's type code without byte order (`f4`, `i8`, `b1`), or null when numpy has no such dtype. */
  readonly numpy: string | null;
  /** onnxruntime's tensor type string (`float32`), or null when onnxruntime has none. */
  readonly onnx: string | null;
  /** Other names torch accepts (`float` for float32, `half` for float16…). */
  readonly aliases: readonly string[];
}

const F = "float" as const;
const C = "complex" as const;
const I = "int" as const;
const Q = "quantized" as const;
const X = "bits" as const;
const N = "native" as const;

/**
 * The dtype table, in torch's order. Adding a dtype is one row here (plus its tests): every
 * package derives what it needs from it (names, sizes, storage classes, tensor types, typed
 * arrays, element encodings, safetensors codes, numpy codes). A new *element encoding* (a new
 * float format) also needs its conversion in `convert.ts` and its case in `@pt/tensor`'s
 * `readElement`/`writeElement`.
 */
// biome-ignore format: one row per dtype
export const DTYPE_TABLE = {
  float64: { itemSize: 8, arrayKind: "Float64Array", element: N, kind: F, signed: true, storage: "Double", tensorType: "Double", safetensors: "F64", numpy: "f8", onnx: "float64", aliases: ["double"] },
  float32: { itemSize: 4, arrayKind: "Float32Array", element: N, kind: F, signed: true, storage: "Float", tensorType: "Float", safetensors: "F32", numpy: "f4", onnx: "float32", aliases: ["float"] },
  float16: { itemSize: 2, arrayKind: "Uint16Array", element: "half-bits", kind: F, signed: true, storage: "Half", tensorType: "Half", safetensors: "F16", numpy: "f2", onnx: "float16", aliases: ["half"] },
  bfloat16: { itemSize: 2, arrayKind: "Uint16Array", element: "bfloat16-bits", kind: F, signed: true, storage: "BFloat16", tensorType: "BFloat16", safetensors: "BF16", numpy: null, onnx: null, aliases: [] },
  complex128: { itemSize: 16, arrayKind: "Float64Array", element: C, kind: C, signed: true, storage: "ComplexDouble", tensorType: "ComplexDouble", safetensors: null, numpy: "c16", onnx: null, aliases: ["cdouble"] },
  complex64: { itemSize: 8, arrayKind: "Float32Array", element: C, kind: C, signed: true, storage: "ComplexFloat", tensorType: "ComplexFloat", safetensors: "C64", numpy: "c8", onnx: null, aliases: ["cfloat"] },
  complex32: { itemSize: 4, arrayKind: "Uint16Array", element: "complex-half", kind: C, signed: true, storage: null, tensorType: "ComplexHalf", safetensors: null, numpy: null, onnx: null, aliases: ["chalf"] },
  int64: { itemSize: 8, arrayKind: "BigInt64Array", element: N, kind: I, signed: true, storage: "Long", tensorType: "Long", safetensors: "I64", numpy: "i8", onnx: "int64", aliases: ["long"] },
  int32: { itemSize: 4, arrayKind: "Int32Array", element: N, kind: I, signed: true, storage: "Int", tensorType: "Int", safetensors: "I32", numpy: "i4", onnx: "int32", aliases: ["int"] },
  int16: { itemSize: 2, arrayKind: "Int16Array", element: N, kind: I, signed: true, storage: "Short", tensorType: "Short", safetensors: "I16", numpy: "i2", onnx: "int16", aliases: ["short"] },
  int8: { itemSize: 1, arrayKind: "Int8Array", element: N, kind: I, signed: true, storage: "Char", tensorType: "Char", safetensors: "I8", numpy: "i1", onnx: "int8", aliases: [] },
  uint8: { itemSize: 1, arrayKind: "Uint8Array", element: N, kind: I, signed: false, storage: "Byte", tensorType: "Byte", safetensors: "U8", numpy: "u1", onnx: "uint8", aliases: [] },
  uint16: { itemSize: 2, arrayKind: "Uint16Array", element: N, kind: I, signed: false, storage: null, tensorType: null, safetensors: "U16", numpy: "u2", onnx: "uint16", aliases: [] },
  uint32: { itemSize: 4, arrayKind: "Uint32Array", element: N, kind: I, signed: false, storage: null, tensorType: null, safetensors: "U32", numpy: "u4", onnx: "uint32", aliases: [] },
  uint64: { itemSize: 8, arrayKind: "BigUint64Array", element: N, kind: I, signed: false, storage: null, tensorType: null, safetensors: "U64", numpy: "u8", onnx: "uint64", aliases: [] },
  bool: { itemSize: 1, arrayKind: "Uint8Array", element: "bool-byte", kind: "bool", signed: false, storage: "Bool", tensorType: "Bool", safetensors: "BOOL", numpy: "b1", onnx: "bool", aliases: [] },
  float8_e4m3fn: { itemSize: 1, arrayKind: "Uint8Array", element: "e4m3fn", kind: F, signed: true, storage: null, tensorType: null, safetensors: "F8_E4M3", numpy: null, onnx: null, aliases: [] },
  float8_e5m2: { itemSize: 1, arrayKind: "Uint8Array", element: "e5m2", kind: F, signed: true, storage: null, tensorType: null, safetensors: "F8_E5M2", numpy: null, onnx: null, aliases: [] },
  float8_e4m3fnuz: { itemSize: 1, arrayKind: "Uint8Array", element: "e4m3fnuz", kind: F, signed: true, storage: null, tensorType: null, safetensors: null, numpy: null, onnx: null, aliases: [] },
  float8_e5m2fnuz: { itemSize: 1, arrayKind: "Uint8Array", element: "e5m2fnuz", kind: F, signed: true, storage: null, tensorType: null, safetensors: null, numpy: null, onnx: null, aliases: [] },
  float8_e8m0fnu: { itemSize: 1, arrayKind: "Uint8Array", element: "e8m0fnu", kind: F, signed: false, storage: null, tensorType: null, safetensors: "F8_E8M0", numpy: null, onnx: null, aliases: [] },
  // torch 2.x packed and bit dtypes: opaque bytes (two float4 values per byte; bitsN: raw bits)
  float4_e2m1fn_x2: { itemSize: 1, arrayKind: "Uint8Array", element: N, kind: X, signed: false, storage: null, tensorType: null, safetensors: null, numpy: null, onnx: null, aliases: [] },
  bits8: { itemSize: 1, arrayKind: "Uint8Array", element: N, kind: X, signed: false, storage: null, tensorType: null, safetensors: null, numpy: null, onnx: null, aliases: [] },
  bits16: { itemSize: 2, arrayKind: "Uint16Array", element: N, kind: X, signed: false, storage: null, tensorType: null, safetensors: null, numpy: null, onnx: null, aliases: [] },
  bits1x8: { itemSize: 1, arrayKind: "Uint8Array", element: N, kind: X, signed: false, storage: null, tensorType: null, safetensors: null, numpy: null, onnx: null, aliases: [] },
  bits2x4: { itemSize: 1, arrayKind: "Uint8Array", element: N, kind: X, signed: false, storage: null, tensorType: null, safetensors: null, numpy: null, onnx: null, aliases: [] },
  bits4x2: { itemSize: 1, arrayKind: "Uint8Array", element: N, kind: X, signed: false, storage: null, tensorType: null, safetensors: null, numpy: null, onnx: null, aliases: [] },
  qint8: { itemSize: 1, arrayKind: "Int8Array", element: N, kind: Q, signed: true, storage: "QInt8", tensorType: "QInt8", safetensors: null, numpy: null, onnx: null, aliases: [] },
  quint8: { itemSize: 1, arrayKind: "Uint8Array", element: N, kind: Q, signed: false, storage: "QUInt8", tensorType: "QUInt8", safetensors: null, numpy: null, onnx: null, aliases: [] },
  qint32: { itemSize: 4, arrayKind: "Int32Array", element: N, kind: Q, signed: true, storage: "QInt32", tensorType: "QInt32", safetensors: null, numpy: null, onnx: null, aliases: [] },
  quint4x2: { itemSize: 1, arrayKind: "Uint8Array", element: "uint4x2", kind: Q, signed: false, storage: "QUInt4x2", tensorType: "QUInt4x2", safetensors: null, numpy: null, onnx: null, aliases: [] },
  quint2x4: { itemSize: 1, arrayKind: "Uint8Array", element: "uint2x4", kind: Q, signed: false, storage: "QUInt2x4", tensorType: "QUInt2x4", safetensors: null, numpy: null, onnx: null, aliases: [] },
} as const satisfies Record<string, DTypeRow>;

/** Names of every dtype torch serializes (the keys of `DTYPE_TABLE`). */
export type DTypeName = keyof typeof DTYPE_TABLE;

/**
 * A torch dtype. Instances are singletons: compare with `===`. Built from its `DTYPE_TABLE` row.
 *
 * - `arrayKind`: the typed array holding the raw elements. float16/bfloat16 are held as their
 *   `Uint16Array` bit patterns, float8 as `Uint8Array` bytes (torch 2.x's packed `float4_e2m1fn_x2`
 *   and `bits*` dtypes as their raw bytes / 16-bit words), complex as two lanes per element
 *   (`complex32` as two float16 bit patterns), bool as `Uint8Array` 0/1, quantized as their
 *   underlying integers (`quint4x2`/`quint2x4` pack 2/4 values per byte). `element` says which.
 */
export class DType {
  /** Legacy storage class (`FloatStorage`), or null when torch saves it as `UntypedStorage` + `_rebuild_tensor_v3`. */
  readonly storageClass: string | null;
  /** Legacy tensor type name as torch prints it (`torch.FloatTensor`), or null. */
  readonly tensorTypeName: string | null;
  /** Size of one element in bytes. */
  readonly itemSize: number;
  readonly arrayKind: ArrayKind;
  /** How an element's value is encoded in `arrayKind`'s array. */
  readonly element: ElementEncoding;
  readonly kind: DTypeKind;
  readonly isFloatingPoint: boolean;
  readonly isComplex: boolean;
  readonly isQuantized: boolean;
  readonly isSigned: boolean;
  /** The safetensors dtype code (`F32`), or null. */
  readonly safetensorsCode: string | null;
  /** numpy's type code without byte order (`f4`), or null. */
  readonly numpyCode: string | null;
  /** onnxruntime's tensor type string, or null. */
  readonly onnxType: string | null;
  /** Other names torch accepts (`float` for float32, `half` for float16…). */
  readonly aliases: readonly string[];
  /** @internal */
  constructor(
    /** torch's name, e.g. `float32`. */
    readonly name: DTypeName,
    row: DTypeRow,
  ) {
    this.itemSize = row.itemSize;
    this.storageClass = row.storage === null ? null : `${row.storage}Storage`;
    this.arrayKind = row.arrayKind;
    this.element = row.element;
    this.kind = row.kind;
    this.isFloatingPoint = row.kind === "float";
    this.isComplex = row.kind === "complex";
    this.isQuantized = row.kind === "quantized";
    this.isSigned = row.signed;
    this.tensorTypeName = row.tensorType === null ? null : `torch.${row.tensorType}Tensor`;
    this.safetensorsCode = row.safetensors;
    this.numpyCode = row.numpy;
    this.onnxType = row.onnx;
    this.aliases = Object.freeze([...row.aliases]);
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
  /** Values packed in one item: 2 for `quint4x2`, 4 for `quint2x4`, else 1. */
  get valuesPerItem(): number {
    return this.element === "uint4x2" ? 2 : this.element === "uint2x4" ? 4 : 1;
  }
  /** Whether elements are read as `bigint` (int64, uint64). */
  get isBigInt(): boolean {
    return this.arrayKind === "BigInt64Array" || this.arrayKind === "BigUint64Array";
  }
  toString(): string {
    return this.qualifiedName;
  }
}

/** Every dtype, by torch name. */
export const dtypes = Object.freeze(
  Object.fromEntries(
    Object.entries(DTYPE_TABLE).map(([name, row]) => [name, new DType(name as DTypeName, row)]),
  ),
) as { readonly [N in DTypeName]: DType };

/** All dtypes in table order. */
export const ALL_DTYPES: readonly DType[] = Object.freeze(Object.values(dtypes));

const byName = new Map<string, DType>();
const byStorage = new Map<string, DType>();
const bySafetensors = new Map<string, DType>();
const byNumpy = new Map<string, DType>();
for (const t of ALL_DTYPES) {
  byName.set(t.name, t);
  for (const a of t.aliases) byName.set(a, t);
  if (t.storageClass) byStorage.set(t.storageClass, t);
  if (t.safetensorsCode) bySafetensors.set(t.safetensorsCode, t);
  if (t.numpyCode) byNumpy.set(t.numpyCode, t);
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

/** The dtype of a safetensors dtype code (`F32` → float32), or undefined when no dtype has it. */
export function dtypeFromSafetensorsCode(code: string): DType | undefined {
  return bySafetensors.get(code);
}

/** The dtype of a numpy type code without byte order (`f4` → float32), or undefined. */
export function dtypeFromNumpyCode(code: string): DType | undefined {
  return byNumpy.get(code);
}
