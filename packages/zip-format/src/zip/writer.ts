import { type Crc32Function, crc32 as defaultCrc32 } from "./crc32.js";
import { ZipWriterError } from "./errors.js";
import {
  centralEntryLength,
  encodeDataDescriptor,
  encodeEndRecords,
  encodeLocalHeader,
  FIELD_ALIGNMENT,
  recordLayout,
  writeCentralEntry,
} from "./layout.js";
import { type CxxStdlib, SerializationIdHasher } from "./serialization-id.js";
import { utf8Bytes } from "./utf8.js";

/** Where a {@link ZipWriter} sends its bytes, in order. `write` may be async (it is awaited). */
export interface ZipSink {
  write(chunk: Uint8Array): void | Promise<void>;
  close?(): void | Promise<void>;
}

/** Options of {@link ZipWriter}. */
export interface ZipWriterOptions {
  /** Archive prefix (the folder every record sits in). Default `"archive"` (torch's name for file objects). */
  readonly prefix?: string;
  /** CRC-32 implementation. Default: the pure-TypeScript {@link crc32}; `@pt/zip-format/node` has a faster one. */
  readonly crc32?: Crc32Function;
  /** Compute real CRCs (default `true`). `false` writes 0, as torch ≥ 2.6 does with CRC computation turned off. */
  readonly computeCrc?: boolean;
  /**
   * Where record data starts: a multiple of this many bytes (default 64, torch's `kFieldAlignment`;
   * torch ≥ 2.7 takes `torch.utils.serialization.config.save.storage_alignment`).
   */
  readonly alignment?: number;
}

/** Record data: one buffer, or chunks (sync or async iterable) whose total length is the declared size. */
export type RecordData = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

interface CentralItem {
  readonly nameBytes: Uint8Array;
  readonly size: number;
  readonly crc: number;
  readonly offset: number;
}

/** Pieces a big record chunk is checksummed and written in. */
const CRC_PIECE = 4 << 20;
const SERIALIZATION_ID = ".data/serialization_id";

/**
 * Writes a zip archive byte-identical to what PyTorch's `PyTorchStreamWriter` writes: stored records
 * under `<prefix>/`, each one's data 64-byte aligned through an `FB` extra field of `Z` padding, data
 * descriptors, a zip64 end record and locator, then the end record.
 *
 * Records are streamed to the sink one by one (a record may arrive in chunks); only the central
 * directory (a few dozen bytes per record) is kept in memory.
 */
export class ZipWriter {
  readonly prefix: string;
  private readonly sink: ZipSink;
  private readonly crcFn: Crc32Function;
  private readonly computeCrc: boolean;
  /** Record data starts at multiples of this. */
  readonly alignment: number;
  private readonly central: CentralItem[] = [];
  private readonly names = new Set<string>();
  private readonly hasher = new SerializationIdHasher();
  private cursor = 0;
  private busy = false;
  private finished = false;

  constructor(sink: ZipSink, options: ZipWriterOptions = {}) {
    const prefix = options.prefix ?? "archive";
    if (prefix.length === 0 || prefix.includes("/")) {
      throw new ZipWriterError(
        "WriterInvalid",
        `invalid archive prefix ${JSON.stringify(prefix)} (must be non-empty, without "/")`,
      );
    }
    this.prefix = prefix;
    this.sink = sink;
    this.crcFn = options.crc32 ?? defaultCrc32;
    this.computeCrc = options.computeCrc ?? true;
    const alignment = options.alignment ?? FIELD_ALIGNMENT;
    if (!Number.isSafeInteger(alignment) || alignment < 1 || alignment > 1 << 30)
      throw new ZipWriterError(
        "WriterInvalid",
        `invalid alignment ${String(alignment)} (a positive integer)`,
      );
    this.alignment = alignment;
  }

  /** Bytes written so far (the offset of the next local header). */
  get position(): number {
    return this.cursor;
  }

  /** Names of the records written so far, in order. */
  get recordNames(): string[] {
    return [...this.names];
  }

