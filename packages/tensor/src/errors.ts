import { errorGuard, layerError } from "@pt/errors";

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

/**
 * Base class of every error thrown by `@pt/tensor`. Messages start with `tensor:`; for view ops
 * the rest of the message is torch's own message for the same failure.
 */
export class TensorError extends layerError<"tensor", TensorErrorCode>("tensor") {
  override name = "TensorError";
  /** The message without the `tensor: ` prefix (equal to torch's message for view-op errors). */
  get torchMessage(): string {
    return this.message.slice("tensor: ".length);
  }
}

/** True when `e` is a TensorError (optionally of the given code). */
export const isTensorError = errorGuard(TensorError);
