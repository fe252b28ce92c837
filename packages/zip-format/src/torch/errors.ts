import { ZipError, type ZipErrorCode, type ZipErrorDetails } from "../zip/errors.js";

/** Codes of the torch level of the zip format. */
export type ZipTorchErrorCode = Extract<
  ZipErrorCode,
  | "TORCHSCRIPT"
  | "NO_DATA_PKL"
  | "VERSION_UNSUPPORTED"
  | "BYTEORDER_INVALID"
  | "STORAGE_NOT_FOUND"
  | "STORAGE_SIZE_MISMATCH"
  | "PERSISTENT_ID_INVALID"
  | "DATA_PKL_INVALID"
  | "SAVE_INVALID"
  | "PT2_INVALID"
>;

/**
 * An error of the torch level (`loadZip`/`saveZip`): the archive is not a torch checkpoint this
 * reader accepts, or a value cannot be saved. Extends {@link ZipError} (`code`, `record`, `offset`);
 * `key` names the storage concerned; `torchMessage` is PyTorch's own text where torch raises the
 * same error (e.g. two dtypes over one storage).
 */
export class ZipTorchError extends ZipError {
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
    super("TORCHSCRIPT", message, markers[0] === undefined ? {} : { record: markers[0] });
  }
}
