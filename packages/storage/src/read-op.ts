/**
 * The one sync/async driver: a parser is a generator that yields batches of byte-range reads and
 * receives their bytes, so one parser serves synchronous sources (bytes, a `ByteSource` with
 * `readSync`) and asynchronous ones (`ByteSource.read`). `runSync`/`runAsync` drive it against a
 * {@link ByteSource}; every read is checked (inside the source, exactly the bytes asked for) before
 * the parser sees it.
 */
import type { ByteSource } from "./byte-source.js";
import { StorageRangeError, StorageReadError } from "./errors.js";

/** One read: `length` bytes at `offset`. */
export interface ReadRequest {
  readonly offset: number;
  readonly length: number;
}

/**
 * A parser step: yields batches of reads (the reads of one batch may run concurrently), receives
 * their bytes in the same order, returns a `T`. Compose with `yield*`; {@link readBytes} is one read.
 */
export type Op<T> = Generator<readonly ReadRequest[], T, Uint8Array[]>;

/** What went wrong with one read, for a layer to turn into its own error ({@link ReadFailure}). */
export interface ReadProblem {
  /**
   * `range`: the read is outside the source; `short`: the source returned `got` bytes, not
   * `length`; `failed`: the source threw `cause`; `sync`: `runSync` on a source without `readSync`.
   */
  readonly kind: "range" | "short" | "failed" | "sync";
  readonly offset: number;
  readonly length: number;
  /** The source's size. */
  readonly byteLength: number;
  /** `short`: how many bytes the source returned. */
  readonly got?: number;
  /** `failed`: what the source threw. */
  readonly cause?: unknown;
}

/** Turns a failed read into the error a layer throws (default: {@link storageReadFailure}). */
export type ReadFailure = (p: ReadProblem) => Error;

/** The default {@link ReadFailure}: `StorageRangeError` for reads outside the source, else `StorageReadError`. */
export function storageReadFailure(p: ReadProblem): Error {
  const where = { offset: p.offset, length: p.length, byteLength: p.byteLength };
  switch (p.kind) {
    case "range":
      return new StorageRangeError(
        `read of ${p.length} bytes at offset ${p.offset} is outside the ${p.byteLength}-byte source`,
        where,
      );
    case "short":
      return new StorageReadError(
        `read of ${p.length} bytes at offset ${p.offset} returned ${p.got} bytes (source of ${p.byteLength} bytes)`,
        where,
      );
    case "failed":
      return new StorageReadError(
        `read of ${p.length} bytes at offset ${p.offset} failed: ${p.cause instanceof Error ? p.cause.message : String(p.cause)}`,
        where,
        p.cause,
      );
    default:
      return new StorageReadError("the byte source has no readSync; use the asynchronous reader", where);
  }
}

/** One read, as a step of a parser: `const b = yield* readBytes(offset, length)`. */
export function* readBytes(offset: number, length: number): Op<Uint8Array> {
  const [b] = yield [{ offset, length }];
  return b as Uint8Array;
}

const NONE: Uint8Array[] = [];

/**
 * A failed read on its way to a parser: the driver throws it into the parser at the `yield` that
 * asked for the read, so the innermost {@link mapReadFailures} turns it into its layer's error;
 * one that no parser maps is turned into an error by the driver's own {@link ReadFailure}.
 */
class ReadFailed extends Error {
  constructor(readonly problem: ReadProblem) {
    super(`read of ${problem.length} bytes at offset ${problem.offset}: ${problem.kind}`);
  }
}

function inRange(offset: number, length: number, size: number): boolean {
  return offset >= 0 && length >= 0 && offset + length <= size;
}

/** One synchronous read, checked; a failure is a {@link ReadFailed}. */
function checkedSync(src: ByteSource, offset: number, length: number): Uint8Array {
  const size = src.byteLength;
  if (!src.readSync) throw new ReadFailed({ kind: "sync", offset, length, byteLength: size });
  if (!inRange(offset, length, size))
    throw new ReadFailed({ kind: "range", offset, length, byteLength: size });
  let b: Uint8Array;
  try {
    b = src.readSync(offset, length);
  } catch (e) {
    throw new ReadFailed({ kind: "failed", offset, length, byteLength: size, cause: e });
  }
  if (b.length !== length)
    throw new ReadFailed({ kind: "short", offset, length, byteLength: size, got: b.length });
  return b;
}

