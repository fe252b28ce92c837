/** Node adapters: load, open and save files. */
import { randomBytes } from "node:crypto";
import { constants as fsConstants } from "node:fs";
import { type FileHandle, open as fsOpen, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { ByteSink } from "@pt/storage";
import { FileSource } from "@pt/storage/node";
import { archivePrefix, type Crc32Function, ZipReader } from "@pt/zip-format";
import { nodeCrc32 } from "@pt/zip-format/node";
import { SerializationError } from "./errors.js";
import { type Checkpoint, type LoadOptions, load, open } from "./index.js";
import { type SaveOptions, saveTo } from "./save.js";

/** Files up to this size are read into one buffer by `loadFile` (larger ones storage by storage). */
const ONE_BUFFER_LIMIT = 2 ** 31;

/**
 * Load a checkpoint file: read into one buffer of the file's size, then storages are zero-copy
 * views of it (see `load`). Zip files of 4 MiB or more are read in 4 MiB chunks, and the CRC-32
 * of each big stored record is computed (Node's `zlib.crc32`) on the chunks already read while
 * the next ones are being read, so checking CRCs costs little more than reading. Files over 2 GiB
 * are read storage by storage through a file descriptor instead (each storage in its own buffer),
 * so any size loads.
 */
export async function loadFile(path: string, options: LoadOptions = {}): Promise<unknown> {
  const fh = await fsOpen(path, "r");
  try {
    const size = (await fh.stat()).size;
    if (size > ONE_BUFFER_LIMIT) {
      const src = new FileSource(fh.fd, false);
      return await load(src, { crc32: nodeCrc32, ...options, lazy: false });
    }
    const plan =
      size >= OVERLAP_MIN_SIZE && options.checkCrc !== false && options.crc32 === undefined
        ? await crcPlan(fh, size)
        : null;
    const buf = new Uint8Array(size);
    const crc32 = plan === null ? nodeCrc32 : precomputedCrc32(buf, plan);
    await readInto(fh, buf, path, plan);
    return await load(buf, { crc32, ...options });
  } finally {
    await fh.close();
  }
}

/** Files from this size on are read in chunks, CRC-32s computed while the next chunks are read. */
const OVERLAP_MIN_SIZE = 4 << 20;
/** Chunk of the overlapped read. */
const READ_CHUNK = 4 << 20;
/** Reads in flight at once. */
const IN_FLIGHT = 2;
/** Smaller records are checked when loaded, as usual (their CRC is cheap). */
const PLAN_MIN_RECORD = 64 << 10;
/** Archives with more entries than this are not planned (one local-header read per entry). */
const PLAN_MAX_ENTRIES = 4096;

/** A stored record's data range, its CRC-32 accumulated as its bytes arrive. */
interface PlannedRecord {
  readonly offset: number;
  readonly length: number;
  crc: number;
}

/**
 * The stored records' data ranges of a zip file, from its central directory and local headers
 * (a few small reads); null when the file is not a plain zip (the whole load then reports why).
 */
async function crcPlan(fh: FileHandle, size: number): Promise<PlannedRecord[] | null> {
  const src = new FileSource(fh.fd, false);
  try {
    const reader = await ZipReader.open(src);
    if (reader.entries.length > PLAN_MAX_ENTRIES) return null;
    const out: PlannedRecord[] = [];
    for (const e of reader.records.values()) {
      if (e.method !== 0 || e.crc32 === 0 || e.compressedSize < PLAN_MIN_RECORD) continue;
      const r = await reader.dataRange(e.name);
      if (r.offset + r.length > size) return null;
      out.push({ offset: r.offset, length: r.length, crc: 0 });
    }
    out.sort((a, b) => a.offset - b.offset);
    return out.length > 0 ? out : null;
  } catch {
    return null;
  }
}

/**
 * A CRC-32 function that answers from `plan` for exactly a planned record's bytes in `buf` (their
 * CRC was computed over those very bytes as they were read), and computes every other one.
 */
function precomputedCrc32(buf: Uint8Array, plan: readonly PlannedRecord[]): Crc32Function {
  const byOffset = new Map(plan.map((r) => [r.offset, r]));
  return (data, crc = 0) => {
    if (crc === 0 && data.buffer === buf.buffer) {
      const r = byOffset.get(data.byteOffset - buf.byteOffset);
      if (r !== undefined && r.length === data.length) return r.crc;
    }
    return nodeCrc32(data, crc);
  };
}

/**
 * Read the whole file into `buf`. With a plan: in chunks, a few reads in flight while the CRC-32
 * of every arrived chunk's part of each planned record is accumulated (in file order), so the
 * checksum costs little more than the read itself.
 */
async function readInto(
  fh: FileHandle,
  buf: Uint8Array,
  path: string,
  plan: PlannedRecord[] | null,
): Promise<void> {
  const size = buf.length;
  const chunk = plan === null ? 1 << 30 : READ_CHUNK;
  const readAt = async (at: number): Promise<void> => {
    const end = Math.min(size, at + chunk);
    let done = at;
    while (done < end) {
      const { bytesRead } = await fh.read(buf, done, end - done, done);
      if (bytesRead === 0)
        throw new SerializationError(
          "InvalidSource",
          `${path} ended after ${done} of ${size} bytes (it shrank while being read)`,
          { offset: done },
        );
      done += bytesRead;
    }
  };
  if (plan === null) {
    for (let at = 0; at < size; at += chunk) await readAt(at);
    return;
  }
  const pending: Array<Promise<void>> = [];
  let next = 0;
  const issue = () => {
    if (next < size) {
      const p = readAt(next);
      p.catch(() => undefined); // awaited below in order; never left unhandled
      pending.push(p);
      next += chunk;
    }
  };
  try {
    for (let k = 0; k < IN_FLIGHT; k++) issue();
    await crcAsRead(buf, chunk, plan, pending, issue);
  } finally {
    await Promise.allSettled(pending); // no read left writing into buf after a failure
  }
}

async function crcAsRead(
  buf: Uint8Array,
  chunk: number,
  plan: PlannedRecord[],
  pending: Array<Promise<void>>,
  issue: () => void,
): Promise<void> {
  const size = buf.length;
  let r = 0;
  for (let at = 0; at < size; at += chunk) {
    await pending.shift();
    issue();
    const end = Math.min(size, at + chunk);
    // CRC of each planned record's part of [at, end)
    while (r < plan.length && (plan[r] as PlannedRecord).offset + (plan[r] as PlannedRecord).length <= at)
      r++;
    for (let k = r; k < plan.length; k++) {
      const rec = plan[k] as PlannedRecord;
      if (rec.offset >= end) break;
      const a = Math.max(at, rec.offset);
      const b = Math.min(end, rec.offset + rec.length);
      if (b > a) rec.crc = nodeCrc32(buf.subarray(a, b), rec.crc);
    }
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
    // assigned, not spread: a spread would read (and so build) the lazily made lists
    return Object.assign(cp, {
      close: async () => {
        src.close();
        await fh.close();
      },
    });
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
class FileSink implements ByteSink {
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
  write(chunk: Uint8Array): void | Promise<void> {
    if (this.used + chunk.length <= BUFFER) {
      // only buffered: no promise (most chunks of a checkpoint of many small tensors)
      this.buf.set(chunk, this.used);
      this.used += chunk.length;
      return;
    }
    return this.writeThrough(chunk);
  }
  private async writeThrough(chunk: Uint8Array): Promise<void> {
    // Nothing buffered: the write starts now, not a microtask later, so that it runs while the
    // caller goes on (the zip writer checksums the next piece meanwhile).
    if (this.used === 0 && chunk.length >= BUFFER) return this.writeFully(chunk);
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

export * from "./node/dir.js";
export * from "./node/scan-paths.js";
export type { Checkpoint, LoadOptions, SaveOptions };
