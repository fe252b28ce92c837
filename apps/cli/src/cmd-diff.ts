import { Buffer } from "node:buffer";
import type { Tensor } from "@pt/tensor";
import { expectPositionals, parseArgs } from "./args.js";
import { openInput } from "./input.js";
import { type Io, UsageError } from "./io.js";
import type { Opened } from "./loader.js";
import { Progress } from "./progress.js";
import { dottedName } from "./safetensors.js";
import { findStateTensors } from "./walk.js";

export const DIFF_HELP = `usage: pt diff A B [--json] [--atol X] [--key PATH]

Compare the tensors of two checkpoints (zip, legacy, tar, TorchScript or safetensors), matched
by their dotted name in the object (dict keys and list indices; modules by their state_dict()
names, so a whole model matches its own state dict and a safetensors file): tensors only in A
(removed), only in B (added), with another dtype or shape, and, where dtype and shape agree,
the largest absolute difference of their values (printed to the dtype's precision) and the
number of elements that differ (NaN equals NaN at the same position; -0.0 equals 0.0).
Storages are read one pair at a time and released after comparison (bounded memory); equal
bytes are recognised without converting values.

Exit status: 0 when they hold the same tensors with equal values (within --atol), 1 when they
differ, 2 when a file cannot be read.

options:
  --json     print {"removed", "added", "changed": [{"path", "a", "b"}], "values":
             [{"path", "max_abs_diff", "differing"}], "same"} instead of text
  --atol X   treat differences up to X as equal (default 0)
  --key PATH compare only this part of both files (a dotted path: model, state_dict)
`;

/** Largest |a - b| over the elements, and how many differ by more than atol. */
export function compareValues(a: Tensor, b: Tensor, atol: number): { maxAbsDiff: number; differing: number } {
  const lanes = a.dtype.isComplex ? 2 : 1;
  const get = (t: Tensor): Float64Array => {
    if (!t.dtype.isComplex) return t.toFloat64Array();
    const d = t.data();
    const out = new Float64Array(d.length);
    for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
    return out;
  };
  const x = get(a);
  const y = get(b);
  let max = 0;
  let differing = 0;
  for (let i = 0; i < x.length; i += lanes) {
    let worst = 0;
    for (let l = 0; l < lanes; l++) {
      const p = x[i + l] as number;
      const q = y[i + l] as number;
      if (Number.isNaN(p) && Number.isNaN(q)) continue;
      const d = Number.isNaN(p) || Number.isNaN(q) ? Number.POSITIVE_INFINITY : p === q ? 0 : Math.abs(p - q);
      if (Number.isNaN(d)) worst = Number.POSITIVE_INFINITY;
      else worst = Math.max(worst, d);
    }
    if (worst > max) max = worst;
    if (worst > atol) differing++;
  }
  return { maxAbsDiff: max, differing };
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
  if (!t.isContiguous() || t.dtype.name === "quint4x2" || t.dtype.name === "quint2x4") return null;
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
  const name = t.dtype.name;
  if (name === "float64" || name === "complex128") return String(x);
  if (name === "float32" || name === "complex64") return float32Text(x);
  if (name === "float16" || name === "complex32") return String(Number(x.toPrecision(4)));
  if (name === "bfloat16") return String(Number(x.toPrecision(3)));
  if (name.startsWith("float8")) return String(Number(x.toPrecision(2)));
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
      const common = [...ta.keys()].filter((k) => tb.has(k));
      let total = 0;
      for (const k of common) {
        const x = ta.get(k) as Tensor;
        const y = tb.get(k) as Tensor;
        if (sig(x) === sig(y)) total += 2 * x.numel * x.dtype.itemSize;
      }
      const bar = new Progress(io, "comparing", total);
      let done = 0;
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
          const hadX = rx.isLoaded;
          const hadY = ry.isLoaded;
          await x.storage.load();
          await y.storage.load();
          if (sameBytes(x, y) !== true) {
            const r = compareValues(x, y, atol);
            if (r.differing > 0)
              values.push({
                path: k,
                max_abs_diff: r.maxAbsDiff,
                text: formatDiff(r.maxAbsDiff, x),
                differing: r.differing,
                numel: x.numel,
              });
          }
          // storage by storage: what was read for this pair is released now
          if (!hadX) rx.unload();
          if (!hadY && ry !== rx) ry.unload();
          done += 2 * x.numel * x.dtype.itemSize;
          bar.update(done);
        }
      } finally {
        bar.finish();
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
