/** Kinds of tensor-layer failure. */
export type TensorErrorCode =
  | "IndexError"
  | "DimensionError"
  | "ShapeError"
  | "TypeError"
  | "OutOfBounds"
  | "Unsupported"
  | "InvalidArgument"
  | "Pickle";

/** The key of the brand every `@pt/*` error carries (ARCHITECTURE.md, "Errors"): its value is the layer. */
const PT_ERROR: unique symbol = Symbol.for("pt.error");

/**
 * Base class of every error thrown by `@pt/tensor`. Messages start with `tensor:`; for view ops
 * the rest of the message is torch's own message for the same failure.
 */
export class TensorError extends Error {
  /** The `@pt/*` error brand (`Symbol.for("pt.error")` → `"tensor"`), what `isPtError` checks. */
  declare readonly [PT_ERROR]: "tensor";
  static {
    Object.defineProperty(TensorError.prototype, PT_ERROR, { value: "tensor" });
  }
  override name = "TensorError";
  constructor(
    readonly code: TensorErrorCode,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
    options?: { cause?: unknown },
  ) {
    super(`tensor: ${message}`, options);
  }
  /** The message without the `tensor: ` prefix (equal to torch's message for view-op errors). */
  get torchMessage(): string {
    return this.message.slice("tensor: ".length);
  }
}

/** True when `e` is a TensorError (optionally of the given code). */
export function isTensorError(e: unknown, code?: TensorErrorCode): e is TensorError {
  return e instanceof TensorError && (code === undefined || e.code === code);
}
