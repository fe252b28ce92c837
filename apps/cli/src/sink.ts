/**
 * Writing an output file: to a temporary file in the target's folder, renamed over the target
 * once complete (never a torn file), with writes coalesced into 1 MiB blocks, a progress bar,
 * and lazy storages released once written (so converting a file larger than memory holds about
 * one storage at a time).
 */
import { randomBytes } from "node:crypto";
import { constants as fsConstants, statSync } from "node:fs";
import { chmod, type FileHandle, open, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { Storage } from "@pt/storage";
import { fsReason } from "./files.js";
import { CliError } from "./io.js";
import type { Progress } from "./progress.js";

const BLOCK = 1 << 20;
/**
 * Loaded storages are swept (released) at most once per this many bytes written: memory stays
 * within this plus the storage being written, and a file of 50,000 small storages is not swept
 * 50,000 times.
 */
const SWEEP_BYTES = 64 << 20;

/** A sink over an open file handle: small chunks coalesced, big ones written through. */
export class FileSink {
  private buf = new Uint8Array(BLOCK);
  private used = 0;
  /** Bytes accepted so far. */
  written = 0;
  private lastBuffer: ArrayBufferLike | null = null;
  private sweptAt = 0;

  constructor(
    private readonly fh: FileHandle,
    private readonly progress: Progress | null,
    /** Lazy storages to release once the writer has moved past them (see {@link releaseOthers}). */
    private readonly lazyRoots: readonly Storage[],
    private readonly sweepBytes = SWEEP_BYTES,
  ) {}

  private async writeFully(b: Uint8Array): Promise<void> {
    let done = 0;
    while (done < b.length) {
      const { bytesWritten } = await this.fh.write(b, done, b.length - done);
      done += bytesWritten;
    }
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (chunk.buffer !== this.lastBuffer) {
      this.lastBuffer = chunk.buffer;
      if (this.written - this.sweptAt >= this.sweepBytes) {
        this.sweptAt = this.written;
        releaseOthers(this.lazyRoots, chunk.buffer);
      }
    }
    this.written += chunk.length;
    this.progress?.update(this.written);
    if (this.used + chunk.length <= BLOCK) {
      this.buf.set(chunk, this.used);
      this.used += chunk.length;
      return;
    }
    await this.flush();
    if (chunk.length >= BLOCK) await this.writeFully(chunk);
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
}

/**
 * Unload every loaded lazy storage of `roots` except the one whose bytes live in `keep`: the
 * savers write storage after storage, so once a chunk of another buffer arrives, the storages
 * loaded before it are done with (a storage needed again is simply read again).
 */
export function releaseOthers(roots: readonly Storage[], keep: ArrayBufferLike): number {
  let n = 0;
  for (const s of roots) {
    if (!s.isLoaded) continue;
    if (s.bytes.buffer === keep) continue;
    s.unload();
    n++;
  }
  return n;
}

/** The root storages of `storages` that read from a source (the ones worth releasing). */
export function lazyRootsOf(storages: Iterable<Storage>): Storage[] {
  const out = new Set<Storage>();
  for (const s of storages) {
    const r = s.base ?? s;
    if (r.isLazy && !r.isLoaded) out.add(r);
  }
  return [...out];
}

/** Check that `path`'s folder exists and is a folder, naming it when not. */
export function checkOutputFolder(path: string): void {
  const dir = dirname(resolve(path));
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (e) {
    throw new CliError(
      `cannot write ${path}: folder ${dir} ${(e as { code?: string }).code === "ENOENT" ? "does not exist" : `cannot be used (${fsReason(e)})`}`,
    );
  }
  if (!isDir) throw new CliError(`cannot write ${path}: ${dir} is not a folder`, 2, { code: "Io" });
}

/**
 * Write `path` through `body(sink)`: a temporary file next to it, renamed over `path` when the
 * body succeeds (keeping the old file's permissions), removed when it fails.
 */
export async function writeAtomic(
  path: string,
  progress: Progress | null,
  lazyRoots: readonly Storage[],
  body: (sink: FileSink) => Promise<void>,
  sweepBytes = SWEEP_BYTES,
): Promise<number> {
  checkOutputFolder(path);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  let fh: FileHandle;
  try {
    fh = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o666);
  } catch (e) {
    throw new CliError(`cannot write ${path}: ${fsReason(e)}`, 2, { code: "Io" });
  }
  let ok = false;
  let written = 0;
  try {
    const sink = new FileSink(fh, progress, lazyRoots, sweepBytes);
    await body(sink);
    await sink.flush();
    written = sink.written;
    ok = true;
  } finally {
    await fh.close();
    if (!ok) await unlink(tmp).catch(() => undefined);
  }
  try {
    const old = await stat(path).catch(() => null);
    if (old) await chmod(tmp, old.mode & 0o7777).catch(() => undefined);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw new CliError(`cannot write ${path}: ${fsReason(e)}`, 2, { code: "Io" });
  }
  return written;
}
