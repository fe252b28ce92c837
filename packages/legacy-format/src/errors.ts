import { errorGuard, PtError } from "@pt/errors";

/**
 * Typed errors of `@pt/legacy-format`. Every error is a `LegacyFormatError` with a string `code`
 * and structured fields: `offset` (byte offset in the file), `record` (which part of the stream:
 * a pickle, a storage record or a tar member) and `key` (a storage key) where they apply.
 * Messages start with `legacy:` and carry the numbers.
 */

/** The kinds of failure, one subclass each. */
export type LegacyErrorCode =
  | "Truncated"
  | "BadMagic"
  | "BadProtocolVersion"
  | "BadSysInfo"
  | "Pickle"
  | "Storage"
  | "Limit"
  | "Tar"
  | "UnsafeTarMember"
  | "Save";

/** Which part of a legacy stream or tar file an error concerns. */
export type LegacyRecord =
  | "magic"
  | "protocol"
  | "sys_info"
  | "object"
  | "keys"
  | "storage"
  | "tar"
  | "tar:sys_info"
  | "tar:storages"
  | "tar:tensors"
  | "tar:pickle";

/** Structured fields of every legacy error. */
export interface LegacyErrorFields {
  /** Byte offset in the file where the failing record (or value) starts, when known. */
  readonly offset?: number | undefined;
  /** The pickle / record / tar member concerned. */
  readonly record?: LegacyRecord | undefined;
  /** The storage key concerned. */
  readonly key?: string | undefined;
  readonly cause?: unknown;
}

/** Base class of every error thrown by `@pt/legacy-format`. Messages start with `legacy:`. */
export class LegacyFormatError extends PtError<"legacy", LegacyErrorCode> {
  /** The pickle / record / tar member concerned. */
  declare readonly record: LegacyRecord | undefined;
  /** The storage key concerned. */
  readonly key: string | undefined;
  constructor(code: LegacyErrorCode, message: string, fields: LegacyErrorFields = {}) {
    super("legacy", code, message, fields);
    this.key = fields.key;
  }
}

/** The file ends inside a pickle, a storage header or a storage's bytes. */
export class LegacyTruncatedError extends LegacyFormatError {
  constructor(message: string, fields: LegacyErrorFields) {
    super("Truncated", message, fields);
  }
}

/** The first pickle is not torch's magic number. */
export class LegacyMagicError extends LegacyFormatError {
  constructor(message: string, fields: LegacyErrorFields = {}) {
    super("BadMagic", message, { record: "magic", ...fields });
  }
}

/** The second pickle is not protocol version 1001. */
export class LegacyProtocolVersionError extends LegacyFormatError {
  constructor(message: string, fields: LegacyErrorFields = {}) {
    super("BadProtocolVersion", message, { record: "protocol", ...fields });
  }
}

/** `sys_info` is malformed or asks for type sizes / byte order that cannot be honoured. */
export class LegacySysInfoError extends LegacyFormatError {
  constructor(message: string, fields: LegacyErrorFields = {}) {
    super("BadSysInfo", message, fields);
  }
}

/** A pickle of the stream failed (the pickle error is the `cause`). */
export class LegacyPickleError extends LegacyFormatError {
  constructor(message: string, fields: LegacyErrorFields) {
    super("Pickle", message, fields);
  }
}

/** A storage record or persistent id is inconsistent (count vs numel, unknown key, duplicates…). */
export class LegacyStorageError extends LegacyFormatError {
  constructor(message: string, fields: LegacyErrorFields) {
    super("Storage", message, fields);
  }
}

/** A configured limit was exceeded. */
export class LegacyLimitError extends LegacyFormatError {
  constructor(
    readonly limit: string,
    readonly value: number,
    readonly max: number,
    fields: LegacyErrorFields = {},
  ) {
    super("Limit", `${limit} exceeded: ${value} > ${max}`, fields);
  }
}

/** The tar container is malformed (bad header, checksum, missing member…). */
export class TarFormatError extends LegacyFormatError {
  constructor(message: string, fields: LegacyErrorFields = {}) {
    super("Tar", message, { record: "tar", ...fields });
  }
}

/** A tar member that must never be followed: links, devices, FIFOs, path traversal names. */
export class UnsafeTarMemberError extends LegacyFormatError {
  constructor(
    readonly member: string,
    readonly memberType: string,
    message: string,
    fields: LegacyErrorFields = {},
  ) {
    super("UnsafeTarMember", message, { record: "tar", ...fields });
  }
}

/** A value cannot be saved in the legacy format. */
export class LegacySaveError extends LegacyFormatError {
  constructor(message: string, fields: LegacyErrorFields = {}) {
    super("Save", message, fields);
  }
}

/** True when `e` is a LegacyFormatError (optionally of the given code). */
export const isLegacyError = errorGuard(LegacyFormatError);
