/**
 * Reading machinery shared by the legacy and tar readers: parsers are generators that yield
 * batches of byte-range reads, so one parser serves synchronous sources (a `Uint8Array`, a
 * `ByteSource` with `readSync`) and asynchronous ones (`ByteSource.read`).
 */
import {
  genops,
  type LoadOptions,
  PickleError,
  TruncatedError,
  Unpickler,
  type UnpicklerOptions,
  UnsafeGlobalError,
} from "@pt/pickle";
import { BufferSource, type ByteSource } from "@pt/storage";
import { LegacyFormatError, LegacyPickleError, type LegacyRecord, LegacyTruncatedError } from "./errors.js";

/** One read: `length` bytes at `offset` (always inside the source; checked before yielding). */
export interface ReadRequest {
  readonly offset: number;
  readonly length: number;
}

/** A parser: yields batches of reads, receives their bytes (same order), returns a result. */
export type Parser<T> = Generator<readonly ReadRequest[], T, Uint8Array[]>;

/** Anything the readers accept as input. */
export type LegacySource = Uint8Array | ByteSource;

/** A ByteSource over a Uint8Array: `@pt/storage`'s `BufferSource` (zero-copy `readSync`). */
export function asByteSource(src: LegacySource): ByteSource {
  return src instanceof Uint8Array ? new BufferSource(src) : src;
}

function checkRead(src: ByteSource, r: ReadRequest, got: Uint8Array): Uint8Array {
  if (got.byteLength !== r.length) {
    throw new LegacyTruncatedError(
      `source returned ${got.byteLength} bytes for a read of ${r.length} bytes at offset ${r.offset} (source of ${src.byteLength} bytes)`,
      { offset: r.offset },
    );
  }
  return got;
}

/** Run a parser against a source synchronously (needs `readSync`). */
export function runSync<T>(parser: Parser<T>, src: ByteSource): T {
  const readSync = src.readSync?.bind(src);
  if (!readSync) {
    throw new LegacyFormatError(
      "Storage",
      "this source has no readSync; use the asynchronous loader (loadLegacy / loadTar)",
    );
  }
  let step = parser.next([]);
  while (!step.done) {
    const out = step.value.map((r) => checkRead(src, r, readSync(r.offset, r.length)));
    step = parser.next(out);
  }
  return step.value;
}

/** Run a parser against a source, awaiting each batch of reads (reads of a batch run concurrently). */
export async function runAsync<T>(parser: Parser<T>, src: ByteSource): Promise<T> {
  let step = parser.next([]);
  while (!step.done) {
    const reqs = step.value;
    const out = await Promise.all(
      reqs.map(async (r) => checkRead(src, r, await src.read(r.offset, r.length))),
    );
    step = parser.next(out);
  }
  return step.value;
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
  *grow(min = 0): Parser<void> {
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
  *ensure(end: number): Parser<void> {
    if (end > this.buf.length) yield* this.grow(end);
  }
}

/** Start a prefix: the whole buffer for in-memory sources, else the first `initial` bytes. */
export function* startPrefix(src: LegacySource, readAhead: number | null = null): Parser<Prefix> {
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
): Parser<{ value: unknown; end: number }> {
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

/** The pickle-level limits a caller may set (defaults: `@pt/pickle`'s `DEFAULT_LIMITS`). */
export type PickleLimits = {
  readonly [K in
    | "maxDepth"
    | "maxMemoEntries"
    | "maxStringLength"
    | "maxBytesLength"
    | "maxTotalAllocation"]?: UnpicklerOptions[K] | undefined;
};

/** Copy only the defined pickle limits (for `exactOptionalPropertyTypes`). */
export function pickleLimits(l: PickleLimits | undefined): { [K in keyof PickleLimits]?: number } {
  const out: { -readonly [K in keyof PickleLimits]: number } = {};
  if (!l) return out;
  if (l.maxDepth !== undefined) out.maxDepth = l.maxDepth;
  if (l.maxMemoEntries !== undefined) out.maxMemoEntries = l.maxMemoEntries;
  if (l.maxStringLength !== undefined) out.maxStringLength = l.maxStringLength;
  if (l.maxBytesLength !== undefined) out.maxBytesLength = l.maxBytesLength;
  if (l.maxTotalAllocation !== undefined) out.maxTotalAllocation = l.maxTotalAllocation;
  return out;
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
