import { type DType, type DTypeName, findDType } from "@pt/storage";

/**
 * safetensors dtype codes → torch dtype names, for the codes that have a torch dtype here.
 * (`F4`, `F6_*` packed sub-byte floats have none: files using them are refused with
 * `UnknownDType`.)
 */
export const SAFETENSORS_DTYPE_NAMES: Readonly<Record<string, DTypeName>> = Object.freeze({
  F64: "float64",
  F32: "float32",
  F16: "float16",
  BF16: "bfloat16",
  I64: "int64",
  I32: "int32",
  I16: "int16",
  I8: "int8",
  U8: "uint8",
  BOOL: "bool",
  U16: "uint16",
  U32: "uint32",
  U64: "uint64",
  F8_E4M3: "float8_e4m3fn",
  F8_E5M2: "float8_e5m2",
  F8_E8M0: "float8_e8m0fnu",
  C64: "complex64",
});

const CODES = new Map<string, string>(Object.entries(SAFETENSORS_DTYPE_NAMES).map(([c, n]) => [n, c]));

/** The safetensors code of a torch dtype (`F32` for float32), or undefined when it has none. */
export function safetensorsCode(dtype: DType): string | undefined {
  return CODES.get(dtype.name);
}

/** The torch dtype of a safetensors code, or undefined when unknown. */
export function dtypeOfCode(code: string): DType | undefined {
  const name = Object.hasOwn(SAFETENSORS_DTYPE_NAMES, code) ? SAFETENSORS_DTYPE_NAMES[code] : undefined;
  return name === undefined ? undefined : findDType(name);
}
