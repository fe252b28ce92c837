import { describe, expect, it } from "vitest";
import {
  buildRow,
  formatBytes,
  formatDetailTable,
  formatRatio,
  formatSeconds,
  formatSummaryTable,
  formatTarget,
  formatToolsTable,
  WORKLOADS,
} from "../src/index.mjs";

const MIB = 1 << 20;
const GIB = 1 << 30;
const byId = (id: string) => WORKLOADS.find((w) => w.id === id)!;
const runs = (seconds: number[], rise = 0) => seconds.map((s) => ({ seconds: s, peakRise: rise }));

describe("buildRow", () => {
  it("judges saves on CPU time when both sides report it, and keeps the wall ratio beside", () => {
    const cpuRuns = (wall: number[], cpu: number[]) =>
      wall.map((s, i) => ({ seconds: s, cpuSeconds: cpu[i], peakRise: 0 }));
    const row = buildRow({
      workload: byId("W5"),
      op: "save",
      fileSize: GIB,
      oursRuns: cpuRuns([5, 0.3, 0.3], [0.2, 0.2, 0.3]),
      torchRuns: cpuRuns([0.3, 0.3, 0.3], [0.3, 0.3, 0.3]),
      status: "ok",
    });
    expect(row.judgedOn).toBe("cpu");
    expect(row.ratio?.median).toBe(1);
    expect(row.cpuRatio?.ratios.map((x) => +x.toFixed(3))).toEqual([0.667, 0.667, 1]);
    expect(row.verdict).toBe("pass");
    expect(formatSummaryTable([row]).split("\n")[2]).toContain("| 0.67 (0.67–1.00) CPU ≤ 0.8 pass |");
    // without CPU figures (an older child) the wall time is judged, and the row says so
    const wall = buildRow({
      ...{ workload: byId("W5"), op: "save" as const, fileSize: GIB, status: "ok" as const },
      oursRuns: runs([0.2]),
      torchRuns: runs([0.3]),
    });
    expect(wall.judgedOn).toBe("wall");
    expect(wall.cpuRatio).toBeNull();
  });

  it("puts W7-W12 in their own table with peak and fetched-bytes targets", () => {
    const w8 = buildRow({
      workload: byId("W8"),
      op: "list",
      fileSize: GIB,
      oursRuns: [0.02, 0.03, 0.02].map((s) => ({ seconds: s, peakRise: MIB, fetched: 200 * 1024 })),
      torchRuns: [1, 1, 1].map((s) => ({ seconds: s, peakRise: GIB, fetched: GIB })),
      status: "ok",
    });
    expect(w8.fetched).toEqual({ ours: 200 * 1024, torch: GIB, limit: MIB, verdict: "pass" });
    const w9 = buildRow({
      workload: byId("W9"),
      op: "diff",
      fileSize: GIB,
      oursRuns: runs([0.6], 300 * MIB),
      torchRuns: runs([1], 2 * GIB),
      status: "ok",
    });
    expect(w9.verdict).toBe("miss");
    expect(w9.memory?.verdict).toBe("miss");
    const w12 = buildRow({
      workload: byId("W12"),
      op: "scan",
      fileSize: 5 * MIB,
      oursRuns: runs([2]),
      torchRuns: runs([1]),
      status: "ok",
    });
    expect(w12.verdict).toBe("n/a");
    const lines = formatToolsTable([w8, w9, w12]).split("\n");
    expect(lines).toHaveLength(5);
    expect(lines[2]).toBe(
      "| W8: list a 1 GiB checkpoint over HTTP | `list` vs download, then torch.load | 1.00 GiB | 0.020 (0.020–0.030) ≤ 0.05 pass | — | 200 KiB; target ≤ 1.0 MiB pass (theirs 1.00 GiB) |",
    );
    expect(lines[3]).toContain("| 0.60 (0.60–0.60) ≤ 0.5 **MISS** | 300.0 MiB; target ≤ 256 MiB = 256.0 MiB");
    expect(lines[4]).toContain("| 2.00 (2.00–2.00) (no target) |");
    // the io table leaves them out; with only tools rows it is the tools table alone
    expect(formatSummaryTable([w8, w9, w12])).toBe(formatToolsTable([w8, w9, w12]));
  });

  it("pairs runs in order, judges the median ratio and the memory target", () => {
    const row = buildRow({
      workload: byId("W1"),
      op: "load",
      fileSize: GIB,
      oursRuns: runs([0.8, 0.9, 1.0], GIB),
      torchRuns: runs([1.0, 1.0, 1.0], 2 * GIB),
      status: "ok",
    });
    expect(row.ratio?.ratios).toEqual([0.8, 0.9, 1.0]);
    expect(row.ratio?.median).toBe(0.9);
    expect(row.target).toBe(1.0);
    expect(row.verdict).toBe("pass");
    expect(row.memory).toEqual({
      target: "≤ 1.1 × file + 16 MiB",
      limit: Math.round(1.1 * GIB + 16 * MIB),
      ours: GIB,
      torch: 2 * GIB,
      verdict: "pass",
    });
    expect(row.note).toBeNull();
  });

  it("misses a time target above it and a memory target over the limit", () => {
    const row = buildRow({
      workload: byId("W3"),
      op: "load",
      fileSize: 10 * MIB,
      oursRuns: runs([0.4, 0.4, 0.4], 200),
      torchRuns: runs([1, 1, 1], 100),
      status: "ok",
    });
    expect(row.verdict).toBe("miss");
    expect(row.memory?.verdict).toBe("miss");
    expect(row.memory?.limit).toBe(100);
  });

  it("has no memory cell on operations the memory target does not judge", () => {
    const save = buildRow({
      workload: byId("W2"),
      op: "save",
      fileSize: GIB,
      oursRuns: runs([1]),
      torchRuns: runs([1]),
      status: "ok",
    });
    expect(save.memory).toBeNull();
    const w4 = buildRow({
      workload: byId("W4"),
      op: "load",
      fileSize: MIB,
      oursRuns: runs([1]),
      torchRuns: runs([1]),
      status: "ok",
    });
    expect(w4.memory).toBeNull();
  });

  it("keeps torch's figures but no ratio or verdict when our library is missing", () => {
    const row = buildRow({
      workload: byId("W2"),
      op: "load",
      fileSize: GIB,
      oursRuns: [],
      torchRuns: runs([1, 2, 3], 5 * MIB),
      status: "missing",
      note: "ours: cannot import @pt/serialization/node",
    });
    expect(row.ratio).toBeNull();
    expect(row.verdict).toBe("n/a");
    expect(row.torch.seconds).toEqual([1, 2, 3]);
    expect(row.memory?.ours).toBeNull();
    expect(row.memory?.torch).toBe(5 * MIB);
    expect(row.memory?.verdict).toBe("n/a");
  });

  it("keeps a mismatched row's ratios but never judges it a pass", () => {
    const row = buildRow({
      workload: byId("W6"),
      op: "list",
      fileSize: GIB,
      oursRuns: runs([0.01, 0.01]),
      torchRuns: runs([1, 1]),
      status: "mismatch",
      note: "tensors: ours 3, torch 4",
    });
    expect(row.ratio?.median).toBeCloseTo(0.01, 12);
    expect(row.verdict).toBe("n/a");
    expect(row.memory?.verdict).toBe("n/a");
  });
});

