import { describe, expect, it } from "vitest";
import type { Io } from "../src/io.js";
import { Progress } from "../src/progress.js";

function io(tty: boolean): Io & { text: () => string } {
  let err = "";
  return {
    out: () => {},
    err: (t) => {
      err += t;
    },
    stderrIsTTY: tty,
    columns: 60,
    text: () => err,
  };
}

describe("Progress", () => {
  it("draws on a terminal once the delay has passed, and clears at the end", () => {
    const t = io(true);
    const p = new Progress(t, "hashing", 4, 0);
    p.update(2);
    expect(t.text()).toMatch(/^\rhashing \[#+-+\] {2}50%$/);
    p.finish();
    expect(t.text().endsWith("\r\x1b[2K")).toBe(true);
  });
  it("stays silent when stderr is not a terminal, or before the delay", () => {
    const a = io(false);
    new Progress(a, "x", 1, 0).update(1);
    expect(a.text()).toBe("");
    const b = io(true);
    const p = new Progress(b, "x", 1, 60_000);
    p.update(1);
    p.finish();
    expect(b.text()).toBe("");
  });
});
