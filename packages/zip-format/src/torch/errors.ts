import { errorGuard } from "@pt/errors";
import { ZipError, type ZipErrorDetails } from "../zip/errors.js";

/** Codes of the torch level of the zip format (the container's are `ZipErrorCode`). */
export type ZipTorchErrorCode =
  /** A TorchScript archive, refused ({@link TorchScriptArchiveError}). */
  | "TorchScript"
  /** No `data.pkl` under the archive prefix, or a TorchScript v1 `model.json` that cannot be read. */
  | "NoDataPkl"
  /** A `.format_version` / `version` record this reader does not accept. */
  | "VersionUnsupported"
  /** A `byteorder` record other than `little` / `big`. */
  | "ByteorderInvalid"
  /** A persistent id names a storage record that is not in the archive. */
  | "StorageNotFound"
  /** A storage record's size does not match its element count × element size, or a key is declared again with another size. */
  | "StorageSizeMismatch"
  /** A persistent id (or `model.json` tensor entry) that is not a storage torch writes, or a key declared again with another dtype. */
  | "PersistentIdInvalid"
  /** `data.pkl` failed to load (the pickle layer's error is the `cause`). */
  | "DataPklInvalid"
  /** A value that cannot be saved. */
  | "SaveInvalid"
  /** A `.pt2` archive that is not one, or whose configs are malformed. */
  | "Pt2Invalid";

/**
 * An error of the torch level (`loadZip`/`saveZip`): the archive is not a torch checkpoint this
 * reader accepts, or a value cannot be saved. Extends {@link ZipError} (`code`, `record`, `offset`);
 * `key` names the storage concerned; `torchMessage` is PyTorch's own text where torch raises the
 * same error (e.g. two dtypes over one storage).
 */
export class ZipTorchError extends ZipError<ZipTorchErrorCode> {
  readonly key: string | undefined;
  readonly torchMessage: string | undefined;
  constructor(
    code: ZipTorchErrorCode,
    message: string,
    details: ZipErrorDetails & { readonly key?: string; readonly torchMessage?: string } = {},
  ) {
    super(code, message, details);
    this.key = details.key;
    this.torchMessage = details.torchMessage;
  }
}

/** The archive is a TorchScript (`torch.jit.save`) archive and was refused. */
export class TorchScriptArchiveError extends ZipTorchError {
  constructor(
    message: string,
    /** The records that identify it (`constants.pkl`, `code/…`, `model.json`). */
    readonly markers: readonly string[],
  ) {
    super("TorchScript", message, markers[0] === undefined ? {} : { record: markers[0] });
  }
}

/** Type guard: `e` is a {@link ZipTorchError}, optionally with the given torch-level code. */
export const isZipTorchError = errorGuard(ZipTorchError);
