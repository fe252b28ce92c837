/**
 * Reading helpers shared by the legacy and tar readers. Parsers are `@pt/storage` `Op`s
 * (generators yielding batches of byte-range reads), driven by its `runSync`/`runAsync`, so one
 * parser serves synchronous sources (a `Uint8Array`, a `ByteSource` with `readSync`) and
 * asynchronous ones (`ByteSource.read`).
 */
import {
  genops,
  type LoadOptions,
  PickleError,
  TruncatedError,
  Unpickler,
  UnsafeGlobalError,
} from "@pt/pickle";
import {
  BufferSource,
  type ByteSource,
  type Op,
  type ReadProblem,
  runAsync as runAsyncWith,
  runSync as runSyncWith,
} from "@pt/storage";
import { LegacyFormatError, LegacyPickleError, type LegacyRecord, LegacyTruncatedError } from "./errors.js";

/** Anything the readers accept as input. */
export type LegacySource = Uint8Array | ByteSource;

/** A ByteSource over a Uint8Array: `@pt/storage`'s `BufferSource` (zero-copy `readSync`). */
export function asByteSource(src: LegacySource): ByteSource {
  return src instanceof Uint8Array ? new BufferSource(src) : src;
}

/**
 * A failed read as this layer's error. The parsers are `@pt/storage` `Op`s driven by its
 * `runSync`/`runAsync`; they only ask for bytes inside the source, so a read outside it or a short
 * one means the source is shorter than it claims. A source's own failure is rethrown as is.
 */
export function readFailure(p: ReadProblem): Error {
  switch (p.kind) {
    case "sync":
      return new LegacyFormatError(
        "Storage",
        "this source has no readSync; use the asynchronous loader (loadLegacy / loadTar)",
      );
    case "failed":
      return p.cause instanceof Error ? p.cause : new LegacyFormatError("Storage", String(p.cause));
    case "range":
      return new LegacyTruncatedError(
        `read of ${p.length} bytes at offset ${p.offset} is outside the source of ${p.byteLength} bytes`,
        { offset: p.offset },
      );
    default:
      return new LegacyTruncatedError(
        `source returned ${p.got} bytes for a read of ${p.length} bytes at offset ${p.offset} (source of ${p.byteLength} bytes)`,
        { offset: p.offset },
      );
  }
}

/** Run a parser against a source synchronously (needs `readSync`). */
export function runSync<T>(parser: Op<T>, src: ByteSource): T {
  return runSyncWith(parser, src, readFailure);
}

/** Run a parser against a source, awaiting each batch of reads (reads of a batch run concurrently). */
export function runAsync<T>(parser: Op<T>, src: ByteSource): Promise<T> {
  return runAsyncWith(parser, src, readFailure);
}

/**
 * The bytes of the file from offset 0 up to `buf.length`, grown on demand. For an in-memory
 * source the whole file is there from the start and nothing is copied.
 */
export class Prefix {
  buf: Uint8Array;
  constructor(
    readonly total: number,
    initial: Uint8Array,
    /** Fixed read-ahead per growth step; null: at least double each time. */
    readonly readAhead: number | null = null,
  ) {
    this.buf = initial;
  }
  get complete(): boolean {
    return this.buf.length >= this.total;
  }
  /** Grow the prefix (at least doubling, at least to `min`), up to the whole file. */
  *grow(min = 0): Op<void> {
    const step = this.readAhead === null ? Math.max(this.buf.length, 64 * 1024) : this.readAhead;
    const want = Math.min(this.total, Math.max(min, this.buf.length + step));
    if (want <= this.buf.length) return;
    const [more] = yield [{ offset: this.buf.length, length: want - this.buf.length }];
    const next = new Uint8Array(want);
    next.set(this.buf);
    next.set(more!, this.buf.length);
    this.buf = next;
  }
  /** Make sure bytes `[0, end)` are in the prefix (`end` must be ≤ total). */
  *ensure(end: number): Op<void> {
    if (end > this.buf.length) yield* this.grow(end);
  }
}

/** Start a prefix: the whole buffer for in-memory sources, else the first `initial` bytes. */
export function* startPrefix(src: LegacySource, readAhead: number | null = null): Op<Prefix> {
  if (src instanceof Uint8Array) return new Prefix(src.byteLength, src);
  const n = Math.min(readAhead ?? 64 * 1024, src.byteLength);
  const [head] = n > 0 ? yield [{ offset: 0, length: n }] : [new Uint8Array(0)];
  return new Prefix(src.byteLength, head!, readAhead);
}

