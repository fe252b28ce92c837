import { errorGuard, layerError } from "@pt/errors";

/** Kinds of safetensors failure. */
export type SafetensorsErrorCode =
  /** The file is too short, or its header length runs past it or over the limit. */
  | "HeaderLength"
  /** The header is not a JSON object of the documented shape. */
  | "HeaderInvalid"
  /** A tensor's dtype code is not one this library knows. */
  | "UnknownDType"
  /** A tensor's `data_offsets` do not match its size, overlap another, leave a hole, or run past the file. */
  | "Offsets"
  /** A value cannot be written as safetensors (dtype, layout, name). */
  | "Unsupported"
  /** Bad arguments (duplicate names, reserved names). */
  | "InvalidArgument";

/** The one error class of `@pt/safetensors`. Messages start with `safetensors:`. */
export class SafetensorsError extends layerError<"safetensors", SafetensorsErrorCode>("safetensors") {
  override name = "SafetensorsError";
}

/** True when `e` is a SafetensorsError (optionally of the given code). */
export const isSafetensorsError = errorGuard(SafetensorsError);
