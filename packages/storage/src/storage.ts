import type { ByteSource } from "./byte-source.js";
import { bfloat16ArrayToFloat32, float8ArrayToFloat32, halfArrayToFloat32 } from "./convert.js";
import { type ArrayKind, type DType, dtypes, isFloat8Encoding, laneSize, type TypedArray } from "./dtype.js";
import {
  StorageError,
  StorageNotLoadedError,
  StorageRangeError,
  StorageReadError,
  StorageSizeError,
} from "./errors.js";

/** Byte order of the bytes a storage was created over. */
export type ByteOrder = "little" | "big";

/** Options common to every way of making a storage. */
export interface StorageOptions {
  /** torch device string (`cpu`, `cuda:0`, `meta`…). Default `cpu`. */
  readonly device?: string;
  /**
   * Byte order of the given bytes. Default `little`. Big-endian bytes are converted to
   * little-endian on first access, into a copy (the caller's buffer is never modified).
   */
  readonly byteOrder?: ByteOrder;
  /**
   * Marks a `torch.UntypedStorage` (dtype uint8, counted in bytes). Tensors of any dtype can view
   * an untyped storage (`_rebuild_tensor_v3`). Default: false.
   */
  readonly untyped?: boolean;
}

const ctors: Record<ArrayKind, { new (b: ArrayBuffer, o: number, n: number): TypedArray }> = {
  Float64Array,
  Float32Array,
  Int32Array,
  Int16Array,
  Int8Array,
  Uint8Array,
  Uint16Array,
  Uint32Array,
  BigInt64Array,
  BigUint64Array,
};

/**
 * `bytes` viewed as `dtype`'s typed array (`DType.arrayKind`), zero-copy. `bytes.byteOffset` and
 * `bytes.byteLength` must be multiples of the lane size (the typed array constructor throws
 * otherwise); `Storage.typedAs` realigns first where needed.
 */
export function typedView(bytes: Uint8Array, dtype: DType): TypedArray {
  return new ctors[dtype.arrayKind](
    bytes.buffer as ArrayBuffer,
    bytes.byteOffset,
    bytes.byteLength / laneSize(dtype),
  );
}

/**
 * The elements of little-endian `bytes` as numbers, by the dtype's element encoding: zero-copy
 * for `native` dtypes up to 32 bits and bool (0/1), float16/bfloat16/float8 through the bulk
 * conversions (to float32), int64/uint64 through `Number` (precision beyond 2^53 is lost).
 * `null` for complex and packed dtypes, which have no one number per element. Unaligned bytes
 * are copied first.
 */
export function numberView(bytes: Uint8Array, dtype: DType): ArrayLike<number> | null {
  const enc = dtype.element;
  if (enc === "complex" || enc === "complex-half" || enc === "uint4x2" || enc === "uint2x4") return null;
  const b = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
  const arr = typedView(b.subarray(0, b.byteLength - (b.byteLength % dtype.itemSize)), dtype);
  if (enc === "half-bits") return halfArrayToFloat32(arr as Uint16Array);
  if (enc === "bfloat16-bits") return bfloat16ArrayToFloat32(arr as Uint16Array);
  if (isFloat8Encoding(enc)) return float8ArrayToFloat32(arr as Uint8Array, enc);
  if (arr instanceof BigInt64Array || arr instanceof BigUint64Array) {
    const out = new Float64Array(arr.length);
    for (let i = 0; i < arr.length; i++) out[i] = Number(arr[i]);
    return out;
  }
  return arr as ArrayLike<number>;
}

/**
 * Swap the bytes of every `elementSize`-byte element of `bytes` (1, 2, 4, 8; 16 is not a
 * valid unit: complex128 swaps as two 8-byte lanes, pass the lane size). In place unless
 * `copy` is true. Returns the swapped bytes.
 */
