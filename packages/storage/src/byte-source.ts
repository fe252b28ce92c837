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
export class BufferSource implements ByteSource {
  readonly bytes: Uint8Array;
  constructor(data: Uint8Array | ArrayBuffer) {
    this.bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  }
  get byteLength(): number {
    return this.bytes.byteLength;
  }
  readSync(offset: number, length: number): Uint8Array {
    if (
      !Number.isInteger(offset) ||
      !Number.isInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > this.bytes.byteLength
    ) {
      throw new StorageRangeError(
        `read of ${length} bytes at offset ${offset} is outside the ${this.bytes.byteLength}-byte buffer`,
        { offset, length, byteLength: this.bytes.byteLength },
      );
    }
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
    if (offset < 0 || length < 0 || offset + length > this.blob.size) {
      throw new StorageRangeError(
        `read of ${length} bytes at offset ${offset} is outside the ${this.blob.size}-byte blob`,
        { offset, length, byteLength: this.blob.size },
      );
    }
    return new Uint8Array(await this.blob.slice(offset, offset + length).arrayBuffer());
  }
}
