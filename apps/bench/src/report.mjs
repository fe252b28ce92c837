// Rows of the benchmark report (one per workload and operation) and their text tables.

import { median, summarizePairs } from "./stats.mjs";
import {
  describeMemoryTarget,
  GIB,
  judgeMemory,
  judgeTime,
  MIB,
  memoryLimit,
  WORKLOADS,
} from "./targets.mjs";

/**
 * @typedef {import("./targets.mjs").Op} Op
 * @typedef {import("./targets.mjs").Verdict} Verdict
 * @typedef {import("./targets.mjs").Workload} Workload
 * @typedef {import("./stats.mjs").RatioSummary} RatioSummary
 * @typedef {"ok" | "missing" | "not-implemented" | "error" | "mismatch"} RowStatus
 *   `missing`: the library is not built (or lacks the API); `not-implemented`: the API threw
 *   "not implemented"; `error`: a run failed; `mismatch`: ours and torch found different tensors.
 * @typedef {object} Run One child process's report.
 * @property {number} seconds the operation only
 * @property {number} peakRise bytes: peak RSS during the operation minus RSS just before it
 * @property {number | null} [cpuSeconds] CPU time (user + system) of the operation
 * @property {number | null} [fetched] bytes fetched over HTTP (W8)
 * @typedef {object} MemoryCell
 * @property {string} target how the target reads
 * @property {number | null} limit bytes
 * @property {number | null} ours our median peak rise
 * @property {number | null} torch torch's median peak rise
 * @property {Verdict} verdict
 * @typedef {object} Row
 * @property {string} workload
 * @property {string} title
 * @property {Op} op
 * @property {number} fileSize bytes
 * @property {RowStatus} status
 * @property {string | null} note why a row is not measured, or what went wrong
 * @property {number | null} target the time target (ours ÷ torch ≤ target)
 * @property {RatioSummary | null} ratio wall-time ratios of the pairs (null when not measured)
 * @property {RatioSummary | null} cpuRatio CPU-time ratios of the pairs (null when not measured)
 * @property {"wall" | "cpu"} judgedOn which of the two the time target judged (saves: CPU when
 *   both sides reported it)
 * @property {Verdict} verdict the time verdict
 * @property {{ seconds: number[]; cpuSeconds: number[]; peakRise: number[] }} ours
 * @property {{ seconds: number[]; cpuSeconds: number[]; peakRise: number[] }} torch
 * @property {string | null} against what the other side runs (tools workloads)
 * @property {{ ours: number | null; torch: number | null; limit: number; verdict: Verdict } | null} fetched
 *   median bytes fetched over HTTP and the limit (W8)
 * @property {MemoryCell | null} memory present on the operation the memory target judges
 * @property {{ ours: number | null; torch: number | null }} [outSize] saves: bytes each side wrote
 */

/**
 * Builds a report row from the runs of one workload and operation. `oursRuns[i]` and
 * `torchRuns[i]` form pair i; ratios are taken only over complete pairs, and only when the
 * status is "ok" or "mismatch" (a mismatch keeps its figures but is never judged a pass).
 * @param {object} input
 * @param {Workload} input.workload
 * @param {Op} input.op
 * @param {number} input.fileSize
 * @param {readonly Run[]} input.oursRuns
 * @param {readonly Run[]} input.torchRuns
 * @param {RowStatus} input.status
 * @param {string | null} [input.note]
 * @returns {Row}
 */
