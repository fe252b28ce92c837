import { describe, expect, it } from "vitest";
import { buildRow, escapeXml, ratioX, renderSvg, WORKLOADS } from "../src/index.mjs";

const byId = (id: string) => WORKLOADS.find((w) => w.id === id)!;
const runs = (seconds: number[]) => seconds.map((s) => ({ seconds: s, peakRise: 0 }));

/** Checks that every tag is closed in order (a small well-formedness check; no XML parser in Node). */
function assertBalanced(svg: string): void {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = m;
    if (selfClosing) continue;
    if (closing) expect(stack.pop(), `closing </${name}>`).toBe(name);
    else stack.push(name!);
  }
  expect(stack).toEqual([]);
}

describe("ratioX", () => {
  it("maps ratios onto a logarithmic axis from 0.01 to 10 and clamps outside it", () => {
    expect(ratioX(0.01)).toBe(180);
    expect(ratioX(10)).toBe(650);
    expect(ratioX(1)).toBeCloseTo(180 + (2 / 3) * 470, 0);
    expect(ratioX(0.1) - ratioX(0.01)).toBeCloseTo(ratioX(1) - ratioX(0.1), 0);
    expect(ratioX(0.0001)).toBe(180);
    expect(ratioX(1e6)).toBe(650);
  });
});

describe("escapeXml", () => {
  it("escapes the five XML special characters", () => {
    expect(escapeXml(`a<b>&"c'`)).toBe("a&#60;b&#62;&#38;&#34;c&#39;");
  });
});

describe("renderSvg", () => {
  const rows = [
    buildRow({
      workload: byId("W1"),
      op: "load",
      fileSize: 1,
      oursRuns: runs([0.5, 0.6, 0.7]),
      torchRuns: runs([1, 1, 1]),
      status: "ok",
    }),
    buildRow({
      workload: byId("W3"),
      op: "save",
      fileSize: 1,
      oursRuns: runs([2, 2, 2]),
      torchRuns: runs([1, 1, 1]),
      status: "ok",
    }),
    buildRow({
      workload: byId("W6"),
      op: "list",
      fileSize: 1,
      oursRuns: [],
      torchRuns: runs([1]),
      status: "missing",
      note: "<not built>",
    }),
  ];
  const svg = renderSvg(rows, { title: "bench <test> & co", subtitle: ["2026-01-01", "cpu"] });

  it("is a well-formed, self-contained SVG document", () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    assertBalanced(svg);
    expect(svg).not.toMatch(/href|<script|@import/);
    expect(svg).toContain("bench &#60;test&#62; &#38; co");
  });

  it("draws one bar per measured row, ending at its median, colored by its verdict", () => {
    const bars = [
      ...svg.matchAll(/<rect x="180" y="[\d.]+" width="([\d.]+)" height="16" fill="(#[0-9a-f]{6})"/g),
    ];
    expect(bars).toHaveLength(2);
    expect(Number(bars[0]![1])).toBeCloseTo(ratioX(0.6) - 180, 0);
    expect(bars[0]![2]).toBe("#2e7d32");
    expect(Number(bars[1]![1])).toBeCloseTo(ratioX(2) - 180, 0);
    expect(bars[1]![2]).toBe("#c62828");
  });

  it("draws every row's target as a dashed line at the target ratio", () => {
    const targets = [...svg.matchAll(/<line x1="([\d.]+)" [^>]*stroke-dasharray/g)].map((m) => Number(m[1]));
    expect(targets).toEqual([ratioX(1.0), ratioX(0.5), ratioX(0.05)]);
  });

  it("says why a row is not measured instead of drawing it", () => {
    expect(svg).toContain("not measured: missing");
    expect(svg).toContain("0.60 (0.50–0.70) ≤ 1.0 pass");
    expect(svg).toContain("2.00 (2.00–2.00) ≤ 0.5 miss");
  });
});
