/** Kinds of safetensors failure. */
export type SafetensorsErrorCode =
  /** The file is too short, or its header length runs past it or over the limit. */
  | "HEADER_LENGTH"
  /** The header is not a JSON object of the documented shape. */
  | "HEADER_INVALID"
  /** A tensor's dtype code is not one this library knows. */
  | "UNKNOWN_DTYPE"
  /** A tensor's `data_offsets` do not match its size, overlap another, leave a hole, or run past the file. */
  | "OFFSETS"
  /** A value cannot be written as safetensors (dtype, layout, name). */
  | "UNSUPPORTED"
  /** Bad arguments (duplicate names, reserved names). */
  | "INVALID_ARGUMENT";

/** The one error class of `@pt/safetensors`. Messages start with `safetensors:`. */
export class SafetensorsError extends Error {
  override name = "SafetensorsError";
  constructor(
    readonly code: SafetensorsErrorCode,
    message: string,
    /** Structured details: `offset` (byte offset in the file), `tensor` (its name), sizes. */
    readonly details: Readonly<Record<string, unknown>> = {},
    options?: { cause?: unknown },
  ) {
    super(`safetensors: ${message}`, options);
  }
}
