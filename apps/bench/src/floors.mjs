// The floor probes (`run.mjs --floors`): what a load or save of the small-tensor workloads is
// made of, each part measured alone in a fresh process on both sides (src/floors-child.mjs,
// floors_child.py), and the ratios those parts put under the targets.

import { median } from "./stats.mjs";

/** The parts each probe reports, in milliseconds (`<key>_ms`, CPU beside it as `<key>_cpu_ms`). */
export const OUR_PARTS = /** @type {const} */ ([
  "load_cold",
  "save_cold",
  "read",
  "touch",
  "crc",
  "load_warm",
  "parse_warm",
  "save_warm",
]);
export const TORCH_PARTS = /** @type {const} */ ([
  "load_cold",
  "save_cold",
  "read",
  "load_warm",
  "parse_warm",
  "save_warm",
]);

/**
 * @typedef {Record<string, { ms: number; cpuMs: number }>} Parts medians per part
 * @typedef {object} Floors
 * @property {string} workload
 * @property {number} probes fresh processes per side
 * @property {Parts} ours
 * @property {Parts} torch
 * @property {Record<string, number>} ratios see {@link floorRatios}
 */

/**
 * Medians per part over probe results (`{ <part>_ms, <part>_cpu_ms }` objects).
 * @param {readonly Record<string, unknown>[]} runs
 * @param {readonly string[]} parts
 * @returns {Parts}
 */
export function medianParts(runs, parts) {
  if (runs.length === 0) throw new RangeError("bench: floors of no probe");
  /** @type {Parts} */
  const out = {};
  for (const p of parts) {
    const get = (/** @type {string} */ key) =>
      median(
        runs.map((r) => {
          const v = r[key];
          if (typeof v !== "number" || !Number.isFinite(v))
            throw new RangeError(`bench: floor probe without ${key}`);
          return v;
        }),
      );
    out[p] = { ms: get(`${p}_ms`), cpuMs: get(`${p}_cpu_ms`) };
  }
  return out;
}

/**
 * The ratios the parts give (ours ÷ torch's load or save in a fresh process, the bench's figure):
 * - `readFloor`: our read of the file into fresh memory ÷ torch's cold load: no eager load that
 *   reads the file can go under it;
 * - `readCrcFloor`: read + the first CRC pass over the fresh bytes ÷ torch's cold load: the floor
 *   while every record's CRC-32 is checked;
 * - `coldLoad`: our cold load ÷ torch's (what the bench measures);
 * - `warmLoad`: the same code with V8's JIT warm ÷ torch's warm load;
 * - `warmParse`: unpickling and building the tensors from bytes in memory, warm, ÷ torch's;
 * - `jitShare`: the part of our cold load that is V8 compiling ((cold − warm) ÷ cold);
 * - `coldSaveCpu`, `warmSaveCpu`: our save's CPU time ÷ torch's, cold and warm (saves are judged on
 *   CPU time);
 * - `readShareTorch`: torch's own read of the file ÷ its cold load.
 * @param {Parts} ours
 * @param {Parts} torch
 * @returns {Record<string, number>}
 */
export function floorRatios(ours, torch) {
  const o = (/** @type {string} */ k) => /** @type {{ ms: number; cpuMs: number }} */ (ours[k]);
  const t = (/** @type {string} */ k) => /** @type {{ ms: number; cpuMs: number }} */ (torch[k]);
  return {
    readFloor: o("read").ms / t("load_cold").ms,
    readCrcFloor: (o("read").ms + o("touch").ms) / t("load_cold").ms,
    coldLoad: o("load_cold").ms / t("load_cold").ms,
    warmLoad: o("load_warm").ms / t("load_warm").ms,
    warmParse: o("parse_warm").ms / t("parse_warm").ms,
    jitShare: (o("load_cold").ms - o("load_warm").ms) / o("load_cold").ms,
    coldSaveCpu: o("save_cold").cpuMs / t("save_cold").cpuMs,
    warmSaveCpu: o("save_warm").cpuMs / t("save_warm").cpuMs,
    readShareTorch: t("read").ms / t("load_cold").ms,
  };
}

