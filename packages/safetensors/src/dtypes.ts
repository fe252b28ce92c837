import { ALL_DTYPES, type DType, type DTypeName, dtypeFromSafetensorsCode } from "@pt/storage";

/**
 * safetensors dtype codes → torch dtype names, for the codes that have a torch dtype here: the
 * `safetensorsCode` column of `@pt/storage`'s dtype table. (`F4`, `F6_*` packed sub-byte floats
 * have none: files using them are refused with `UnknownDType`.)
 */
export const SAFETENSORS_DTYPE_NAMES: Readonly<Record<string, DTypeName>> = Object.freeze(
  Object.fromEntries(
    ALL_DTYPES.flatMap((d) => (d.safetensorsCode === null ? [] : [[d.safetensorsCode, d.name]])),
  ),
);

/** The safetensors code of a torch dtype (`F32` for float32), or undefined when it has none. */
export function safetensorsCode(dtype: DType): string | undefined {
  return dtype.safetensorsCode ?? undefined;
}

/** The torch dtype of a safetensors code, or undefined when unknown. */
export function dtypeOfCode(code: string): DType | undefined {
  return dtypeFromSafetensorsCode(code);
}