export function swapBytes(bytes: Uint8Array, elementSize: number, copy = false): Uint8Array {
  if (![1, 2, 4, 8].includes(elementSize)) {
    throw new StorageSizeError(`cannot swap bytes in units of ${elementSize}; use 1, 2, 4 or 8`, {
      elementSize,
    });
  }
  if (bytes.length % elementSize !== 0) {
    throw new StorageSizeError(`${bytes.length} bytes is not a multiple of the element size ${elementSize}`, {
      nbytes: bytes.length,
      elementSize,
    });
  }
  const out = copy ? new Uint8Array(bytes) : bytes;
  if (elementSize === 1) return out;
  for (let i = 0; i < out.length; i += elementSize) {
    for (let a = i, b = i + elementSize - 1; a < b; a++, b--) {
      const t = out[a]!;
      out[a] = out[b]!;
      out[b] = t;
    }
  }
  return out;
}

let nextId = 1;

/** Whether `[offset, offset + nbytes)` is a range of whole, non-negative numbers within `total` bytes. */
function inRange(offset: number, nbytes: number, total: number): boolean {
  return (
    Number.isSafeInteger(offset) &&
    Number.isSafeInteger(nbytes) &&
    offset >= 0 &&
    nbytes >= 0 &&
    offset + nbytes <= total
  );
}

/**
 * A torch storage: a flat run of bytes holding elements of one dtype, on a device.
 *
 * A Storage is an identity: tensors that share a storage hold the same JS object, and writes
 * through one are visible through the others.
 *
 * Memory: a storage made over a caller's `ArrayBuffer`/`Uint8Array` views those bytes without
 * copying. `typed()` returns a typed-array view without copying when the byte offset is a
 * multiple of the lane size; when it is not, the bytes are copied once into an aligned buffer
 * and the storage **switches to the copy** (so `bytes`, `typed()` and every tensor stay
 * consistent; the caller's buffer is no longer aliased). Big-endian bytes are likewise copied
 * and swapped to little-endian on first access.
 *
 * Lazy storages (`Storage.lazy`) read their byte range from a `ByteSource` on first access:
 * `await storage.load()`, or synchronously when the source has `readSync`.
 */
export class Storage {
  /** Element type. `uint8` for untyped storages. */
  readonly dtype: DType;
  /** torch device string. */
  readonly device: string;
  /** Size in bytes. */
  readonly nbytes: number;
  /** True for `torch.UntypedStorage`. */
  readonly untyped: boolean;
  /** Byte order of the source bytes (data is little-endian once loaded). */
  readonly sourceByteOrder: ByteOrder;
  /** A small integer unique to this object (useful as a map key for savers). */
  readonly id: number = nextId++;

  private _bytes: Uint8Array | null;
  /** For sub-storage views: the storage whose bytes this one shares, and the byte offset in it. */
  private parent: Storage | null = null;
  private parentOffset = 0;
  private readonly source: ByteSource | null;
  private readonly sourceOffset: number;
  private swapped: boolean;
  /** Typed views handed out, by kind (made on the first `typed()`: most storages never need one). */
  private views: Map<ArrayKind, TypedArray> | null = null;
  private pending: Promise<void> | null = null;
  /** For `Storage.view`: the buffer whose bytes `[sourceOffset, sourceOffset + nbytes)` this storage is (`_bytes` made on first use). */
  private window: Uint8Array | null = null;

  private constructor(
    dtype: DType,
    nbytes: number,
    bytes: Uint8Array | null,
    source: ByteSource | null,
    sourceOffset: number,
    options: StorageOptions,
  ) {
    const untyped = options.untyped ?? false;
    if (untyped && dtype !== dtypes.uint8) {
      throw new StorageError("InvalidArgument", `an untyped storage has dtype uint8, not ${dtype.name}`, {
        dtype: dtype.name,
      });
    }
    if (!Number.isSafeInteger(nbytes) || nbytes < 0 || nbytes % dtype.itemSize !== 0) {
      throw new StorageSizeError(
        `${nbytes} bytes is not a whole number of ${dtype.name} elements (${dtype.itemSize} bytes each)`,
        { nbytes, itemSize: dtype.itemSize },
      );
    }
    this.dtype = dtype;
    this.nbytes = nbytes;
    this._bytes = bytes;
    this.source = source;
    this.sourceOffset = sourceOffset;
    this.device = options.device ?? "cpu";
    this.untyped = untyped;
    this.sourceByteOrder = options.byteOrder ?? "little";
    this.swapped = this.sourceByteOrder === "little";
  }

