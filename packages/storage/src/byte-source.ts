import { StorageRangeError } from "./errors.js";

/**
 * The one seam every reader reads through: a random-access source of bytes.
 * A file of any size (beyond 4 GiB included) is addressed with plain numbers (< 2^53).
 */
export interface ByteSource {
  /** Total size in bytes. */
  readonly byteLength: number;
  /** Read `length` bytes at `offset`. Must return exactly that many bytes or throw. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Synchronous read, where the source supports it (in-memory buffers, Node file descriptors). */
  readSync?(offset: number, length: number): Uint8Array;
  /**
   * Stream `length` bytes at `offset` to `visit`, in order, in chunks of at most `chunkSize`
   * bytes, through a few reused buffers, with the next read in flight while `visit` runs. A chunk's
   * bytes are valid only until `visit` returns (or the promise it returns settles): copy what you
   * keep. Optional: for sources that can read ahead without holding the whole range in memory
   * (files); `Storage.readChunks` falls back to `read` elsewhere.
   */
  readChunks?(
    offset: number,
    length: number,
    chunkSize: number,
    visit: (chunk: Uint8Array) => void | Promise<void>,
  ): Promise<void>;
  /**
   * An identity check for lazy readers: a value that changes when the underlying data changes
   * (for files: size + mtime). Optional.
   */
  fingerprint?(): string | Promise<string>;
  /** Release resources (file handles). Optional. */
  close?(): void | Promise<void>;
}

/** A ByteSource over bytes already in memory (zero-copy: `read` returns subarrays). */
/**
 * Check a read of `length` bytes at `offset` of a source of `byteLength` bytes: both safe
 * non-negative integers and the end within the source, else a `StorageRangeError` naming the
 * source (`what`: "buffer", "file at URL", …). Every `ByteSource` here checks its reads with it.
 */
export function checkRead(offset: number, length: number, byteLength: number, what: string): void {
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset < 0 ||
    length < 0 ||
    offset + length > byteLength
  ) {
    throw new StorageRangeError(
      `read of ${length} bytes at offset ${offset} is outside the ${byteLength}-byte ${what}`,
      { offset, length, byteLength },
    );
  }
}

/** The bytes of `parts`, one after another, in one new array (what the in-memory savers return). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

export class BufferSource implements ByteSource {
  readonly bytes: Uint8Array;
  constructor(data: Uint8Array | ArrayBuffer) {
    this.bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  }
  get byteLength(): number {
    return this.bytes.byteLength;
  }
  readSync(offset: number, length: number): Uint8Array {
    checkRead(offset, length, this.bytes.byteLength, "buffer");
    return this.bytes.subarray(offset, offset + length);
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    try {
      return Promise.resolve(this.readSync(offset, length));
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

/** A ByteSource over a Blob / File (browsers, Node 20). */
export class BlobSource implements ByteSource {
  constructor(private readonly blob: Blob) {}
  get byteLength(): number {
    return this.blob.size;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRead(offset, length, this.blob.size, "blob");
    return new Uint8Array(await this.blob.slice(offset, offset + length).arrayBuffer());
  }
}
