/**
 * A real torch checkpoint whose data.pkl straddles a FRAME end (fixtures/frames, made by
 * generate.py with torch 1.13, which calls `builtins.print` reading it with weights_only=False):
 * refused by load and scan, naming the offsets.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { FrameError } from "@pt/pickle";
import { describe, expect, it } from "vitest";
import { load, scan } from "../src/index.js";

const file = fileURLToPath(new URL("../fixtures/frames/frame-straddling.pt", import.meta.url));
const outcome = JSON.parse(
  readFileSync(fileURLToPath(new URL("../fixtures/frames/outcome.json", import.meta.url)), "utf8"),
) as { weights_only_false_printed: string };

function frameErrorOf(e: unknown): FrameError | null {
  for (let k = 0; k < 6 && e instanceof Error; k++) {
    if (e instanceof FrameError) return e;
    e = e.cause;
  }
  return null;
}

describe("frame-straddling data.pkl in a real checkpoint", () => {
  it("torch 1.13 runs code reading it", () => {
    expect(outcome.weights_only_false_printed).toMatch(/pwned/);
  });
  for (const options of [{}, { unsafe: "opaque" as const }]) {
    it(`load(${JSON.stringify(options)}) refuses it naming the offsets`, async () => {
      const bytes = new Uint8Array(readFileSync(file));
      const err = await load(bytes, options).then(
        () => null,
        (e: unknown) => e,
      );
      const fe = frameErrorOf(err);
      expect(fe).not.toBeNull();
      expect(fe?.frameStart).toBe(2);
      expect(fe?.frameEnd).toBe(12);
      expect((err as Error).message).toMatch(/offset 12.*FRAME at offset 2.*at offset 11/);
    });
  }
  it("scan flags it", async () => {
    const r = await scan(new Uint8Array(readFileSync(file)));
    expect(r.globals.some((g) => g.module === "builtins" && g.name === "print")).toBe(true);
  });
});
