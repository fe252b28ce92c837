// The pure parts of the benchmark harness (statistics, targets, report tables, SVG chart),
// importable without running anything. The runner is src/run.mjs.

export { parseCpuinfo, parseMeminfo } from "./machine.mjs";
export { formatProfile, summarizeProfile } from "./profile.mjs";
export { compareResults, parseChildOutput } from "./protocol.mjs";
export {
  buildRow,
  formatBytes,
  formatDetailTable,
  formatRatio,
  formatSeconds,
  formatSummaryTable,
  formatTarget,
  formatToolsTable,
  judgedRatio,
} from "./report.mjs";
export { median, pairOrder, summarizePairs } from "./stats.mjs";
export { escapeXml, ratioX, renderSvg } from "./svg.mjs";
export {
  describeMemoryTarget,
  judgeMemory,
  judgeTime,
  memoryLimit,
  selectWorkloads,
  WORKLOADS,
} from "./targets.mjs";