export function buildRow({ workload, op, fileSize, oursRuns, torchRuns, status, note = null }) {
  const n = Math.min(oursRuns.length, torchRuns.length);
  const measured = (status === "ok" || status === "mismatch") && n > 0;
  const ratio = measured
    ? summarizePairs(
        Array.from({ length: n }, (_, i) => ({
          ours: /** @type {Run} */ (oursRuns[i]).seconds,
          torch: /** @type {Run} */ (torchRuns[i]).seconds,
        })),
      )
    : null;
  const cpuKnown =
    measured &&
    Array.from({ length: n }, (_, i) => i).every(
      (i) => typeof oursRuns[i]?.cpuSeconds === "number" && (torchRuns[i]?.cpuSeconds ?? 0) > 0,
    );
  const cpuRatio = cpuKnown
    ? summarizePairs(
        Array.from({ length: n }, (_, i) => ({
          ours: /** @type {number} */ (oursRuns[i]?.cpuSeconds),
          torch: /** @type {number} */ (torchRuns[i]?.cpuSeconds),
        })),
      )
    : null;
  // CPU where the workload asks for it and both sides reported it; wall time otherwise
  const judgedOn = (workload.judgeOn?.[op] ?? "wall") === "cpu" && cpuRatio !== null ? "cpu" : "wall";
  const judged = judgedOn === "cpu" ? cpuRatio : ratio;
  const target = workload.time[op] ?? null;
  const verdict = status === "ok" ? judgeTime(judged?.median, target ?? undefined) : "n/a";
  /** @param {readonly Run[]} runs */
  const fetchedOf = (runs) => {
    const xs = runs.map((r) => r.fetched).filter((x) => typeof x === "number");
    return xs.length > 0 ? median(/** @type {number[]} */ (xs)) : null;
  };
  const fetched =
    workload.fetchedLimit === undefined
      ? null
      : {
          ours: measured ? fetchedOf(oursRuns) : null,
          torch: fetchedOf(torchRuns),
          limit: workload.fetchedLimit,
          /** @type {Verdict} */
          verdict: "n/a",
        };
  if (fetched !== null && status === "ok" && fetched.ours !== null)
    fetched.verdict = fetched.ours <= fetched.limit ? "pass" : "miss";
  /** @type {MemoryCell | null} */
  let memory = null;
  if (workload.memory !== null && workload.memoryOp === op) {
    const torchRise = torchRuns.length > 0 ? median(torchRuns.map((r) => r.peakRise)) : null;
    const oursRise = measured ? median(oursRuns.map((r) => r.peakRise)) : null;
    const limit = memoryLimit(workload.memory, fileSize, torchRise);
    memory = {
      target: describeMemoryTarget(workload.memory),
      limit,
      ours: oursRise,
      torch: torchRise,
      verdict: status === "ok" ? judgeMemory(oursRise, limit) : "n/a",
    };
  }
  return {
    workload: workload.id,
    title: workload.title,
    op,
    fileSize,
    status,
    note,
    target,
    ratio,
    cpuRatio,
    judgedOn,
    verdict,
    ours: sideOf(oursRuns),
    torch: sideOf(torchRuns),
    against: workload.against ?? null,
    memory,
    fetched,
  };
}

/** @param {readonly Run[]} runs */
function sideOf(runs) {
  return {
    seconds: runs.map((r) => r.seconds),
    cpuSeconds: runs.map((r) => r.cpuSeconds).filter((x) => typeof x === "number"),
    peakRise: runs.map((r) => r.peakRise),
  };
}

/**
 * A ratio with two decimals, three below 0.1 (so that 0.05-sized targets stay readable).
 * @param {number} x
 */
export function formatRatio(x) {
  if (!Number.isFinite(x)) return String(x);
  if (x >= 10) return x.toFixed(1);
  if (x >= 0.1) return x.toFixed(2);
  return x.toFixed(3);
}

/**
 * A time target as the issue writes it: "1.0", "0.8", "0.05".
 * @param {number} t
 */
export function formatTarget(t) {
  return t < 0.1 ? t.toFixed(2) : t.toFixed(1);
}

/**
 * Bytes as KiB, MiB or GiB.
 * @param {number} bytes
 */
export function formatBytes(bytes) {
  const sign = bytes < 0 ? "-" : "";
  const b = Math.abs(bytes);
  if (b >= GIB) return `${sign}${(b / GIB).toFixed(2)} GiB`;
  if (b >= MIB) return `${sign}${(b / MIB).toFixed(1)} MiB`;
  return `${sign}${(b / 1024).toFixed(0)} KiB`;
}

/**
 * Seconds as ms below one second.
 * @param {number} s
 */
export function formatSeconds(s) {
  return s < 1 ? `${(s * 1000).toFixed(1)} ms` : `${s.toFixed(2)} s`;
}

/** @param {Verdict} v */
function mark(v) {
  return v === "pass" ? "pass" : v === "miss" ? "**MISS**" : "";
}

/**
 * The ratio summary a row's time target judged: CPU time or wall time.
 * @param {Row} row
 * @returns {RatioSummary | null}
 */
export function judgedRatio(row) {
  return row.judgedOn === "cpu" ? row.cpuRatio : row.ratio;
}

/**
 * The cell of a time column: "0.84 (0.80–0.91) ≤ 1 pass", or why it is not measured.
 * @param {Row | undefined} row
 */
function timeCell(row) {
  if (row === undefined) return "—";
  if (row.ratio === null) return `not measured (${row.status})`;
  const r = judgedRatio(row) ?? row.ratio;
  const on = row.judgedOn === "cpu" ? " CPU" : "";
  const range = `${formatRatio(r.median)} (${formatRatio(r.min)}–${formatRatio(r.max)})`;
  const flag = row.status === "mismatch" ? " mismatch" : "";
  if (row.target === null) return `${range}${on} (no target)${flag}`;
  return `${range}${on} ≤ ${formatTarget(row.target)}${row.verdict === "n/a" ? "" : ` ${mark(row.verdict)}`}${flag}`;
}

/**
 * The cell of the memory column.
 * @param {Row | undefined} row
 */
function memoryCell(row) {
  const m = row?.memory;
  if (m === undefined || m === null) return "—";
  const torch = m.torch === null ? "" : ` (torch ${formatBytes(m.torch)})`;
  if (m.ours === null) return `not measured; target ${m.target}${torch}`;
  if (m.limit === null) return `${formatBytes(m.ours)}; target ${m.target}, not judged${torch}`;
  const share = m.limit > 0 ? ` (${(m.ours / m.limit).toFixed(3)}×)` : "";
  return `${formatBytes(m.ours)}; target ${m.target} = ${formatBytes(m.limit)}${share} ${mark(m.verdict)}${torch}`;
}