/** Unwrap errors our own hooks threw (the pickle layer wraps them in HookError). */
function ownError(e: unknown): LegacyFormatError | null {
  let c: unknown = e;
  for (let i = 0; i < 4 && c instanceof Error; i++) {
    if (c instanceof LegacyFormatError) return c;
    c = (c as { cause?: unknown }).cause;
  }
  return null;
}

/**
 * Load one pickle that starts at `start` in the prefix, growing the prefix while the pickle is
 * cut short by the end of what has been read. `make` builds fresh load options for each attempt
 * (persistent-load state must not leak from a failed attempt). Errors name `record` and `start`.
 */
export function* loadPickleAt(
  prefix: Prefix,
  start: number,
  record: LegacyRecord,
  make: () => LoadOptions,
  base = 0,
): Op<{ value: unknown; end: number }> {
  // Sources read in pieces: first find the pickle's STOP (reading more as needed) with a scan that
  // resolves nothing, so the unpickler (and its hooks) runs exactly once.
  while (!prefix.complete) {
    try {
      for (const _op of genops(prefix.buf, start)) {
        // walk to STOP
      }
      break;
    } catch (e) {
      if (e instanceof TruncatedError) {
        // where the scan stopped and how many more bytes it needs there
        yield* prefix.grow(prefix.buf.length - e.available + e.needed);
        continue;
      }
      break; // let the unpickler report it
    }
  }
  try {
    const u = new Unpickler(prefix.buf, { ...make(), offset: start });
    const value = u.load();
    return { value, end: u.position };
  } catch (e) {
    throw wrapPickleError(e, record, start + base, prefix.total + base);
  }
}

/**
 * Turn a pickle-layer failure into a legacy error naming the pickle and its offset (the pickle
 * error is its `cause`); the pickle layer's `UnsafeGlobalError` is returned as is.
 */
export function wrapPickleError(e: unknown, record: LegacyRecord, start: number, total: number): Error {
  // a refusal is a verdict on the file, not a malformed pickle: rethrown as is, never wrapped
  if (e instanceof UnsafeGlobalError) return e;
  const own = ownError(e);
  if (own) return own;
  if (e instanceof TruncatedError) {
    return new LegacyTruncatedError(
      `the ${record} pickle starting at offset ${start} is cut short by the end of the data (${total} bytes): ${e.message}`,
      { record, offset: start, cause: e },
    );
  }
  if (e instanceof PickleError) {
    return new LegacyPickleError(`the ${record} pickle starting at offset ${start} failed: ${e.message}`, {
      record,
      offset: start,
      cause: e,
    });
  }
  if (e instanceof Error) {
    return new LegacyPickleError(`the ${record} pickle starting at offset ${start} failed: ${e.message}`, {
      record,
      offset: start,
      cause: e,
    });
  }
  return new LegacyPickleError(`the ${record} pickle starting at offset ${start} failed: ${String(e)}`, {
    record,
    offset: start,
  });
}

/** Read a little- or big-endian int64 as a bigint. */
export function readInt64(b: Uint8Array, at: number, little = true): bigint {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getBigInt64(at, little);
}

/** Python's `int(x)` for storage / tensor keys: ints, bigints and decimal strings → canonical text. */
export function normKey(k: unknown): string | null {
  if (typeof k === "number" && Number.isSafeInteger(k)) return String(k);
  if (typeof k === "bigint") return k.toString();
  if (typeof k === "string") return k;
  if (k instanceof Uint8Array) return latin1(k);
  return null;
}

/** Decode bytes as latin-1 (what `encoding='bytes'` leaves for Python 2 strs). */
export function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode(...b.subarray(i, i + 4096));
  return s;
}

/** A short description of a value for error messages. */
export function describeValue(v: unknown): string {
  if (v === null) return "None";
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return `a ${v.constructor === Array ? "list" : "tuple"} of ${v.length}`;
  if (typeof v === "object") return (v as object).constructor?.name ?? "an object";
  if (typeof v === "string") return `'${v.length > 40 ? `${v.slice(0, 40)}…` : v}'`;
  return `${typeof v} ${String(v)}`;
}
