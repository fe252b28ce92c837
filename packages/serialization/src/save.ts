import { saveLegacy } from "@pt/legacy-format";
import { type Crc32Function, MemorySink, saveZip, type ZipFlavor, type ZipSink } from "@pt/zip-format";
import { SerializationError } from "./errors.js";

/** Options of `save`, `saveTo` and `saveFile`. */
export interface SaveOptions {
  /** `"zip"` (default, torch ≥ 1.6) or `"legacy"` (`_use_new_zipfile_serialization=False`, written by `@pt/legacy-format`: `flavor` and `prefix` do not apply). */
  readonly format?: "zip" | "legacy";
  /** Which torch's zip layout to reproduce (default `"2.7"`, the newest): see `ZipFlavor`. */
  readonly flavor?: ZipFlavor;
  /** Archive prefix (default `"archive"`, torch's name for file objects; `saveFile` uses the file name). */
  readonly prefix?: string;
  /** Pickle protocol of `data.pkl` (torch.save's `pickle_protocol`, default 2; zip format). */
  readonly pickleProtocol?: number;
  /** CRC-32 implementation for zip records (default: the portable one; `saveFile` uses Node's `zlib.crc32`). */
  readonly crc32?: Crc32Function;
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
    await saveZip(value, sink as ZipSink, {
      flavor: options.flavor ?? "2.7",
      ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
      ...(options.crc32 ? { crc32: options.crc32 } : {}),
      ...(options.pickleProtocol !== undefined ? { pickleProtocol: options.pickleProtocol } : {}),
    });
    return;
  }
  if (format === "legacy") {
    await saveLegacy(value, sink);
    return;
  }
  throw new SerializationError("INVALID_OPTION", `unknown format ${JSON.stringify(format)} (zip or legacy)`);
}

/** Save `value` into one `Uint8Array` (small checkpoints; use `saveTo`/`saveFile` for large ones). */
export async function save(value: unknown, options: SaveOptions = {}): Promise<Uint8Array> {
  const sink = new MemorySink();
  await saveTo(value, sink, options);
  return sink.bytes();
}