  private async emit(chunk: Uint8Array): Promise<void> {
    if (chunk.length === 0) return;
    const r = this.sink.write(chunk);
    if (r !== undefined) await r;
    this.cursor += chunk.length;
  }

  /**
   * {@link emit} without a promise when the sink writes synchronously (many small records: no
   * microtask per chunk). Returns the pending write otherwise; the cursor moves once it is done.
   */
  private emitNow(chunk: Uint8Array): Promise<void> | undefined {
    if (chunk.length === 0) return undefined;
    const r = this.sink.write(chunk);
    if (r !== undefined)
      return Promise.resolve(r).then(() => {
        this.cursor += chunk.length;
      });
    this.cursor += chunk.length;
    return undefined;
  }

  /**
   * Write one record `<prefix>/<name>`. `size` is required when `data` is given as chunks, and the
   * chunks must add up to it exactly. `options.computeCrc` overrides the writer's for this record
   * (torch's `skip_data()` writes its storage records with CRC 0).
   */
  async writeRecord(
    name: string,
    data: RecordData,
    size?: number,
    options?: { readonly computeCrc?: boolean },
  ): Promise<void> {
    const computeCrc = options?.computeCrc ?? this.computeCrc;
    if (this.finished)
      throw new ZipWriterError("WriterState", `cannot write record ${name}: the archive is finished`, {
        record: name,
      });
    if (this.busy)
      throw new ZipWriterError(
        "WriterState",
        `cannot write record ${name}: another record is being written`,
        { record: name },
      );
    if (this.names.has(name))
      throw new ZipWriterError("WriterInvalid", `record ${name} written twice`, { record: name });
    if (name.length === 0) throw new ZipWriterError("WriterInvalid", "empty record name");
    const declared = data instanceof Uint8Array ? data.length : size;
    if (declared === undefined || !Number.isSafeInteger(declared) || declared < 0) {
      throw new ZipWriterError(
        "WriterInvalid",
        `record ${name}: a non-negative integer size is required with chunked data (got ${String(size)})`,
        { record: name },
      );
    }
    if (data instanceof Uint8Array && size !== undefined && size !== data.length) {
      throw new ZipWriterError(
        "WriterInvalid",
        `record ${name}: size ${size} given for ${data.length} bytes`,
        { record: name },
      );
    }
    const fullName = `${this.prefix}/${name}`;
    const nameBytes = utf8Bytes(fullName);
    if (nameBytes.length > 0xffff)
      throw new ZipWriterError("WriterInvalid", `record name is ${nameBytes.length} bytes (max 65535)`, {
        record: name,
      });
    this.busy = true;
    try {
      const start = this.cursor;
      const layout = recordLayout(start, nameBytes.length, declared, this.alignment);
      if (data instanceof Uint8Array && data.length <= CRC_PIECE) {
        // One buffer (the common case: many small records): the same chunks as below, without
        // a closure or a microtask per chunk when the sink writes synchronously.
        let w = this.emitNow(encodeLocalHeader(nameBytes, declared, layout));
        if (w) await w;
        const crc = computeCrc ? this.crcFn(data, 0) : 0;
        w = this.emitNow(data);
        if (w) await w;
        w = this.emitNow(encodeDataDescriptor(crc, declared, layout));
        if (w) await w;
        const head = new Uint8Array(8);
        head.set(data.subarray(0, 8));
        this.central.push({ nameBytes, size: declared, crc, offset: start });
        this.names.add(name);
        this.hasher.addRecord(name, fullName, declared, crc, head);
        return;
      }
      await this.emit(encodeLocalHeader(nameBytes, declared, layout));
      let crc = 0;
      let written = 0;
      const head = new Uint8Array(8);
      const take = async (chunk: Uint8Array): Promise<void> => {
        if (written + chunk.length > declared) {
          throw new ZipWriterError(
            "WriterInvalid",
            `record ${name}: chunks exceed the declared size ${declared}`,
            { record: name, offset: this.cursor },
          );
        }
        if (written < 8) head.set(chunk.subarray(0, 8 - written), written);
        written += chunk.length;
        if (!computeCrc) {
          await this.emit(chunk);
          return;
        }
        if (chunk.length <= CRC_PIECE) {
          crc = this.crcFn(chunk, crc);
          await this.emit(chunk);
          return;
        }
        // A big chunk goes in pieces: the CRC of piece k is computed while the sink's
        // (asynchronous) write of piece k-1 is in flight; each write is still awaited before the
        // next one starts, and the bytes are the same.
        let inFlight: Promise<void> = Promise.resolve();
        for (let at = 0; at < chunk.length; at += CRC_PIECE) {
          const piece = chunk.subarray(at, at + CRC_PIECE);
          crc = this.crcFn(piece, crc);
          await inFlight;
          inFlight = this.emit(piece);
        }
        await inFlight;
      };
      if (data instanceof Uint8Array) await take(data);
      else if (Symbol.asyncIterator in data) for await (const c of data) await take(c);
      else for (const c of data) await take(c);
      if (written !== declared) {
        throw new ZipWriterError(
          "WriterInvalid",
          `record ${name}: got ${written} bytes, ${declared} declared`,
          { record: name, offset: this.cursor },
        );
      }
      await this.emit(encodeDataDescriptor(crc, declared, layout));
      this.central.push({ nameBytes, size: declared, crc, offset: start });
      this.names.add(name);
      this.hasher.addRecord(name, fullName, declared, crc, head);
    } finally {
      this.busy = false;
    }
  }

