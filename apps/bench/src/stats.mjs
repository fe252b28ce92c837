// Statistics of the benchmark pairs: medians and per-pair ratios (ours ÷ torch).

/**
 * The median of a non-empty list of finite numbers (the mean of the two middle values when
 * the count is even). The input is not modified.
 * @param {readonly number[]} values
 * @returns {number}
 */
export function median(values) {
  if (values.length === 0) throw new RangeError("bench: median of an empty list");
  for (const v of values) {
    if (!Number.isFinite(v)) throw new RangeError(`bench: median of a non-finite value ${v}`);
  }
  const sorted = [...values].sort((a, b) => a - b);
  const at = (/** @type {number} */ i) => /** @type {number} */ (sorted[i]);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? at(mid) : (at(mid - 1) + at(mid)) / 2;
}

/**
 * @typedef {object} Pair One alternated pair of fresh-process runs of the same operation.
 * @property {number} ours seconds (or bytes) measured by our side
 * @property {number} torch seconds (or bytes) measured by torch's side
 */

/**
 * @typedef {object} RatioSummary
 * @property {number} n number of pairs
 * @property {number} median median of the per-pair ratios ours ÷ torch
 * @property {number} min smallest per-pair ratio
 * @property {number} max largest per-pair ratio
 * @property {number[]} ratios the per-pair ratios, in run order
 * @property {number} oursMedian median of our values
 * @property {number} torchMedian median of torch's values
 * @property {number} best our fastest value ÷ torch's fastest (reported beside the median)
 */

/**
 * Summarizes alternated pairs: the ratio of each pair (ours ÷ torch), then the median, min
 * and max of those ratios — not the ratio of the medians, so that a slow moment of the shared
 * machine affects both halves of one pair rather than one side of the comparison.
 * @param {readonly Pair[]} pairs
 * @returns {RatioSummary}
 */
export function summarizePairs(pairs) {
  if (pairs.length === 0) throw new RangeError("bench: no pairs to summarize");
  const ratios = pairs.map((p, i) => {
    if (!(p.torch > 0) || !Number.isFinite(p.torch)) {
      throw new RangeError(`bench: pair ${i} has a torch value of ${p.torch}; ratios need a positive one`);
    }
    if (!(p.ours >= 0) || !Number.isFinite(p.ours)) {
      throw new RangeError(`bench: pair ${i} has our value ${p.ours}; ratios need a non-negative one`);
    }
    return p.ours / p.torch;
  });
  return {
    n: pairs.length,
    median: median(ratios),
    min: Math.min(...ratios),
    max: Math.max(...ratios),
    ratios,
    oursMedian: median(pairs.map((p) => p.ours)),
    torchMedian: median(pairs.map((p) => p.torch)),
    // each side's fastest run over the other's: interference (page-cache writeback, a stalled
    // allocation) only ever adds time, so on a noisy machine this is the steadier estimate of the
    // two costs; reported beside the median, which the targets are judged on
    best: Math.min(...pairs.map((p) => p.ours)) / Math.min(...pairs.map((p) => p.torch)),
  };
}

/**
 * Which side runs first in pair `index`: ours first in even pairs, torch first in odd ones,
 * so that a drift of the machine (page cache, thermal, other jobs) does not favour one side.
 * @param {number} index
 * @returns {["ours", "torch"] | ["torch", "ours"]}
 */
export function pairOrder(index) {
  return index % 2 === 0 ? ["ours", "torch"] : ["torch", "ours"];
}
