/**
 * Protocol-4 framing (fixtures/frames, written by fixtures/frames.py with CPython's verdicts):
 * an opcode crossing a FRAME end, a FRAME inside an unfinished frame and STOP before the end of
 * its frame are `FrameError`s naming the offsets, in `loads`, `genops` and `disassemble` alike.
 * CPython's C unpickler reading from a file (as torch.load does) ignores frames and can read such
 * bytes differently from an in-memory reader, which is how scanners were bypassed.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  disassemble,
  FrameError,
  GlobalRegistry,
  genops,
  loads,
  PickleError,
  PyGlobal,
  PyObject,
  TruncatedError,
} from "../src/index.js";

const dir = fileURLToPath(new URL("../fixtures/frames/", import.meta.url));
interface Outcome {
  readonly ok: boolean;
  readonly calls: unknown[];
  readonly error?: string;
}
const manifest = JSON.parse(readFileSync(join(dir, "frames.json"), "utf8")) as Record<
  string,
  { python: Outcome; c_file: Outcome }
>;
const bytes = (name: string) => new Uint8Array(readFileSync(join(dir, `${name}.pkl`)));
// The payload's function, registered so that a well-formed pickle loads (nothing is executed).
const globals = new GlobalRegistry([
  ["ptframes", "record_the_call_1", new PyGlobal("ptframes", "record_the_call_1")],
]);

function thrown(f: () => unknown): PickleError {
  try {
    f();
  } catch (e) {
    if (e instanceof PickleError) return e;
    throw e;
  }
  throw new Error("expected a PickleError");
}

const expected: Record<
  string,
  { error: "Frame" | "Truncated" | null; frameStart?: number; frameEnd?: number }
> = {
  "valid-one-frame": { error: null },
  "valid-two-frames": { error: null },
  "cross-argument": { error: "Frame", frameStart: 2, frameEnd: 16 },
  "cross-after-opcode": { error: "Frame", frameStart: 2, frameEnd: 12 },
  "frame-in-frame": { error: "Frame", frameStart: 2, frameEnd: 33 },
  "stop-before-frame-end": { error: "Frame", frameStart: 2 },
  "frame-past-eof": { error: "Truncated" },
  "cross-global-name": { error: "Frame", frameStart: 2, frameEnd: 25 },
};

describe("framing", () => {
  it("covers every generated case", () => {
    expect(Object.keys(manifest).sort()).toEqual(Object.keys(expected).sort());
  });
  for (const [name, want] of Object.entries(expected)) {
    it(`${name}: ${want.error ?? "loads"} (CPython pure: ${manifest[name]?.python.ok ? "loads" : "refuses"}, C from a file: ${manifest[name]?.c_file.ok ? "loads" : "refuses"})`, () => {
      const data = bytes(name);
      const cpy = manifest[name] as { python: Outcome; c_file: Outcome };
      if (want.error === null) {
        // Well-formed: every reader agrees and CPython called the payload.
        expect(cpy.python.ok && cpy.c_file.ok).toBe(true);
        expect(loads(data, { globals })).toBeInstanceOf(PyObject);
        expect([...genops(data)].map((o) => o.op.name).at(-1)).toBe("STOP");
        expect(disassemble(data)).toMatch(/STOP/);
        return;
      }
      // Everything CPython's pure-Python unframer refuses, we refuse too (and more).
      if (!cpy.python.ok) expect(cpy.python.error).toMatch(/frame/);
      for (const f of [
        () => loads(data, { globals, policy: "opaque" }),
        () => [...genops(data)],
        () => disassemble(data),
      ]) {
        const e = thrown(f);
        if (want.error === "Truncated") {
          expect(e).toBeInstanceOf(TruncatedError);
          continue;
        }
        expect(e).toBeInstanceOf(FrameError);
        const fe = e as FrameError;
        expect(fe.frameStart).toBe(want.frameStart);
        if (want.frameEnd !== undefined) expect(fe.frameEnd).toBe(want.frameEnd);
        expect(fe.message).toMatch(
          new RegExp(`offset ${fe.offset}.*offset ${fe.frameEnd}|offset ${fe.frameEnd}.*offset`),
        );
        expect(fe.message).toContain(`FRAME at offset ${fe.frameStart}`);
      }
    });
  }
  it("genops can report framing errors and read on as the C unpickler does", () => {
    const seen: FrameError[] = [];
    const ops = [...genops(bytes("stop-before-frame-end"), 0, { onFrameError: (e) => seen.push(e) })];
    expect(ops.at(-1)?.op.name).toBe("STOP");
    expect(seen.map((e) => e.opcode)).toEqual(["STOP"]);
  });
});
