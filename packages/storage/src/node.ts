/** Node-only adapters: a ByteSource over a file. */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { type ByteSource, checkRead } from "./byte-source.js";
import { StorageReadError } from "./errors.js";

/** A ByteSource over an open file descriptor; reads are positional (`fs.readSync`). */
export class FileSource implements ByteSource {
  readonly byteLength: number;
  private fd: number | null;

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

  /** `size:mtimeMs` of the file now. */
  fingerprint(): string {
    if (this.fd === null) throw new StorageReadError("file source is closed");
    const st = fstatSync(this.fd);
    return `${st.size}:${st.mtimeMs}`;
  }

  close(): void {
    if (this.fd !== null && this.ownsFd) closeSync(this.fd);
    this.fd = null;
  }
}

/** Open `path` read-only as a FileSource. Call `close()` when done. */
export function openFileSource(path: string): FileSource {
  return new FileSource(openSync(path, "r"));
}
