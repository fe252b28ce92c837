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

/** The key of the brand every `@pt/*` error carries (ARCHITECTURE.md, "Errors"): its value is the layer. */
const PT_ERROR: unique symbol = Symbol.for("pt.error");

/** The one error class of `@pt/safetensors`. Messages start with `safetensors:`. */
export class SafetensorsError extends Error {
  /** The `@pt/*` error brand (`Symbol.for("pt.error")` → `"safetensors"`), what `isPtError` checks. */
  declare readonly [PT_ERROR]: "safetensors";
  static {
    Object.defineProperty(SafetensorsError.prototype, PT_ERROR, { value: "safetensors" });
  }
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
