import { Buffer } from "node:buffer";
import { closeSync, openSync, readSync } from "node:fs";
import { findStateTensors } from "@pt/serialization";
import {
  bfloat16ArrayToFloat32,
  type DType,
  halfArrayToFloat32,
  isFloat8Encoding,
  type TypedArray,
  typedView,
} from "@pt/storage";
import type { Tensor } from "@pt/tensor";
import { expectPositionals, parseArgs } from "./args.js";
import { openInput } from "./input.js";
import { CliError, type Io, UsageError } from "./io.js";
import type { Opened } from "./loader.js";
import { Progress } from "./progress.js";
import { dottedName } from "./safetensors.js";

export const DIFF_HELP = `usage: pt diff A B [--json] [--atol X] [--key PATH]

Compare the tensors of two checkpoints (zip, legacy, tar, TorchScript or safetensors), matched
by their dotted name in the object (dict keys and list indices; modules by their state_dict()
names, so a whole model matches its own state dict and a safetensors file): tensors only in A
(removed), only in B (added), with another dtype or shape, and, where dtype and shape agree,
the largest absolute difference of their values (printed to the dtype's precision) and the
number of elements that differ (NaN equals NaN at the same position; -0.0 equals 0.0).
Storages are read one pair at a time and released after comparison (bounded memory); equal
bytes are recognised without converting values. A and B may also be DCP folders, sharded
indexes, or http(s) URLs of any of these (read lazily with range requests).

Exit status: 0 when they hold the same tensors with equal values (within --atol), 1 when they
differ, 2 when a file cannot be read.

options:
  --json     print {"removed", "added", "changed": [{"path", "a", "b"}], "values":
             [{"path", "max_abs_diff", "differing"}], "same"} instead of text
  --atol X   treat differences up to X as equal (default 0)
  --key PATH compare only this part of both files (a dotted path: model, state_dict)
`;

/** Elements converted and compared per step (bounds the temporary arrays). */
const STEP = 1 << 20;

/**
 * `src` (raw lanes of `dtype`, see `DType.arrayKind`) as numbers in `out` (float16/bfloat16 bits
 * decoded, int64 through Number, bool as 0/1).
 */
function lanesToNumbers(src: TypedArray, dtype: DType, out: Float64Array, tmp: Float32Array): void {
  const enc = dtype.element;
  if (enc === "half-bits" || enc === "complex-half" || enc === "bfloat16-bits") {
    const f = (enc === "bfloat16-bits" ? bfloat16ArrayToFloat32 : halfArrayToFloat32)(
      src as Uint16Array,
      tmp.subarray(0, src.length),
    );
    for (let i = 0; i < src.length; i++) out[i] = f[i] as number;
    return;
  }
  if (src instanceof BigInt64Array || src instanceof BigUint64Array) {
    for (let i = 0; i < src.length; i++) out[i] = Number(src[i]);
    return;
  }
  const n = src as Exclude<TypedArray, BigInt64Array | BigUint64Array>;
  for (let i = 0; i < n.length; i++) out[i] = n[i] as number;
}

/**
 * Largest |a - b| over the elements, and how many differ by more than atol. Works through the
 * values a million at a time (a contiguous tensor is read in place; no float64 copy of a whole
 * tensor is made).
 */
export function compareValues(a: Tensor, b: Tensor, atol: number): { maxAbsDiff: number; differing: number } {
  if (isFloat8Encoding(a.dtype.element)) {
    // rare: compare through float64 copies
    const x = a.toFloat64Array();
    const y = b.toFloat64Array();
    return compareChunk(x, y, 1, atol, { max: 0, differing: 0 });
  }
  const lanes = a.dtype.lanes;
  const da = a.data();
  const db = b.data();
  const step = STEP * lanes;
  const x = new Float64Array(Math.min(step, da.length));
  const y = new Float64Array(Math.min(step, db.length));
  const tmp = new Float32Array(Math.min(step, da.length));
  const acc = { max: 0, differing: 0 };
  for (let at = 0; at < da.length; at += step) {
    const end = Math.min(da.length, at + step);
    const n = end - at;
    lanesToNumbers(da.subarray(at, end), a.dtype, x, tmp);
    lanesToNumbers(db.subarray(at, end), b.dtype, y, tmp);
    compareChunk(x.subarray(0, n), y.subarray(0, n), lanes, atol, acc);
  }
  return { maxAbsDiff: acc.max, differing: acc.differing };
}

function compareChunk(
  x: Float64Array,
  y: Float64Array,
  lanes: number,
  atol: number,
  acc: { max: number; differing: number },
): { maxAbsDiff: number; differing: number } {
  for (let i = 0; i < x.length; i += lanes) {
    let worst = 0;
    for (let l = 0; l < lanes; l++) {
      const p = x[i + l] as number;
      const q = y[i + l] as number;
      if (p === q) continue;
      if (Number.isNaN(p) && Number.isNaN(q)) continue;
      const d = Number.isNaN(p) || Number.isNaN(q) ? Number.POSITIVE_INFINITY : Math.abs(p - q);
      if (d > worst) worst = d;
    }
    if (worst > acc.max) acc.max = worst;
    if (worst > atol) acc.differing++;
  }
  return { maxAbsDiff: acc.max, differing: acc.differing };
}