/**
 * @param {string} workload
 * @param {readonly Record<string, unknown>[]} oursRuns
 * @param {readonly Record<string, unknown>[]} torchRuns
 * @returns {Floors}
 */
export function buildFloors(workload, oursRuns, torchRuns) {
  const ours = medianParts(oursRuns, OUR_PARTS);
  const torch = medianParts(torchRuns, TORCH_PARTS);
  return {
    workload,
    probes: Math.min(oursRuns.length, torchRuns.length),
    ours,
    torch,
    ratios: floorRatios(ours, torch),
  };
}

/** @param {number} ms */
const msText = (ms) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
/** @param {number} r */
const ratioText = (r) => r.toFixed(2);

/**
 * The floors as two Markdown tables: the parts (medians, ms; CPU in parentheses where it
 * judges), then the ratios.
 * @param {readonly Floors[]} floors
 * @returns {string}
 */
export function formatFloorsTable(floors) {
  const part = (/** @type {Parts} */ p, /** @type {string} */ k, cpu = false) => {
    const v = p[k];
    if (v === undefined) return "—";
    return cpu ? `${msText(v.ms)} (CPU ${msText(v.cpuMs)})` : msText(v.ms);
  };
  const lines = [
    "| workload | side | load cold | load warm | parse warm | read file | first CRC pass | CRC again | save cold | save warm |",
    "|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const f of floors) {
    for (const [side, p] of /** @type {const} */ ([
      ["ours", f.ours],
      ["torch", f.torch],
    ])) {
      lines.push(
        `| ${f.workload} | ${side} | ${part(p, "load_cold")} | ${part(p, "load_warm")} | ${part(p, "parse_warm")} | ${part(p, "read")} | ${part(p, "touch")} | ${part(p, "crc")} | ${part(p, "save_cold", true)} | ${part(p, "save_warm", true)} |`,
      );
    }
  }
  lines.push(
    "",
    "| workload | probes | read floor | read + CRC floor | cold load | warm load | warm parse | JIT share of our cold load | save CPU cold | save CPU warm | torch's read ÷ its load |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
  );
  for (const f of floors) {
    const r = f.ratios;
    const g = (/** @type {string} */ k) => ratioText(/** @type {number} */ (r[k]));
    lines.push(
      `| ${f.workload} | ${f.probes} | ${g("readFloor")} | ${g("readCrcFloor")} | ${g("coldLoad")} | ${g("warmLoad")} | ${g("warmParse")} | ${Math.round(/** @type {number} */ (r.jitShare) * 100)} % | ${g("coldSaveCpu")} | ${g("warmSaveCpu")} | ${g("readShareTorch")} |`,
    );
  }
  return lines.join("\n");
}

/**
 * A probe's report: the last `PT_BENCH_RESULT ` line of its stdout, parsed; a failure names the
 * exit and the end of stderr.
 * @param {string} stdout
 * @param {string} stderr
 * @param {number | null} exitCode
 * @param {string | null} [signal]
 * @returns {{ ok: true; result: Record<string, unknown> } | { ok: false; error: string }}
 */
export function parseProbeOutput(stdout, stderr, exitCode, signal = null) {
  const line = stdout
    .split("\n")
    .reverse()
    .find((l) => l.startsWith("PT_BENCH_RESULT "));
  const how = signal !== null ? `killed by ${signal}` : `exit code ${exitCode}`;
  const tail = stderr.trim().split("\n").slice(-3).join(" | ").slice(-400);
  if (line === undefined) return { ok: false, error: `no result (${how})${tail ? `: ${tail}` : ""}` };
  try {
    const result = JSON.parse(line.slice("PT_BENCH_RESULT ".length));
    if (result === null || typeof result !== "object" || result.ok !== true)
      return { ok: false, error: `probe failed (${how}): ${line.slice(0, 200)}` };
    return { ok: true, result };
  } catch {
    return { ok: false, error: `malformed result line (${how}): ${line.slice(0, 200)}` };
  }
}
