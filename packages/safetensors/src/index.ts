/**
 * `@pt/safetensors`: safetensors files (an 8-byte little-endian header length, a JSON header,
 * then every tensor's bytes) read lazily over a `ByteSource` with strict checks, and written as a
 * stream with memory bounded by the largest tensor.
 */
export { dtypeOfCode, SAFETENSORS_DTYPE_NAMES, safetensorsCode } from "./dtypes.js";
export { isSafetensorsError, SafetensorsError, type SafetensorsErrorCode } from "./errors.js";
export {
  readSafetensors,
  readSafetensorsHeader,
  type SafetensorsEntry,
  type SafetensorsFile,
  type SafetensorsHeader,
  type SafetensorsLimits,
} from "./read.js";
export {
  planSafetensors,
  type SafetensorsPlan,
  type SafetensorsSink,
  saveSafetensors,
  type WriteSafetensorsOptions,
  writeSafetensors,
} from "./write.js";