/** Bytes read per step when comparing straight from the files. */
const READ_STEP = 8 << 20;

/** Read exactly `n` bytes at `pos` of `fd` into `buf`. */
function readFully(fd: number, buf: Uint8Array, n: number, pos: number): void {
  let done = 0;
  while (done < n) {
    const got = readSync(fd, buf, done, n - done, pos + done);
    if (got === 0)
      throw new CliError(`file ended while reading ${n} bytes at offset ${pos}`, 2, { code: "Io" });
    done += got;
  }
}

/** Reusable buffers of the file-to-file comparison. */
class Streamer {
  private readonly a = new Uint8Array(READ_STEP);
  private readonly b = new Uint8Array(READ_STEP);
  /** Made on the first differing step (equal files never need them). */
  private nums: { x: Float64Array; y: Float64Array; tmp: Float32Array } | null = null;

  /**
   * Compare `nbytes` bytes of contiguous `dtype` values at `pa` in `fa` and `pb` in `fb`, a step
   * at a time: equal steps cost a read and a memcmp; differing ones are compared as values.
   */
  compare(
    fa: number,
    pa: number,
    fb: number,
    pb: number,
    nbytes: number,
    dtype: DType,
    atol: number,
    onBytes: (n: number) => void,
  ): { maxAbsDiff: number; differing: number } {
    const unit = dtype.itemSize;
    const step = READ_STEP - (READ_STEP % unit);
    const acc = { max: 0, differing: 0 };
    for (let at = 0; at < nbytes; at += step) {
      const n = Math.min(step, nbytes - at);
      readFully(fa, this.a, n, pa + at);
      readFully(fb, this.b, n, pb + at);
      const ba = Buffer.from(this.a.buffer, 0, n);
      if (!ba.equals(Buffer.from(this.b.buffer, 0, n))) {
        const la = typedView(this.a.subarray(0, n), dtype);
        const lb = typedView(this.b.subarray(0, n), dtype);
        this.nums ??= {
          x: new Float64Array(READ_STEP),
          y: new Float64Array(READ_STEP),
          tmp: new Float32Array(READ_STEP / 2),
        };
        const { x, y, tmp } = this.nums;
        lanesToNumbers(la, dtype, x, tmp);
        lanesToNumbers(lb, dtype, y, tmp);
        compareChunk(x.subarray(0, la.length), y.subarray(0, lb.length), dtype.lanes, atol, acc);
      }
      onBytes(2 * n);
    }
    return { maxAbsDiff: acc.max, differing: acc.differing };
  }
}

/** Tensors by dotted name (modules by their state-dict names), first occurrence wins. */
function tensorsByName(o: Opened): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  for (const f of findStateTensors(o.value)) {
    const name = f.path.length ? dottedName(f.path) : "<root>";
    if (!m.has(name)) m.set(name, f.tensor);
  }
  return m;
}

function sig(t: Tensor): string {
  return `${t.dtype.name}[${t.shape.join(", ")}]`;
}

/** The tensor's bytes when it is contiguous (a view of its loaded storage), else null. */
function contiguousBytes(t: Tensor): Uint8Array | null {
  if (!t.isContiguous() || t.dtype.valuesPerItem !== 1) return null;
  const size = t.dtype.itemSize;
  return t.storage.bytes.subarray(t.storageOffset * size, (t.storageOffset + t.numel) * size);
}

/** Whether two equal-signature tensors hold the same bytes (null: not both contiguous). */
function sameBytes(x: Tensor, y: Tensor): boolean | null {
  const a = contiguousBytes(x);
  const b = contiguousBytes(y);
  if (a === null || b === null) return null;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

/** The shortest decimal that reads back to the same float32. */
function float32Text(x: number): string {
  const f = Math.fround(x);
  for (let p = 1; p < 9; p++) {
    const t = f.toPrecision(p);
    if (Math.fround(Number(t)) === f) return String(Number(t));
  }
  return String(Number(f.toPrecision(9)));
}

/** A difference printed to the precision of the dtype it came from (no `0.5000000298023224` for float32). */
export function formatDiff(x: number, t: Tensor): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : "inf";
  // the digits the element's format holds (by the dtype table's encoding and typed array)
  const { element, arrayKind } = t.dtype;
  if (element === "half-bits" || element === "complex-half") return String(Number(x.toPrecision(4)));
  if (element === "bfloat16-bits") return String(Number(x.toPrecision(3)));
  if (isFloat8Encoding(element)) return String(Number(x.toPrecision(2)));
  if (arrayKind === "Float32Array" && (t.dtype.isFloatingPoint || t.dtype.isComplex)) return float32Text(x);
  return String(x);
}

