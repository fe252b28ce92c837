/** Kinds of storage-layer failure, one per error subclass. */
export type StorageErrorCode =
  | "UnknownDType"
  | "OutOfRange"
  | "NotLoaded"
  | "SizeMismatch"
  | "ReadFailed"
  | "InvalidArgument";

/** The key of the brand every `@pt/*` error carries (ARCHITECTURE.md, "Errors"): its value is the layer. */
const PT_ERROR: unique symbol = Symbol.for("pt.error");

/** Base class of every error thrown by `@pt/storage`. Messages start with `storage:`. */
export class StorageError extends Error {
  /** The `@pt/*` error brand (`Symbol.for("pt.error")` → `"storage"`), what `isPtError` checks. */
  declare readonly [PT_ERROR]: "storage";
  static {
    Object.defineProperty(StorageError.prototype, PT_ERROR, { value: "storage" });
  }
  override name = "StorageError";
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
    options?: { cause?: unknown },
  ) {
    super(`storage: ${message}`, options);
  }
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
    readonly offset: number,
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
export function isStorageError(e: unknown, code?: StorageErrorCode): e is StorageError {
  return e instanceof StorageError && (code === undefined || e.code === code);
}

/**
 * The contract every error thrown by a `@pt/*` package meets, whatever its layer: an `Error` with a
 * string `code` (each layer's codes its own) and the brand `Symbol.for("pt.error")` naming the
 * layer (`"pickle"`, `"storage"`, `"zip"`, …; messages start with the same word). The brand is a
 * well-known symbol so that packages that do not depend on each other (`@pt/pickle`,
 * `@pt/storage`) meet it without sharing code.
 */
export interface PtError extends Error {
  readonly code: string;
  readonly [PT_ERROR]: string;
}

/** True when `e` is an error of any `@pt/*` package (optionally of the given layer and code). */
export function isPtError(e: unknown, where: { layer?: string; code?: string } = {}): e is PtError {
  if (typeof e !== "object" || e === null) return false;
  const layer = (e as { [PT_ERROR]?: unknown })[PT_ERROR];
  const code = (e as { code?: unknown }).code;
  return (
    typeof layer === "string" &&
    typeof code === "string" &&
    (where.layer === undefined || layer === where.layer) &&
    (where.code === undefined || code === where.code)
  );
}

/** The layer of a `@pt/*` error (`"pickle"`, `"zip"`, …), or undefined for any other value. */
export function ptErrorLayer(e: unknown): string | undefined {
  return isPtError(e) ? e[PT_ERROR] : undefined;
}
