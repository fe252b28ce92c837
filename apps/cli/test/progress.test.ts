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
    columns: 120,
    text: () => err,
  };
}

describe("Progress", () => {
  it("draws bytes, rate and ETA on a terminal once the delay has passed, and clears at the end", () => {
    const t = io(true);
    const p = new Progress(t, "writing", 4_000_000, 0);
    p.update(2_000_000);
    const drawn = t.text();
    expect(drawn).toContain("writing [");
    expect(drawn).toContain("50%");
    expect(drawn).toContain("2.00 MB / 4.00 MB");
    expect(drawn).toMatch(/\d B\/s|kB\/s|MB\/s|GB\/s/);
    expect(drawn).toContain("ETA");
    p.finish();
    expect(t.text().length).toBeGreaterThan(drawn.length); // the line is cleared
  });
  it("stays silent when stderr is not a terminal, or before the delay", () => {
    const a = io(false);
    const q = new Progress(a, "x", 1, 0);
    q.update(1);
    q.finish();
    expect(a.text()).toBe("");
    const b = io(true);
    const p = new Progress(b, "x", 1, 60_000);
    p.update(1);
    p.finish();
    expect(b.text()).toBe("");
  });
});

describe("pt scan PATH... shows progress", () => {
  it("draws a bar over the files' bytes on a terminal, and nothing on a pipe", async () => {
    const { scanCommand } = await import("../src/cmd-scan.js");
    const corpus = new URL("../../conformance/corpus/files/", import.meta.url).pathname;
    const tty = { ...io(true), progressDelayMs: 0 };
    let out = "";
    const code = await scanCommand(["--jobs", "1", corpus], {
      ...tty,
      out: (t) => {
        out += t;
      },
    });
    expect([0, 1, 2]).toContain(code);
    expect(out).toContain("scanned 135 files");
    expect(tty.text()).toContain("scanning [");
    expect(tty.text()).toContain("100%");
    const pipe = io(false);
    await scanCommand(["--jobs", "1", corpus], { ...pipe, progressDelayMs: 0 });
    expect(pipe.text()).not.toContain("scanning [");
  }, 120_000);
});
