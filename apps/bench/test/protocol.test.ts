import { describe, expect, it } from "vitest";
import { compareResults, parseChildOutput, parseCpuinfo, parseMeminfo } from "../src/index.mjs";

const line = (o: object) => `PT_BENCH_RESULT ${JSON.stringify(o)}`;
const good = {
  ok: true,
  seconds: 1.5,
  peak_rise: 4096,
  rss_before: 100,
  rss_after: 200,
  peak_method: "clear_refs",
  tensors: 3,
  elements: 30,
};

describe("parseChildOutput", () => {
  it("reads the last result line among other output", () => {
    const out = `noise\n${line({ ...good, seconds: 9 })}\nlibrary log\n${line(good)}\n`;
    expect(parseChildOutput(out, "", 0)).toEqual({
      ok: true,
      seconds: 1.5,
      peakRise: 4096,
      rssBefore: 100,
      rssAfter: 200,
      peakMethod: "clear_refs",
      tensors: 3,
      elements: 30,
      listed: null,
      outSize: null,
      cpuSeconds: null,
      fetched: null,
      digest: null,
    });
  });

  it("passes on the child's own failure status", () => {
    const missing = parseChildOutput(line({ ok: false, status: "missing", error: "not built" }), "", 0);
    expect(missing).toEqual({ ok: false, status: "missing", error: "not built" });
    const ni = parseChildOutput(line({ ok: false, status: "not-implemented", error: "x" }), "", 0);
    expect(ni).toMatchObject({ status: "not-implemented" });
    const other = parseChildOutput(line({ ok: false, status: "weird", error: "x" }), "", 0);
    expect(other).toMatchObject({ status: "error" });
  });

  it("turns a crash, a kill or a malformed line into an error with the exit and stderr's end", () => {
    const crash = parseChildOutput("", "Traceback\nline 2\nRuntimeError: boom\n", 1);
    expect(crash).toEqual({
      ok: false,
      status: "error",
      error: "no result (exit code 1): Traceback | line 2 | RuntimeError: boom",
    });
    expect(parseChildOutput("", "", null, "SIGKILL")).toMatchObject({
      error: "no result (killed by SIGKILL)",
    });
    expect(parseChildOutput("PT_BENCH_RESULT {oops", "", 0)).toMatchObject({
      status: "error",
      error: expect.stringMatching(/^malformed result line/),
    });
    expect(parseChildOutput(line({ ...good, seconds: -1 }), "", 0)).toMatchObject({ status: "error" });
    expect(parseChildOutput(line({ ...good, peak_rise: "big" }), "", 0)).toMatchObject({ status: "error" });
  });
});

describe("compareResults", () => {
  const r = parseChildOutput(line(good), "", 0);
  if (!r.ok) throw new Error("fixture");
  it("agrees on equal summaries and names every difference", () => {
    expect(compareResults(r, { ...r })).toBeNull();
    expect(compareResults({ ...r, tensors: 2, listed: 2 }, { ...r, listed: 3 })).toBe(
      "tensors: ours 2, torch 3; listed: ours 2, torch 3",
    );
    expect(compareResults(r, { ...r, elements: 31 })).toBe("elements: ours 30, torch 31");
  });
});

describe("/proc parsing", () => {
  it("reads the CPU model, the logical CPU count and the total memory", () => {
    const cpuinfo =
      "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t: fpu\n\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) Processor\n";
    expect(parseCpuinfo(cpuinfo)).toEqual({ cpu: "Intel(R) Xeon(R) Processor", cores: 2 });
    expect(parseCpuinfo("")).toEqual({ cpu: null, cores: 0 });
    expect(parseMeminfo("MemTotal:       24686328 kB\nMemFree:  1 kB\n")).toBe(24686328 * 1024);
    expect(parseMeminfo("nothing")).toBeNull();
  });
});
