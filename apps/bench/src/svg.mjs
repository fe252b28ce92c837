// A hand-written SVG bar chart of the time ratios (ours ÷ torch) against their targets.

import { formatRatio, formatTarget } from "./report.mjs";

/**
 * @typedef {import("./report.mjs").Row} Row
 * @typedef {object} ChartMeta
 * @property {string} title first header line
 * @property {string[]} subtitle further header lines (date, machine, versions)
 */

/** The ratio axis: logarithmic from LO to HI (ratios outside are drawn at the edge). */
const LO = 0.01;
const HI = 10;
const TICKS = [0.01, 0.03, 0.1, 0.3, 1, 3, 10];

const WIDTH = 900;
const LABEL_W = 170;
const PLOT_X = LABEL_W + 10;
const PLOT_W = 470;
const ROW_H = 30;
const HEADER_LINE = 18;

/**
 * Escapes text for SVG content and attribute values.
 * @param {string} s
 * @returns {string}
 */
export function escapeXml(s) {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The x coordinate of a ratio on the logarithmic axis, clamped to the plot.
 * @param {number} ratio
 * @returns {number}
 */
export function ratioX(ratio) {
  const clamped = Math.min(HI, Math.max(LO, ratio));
  const t = (Math.log10(clamped) - Math.log10(LO)) / (Math.log10(HI) - Math.log10(LO));
  return round(PLOT_X + t * PLOT_W);
}

/** @param {number} x */
function round(x) {
  return Math.round(x * 10) / 10;
}

const COLORS = { pass: "#2e7d32", miss: "#c62828", "n/a": "#9e9e9e" };

/**
 * Renders the chart: one row per workload and operation, a bar from the axis' left edge to
 * the median ratio (green when it meets the target, red when not, grey when unjudged), a
 * whisker from the smallest to the largest per-pair ratio, and the target as a dashed line
 * across the row. Rows not measured say why instead. Self-contained: no fonts, scripts or
 * external references.
 * @param {readonly Row[]} rows
 * @param {ChartMeta} meta
 * @returns {string}
 */
export function renderSvg(rows, meta) {
  const headerLines = [meta.title, ...meta.subtitle];
  const top = 14 + headerLines.length * HEADER_LINE + 28;
  const height = top + rows.length * ROW_H + 56;
  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<title>${escapeXml(meta.title)}</title>`);
  out.push(`<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`);
  headerLines.forEach((line, i) => {
    const size = i === 0 ? 15 : 11;
    const weight = i === 0 ? ' font-weight="bold"' : "";
    out.push(
      `<text x="10" y="${14 + (i + 1) * HEADER_LINE - 4}" font-size="${size}"${weight}>${escapeXml(line)}</text>`,
    );
  });
  const plotTop = top - 8;
  const plotBottom = top + rows.length * ROW_H;
  for (const t of TICKS) {
    const x = ratioX(t);
    const stroke = t === 1 ? "#555555" : "#dddddd";
    out.push(`<line x1="${x}" y1="${plotTop}" x2="${x}" y2="${plotBottom}" stroke="${stroke}"/>`);
    out.push(`<text x="${x}" y="${plotTop - 6}" text-anchor="middle" fill="#555555">${t}</text>`);
  }
  rows.forEach((row, i) => {
    const y = top + i * ROW_H;
    const mid = y + ROW_H / 2;
    out.push(
      `<text x="${LABEL_W}" y="${mid + 4}" text-anchor="end">${escapeXml(`${row.workload} ${row.op}`)}</text>`,
    );
    if (row.ratio === null) {
      out.push(
        `<text x="${PLOT_X + 4}" y="${mid + 4}" fill="${COLORS["n/a"]}">${escapeXml(`not measured: ${row.status}`)}</text>`,
      );
    } else {
      // the judged measure: CPU time for saves (when both sides reported it), wall time otherwise
      const r = (row.judgedOn === "cpu" ? row.cpuRatio : null) ?? row.ratio;
      const on = row.judgedOn === "cpu" ? " CPU" : "";
      const color = COLORS[row.verdict];
      const x = ratioX(r.median);
      out.push(
        `<rect x="${PLOT_X}" y="${y + 7}" width="${round(x - PLOT_X)}" height="${ROW_H - 14}" fill="${color}" fill-opacity="0.8"><title>${escapeXml(`${row.workload} ${row.op}: median ${formatRatio(r.median)}, min ${formatRatio(r.min)}, max ${formatRatio(r.max)}, ${r.n} pairs`)}</title></rect>`,
      );
      out.push(
        `<line x1="${ratioX(r.min)}" y1="${mid}" x2="${ratioX(r.max)}" y2="${mid}" stroke="#000000" stroke-width="1.5"/>`,
      );
      for (const end of [r.min, r.max]) {
        out.push(
          `<line x1="${ratioX(end)}" y1="${mid - 4}" x2="${ratioX(end)}" y2="${mid + 4}" stroke="#000000" stroke-width="1.5"/>`,
        );
      }
      const verdict = row.verdict === "n/a" ? row.status : row.verdict;
      const target = row.target === null ? "" : ` ≤ ${formatTarget(row.target)}`;
      out.push(
        `<text x="${PLOT_X + PLOT_W + 10}" y="${mid + 4}">${escapeXml(`${formatRatio(r.median)} (${formatRatio(r.min)}–${formatRatio(r.max)})${on}${target} ${verdict}`)}</text>`,
      );
    }
    if (row.target !== null) {
      const tx = ratioX(row.target);
      out.push(
        `<line x1="${tx}" y1="${y + 2}" x2="${tx}" y2="${y + ROW_H - 2}" stroke="#0d47a1" stroke-width="2.5" stroke-dasharray="4 2"><title>${escapeXml(`target ≤ ${row.target}`)}</title></line>`,
      );
    }
  });
  const legendY = plotBottom + 24;
  const legend = [
    "time ratio ours ÷ theirs (log scale): median of the per-pair ratios of alternated fresh-process runs (saves: CPU time; the rest: wall time)",
    "whisker: smallest to largest pair; dashed line: target (green: met, red: missed, grey: not judged)",
  ];
  legend.forEach((line, i) => {
    out.push(`<text x="${PLOT_X}" y="${legendY + i * 15}" fill="#555555">${escapeXml(line)}</text>`);
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
