import { describe, expect, it } from "vitest";
import {
  buildFloors,
  floorRatios,
  formatFloorsTable,
  medianParts,
  OUR_PARTS,
  parseProbeOutput,
  TORCH_PARTS,
} from "../src/floors.mjs";

/** A probe result with every part at `ms` (CPU: twice that), `over` replacing some. */
function probe(parts: readonly string[], ms: number, over: Record<string, number> = {}) {
  const r: Record<string, number | boolean> = { ok: true };
  for (const p of parts) {
    r[`${p}_ms`] = over[`${p}_ms`] ?? ms;
    r[`${p}_cpu_ms`] = over[`${p}_cpu_ms`] ?? 2 * ms;
  }
  return r;
}

describe("floors", () => {
  it("takes the median of each part over the probes", () => {
    const m = medianParts(
      [probe(TORCH_PARTS, 10), probe(TORCH_PARTS, 30), probe(TORCH_PARTS, 20, { read_ms: 100 })],
      TORCH_PARTS,
    );
    expect(m.load_cold).toEqual({ ms: 20, cpuMs: 40 });
    expect(m.read).toEqual({ ms: 30, cpuMs: 40 });
  });

  it("refuses a probe that lacks a part", () => {
    const bad = probe(TORCH_PARTS, 10);
    delete bad.parse_warm_ms;
    expect(() => medianParts([bad], TORCH_PARTS)).toThrow(/without parse_warm_ms/);
    expect(() => medianParts([], TORCH_PARTS)).toThrow(/no probe/);
  });

  it("puts the parts against torch's cold and warm figures", () => {
    const ours = medianParts(
      [probe(OUR_PARTS, 10, { load_cold_ms: 200, load_warm_ms: 50, read_ms: 60, touch_ms: 30 })],
      OUR_PARTS,
    );
    const torch = medianParts([probe(TORCH_PARTS, 20, { load_cold_ms: 150, read_ms: 45 })], TORCH_PARTS);
    const r = floorRatios(ours, torch);
    expect(r.readFloor).toBeCloseTo(60 / 150);
    expect(r.readCrcFloor).toBeCloseTo(90 / 150);
    expect(r.coldLoad).toBeCloseTo(200 / 150);
    expect(r.warmLoad).toBeCloseTo(50 / 20);
    expect(r.warmParse).toBeCloseTo(10 / 20);
    expect(r.jitShare).toBeCloseTo(150 / 200);
    expect(r.coldSaveCpu).toBeCloseTo(20 / 40);
    expect(r.readShareTorch).toBeCloseTo(45 / 150);
  });

  it("formats both tables, one line per side and one per workload", () => {
    const f = buildFloors("W4", [probe(OUR_PARTS, 12.5)], [probe(TORCH_PARTS, 25)]);
    expect(f.probes).toBe(1);
    const text = formatFloorsTable([f]);
    expect(text).toContain("| W4 | ours | 12.5 | 12.5 | 12.5 | 12.5 | 12.5 | 12.5 | 12.5 (CPU 25.0) |");
    expect(text).toContain("| W4 | torch | 25.0 | 25.0 | 25.0 | 25.0 | — | — |");
    expect(text).toContain("| W4 | 1 | 0.50 | 1.00 | 0.50 | 0.50 | 0.50 | 0 % | 0.50 | 0.50 | 1.00 |");
  });

  it("reads a probe's report and says why when there is none", () => {
    const ok = parseProbeOutput('noise\nPT_BENCH_RESULT {"ok":true,"read_ms":3}\n', "", 0);
    expect(ok).toEqual({ ok: true, result: { ok: true, read_ms: 3 } });
    const none = parseProbeOutput("", "Error: boom\n", 1);
    expect(none).toEqual({ ok: false, error: "no result (exit code 1): Error: boom" });
    const failed = parseProbeOutput('PT_BENCH_RESULT {"ok":false}', "", null, "SIGKILL");
    expect(failed.ok).toBe(false);
    expect(parseProbeOutput("PT_BENCH_RESULT {", "", 0)).toMatchObject({ ok: false, error: /malformed/ });
  });
});