  /**
   * The `.data/serialization_id` torch 2.x would write after the records written so far: write it
   * yourself as the last record (`writeRecord(".data/serialization_id", …)`) to match torch 2.1+.
   * The value depends on the C++ standard library torch was built with (Linux: libstdc++).
   */
  serializationId(stdlib: CxxStdlib = "libstdc++"): string {
    return this.hasher.digest(stdlib);
  }

  /** Convenience: compute and write `.data/serialization_id` as torch 2.x does last. Returns the id. */
  async writeSerializationId(stdlib: CxxStdlib = "libstdc++"): Promise<string> {
    const id = this.serializationId(stdlib);
    await this.writeRecord(SERIALIZATION_ID, utf8Bytes(id));
    return id;
  }

  /** Write the central directory and end records, then close the sink. */
  async finish(): Promise<void> {
    if (this.finished) throw new ZipWriterError("WriterState", "finish called twice");
    if (this.busy) throw new ZipWriterError("WriterState", "finish called while a record is being written");
    this.finished = true;
    const cdOffset = this.cursor;
    let cdSize = 0;
    for (const c of this.central) cdSize += centralEntryLength(c.nameBytes.length, c.size, c.offset);
    const cd = new Uint8Array(cdSize);
    let p = 0;
    for (const c of this.central) p += writeCentralEntry(cd, p, c.nameBytes, c.size, c.crc, c.offset);
    await this.emit(cd);
    await this.emit(encodeEndRecords(this.central.length, cdOffset, cdSize));
    if (this.sink.close) await this.sink.close();
  }
}

/** A sink that keeps everything in memory; {@link MemorySink.bytes} joins it. For small archives. */
export class MemorySink implements ZipSink {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;
  write(chunk: Uint8Array): void {
    // Copy: callers may reuse their buffers.
    this.chunks.push(chunk.slice());
    this.length += chunk.length;
  }
  /** All bytes written, as one buffer. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let p = 0;
    for (const c of this.chunks) {
      out.set(c, p);
      p += c.length;
    }
    return out;
  }
}

/** Write `records` (name → bytes, in order) into one in-memory archive. */
export async function writeZip(
  records: Iterable<readonly [string, Uint8Array]>,
  options: ZipWriterOptions = {},
): Promise<Uint8Array> {
  const sink = new MemorySink();
  const w = new ZipWriter(sink, options);
  for (const [name, data] of records) await w.writeRecord(name, data);
  await w.finish();
  return sink.bytes();
}
