import { errorGuard, layerError } from "@pt/errors";

export { isPtError, PtError, ptErrorLayer } from "@pt/errors";

/** Kinds of storage-layer failure, one per error subclass. */
export type StorageErrorCode =
  | "UnknownDType"
  | "OutOfRange"
  | "NotLoaded"
  | "SizeMismatch"
  | "ReadFailed"
  | "InvalidArgument";

/** Base class of every error thrown by `@pt/storage`. Messages start with `storage:`. */
export class StorageError extends layerError<"storage", StorageErrorCode>("storage") {
  override name = "StorageError";
}

/** A dtype or storage class name that is not in the table. */
export class UnknownDTypeError extends StorageError {
  override name = "UnknownDTypeError";
  constructor(
    readonly dtypeName: string,
    kind = "dtype",
  ) {
    super("UnknownDType", `unknown ${kind} '${dtypeName}'`, { dtypeName, kind });
  }
}

/** A byte or element range outside a storage or source. */
export class StorageRangeError extends StorageError {
  override name = "StorageRangeError";
  constructor(message: string, details: Readonly<Record<string, unknown>> = {}) {
    super("OutOfRange", message, details);
  }
}

/** Bytes of a lazy storage were needed synchronously before `load()` and the source has no `readSync`. */
export class StorageNotLoadedError extends StorageError {
  override name = "StorageNotLoadedError";
  constructor(
    readonly nbytes: number,
    override readonly offset: number,
  ) {
    super(
      "NotLoaded",
      `lazy storage of ${nbytes} bytes at source offset ${offset} is not loaded and its source has no readSync; await storage.load() first`,
      { nbytes, offset },
    );
  }
}

/** A byte count that does not fit the element size, or a buffer of the wrong length. */
export class StorageSizeError extends StorageError {
  override name = "StorageSizeError";
  constructor(message: string, details: Readonly<Record<string, unknown>> = {}, cause?: unknown) {
    super("SizeMismatch", message, details, cause === undefined ? undefined : { cause });
  }
}

/** The byte source failed or returned the wrong number of bytes. */
export class StorageReadError extends StorageError {
  override name = "StorageReadError";
  constructor(message: string, details: Readonly<Record<string, unknown>> = {}, cause?: unknown) {
    super("ReadFailed", message, details, cause === undefined ? undefined : { cause });
  }
}

/** True when `e` is a StorageError (optionally of the given code). */
export const isStorageError = errorGuard(StorageError);