  /** A storage over existing bytes, without copying. `bytes.byteLength` must be a multiple of the element size. */
  static fromBytes(dtype: DType, bytes: Uint8Array | ArrayBuffer, options: StorageOptions = {}): Storage {
    const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    return new Storage(dtype, u8.byteLength, u8, null, 0, options);
  }

  /**
   * A storage over `nbytes` bytes of `buffer` starting at `byteOffset`, without copying: the same
   * as `fromBytes(dtype, buffer.subarray(byteOffset, byteOffset + nbytes))`, except that the
   * subarray is made only when the bytes are first used (loaders make thousands of small storages
   * over one file buffer, most of which are never touched). The storage is loaded (not lazy).
   */
  static view(
    dtype: DType,
    buffer: Uint8Array,
    byteOffset: number,
    nbytes: number,
    options: StorageOptions = {},
  ): Storage {
    if (!inRange(byteOffset, nbytes, buffer.byteLength)) {
      throw new StorageRangeError(
        `view of ${nbytes} bytes at offset ${byteOffset} is outside the ${buffer.byteLength}-byte buffer`,
        { offset: byteOffset, nbytes, byteLength: buffer.byteLength },
      );
    }
    const s = new Storage(dtype, nbytes, null, null, byteOffset, options);
    s.window = buffer;
    return s;
  }

