/** Error codes of the zip layer. */
export type ZipErrorCode =
  | "EOCD_NOT_FOUND"
  | "EOCD_AMBIGUOUS"
  | "EOCD_INCONSISTENT"
  | "ZIP64_INVALID"
  | "MULTI_DISK"
  | "CENTRAL_DIRECTORY_OUT_OF_BOUNDS"
  | "CENTRAL_DIRECTORY_INVALID"
  | "ENTRY_OUT_OF_BOUNDS"
  | "LOCAL_HEADER_MISMATCH"
  | "OVERLAPPING_ENTRIES"
  | "DUPLICATE_NAME"
  | "ENCRYPTED"
  | "UNSUPPORTED_METHOD"
  | "CRC_MISMATCH"
  | "SIZE_MISMATCH"
  | "INFLATE_LIMIT"
  | "INFLATE_FAILED"
  | "LIMIT_EXCEEDED"
  | "NO_PREFIX"
  | "EMPTY_ARCHIVE"
  | "RECORD_NOT_FOUND"
  | "NOT_STORED"
  | "SYNC_UNSUPPORTED"
  | "WRITER_STATE"
  | "WRITER_INVALID"
  // torch level (src/torch)
  | "TORCHSCRIPT"
  | "NO_DATA_PKL"
  | "VERSION_UNSUPPORTED"
  | "BYTEORDER_INVALID"
  | "STORAGE_NOT_FOUND"
  | "STORAGE_SIZE_MISMATCH"
  | "PERSISTENT_ID_INVALID"
  | "DATA_PKL_INVALID"
  | "SAVE_INVALID"
  | "PT2_INVALID";

/** Structured fields carried by every {@link ZipError}. */
export interface ZipErrorDetails {
  /** Record name (under the archive prefix) or full entry name, when one is concerned. */
  readonly record?: string;
  /** Byte offset in the file where the problem was found, when known. */
  readonly offset?: number;
  /** The underlying error, if any. */
  readonly cause?: unknown;
}

/** The key of the brand every `@pt/*` error carries (ARCHITECTURE.md, "Errors"): its value is the layer. */
const PT_ERROR: unique symbol = Symbol.for("pt.error");

/** Base class of every error the zip layer throws. Messages start with `zip:`. */
export class ZipError extends Error {
  /** The `@pt/*` error brand (`Symbol.for("pt.error")` → `"zip"`), what `isPtError` checks. */
  declare readonly [PT_ERROR]: "zip";
  static {
    Object.defineProperty(ZipError.prototype, PT_ERROR, { value: "zip" });
  }
  readonly code: ZipErrorCode;
  readonly record: string | undefined;
  readonly offset: number | undefined;
  constructor(code: ZipErrorCode, message: string, details: ZipErrorDetails = {}) {
    super(`zip: ${message}`, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    this.record = details.record;
    this.offset = details.offset;
  }
}

/** The archive's structure (end records, central directory, local headers) is invalid or inconsistent. */
export class ZipFormatError extends ZipError {}
/** The archive uses a feature this reader refuses: encryption, multi-disk, an unknown compression method. */
export class ZipUnsupportedError extends ZipError {}
/** A record's bytes do not match its CRC-32 or declared size. */
export class ZipIntegrityError extends ZipError {}
/** A safety limit (inflate size/ratio, entry count, central directory size) was exceeded. */
export class ZipLimitError extends ZipError {}
/** A record name asked for is not in the archive. */
export class ZipNotFoundError extends ZipError {}
/** The writer was misused (bad name, size mismatch, write after finish, duplicate record). */
export class ZipWriterError extends ZipError {}

/** Type guard: `e` is a {@link ZipError}, optionally with the given code. */
export function isZipError(e: unknown, code?: ZipErrorCode): e is ZipError {
  return e instanceof ZipError && (code === undefined || e.code === code);
}
