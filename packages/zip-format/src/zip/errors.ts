import { errorGuard, PtError } from "@pt/errors";

/** Error codes of the zip container layer (the torch level has its own: `ZipTorchErrorCode`). */
export type ZipErrorCode =
  | "EocdNotFound"
  | "EocdAmbiguous"
  | "EocdInconsistent"
  | "Zip64Invalid"
  | "MultiDisk"
  | "CentralDirectoryOutOfBounds"
  | "CentralDirectoryInvalid"
  | "EntryOutOfBounds"
  | "LocalHeaderMismatch"
  | "OverlappingEntries"
  | "DuplicateName"
  | "Encrypted"
  | "UnsupportedMethod"
  | "CrcMismatch"
  | "SizeMismatch"
  | "InflateLimit"
  | "InflateFailed"
  | "LimitExceeded"
  | "NoPrefix"
  | "EmptyArchive"
  | "RecordNotFound"
  | "NotStored"
  | "SyncUnsupported"
  | "WriterState"
  | "WriterInvalid";

/** Structured fields carried by every {@link ZipError}. */
export interface ZipErrorDetails {
  /** Record name (under the archive prefix) or full entry name, when one is concerned. */
  readonly record?: string;
  /** Byte offset in the file where the problem was found, when known. */
  readonly offset?: number;
  /** The underlying error, if any. */
  readonly cause?: unknown;
}

/**
 * Base class of every error `@pt/zip-format` throws. Messages start with `zip:`. `Code` is the
 * container layer's {@link ZipErrorCode} here; the torch level (`ZipTorchError`) extends this class
 * with codes of its own.
 */
export class ZipError<Code extends string = ZipErrorCode> extends PtError<"zip", Code> {
  constructor(code: Code, message: string, details: ZipErrorDetails = {}) {
    super("zip", code, message, details);
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

/**
 * Type guard: `e` is a {@link ZipError} of either level (container or torch), optionally with the
 * given container code (torch-level codes: `isZipTorchError`).
 */
export const isZipError: (e: unknown, code?: ZipErrorCode) => e is ZipError<string> =
  errorGuard<ZipError<string>>(ZipError);