/** One asynchronous read, checked; a failure is a {@link ReadFailed}. */
async function checkedAsync(src: ByteSource, offset: number, length: number): Promise<Uint8Array> {
  const size = src.byteLength;
  if (!inRange(offset, length, size))
    throw new ReadFailed({ kind: "range", offset, length, byteLength: size });
  let b: Uint8Array;
  try {
    b = await src.read(offset, length);
  } catch (e) {
    throw new ReadFailed({ kind: "failed", offset, length, byteLength: size, cause: e });
  }
  if (b.length !== length)
    throw new ReadFailed({ kind: "short", offset, length, byteLength: size, got: b.length });
  return b;
}

/**
 * One synchronous read, checked as {@link runSync} checks each of its reads (for hot paths that
 * read without a parser).
 */
export function readSyncChecked(
  src: ByteSource,
  offset: number,
  length: number,
  fail: ReadFailure = storageReadFailure,
): Uint8Array {
  try {
    return checkedSync(src, offset, length);
  } catch (e) {
    throw e instanceof ReadFailed ? fail(e.problem) : e;
  }
}

/** One asynchronous read, checked as {@link runAsync} checks each of its reads. */
export async function readChecked(
  src: ByteSource,
  offset: number,
  length: number,
  fail: ReadFailure = storageReadFailure,
): Promise<Uint8Array> {
  try {
    return await checkedAsync(src, offset, length);
  } catch (e) {
    throw e instanceof ReadFailed ? fail(e.problem) : e;
  }
}

/**
 * `op` with its failed reads turned into `fail`'s errors (a layer's parsers composed into another
 * layer's parser keep their own errors, whichever driver runs them).
 */
export function* mapReadFailures<T>(op: Op<T>, fail: ReadFailure): Op<T> {
  let step = op.next(NONE);
  while (!step.done) {
    let got: Uint8Array[];
    try {
      got = yield step.value;
    } catch (e) {
      throw e instanceof ReadFailed ? fail(e.problem) : e;
    }
    step = op.next(got);
  }
  return step.value;
}

/** Throw a failed read into the parser; if it comes back out unmapped, map it with `fail`. */
function throwInto<T>(
  op: Op<T>,
  e: ReadFailed,
  fail: ReadFailure,
): IteratorResult<readonly ReadRequest[], T> {
  try {
    return op.throw(e);
  } catch (x) {
    throw x instanceof ReadFailed ? fail(x.problem) : x;
  }
}

/** Run a parser against a source synchronously (the source must have `readSync`). */
export function runSync<T>(op: Op<T>, src: ByteSource, fail: ReadFailure = storageReadFailure): T {
  if (!src.readSync) throw fail({ kind: "sync", offset: 0, length: 0, byteLength: src.byteLength });
  let step = op.next(NONE);
  while (!step.done) {
    const reqs = step.value;
    const out: Uint8Array[] = new Array(reqs.length);
    try {
      for (let i = 0; i < reqs.length; i++) {
        const r = reqs[i] as ReadRequest;
        out[i] = checkedSync(src, r.offset, r.length);
      }
    } catch (e) {
      if (!(e instanceof ReadFailed)) throw e;
      step = throwInto(op, e, fail);
      continue;
    }
    step = op.next(out);
  }
  return step.value;
}

/** Run a parser against a source, awaiting each batch of reads (the reads of a batch run concurrently). */
export async function runAsync<T>(
  op: Op<T>,
  src: ByteSource,
  fail: ReadFailure = storageReadFailure,
): Promise<T> {
  let step = op.next(NONE);
  while (!step.done) {
    const reqs = step.value;
    let out: Uint8Array[];
    try {
      out =
        reqs.length === 1
          ? [await checkedAsync(src, (reqs[0] as ReadRequest).offset, (reqs[0] as ReadRequest).length)]
          : await Promise.all(reqs.map((r) => checkedAsync(src, r.offset, r.length)));
    } catch (e) {
      if (!(e instanceof ReadFailed)) throw e;
      step = throwInto(op, e, fail);
      continue;
    }
    step = op.next(out);
  }
  return step.value;
}