  /** A new zero-filled storage of `numel` elements. */
  static allocate(dtype: DType, numel: number, options: Omit<StorageOptions, "byteOrder"> = {}): Storage {
    if (!Number.isSafeInteger(numel) || numel < 0) {
      throw new StorageSizeError(`invalid element count ${numel}`, { numel });
    }
    const nbytes = numel * dtype.itemSize;
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(nbytes);
    } catch (e) {
      throw new StorageSizeError(
        `cannot allocate ${nbytes} bytes for ${numel} ${dtype.name} elements`,
        { numel, nbytes },
        e,
      );
    }
    return new Storage(dtype, nbytes, bytes, null, 0, options);
  }

  /** A storage over a typed array's bytes, without copying (the array's element type is not checked against `dtype`). */
  static fromTypedArray(
    dtype: DType,
    array: ArrayBufferView,
    options: Omit<StorageOptions, "byteOrder"> = {},
  ): Storage {
    return Storage.fromBytes(
      dtype,
      new Uint8Array(array.buffer, array.byteOffset, array.byteLength),
      options,
    );
  }

  /** A `torch.UntypedStorage` (dtype uint8, `numel` = bytes) over existing bytes. */
  static untypedFromBytes(
    bytes: Uint8Array | ArrayBuffer,
    options: Omit<StorageOptions, "untyped"> = {},
  ): Storage {
    return Storage.fromBytes(dtypes.uint8, bytes, { ...options, untyped: true });
  }

  /**
   * A lazy storage over `nbytes` bytes of `source` starting at `offset`. Nothing is read until the
   * bytes are needed. The range is checked against `source.byteLength` now.
   */
  static lazy(
    dtype: DType,
    source: ByteSource,
    offset: number,
    nbytes: number,
    options: StorageOptions = {},
  ): Storage {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(nbytes) || nbytes < 0) {
      throw new StorageRangeError(`invalid source range: ${nbytes} bytes at offset ${offset}`, {
        offset,
        nbytes,
      });
    }
    if (offset + nbytes > source.byteLength) {
      throw new StorageRangeError(
        `storage of ${nbytes} bytes at offset ${offset} runs past the end of the ${source.byteLength}-byte source`,
        { offset, nbytes, byteLength: source.byteLength },
      );
    }
    return new Storage(dtype, nbytes, null, source, offset, options);
  }

  /**
   * A storage sharing `nbytes` bytes of `parent` starting at `byteOffset` (legacy files'
   * `view_metadata`: `root[offset:offset + size]`). Works on lazy parents: the bytes are the
   * parent's, read when either is accessed; writes through either are visible in both.
   */
  static viewOf(
    parent: Storage,
    byteOffset: number,
    nbytes: number,
    dtype: DType = parent.dtype,
    options: Omit<StorageOptions, "byteOrder"> = {},
  ): Storage {
    if (!inRange(byteOffset, nbytes, parent.nbytes)) {
      throw new StorageRangeError(
        `view of ${nbytes} bytes at offset ${byteOffset} is outside the ${parent.nbytes}-byte storage`,
        { offset: byteOffset, nbytes, parentBytes: parent.nbytes },
      );
    }
    const root = parent.parent ?? parent;
    const s = new Storage(dtype, nbytes, null, null, 0, { device: parent.device, ...options });
    s.parent = root;
    s.parentOffset = parent.parentOffset + byteOffset;
    return s;
  }

  /** The storage this one is a view of (see `viewOf`), else null. */
  get base(): Storage | null {
    return this.parent;
  }

  /** Number of elements of `dtype` (bytes for an untyped storage). */
  get numel(): number {
    return this.nbytes / this.dtype.itemSize;
  }

  /** Whether the bytes are in memory (always true for non-lazy storages). */
  get isLoaded(): boolean {
    if (this.parent) return this.parent.isLoaded;
    return this._bytes !== null || this.window !== null;
  }

  /** Whether this storage is backed by a ByteSource (loaded or not). */
  get isLazy(): boolean {
    if (this.parent) return this.parent.isLazy;
    return this.source !== null;
  }

  /** Read the bytes of a lazy storage (no-op when loaded). Concurrent calls share one read. */
  load(): Promise<this> {
    if (this.parent) return this.parent.load().then(() => this);
    if (this._bytes || this.window) return Promise.resolve(this);
    if (!this.pending) {
      const src = this.source!;
      this.pending = (async () => {
        let b: Uint8Array;
        try {
          b = await src.read(this.sourceOffset, this.nbytes);
        } catch (e) {
          throw this.readFailed(e);
        } finally {
          this.pending = null;
        }
        this.accept(b);
      })();
    }
    return this.pending.then(() => this);
  }

  /**
   * Visit bytes `[offset, offset + length)` of this storage (little-endian, as `bytes` gives them)
   * in order, in chunks of at most `chunkSize` bytes, for consumers that only pass over them
   * (hashing, copying to a file). A lazy storage that is not loaded stays unloaded when its source
   * streams (`ByteSource.readChunks`: files): the whole storage is streamed through a few reused
   * buffers, so the source checks what it checks on a whole read (a zip record's CRC-32, reported
   * after the last chunk), and `visit` gets the requested part; a chunk's bytes are valid only
   * until `visit` returns or its promise settles. Otherwise (loaded, in-memory, big-endian source,
   * a source without streaming) `visit` gets the pieces of {@link chunks}.
   */
  async readChunks(
    visit: (chunk: Uint8Array) => void | Promise<void>,
    options: { offset?: number; length?: number; chunkSize?: number } = {},
  ): Promise<void> {
    const offset = options.offset ?? 0;
    const length = options.length ?? this.nbytes - offset;
    const chunkSize = options.chunkSize ?? 4 << 20;
    if (!inRange(offset, length, this.nbytes)) {
      throw new StorageRangeError(
        `range of ${length} bytes at offset ${offset} is outside the ${this.nbytes}-byte storage`,
        { offset, nbytes: length, byteLength: this.nbytes },
      );
    }
    if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0)
      throw new StorageRangeError(`chunk size must be a positive integer, not ${chunkSize}`, { chunkSize });
    if (this.parent)
      return this.parent.readChunks(visit, { offset: this.parentOffset + offset, length, chunkSize });
    if (length === 0) return;
    const src = this.source;
    if (src?.readChunks && !this._bytes && !this.window && !this.pending && this.swapped) {
      const end = offset + length;
      let at = 0;
      let visitFailure: { error: unknown } | null = null;
      const part = async (chunk: Uint8Array): Promise<void> => {
        const a = at;
        at += chunk.length;
        if (at <= offset || a >= end) return;
        try {
          await visit(chunk.subarray(Math.max(0, offset - a), Math.min(chunk.length, end - a)));
        } catch (e) {
          visitFailure = { error: e };
          throw e;
        }
      };
      try {
        await src.readChunks(this.sourceOffset, this.nbytes, chunkSize, part);
      } catch (e) {
        // the visitor's own errors pass through; the source's are wrapped as `load()` wraps them
        if (visitFailure !== null && (visitFailure as { error: unknown }).error === e) throw e;
        throw this.readFailed(e);
      }
      return;
    }
    for await (const piece of this.chunks(chunkSize, offset, offset + length)) await visit(piece);
  }

  /** Read the bytes synchronously (needs `source.readSync`); throws `StorageNotLoadedError` otherwise. */
  loadSync(): this {
    if (this.parent) {
      this.parent.loadSync();
      return this;
    }
    if (this._bytes || this.window) return this;
    const src = this.source!;
    if (!src.readSync) throw new StorageNotLoadedError(this.nbytes, this.sourceOffset);
    let b: Uint8Array;
    try {
      b = src.readSync(this.sourceOffset, this.nbytes);
    } catch (e) {
      throw this.readFailed(e);
    }
    this.accept(b);
    return this;
  }

  /** The error for a failed source read; it carries the source's own message (which names the record). */
  private readFailed(cause: unknown): StorageReadError {
    const why = cause instanceof Error ? cause.message : String(cause);
    return new StorageReadError(
      `reading ${this.nbytes} bytes at offset ${this.sourceOffset} failed: ${why}`,
      { offset: this.sourceOffset, nbytes: this.nbytes },
      cause,
    );
  }

  private accept(b: Uint8Array): void {
    if (b.byteLength !== this.nbytes) {
      throw new StorageReadError(`source returned ${b.byteLength} bytes, expected ${this.nbytes}`, {
        offset: this.sourceOffset,
        nbytes: this.nbytes,
        got: b.byteLength,
      });
    }
    if (!this._bytes) this._bytes = b;
  }

  /**
   * The bytes `[start, end)` (little-endian, as `bytes` gives them) in pieces of at most `size`
   * bytes, without loading the storage: a loaded storage yields views of its bytes; an unloaded
   * lazy one reads each piece from its source as it is asked for and keeps nothing, so a writer
   * streaming a multi-GB storage holds one piece at a time. (A big-endian source, whose elements
   * are swapped as a whole, is loaded first.) Views (`viewOf`) read their parent's range.
   */
  async *chunks(size: number, start = 0, end: number = this.nbytes): AsyncGenerator<Uint8Array> {
    if (!Number.isSafeInteger(size) || size <= 0)
      throw new StorageError("InvalidArgument", `chunk size must be a positive integer, not ${size}`, {
        size,
      });
    if (!inRange(start, end - start, this.nbytes))
      throw new StorageRangeError(`bytes ${start}–${end} are outside the ${this.nbytes}-byte storage`, {
        offset: start,
        nbytes: end - start,
        byteLength: this.nbytes,
      });
    if (this.parent) {
      yield* this.parent.chunks(size, this.parentOffset + start, this.parentOffset + end);
      return;
    }
    if (this.isLoaded || !this.source || this.sourceByteOrder !== "little") {
      if (!this.isLoaded) await this.load();
      const b = this.bytes;
      for (let p = start; p < end; p += size) yield b.subarray(p, Math.min(end, p + size));
      return;
    }
    const src = this.source;
    for (let p = start; p < end; p += size) {
      const n = Math.min(size, end - p);
      // loaded meanwhile (another reader): its bytes, not a second read
      if (this._bytes) {
        yield this._bytes.subarray(p, p + n);
        continue;
      }
      let b: Uint8Array;
      try {
        b = await src.read(this.sourceOffset + p, n);
      } catch (e) {
        throw this.readFailed(e);
      }
      if (b.byteLength !== n)
        throw new StorageReadError(`source returned ${b.byteLength} bytes, expected ${n}`, {
          offset: this.sourceOffset + p,
          nbytes: n,
          got: b.byteLength,
        });
      yield b;
    }
  }

  /** Drop the bytes of a lazy storage so they are read again on next access. Typed views handed out earlier keep the old bytes. */
  unload(): void {
    if (this.source) {
      this._bytes = null;
      this.views = null;
      this.swapped = this.sourceByteOrder === "little";
    }
  }

  /**
   * The raw bytes (little-endian), loading lazily (synchronously) if needed. Writes are
   * visible through every tensor on this storage.
   */
  get bytes(): Uint8Array {
    if (this.parent) {
      return this.parent.bytes.subarray(this.parentOffset, this.parentOffset + this.nbytes);
    }
    if (!this._bytes) {
      const w = this.window;
      if (w !== null) {
        const b = w.subarray(this.sourceOffset, this.sourceOffset + this.nbytes);
        // not kept: a saver reading 50,000 small storages once would otherwise leave 50,000 views
        if (this.swapped) return b;
        this._bytes = b;
      } else this.loadSync();
    }
    if (!this.swapped) {
      this._bytes = swapBytes(this._bytes!, laneSize(this.dtype), true);
      this.swapped = true;
    }
    return this._bytes!;
  }

  /** The elements as this storage's typed array (see `DType.arrayKind`). */
  typed(): TypedArray {
    return this.typedAs(this.dtype);
  }

  /**
   * The bytes viewed as `dtype`'s typed array, for tensors of another dtype over this storage
   * (untyped storages). Zero-copy when aligned; otherwise the storage moves to an aligned copy.
   */
  typedAs(dtype: DType): TypedArray {
    const kind = dtype.arrayKind;
    let b = this.bytes;
    const cached = this.views?.get(kind);
    if (cached && cached.buffer === b.buffer && cached.byteOffset === b.byteOffset) return cached;
    const lane = laneSize(dtype);
    if (b.byteLength % lane !== 0) {
      throw new StorageSizeError(`${b.byteLength} bytes cannot be viewed as ${dtype.name}`, {
        nbytes: b.byteLength,
        dtype: dtype.name,
      });
    }
    if (b.byteOffset % lane !== 0) {
      if (this.parent) {
        this.parent.realign();
        b = this.bytes;
      }
      if (this.parent && b.byteOffset % lane !== 0) {
        throw new StorageSizeError(
          `a ${dtype.name} view at byte offset ${b.byteOffset} of its storage's bytes is not aligned; it cannot be viewed without breaking sharing`,
          { byteOffset: b.byteOffset, dtype: dtype.name },
        );
      }
      if (!this.parent) {
        this.realign();
        b = this._bytes!;
      }
    }
    const view = typedView(b, dtype);
    if (this.views === null) this.views = new Map();
    this.views.set(kind, view);
    return view;
  }

  /** Move the bytes to a fresh buffer at byte offset 0 (keeps writes consistent afterwards). */
  private realign(): void {
    const b = this.bytes;
    if (b.byteOffset === 0) return;
    const copy = new Uint8Array(b.byteLength);
    copy.set(b);
    this._bytes = copy;
    this.views = null;
  }

  /** A new owned storage with a copy of the bytes (same dtype, device, untyped flag). */
  clone(): Storage {
    return Storage.fromBytes(this.dtype, new Uint8Array(this.bytes), {
      device: this.device,
      untyped: this.untyped,
    });
  }

  /**
   * A torch-like printout for `console.log` / `util.inspect`: dtype, size, device and the first
   * few elements when loaded (a lazy storage is not read for printing); never the raw bytes.
   * (The `Symbol.for` key keeps this free of `node:util`.)
   */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    let values = "";
    if (
      this.isLoaded &&
      this.dtype.lanes === 1 &&
      this.dtype.element !== "half-bits" &&
      this.dtype.element !== "bfloat16-bits" &&
      !isFloat8Encoding(this.dtype.element)
    ) {
      try {
        const a = this.typed();
        const n = Math.min(a.length, 6);
        const parts: string[] = [];
        for (let i = 0; i < n; i++) {
          const x = a[i]!;
          parts.push(
            typeof x === "bigint"
              ? String(x)
              : Number.isInteger(x)
                ? String(x)
                : String(Number(x.toPrecision(6))),
          );
        }
        values = ` [${parts.join(", ")}${a.length > n ? ", …" : ""}]`;
      } catch {
        values = "";
      }
    }
    return `${this.toString()}${values}`;
  }

  toString(): string {
    return `Storage(${this.untyped ? "untyped" : this.dtype.name}, numel=${this.numel}, device=${this.device}${this.isLoaded ? "" : ", lazy"})`;
  }
}
