import type { Tensor } from "@pt/tensor";
import { expectPositionals, parseArgs } from "./args.js";
import { type Io, UsageError } from "./io.js";
import { type Opened, openCheckpoint } from "./loader.js";
import { Progress } from "./progress.js";
import { findTensors, pathText } from "./walk.js";

export const DIFF_HELP = `usage: pt diff A B [--json] [--atol X]

Compare the tensors of two checkpoints, matched by their path in the object (dict keys and
list indices): tensors only in A (removed), only in B (added), with another dtype or shape,
and, where dtype and shape agree, the largest absolute difference of their values and the
number of elements that differ (NaN equals NaN at the same position; -0.0 equals 0.0).

Exit status: 0 when they hold the same tensors with equal values (within --atol), 1 when they
differ, 2 when a file cannot be read.

options:
  --json     print {"removed", "added", "changed": [{"path", "a", "b"}], "values":
             [{"path", "max_abs_diff", "differing"}], "same"} instead of text
  --atol X   treat differences up to X as equal (default 0)
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

function tensorsByPath(o: Opened): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  for (const f of findTensors(o.value)) m.set(pathText(f.path), f.tensor);
  return m;
}

function sig(t: Tensor): string {
  return `${t.dtype.name}[${t.shape.join(", ")}]`;
}

/** `pt diff A B`. */
export async function diffCommand(argv: readonly string[], io: Io): Promise<number> {
  const args = parseArgs(argv, [{ name: "json" }, { name: "atol", value: true }]);
  if (args.options.has("help")) {
    io.out(DIFF_HELP);
    return 0;
  }
  const [fa, fb] = expectPositionals(args, ["A", "B"]) as [string, string];
  const atolText = args.options.get("atol");
  const atol = typeof atolText === "string" ? Number(atolText) : 0;
  if (!Number.isFinite(atol) || atol < 0)
    throw new UsageError(`--atol needs a number ≥ 0, not ${String(atolText)}`);
  const a = await openCheckpoint(fa);
  try {
    const b = await openCheckpoint(fb);
    try {
      const ta = tensorsByPath(a);
      const tb = tensorsByPath(b);
      const removed = [...ta.keys()].filter((k) => !tb.has(k));
      const added = [...tb.keys()].filter((k) => !ta.has(k));
      const changed: Array<{ path: string; a: string; b: string }> = [];
      const values: Array<{ path: string; max_abs_diff: number; differing: number; numel: number }> = [];
      const common = [...ta.keys()].filter((k) => tb.has(k));
      const bar = new Progress(io, "comparing", common.length);
      let n = 0;
      for (const k of common) {
        const x = ta.get(k) as Tensor;
        const y = tb.get(k) as Tensor;
        if (sig(x) !== sig(y)) changed.push({ path: k, a: sig(x), b: sig(y) });
        else {
          await x.storage.load();
          await y.storage.load();
          const r = compareValues(x, y, atol);
          if (r.differing > 0)
            values.push({ path: k, max_abs_diff: r.maxAbsDiff, differing: r.differing, numel: x.numel });
        }
        bar.update(++n);
      }
      bar.finish();
      const same = !removed.length && !added.length && !changed.length && !values.length;
      if (args.options.has("json")) {
        io.out(
          `${JSON.stringify({ removed, added, changed, values, same }, (_k, v) => (v === Number.POSITIVE_INFINITY ? "inf" : v), 2)}\n`,
        );
      } else {
        for (const k of removed) io.out(`- ${k}  ${sig(ta.get(k) as Tensor)}  (only in A)\n`);
        for (const k of added) io.out(`+ ${k}  ${sig(tb.get(k) as Tensor)}  (only in B)\n`);
        for (const c of changed) io.out(`~ ${c.path}  ${c.a} → ${c.b}\n`);
        for (const v of values)
          io.out(
            `≠ ${v.path}  max |a-b| = ${v.max_abs_diff}  (${v.differing} of ${v.numel} elements differ)\n`,
          );
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
