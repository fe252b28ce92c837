import { saveLegacy } from "@pt/legacy-format";
import {
  type Crc32Function,
  MemorySink,
  saveZip,
  type ZipFlavor,
  type ZipFormatInfo,
  type ZipSink,
  zipSaveOptionsLike,
} from "@pt/zip-format";
import { SerializationError } from "./errors.js";

/** Options of `save`, `saveTo` and `saveFile`. */
export interface SaveOptions {
  /** `"zip"` (default, torch ≥ 1.6) or `"legacy"` (`_use_new_zipfile_serialization=False`, written by `@pt/legacy-format`: `prefix` does not apply). */
  readonly format?: "zip" | "legacy";
  /**
   * Which torch to reproduce (default `"2.7"`, the newest): the zip layout (see `ZipFlavor`), and for
   * legacy files the pickles of torch 1.13 (`"1.13"`) or of torch 2.x (any other: CSC/BSR/BSC
   * tensors, tensors' Python attributes kept, sparse COO with its coalesced flag).
   */
  readonly flavor?: ZipFlavor;
  /** Archive prefix (default `"archive"`, torch's name for file objects; `saveFile` uses the file name). */
  readonly prefix?: string;
  /** Pickle protocol of `data.pkl` (torch.save's `pickle_protocol`, default 2; zip format). */
  readonly pickleProtocol?: number;
  /** CRC-32 implementation for zip records (default: the portable one; `saveFile` uses Node's `zlib.crc32`). */
  readonly crc32?: Crc32Function;
  /** Zip: write real CRC-32s (default true; false: torch's `config.save.compute_crc32 = False`, every CRC 0). */
  readonly computeCrc32?: boolean;
  /** Zip: torch.save's `_disable_byteorder_record=True` (torch's writer then adds `byteorder` last). */
  readonly disableByteorderRecord?: boolean;
  /** Zip, flavor 2.7: torch's `config.save.storage_alignment` (default 64). */
  readonly storageAlignment?: number;
  /** Zip: as under torch's `torch.serialization.skip_data()`: storage records are zeros with CRC 0. */
  readonly skipData?: boolean;
  /**
   * "Like the input": an opened checkpoint (`open`/`openFile`), whose layout the save reproduces
   * when `format` is the checkpoint's own: zip flavor, CRCs off, byteorder record last, storage
   * alignment (`zipSaveOptionsLike`); a legacy file keeps torch's legacy form. Options given
   * explicitly win. Ignored when the formats differ.
   */
  readonly like?: { readonly format: string; readonly zip?: ZipFormatInfo | undefined };
  /** Legacy: called with a warning when torch will not load the file (default `console.warn`). */
  readonly onWarning?: (message: string) => void;
}

/** Where `saveTo` streams bytes: `write` is awaited before the next chunk; `close` once at the end. */
export interface Sink {
  write(chunk: Uint8Array): void | Promise<void>;
  close?(): void | Promise<void>;
}

/**
 * Save `value` as `torch.save` does, streaming to `sink` (storages chunk by chunk: a multi-GB state
 * dict is never held in one buffer). Byte-identical to torch for the same value and options.
 */
export async function saveTo(value: unknown, sink: Sink, options: SaveOptions = {}): Promise<void> {
  const format = options.format ?? "zip";
  if (format === "zip") {
    const like =
      options.like?.format === "zip" && options.like.zip ? zipSaveOptionsLike(options.like.zip) : null;
    const o = { ...like, ...options };
    await saveZip(value, sink as ZipSink, {
      flavor: o.flavor ?? "2.7",
      ...(o.prefix !== undefined ? { prefix: o.prefix } : {}),
      ...(o.crc32 ? { crc32: o.crc32 } : {}),
      ...(o.pickleProtocol !== undefined ? { pickleProtocol: o.pickleProtocol } : {}),
      ...(o.computeCrc32 !== undefined ? { computeCrc32: o.computeCrc32 } : {}),
      ...(o.disableByteorderRecord !== undefined ? { disableByteorderRecord: o.disableByteorderRecord } : {}),
      ...(o.storageAlignment !== undefined ? { storageAlignment: o.storageAlignment } : {}),
      ...(o.skipData !== undefined ? { skipData: o.skipData } : {}),
    });
    return;
  }
  if (format === "legacy") {
    await saveLegacy(value, sink, {
      flavor: options.flavor === "1.13" ? "1.13" : "2.x",
      ...(options.onWarning ? { onWarning: options.onWarning } : {}),
    });
    return;
  }
  throw new SerializationError("InvalidOption", `unknown format ${JSON.stringify(format)} (zip or legacy)`);
}

/** Save `value` into one `Uint8Array` (small checkpoints; use `saveTo`/`saveFile` for large ones). */
export async function save(value: unknown, options: SaveOptions = {}): Promise<Uint8Array> {
  const sink = new MemorySink();
  await saveTo(value, sink, options);
  return sink.bytes();
}