/** `pt diff A B`. */
export async function diffCommand(argv: readonly string[], io: Io): Promise<number> {
  const args = parseArgs(argv, [
    { name: "json" },
    { name: "atol", value: true },
    { name: "key", value: true },
  ]);
  if (args.options.has("help")) {
    io.out(DIFF_HELP);
    return 0;
  }
  const [fa, fb] = expectPositionals(args, ["A", "B"]) as [string, string];
  const atolText = args.options.get("atol");
  const atol = typeof atolText === "string" ? Number(atolText) : 0;
  if (!Number.isFinite(atol) || atol < 0)
    throw new UsageError(`--atol needs a number ≥ 0, not ${String(atolText)}`);
  const key = args.options.get("key") as string | undefined;
  const a = await openInput(fa, key);
  try {
    const b = await openInput(fb, key);
    try {
      const ta = tensorsByName(a);
      const tb = tensorsByName(b);
      const removed = [...ta.keys()].filter((k) => !tb.has(k));
      const added = [...tb.keys()].filter((k) => !ta.has(k));
      const changed: Array<{ path: string; a: string; b: string }> = [];
      const values: Array<{
        path: string;
        max_abs_diff: number;
        text: string;
        differing: number;
        numel: number;
      }> = [];
      const differs = (path: string, r: { maxAbsDiff: number; differing: number }, x: Tensor): void => {
        if (r.differing > 0)
          values.push({
            path,
            max_abs_diff: r.maxAbsDiff,
            text: formatDiff(r.maxAbsDiff, x),
            differing: r.differing,
            numel: x.numel,
          });
      };
      const common = [...ta.keys()].filter((k) => tb.has(k));
      let total = 0;
      for (const k of common) {
        const x = ta.get(k) as Tensor;
        const y = tb.get(k) as Tensor;
        if (sig(x) === sig(y)) total += 2 * x.numel * x.dtype.itemSize;
      }
      const bar = new Progress(io, "comparing", total);
      let done = 0;
      const streamer = new Streamer();
      const fds: { a?: number; b?: number } = {};
      try {
        for (const k of common) {
          const x = ta.get(k) as Tensor;
          const y = tb.get(k) as Tensor;
          if (sig(x) !== sig(y)) {
            changed.push({ path: k, a: sig(x), b: sig(y) });
            continue;
          }
          const rx = x.storage.base ?? x.storage;
          const ry = y.storage.base ?? y.storage;
          const nbytes = x.numel * x.dtype.itemSize;
          const oa = a.rawOffset(rx);
          const ob = b.rawOffset(ry);
          if (
            oa !== null &&
            ob !== null &&
            x.storage === rx &&
            y.storage === ry &&
            x.isContiguous() &&
            y.isContiguous() &&
            !isFloat8Encoding(x.dtype.element) &&
            !x.dtype.isQuantized
          ) {
            // straight from the files, a step at a time (no storage is loaded)
            fds.a ??= openSync(fa, "r");
            fds.b ??= openSync(fb, "r");
            const r = streamer.compare(
              fds.a,
              oa + x.storageOffset * x.dtype.itemSize,
              fds.b,
              ob + y.storageOffset * y.dtype.itemSize,
              nbytes,
              x.dtype,
              atol,
              (n) => {
                done += n;
                bar.update(done);
              },
            );
            differs(k, r, x);
            continue;
          }
          const hadX = rx.isLoaded;
          const hadY = ry.isLoaded;
          await x.storage.load();
          await y.storage.load();
          if (sameBytes(x, y) !== true) {
            differs(k, compareValues(x, y, atol), x);
          }
          // storage by storage: what was read for this pair is released now
          if (!hadX) rx.unload();
          if (!hadY && ry !== rx) ry.unload();
          done += 2 * x.numel * x.dtype.itemSize;
          bar.update(done);
        }
      } finally {
        bar.finish();
        if (fds.a !== undefined) closeSync(fds.a);
        if (fds.b !== undefined) closeSync(fds.b);
      }
      const same = !removed.length && !added.length && !changed.length && !values.length;
      if (args.options.has("json")) {
        io.out(
          `${JSON.stringify(
            { removed, added, changed, values: values.map(({ text: _t, ...v }) => v), same },
            (_k, v) => (v === Number.POSITIVE_INFINITY ? "inf" : v),
            2,
          )}\n`,
        );
      } else {
        for (const k of removed) io.out(`- ${k}  ${sig(ta.get(k) as Tensor)}  (only in A)\n`);
        for (const k of added) io.out(`+ ${k}  ${sig(tb.get(k) as Tensor)}  (only in B)\n`);
        for (const c of changed) io.out(`~ ${c.path}  ${c.a} → ${c.b}\n`);
        for (const v of values)
          io.out(`≠ ${v.path}  max |a-b| = ${v.text}  (${v.differing} of ${v.numel} elements differ)\n`);
        io.out(
          same
            ? `same: ${common.length} tensors with equal values\n`
            : `${removed.length} removed, ${added.length} added, ${changed.length} changed dtype/shape, ${values.length} with different values (${common.length - changed.length - values.length} equal)\n`,
        );
      }
      return same ? 0 : 1;
    } finally {
      await b.close();
    }
  } finally {
    await a.close();
  }
}
