import { describe, expect, it } from "vitest";
import {
  describeMemoryTarget,
  judgeMemory,
  judgeTime,
  median,
  memoryLimit,
  pairOrder,
  selectWorkloads,
  summarizePairs,
  WORKLOADS,
} from "../src/index.mjs";

const MIB = 1 << 20;
const GIB = 1 << 30;

describe("median", () => {
  it("takes the middle value of an odd count and the mean of the middle two of an even one", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(median([-1, -5])).toBe(-3);
  });

  it("sorts numerically, not as strings, and leaves its input alone", () => {
    const xs = [10, 9, 100, 1, 2];
    expect(median(xs)).toBe(9);
    expect(xs).toEqual([10, 9, 100, 1, 2]);
  });

  it("refuses an empty list and non-finite values", () => {
    expect(() => median([])).toThrow(/empty/);
    expect(() => median([1, Number.NaN])).toThrow(/non-finite/);
    expect(() => median([1, Number.POSITIVE_INFINITY])).toThrow(/non-finite/);
  });
});

describe("summarizePairs", () => {
  it("takes the median of the per-pair ratios, not the ratio of the medians", () => {
    const s = summarizePairs([
      { ours: 1, torch: 1 },
      { ours: 2, torch: 4 },
      { ours: 9, torch: 3 },
    ]);
    expect(s.ratios).toEqual([1, 0.5, 3]);
    expect(s.median).toBe(1);
    expect(s.min).toBe(0.5);
    expect(s.max).toBe(3);
    expect(s.n).toBe(3);
    expect(s.oursMedian).toBe(2);
    expect(s.torchMedian).toBe(3);
    expect(s.oursMedian / s.torchMedian).not.toBe(s.median);
    expect(s.best).toBe(1 / 1); // fastest ours (1) ÷ fastest torch (1)
    expect(
      summarizePairs([
        { ours: 5, torch: 2 },
        { ours: 3, torch: 9 },
      ]).best,
    ).toBe(3 / 2);
  });

  it("keeps the run order of the ratios and handles an even pair count", () => {
    const s = summarizePairs([
      { ours: 0.3, torch: 1 },
      { ours: 0.1, torch: 1 },
      { ours: 0.4, torch: 1 },
      { ours: 0.2, torch: 1 },
    ]);
    expect(s.ratios).toEqual([0.3, 0.1, 0.4, 0.2]);
    expect(s.median).toBeCloseTo(0.25, 12);
  });

  it("refuses no pairs, a torch value that is not positive and a negative one of ours", () => {
    expect(() => summarizePairs([])).toThrow(/no pairs/);
    expect(() => summarizePairs([{ ours: 1, torch: 0 }])).toThrow(/pair 0 has a torch value of 0/);
    expect(() =>
      summarizePairs([
        { ours: 1, torch: 1 },
        { ours: -1, torch: 1 },
      ]),
    ).toThrow(/pair 1 has our value -1/);
  });
});

describe("pairOrder", () => {
  it("alternates which side runs first", () => {
    expect(pairOrder(0)).toEqual(["ours", "torch"]);
    expect(pairOrder(1)).toEqual(["torch", "ours"]);
    expect(pairOrder(2)).toEqual(["ours", "torch"]);
    expect(pairOrder(7)).toEqual(["torch", "ours"]);
  });
});

describe("the workloads and targets of issue 9", () => {
  it("has W1 to W12 with the issues' time targets", () => {
    expect(WORKLOADS.map((w) => w.id)).toEqual([
      "W1",
      "W2",
      "W3",
      "W4",
      "W5",
      "W6",
      "W7",
      "W8",
      "W9",
      "W10",
      "W11",
      "W12",
    ]);
    const tools = Object.fromEntries(WORKLOADS.filter((w) => w.table === "tools").map((w) => [w.id, w.time]));
    expect(tools).toEqual({
      W7: { convert: 0.8 },
      W8: { list: 0.05 },
      W9: { diff: 0.5 },
      W10: { convert: 1.0 },
      W11: { hash: 0.8 },
      W12: {},
    });
    const t = Object.fromEntries(WORKLOADS.filter((w) => w.table !== "tools").map((w) => [w.id, w.time]));
    expect(t).toEqual({
      W1: { load: 1.0, save: 0.8 },
      W2: { load: 1.0, save: 0.8 },
      W3: { load: 0.3, save: 0.5 },
      W4: { load: 0.5, save: 0.5 },
      W5: { load: 1.0, save: 0.8 },
      W6: { list: 0.05 },
    });
    const w6 = WORKLOADS.find((w) => w.id === "W6");
    expect(w6?.file).toBe(WORKLOADS.find((w) => w.id === "W2")?.file);
    expect(WORKLOADS.find((w) => w.id === "W5")?.format).toBe("legacy");
  });

  it("selects workloads case-insensitively, all when empty, and refuses unknown ones", () => {
    expect(selectWorkloads("w3").map((w) => w.id)).toEqual(["W3"]);
    expect(selectWorkloads(" W6, w1 ").map((w) => w.id)).toEqual(["W1", "W6"]);
    expect(selectWorkloads(undefined)).toHaveLength(12);
    expect(selectWorkloads("")).toHaveLength(12);
    expect(selectWorkloads("w10,W8").map((w) => w.id)).toEqual(["W8", "W10"]);
    expect(() => selectWorkloads("W1,W13")).toThrow(/unknown workload W13/);
  });

  it("judges time ratios: at the target passes, above misses, unmeasured is n/a", () => {
    expect(judgeTime(0.8, 0.8)).toBe("pass");
    expect(judgeTime(0.81, 0.8)).toBe("miss");
    expect(judgeTime(null, 0.8)).toBe("n/a");
    expect(judgeTime(0.5, undefined)).toBe("n/a");
  });

  it("computes the memory limits from the file size, torch's rise or the absolute bound", () => {
    const [w1, , w3, , , w6] = WORKLOADS;
    expect(memoryLimit(w1!.memory!, GIB, null)).toBe(Math.round(1.1 * GIB + 16 * MIB));
    expect(describeMemoryTarget(w1!.memory!)).toBe("≤ 1.1 × file + 16 MiB");
    expect(memoryLimit(w3!.memory!, 123, 4567)).toBe(4567);
    expect(memoryLimit(w3!.memory!, 123, null)).toBeNull();
    expect(describeMemoryTarget(w3!.memory!)).toBe("≤ torch's");
    expect(memoryLimit(w6!.memory!, GIB, 1)).toBe(64 * MIB);
    expect(judgeMemory(64 * MIB, 64 * MIB)).toBe("pass");
    expect(judgeMemory(64 * MIB + 1, 64 * MIB)).toBe("miss");
    expect(judgeMemory(1, null)).toBe("n/a");
  });
});
