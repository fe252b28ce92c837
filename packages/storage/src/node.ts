/** Node-only adapters: a ByteSource over a file. */
import { closeSync, fstatSync, openSync, read, readSync } from "node:fs";
import { type ByteSource, checkRead } from "./byte-source.js";
import { StorageRangeError, StorageReadError } from "./errors.js";

/** Buffers up to this size are kept for the next `readChunks` of the same source. */
const SPARE_LIMIT = 16 << 20;

/** A ByteSource over an open file descriptor; reads are positional (`fs.readSync`). */
export class FileSource implements ByteSource {
  readonly byteLength: number;
  private fd: number | null;
  /** The two buffers of the last finished `readChunks`, reused by the next one. */
  private spare: Uint8Array[] | null = null;

  /** Wrap an open file descriptor (closed by `close()` unless `ownsFd` is false). */
  constructor(
    fd: number,
    private readonly ownsFd = true,
  ) {
    this.fd = fd;
    this.byteLength = fstatSync(fd).size;
  }

  private checkRange(offset: number, length: number): number {
    if (this.fd === null) throw new StorageReadError("file source is closed");
    checkRead(offset, length, this.byteLength, "file");
    return this.fd;
  }

  readSync(offset: number, length: number): Uint8Array {
    const fd = this.checkRange(offset, length);
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, out, done, Math.min(length - done, 0x40000000), offset + done);
      if (n === 0) {
        throw new StorageReadError(`file ended after ${done} of ${length} bytes at offset ${offset}`, {
          offset,
          length,
        });
      }
      done += n;
    }
    return out;
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    try {
      return Promise.resolve(this.readSync(offset, length));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Stream a range through two reused buffers of at most `chunkSize` bytes: while `visit` works
   * on one chunk, the next is being read on libuv's thread pool (asynchronous `fs.read`), so a
   * consumer that checksums or writes what it gets costs about max(read, its own work) rather
   * than their sum, and no memory of the range's size is allocated (nor faulted in).
   */
  async readChunks(
    offset: number,
    length: number,
    chunkSize: number,
    visit: (chunk: Uint8Array) => void | Promise<void>,
  ): Promise<void> {
    const fd = this.checkRange(offset, length);
    if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0)
      throw new StorageRangeError(`chunk size must be a positive integer, not ${chunkSize}`, { chunkSize });
    if (length === 0) return;
    const size = Math.min(chunkSize, length);
    // the previous stream's buffers when big enough (hashing or copying a file of hundreds of
    // storages would otherwise allocate, fault in and collect two buffers per storage)
    const spare = this.spare;
    this.spare = null;
    const buffers =
      spare !== null && (spare[0] as Uint8Array).length >= size
        ? spare
        : [new Uint8Array(size), new Uint8Array(size)];
    const readChunk = (k: number, at: number): Promise<Uint8Array> => {
      const n = Math.min(size, length - at);
      const out = (buffers[k & 1] as Uint8Array).subarray(0, n);
      return new Promise((resolve, reject) => {
        let done = 0;
        const step = (): void => {
          read(fd, out, done, n - done, offset + at + done, (err, got) => {
            if (err) {
              reject(
                new StorageReadError(
                  `reading ${n} bytes at offset ${offset + at} failed: ${err.message}`,
                  { offset: offset + at, length: n },
                  err,
                ),
              );
              return;
            }
            if (got === 0) {
              reject(
                new StorageReadError(`file ended after ${at + done} of ${length} bytes at offset ${offset}`, {
                  offset,
                  length,
                }),
              );
              return;
            }
            done += got;
            if (done < n) step();
            else resolve(out);
          });
        };
        step();
      });
    };
    let pending: Promise<Uint8Array> | null = readChunk(0, 0);
    try {
      for (let k = 0, at = 0; at < length; k++) {
        const chunk: Uint8Array = await (pending as Promise<Uint8Array>);
        pending = null;
        const next = at + chunk.length;
        if (next < length) {
          pending = readChunk(k + 1, next);
          pending.catch(() => undefined); // awaited next turn, or settled below after a failure
        }
        await visit(chunk);
        at = next;
      }
    } finally {
      // never leave a read writing into a buffer after returning (or throwing)
      if (pending) await pending.catch(() => undefined);
      if ((buffers[0] as Uint8Array).length <= SPARE_LIMIT) this.spare = buffers;
    }
  }

  /** `size:mtimeMs` of the file now. */
  fingerprint(): string {
    if (this.fd === null) throw new StorageReadError("file source is closed");
    const st = fstatSync(this.fd);
    return `${st.size}:${st.mtimeMs}`;
  }

  close(): void {
    if (this.fd !== null && this.ownsFd) closeSync(this.fd);
    this.fd = null;
    this.spare = null;
  }
}

/** Open `path` read-only as a FileSource. Call `close()` when done. */
export function openFileSource(path: string): FileSource {
  return new FileSource(openSync(path, "r"));
}