describe("number formatting", () => {
  it("formats ratios, targets, bytes and seconds", () => {
    expect(formatRatio(12.345)).toBe("12.3");
    expect(formatRatio(0.845)).toBe("0.84");
    expect(formatRatio(0.0234)).toBe("0.023");
    expect(formatTarget(1)).toBe("1.0");
    expect(formatTarget(0.8)).toBe("0.8");
    expect(formatTarget(0.05)).toBe("0.05");
    expect(formatBytes(1.5 * GIB)).toBe("1.50 GiB");
    expect(formatBytes(16 * MIB)).toBe("16.0 MiB");
    expect(formatBytes(2048)).toBe("2 KiB");
    expect(formatSeconds(0.0123)).toBe("12.3 ms");
    expect(formatSeconds(2.5)).toBe("2.50 s");
  });
});

describe("the tables", () => {
  const rows = [
    buildRow({
      workload: byId("W1"),
      op: "load",
      fileSize: GIB,
      oursRuns: runs([0.8, 0.84, 0.91], GIB),
      torchRuns: runs([1, 1, 1], 2 * GIB),
      status: "ok",
    }),
    buildRow({
      workload: byId("W1"),
      op: "save",
      fileSize: GIB,
      oursRuns: runs([0.9, 1.0, 1.1]),
      torchRuns: runs([1, 1, 1]),
      status: "ok",
    }),
    buildRow({
      workload: byId("W6"),
      op: "list",
      fileSize: GIB,
      oursRuns: [],
      torchRuns: runs([1, 1, 1], 3 * MIB),
      status: "not-implemented",
      note: "ours: Error: serialization: openFile not implemented",
    }),
  ];

  it("prints the issue's table: one line per selected workload, W6 in the load column", () => {
    const table = formatSummaryTable(rows).split("\n");
    expect(table[0]).toBe(
      "| workload | file | load (ours ÷ torch) | save (ours ÷ torch) | memory: our peak RSS rise |",
    );
    expect(table).toHaveLength(4);
    expect(table[2]).toBe(
      "| W1: one 1 GiB float32 tensor | 1.00 GiB | 0.84 (0.80–0.91) ≤ 1.0 pass | 1.00 (0.90–1.10) ≤ 0.8 **MISS** | 1.00 GiB; target ≤ 1.1 × file + 16 MiB = 1.12 GiB (0.896×) pass (torch 2.00 GiB) |",
    );
    expect(table[3]).toBe(
      "| W6: W2 listed lazily (vs torch's full load) | 1.00 GiB | not measured (not-implemented) | — | not measured; target ≤ 64 MiB (torch 3.0 MiB) |",
    );
  });

  it("prints the details with absolute medians, every ratio and the notes", () => {
    const text = formatDetailTable(rows);
    const lines = text.split("\n");
    expect(lines[2]).toBe(
      "| W1 | load | 3 | 840.0 ms | 1.00 s | 0.80 0.84 0.91 | 0.80 | — | 1.00 GiB | 2.00 GiB | ok |",
    );
    expect(lines[4]).toBe("| W6 | list | 0 | — | 1.00 s | — | — | — | — | 3.0 MiB | not-implemented |");
    expect(text.endsWith("- W6 list: ours: Error: serialization: openFile not implemented")).toBe(true);
  });
});
