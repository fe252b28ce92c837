/** Node adapters: load, open and save files. */
import { randomBytes } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { open as fsOpen, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { FileSource } from "@pt/storage/node";
import { archivePrefix } from "@pt/zip-format";
import { nodeCrc32 } from "@pt/zip-format/node";
import { SerializationError } from "./errors.js";
import { type Checkpoint, type LoadOptions, load, open } from "./index.js";
import { type SaveOptions, type Sink, saveTo } from "./save.js";

/** Files up to this size are read into one buffer by `loadFile` (larger ones storage by storage). */
const ONE_BUFFER_LIMIT = 2 ** 31;

/**
 * Load a checkpoint file: one read into a buffer of the file's size, then storages are zero-copy
 * views of it (see `load`). Files over 2 GiB are read storage by storage through a file
 * descriptor instead (each storage in its own buffer), so any size loads.
 */
export async function loadFile(path: string, options: LoadOptions = {}): Promise<unknown> {
  const fh = await fsOpen(path, "r");
  try {
    const size = (await fh.stat()).size;
    if (size > ONE_BUFFER_LIMIT) {
      const src = new FileSource(fh.fd, false);
      return await load(src, { crc32: nodeCrc32, ...options, lazy: false });
    }
    const buf = new Uint8Array(size);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await fh.read(buf, done, Math.min(size - done, 1 << 30), done);
      if (bytesRead === 0)
        throw new SerializationError(
          "INVALID_SOURCE",
          `${path} ended after ${done} of ${size} bytes (it shrank while being read)`,
          {
            offset: done,
          },
        );
      done += bytesRead;
    }
    return await load(buf, { crc32: nodeCrc32, ...options });
  } finally {
    await fh.close();
  }
}

/**
 * Open a checkpoint file lazily over a file descriptor: only the central directory and `data.pkl`
 * are read; each storage is read on first access. Call `close()` when done.
 */
export async function openFile(path: string, options: LoadOptions = {}): Promise<Checkpoint> {
  const fh = await fsOpen(path, "r");
  const src = new FileSource(fh.fd, false);
  try {
    const cp = await open(src, { crc32: nodeCrc32, ...options });
    return {
      ...cp,
      close: async () => {
        src.close();
        await fh.close();
      },
    };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/** Options of {@link saveFile}. */
export interface SaveFileOptions extends SaveOptions {
  /** fsync the file (and its folder after the rename) before returning (default `false`). */
  readonly fsync?: boolean;
}

const BUFFER = 1 << 20;

/** A sink writing to a file handle, coalescing small chunks into 1 MiB writes. */
class FileSink implements Sink {
  private buf = new Uint8Array(BUFFER);
  private used = 0;
  constructor(private readonly fh: import("node:fs/promises").FileHandle) {}
  private async writeFully(b: Uint8Array): Promise<void> {
    let done = 0;
    while (done < b.length) {
      const { bytesWritten } = await this.fh.write(b, done, b.length - done);
      done += bytesWritten;
    }
  }
  async write(chunk: Uint8Array): Promise<void> {
    if (this.used + chunk.length <= BUFFER) {
      this.buf.set(chunk, this.used);
      this.used += chunk.length;
      return;
    }
    await this.flush();
    if (chunk.length >= BUFFER) await this.writeFully(chunk);
    else {
      this.buf.set(chunk, 0);
      this.used = chunk.length;
    }
  }
  async flush(): Promise<void> {
    if (this.used > 0) {
      await this.writeFully(this.buf.subarray(0, this.used));
      this.used = 0;
    }
  }
  async close(): Promise<void> {
    await this.flush();
  }
}

/**
 * Save `value` to `path` as `torch.save(value, path)` does (archive prefix: the file name without
 * its last extension). The bytes go to a temporary file in the same folder, which replaces `path`
 * (rename) only once complete: an interrupted or failed save never leaves a torn file and keeps
 * the previous one.
 */
export async function saveFile(value: unknown, path: string, options: SaveFileOptions = {}): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const fh = await fsOpen(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o666);
  let ok = false;
  try {
    const sink = new FileSink(fh);
    await saveTo(value, sink, {
      crc32: nodeCrc32,
      ...options,
      prefix: options.prefix ?? archivePrefix(path),
    });
    await sink.flush();
    if (options.fsync) await fh.sync();
    ok = true;
  } finally {
    await fh.close();
    if (!ok) await unlink(tmp).catch(() => undefined);
  }
  try {
    // keep the target's permissions when replacing it
    const old = await stat(path).catch(() => null);
    if (old) await (await import("node:fs/promises")).chmod(tmp, old.mode & 0o7777).catch(() => undefined);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  if (options.fsync) {
    const d = await fsOpen(dir, "r").catch(() => null);
    if (d) {
      await d.sync().catch(() => undefined);
      await d.close();
    }
  }
}

export type { Checkpoint, LoadOptions, SaveOptions };
