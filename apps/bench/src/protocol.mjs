// What a measuring child process (src/child.mjs or torch_child.py) reports, and how it is read.

/**
 * @typedef {object} ChildResult
 * @property {true} ok
 * @property {number} seconds the operation only
 * @property {number} peakRise bytes
 * @property {number} rssBefore bytes
 * @property {number} rssAfter bytes
 * @property {string} peakMethod "clear_refs" (exact) or "maxrss" (only rises above the earlier peak)
 * @property {number} tensors tensors found in the value
 * @property {number} elements their total elements
 * @property {number | null} listed tensors listed (list operation)
 * @property {number | null} outSize bytes written (save operation)
 * @property {number | null} cpuSeconds CPU time (user + system) of the operation
 * @property {number | null} fetched bytes fetched over HTTP (W8; counted by the runner's server)
 * @property {string | null} digest a digest of the result both sides compute alike (hash)
 * @typedef {object} ChildFailure
 * @property {false} ok
 * @property {"missing" | "not-implemented" | "error"} status
 * @property {string} error
 */

const PREFIX = "PT_BENCH_RESULT ";

/** @param {unknown} v */
function num(v) {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/**
 * Reads a child's report: the last stdout line that starts with `PT_BENCH_RESULT `. A child
 * that exits without one, or with a malformed one, is an error carrying its exit code and the
 * end of its stderr.
 * @param {string} stdout
 * @param {string} stderr
 * @param {number | null} exitCode
 * @param {string | null} [signal]
 * @returns {ChildResult | ChildFailure}
 */
export function parseChildOutput(stdout, stderr, exitCode, signal = null) {
  const line = stdout
    .split("\n")
    .reverse()
    .find((l) => l.startsWith(PREFIX));
  const tail = stderr.trim().split("\n").slice(-3).join(" | ").slice(-400);
  const how = signal !== null ? `killed by ${signal}` : `exit code ${exitCode}`;
  if (line === undefined) {
    return { ok: false, status: "error", error: `no result (${how})${tail ? `: ${tail}` : ""}` };
  }
  /** @type {Record<string, unknown>} */
  let r;
  try {
    r = JSON.parse(line.slice(PREFIX.length));
  } catch {
    return { ok: false, status: "error", error: `malformed result line (${how}): ${line.slice(0, 200)}` };
  }
  if (r.ok !== true) {
    const status = r.status === "missing" || r.status === "not-implemented" ? r.status : "error";
    return { ok: false, status, error: String(r.error ?? `failed (${how})`) };
  }
  const seconds = num(r.seconds);
  const peakRise = num(r.peak_rise);
  if (seconds === null || peakRise === null || seconds < 0 || peakRise < 0) {
    return {
      ok: false,
      status: "error",
      error: `result without valid seconds/peak_rise: ${line.slice(0, 200)}`,
    };
  }
  return {
    ok: true,
    seconds,
    peakRise,
    rssBefore: num(r.rss_before) ?? 0,
    rssAfter: num(r.rss_after) ?? 0,
    peakMethod: typeof r.peak_method === "string" ? r.peak_method : "unknown",
    tensors: num(r.tensors) ?? 0,
    elements: num(r.elements) ?? 0,
    listed: num(r.listed),
    outSize: num(r.out_size),
    cpuSeconds: num(r.cpu_seconds),
    fetched: num(r.fetched),
    digest: typeof r.digest === "string" ? r.digest : null,
  };
}

/**
 * Why two successful runs of the same operation disagree about the value (tensor count, total
 * elements, or the number listed), or null when they agree.
 * @param {ChildResult} ours
 * @param {ChildResult} torch
 * @returns {string | null}
 */
export function compareResults(ours, torch) {
  const diffs = [];
  if (ours.tensors !== torch.tensors) diffs.push(`tensors: ours ${ours.tensors}, torch ${torch.tensors}`);
  if (ours.elements !== torch.elements)
    diffs.push(`elements: ours ${ours.elements}, torch ${torch.elements}`);
  if (ours.listed !== torch.listed) diffs.push(`listed: ours ${ours.listed}, torch ${torch.listed}`);
  if ((ours.digest ?? null) !== (torch.digest ?? null))
    diffs.push(`digest: ours ${ours.digest ?? "none"}, torch ${torch.digest ?? "none"}`);
  return diffs.length === 0 ? null : diffs.join("; ");
}