/**
 * The table of issue 9 (workload × load, save, memory) with our figures: the median of the
 * per-pair ratios ours ÷ torch with (min–max), the target and pass/MISS; W6's listing sits in
 * the load column as the issue has it. Rows not selected are left out.
 * @param {readonly Row[]} rows
 * @returns {string} a Markdown table
 */
export function formatSummaryTable(rows) {
  const lines = [
    "| workload | file | load (ours ÷ torch) | save (ours ÷ torch) | memory: our peak RSS rise |",
    "|---|---|---|---|---|",
  ];
  const tools = formatToolsTable(rows);
  if (!rows.some((r) => (WORKLOADS.find((w) => w.id === r.workload)?.table ?? "io") === "io")) return tools;
  for (const w of WORKLOADS) {
    if ((w.table ?? "io") !== "io") continue;
    const mine = rows.filter((r) => r.workload === w.id);
    if (mine.length === 0) continue;
    const load = mine.find((r) => r.op === "load" || r.op === "list");
    const save = mine.find((r) => r.op === "save");
    const mem = mine.find((r) => r.memory !== null);
    const size = formatBytes(/** @type {Row} */ (mine[0]).fileSize);
    lines.push(
      `| ${w.id}: ${w.title} | ${size} | ${timeCell(load)} | ${w.ops.includes("save") ? timeCell(save) : "—"} | ${memoryCell(mem)} |`,
    );
  }
  return tools === "" ? lines.join("\n") : `${lines.join("\n")}\n\n${tools}`;
}

/**
 * The table of the whole-tool workloads (W7–W12): one line per operation, ours ÷ theirs on wall
 * time, our peak RSS rise against its target, and bytes fetched where the workload reads over
 * HTTP. Empty when no such row was measured.
 * @param {readonly Row[]} rows
 * @returns {string}
 */
export function formatToolsTable(rows) {
  const lines = [
    "| workload | op vs | file | time (ours ÷ theirs) | memory: our peak RSS rise | fetched over HTTP |",
    "|---|---|---|---|---|---|",
  ];
  for (const w of WORKLOADS) {
    if (w.table !== "tools") continue;
    for (const r of rows.filter((x) => x.workload === w.id)) {
      const f = r.fetched;
      const fetched =
        f === null
          ? "—"
          : f.ours === null
            ? "not measured"
            : `${formatBytes(f.ours)}; target ≤ ${formatBytes(f.limit)} ${mark(f.verdict)}${f.torch === null ? "" : ` (theirs ${formatBytes(f.torch)})`}`;
      lines.push(
        `| ${w.id}: ${w.title} | \`${r.op}\` vs ${w.against ?? "torch"} | ${formatBytes(r.fileSize)} | ${timeCell(r)} | ${memoryCell(r)} | ${fetched} |`,
      );
    }
  }
  return lines.length === 2 ? "" : lines.join("\n");
}

/**
 * The detail table: absolute medians of both sides, ratio spread and peak rises per row, and
 * the notes of rows that were not measured.
 * @param {readonly Row[]} rows
 * @returns {string} a Markdown table followed by the notes
 */
export function formatDetailTable(rows) {
  const lines = [
    "| workload | op | pairs | ours (median) | torch (median) | ratios | fastest ÷ fastest | CPU: ours, torch, ratio | ours peak rise | torch peak rise | status |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  const notes = [];
  for (const r of rows) {
    const med = (/** @type {number[]} */ xs, /** @type {(x: number) => string} */ f) =>
      xs.length > 0 ? f(median(xs)) : "—";
    const ratios = r.ratio === null ? "—" : r.ratio.ratios.map(formatRatio).join(" ");
    const best = r.ratio === null ? "—" : formatRatio(r.ratio.best);
    const c = r.cpuRatio;
    const cpu =
      c === null
        ? "—"
        : `${formatSeconds(c.oursMedian)}, ${formatSeconds(c.torchMedian)}, ${formatRatio(c.median)}${r.judgedOn === "cpu" ? " (judged)" : ""}`;
    lines.push(
      `| ${r.workload} | ${r.op} | ${r.ratio?.n ?? 0} | ${med(r.ours.seconds, formatSeconds)} | ${med(r.torch.seconds, formatSeconds)} | ${ratios} | ${best} | ${cpu} | ${med(r.ours.peakRise, formatBytes)} | ${med(r.torch.peakRise, formatBytes)} | ${r.status} |`,
    );
    if (r.note !== null) notes.push(`- ${r.workload} ${r.op}: ${r.note}`);
  }
  return notes.length > 0 ? `${lines.join("\n")}\n\n${notes.join("\n")}` : lines.join("\n");
}
