import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { genops } from "../src/disassemble.js";
import { dumps, loads, PyTuple } from "../src/index.js";
import { scanMemoReads } from "../src/memo-scan.js";
import { describe as describeValue } from "./describe.js";

const casesDir = fileURLToPath(new URL("../fixtures/cases/", import.meta.url));
const pickles = readdirSync(casesDir)
  .filter((f) => f.endsWith(".pkl"))
  .map((f) => [f, new Uint8Array(readFileSync(join(casesDir, f)))] as const);

/** The memo slots the pickle's GET opcodes read, from the disassembler. */
function readsOf(data: Uint8Array): number[] {
  const out = new Set<number>();
  for (const { op, arg } of genops(data))
    if (op.name === "GET" || op.name === "BINGET" || op.name === "LONG_BINGET") out.add(Number(arg));
  return [...out].sort((a, b) => a - b);
}

function marked(used: Uint8Array | null): number[] | null {
  if (used === null) return null;
  const out: number[] = [];
  used.forEach((v, i) => {
    if (v === 1) out.push(i);
  });
  return out;
}

describe("scanMemoReads", () => {
  it("finds exactly the memo slots that GET, BINGET and LONG_BINGET read, in CPython's pickles of every protocol", () => {
    expect(pickles.length).toBeGreaterThan(200);
    let withReads = 0;
    for (const [name, data] of pickles) {
      const expected = readsOf(data);
      if (expected.length > 0) withReads++;
      expect(marked(scanMemoReads(data, 0, data.length + 1)), name).toEqual(expected);
    }
    expect(withReads).toBeGreaterThan(20); // the fixtures do share objects
  });

  it("follows MEMOIZE's implicit indices (protocol 4 and 5)", () => {
    const shared = ["x"];
    const data = dumps([shared, shared, "a", "a"], { protocol: 4 });
    expect(data.includes(0x94)).toBe(true);
    expect(marked(scanMemoReads(data, 0, data.length + 1))).toEqual(readsOf(data));
  });

  it("gives up (null) on what it cannot follow: truncation, a non-opcode, no STOP, MEMOIZE after out-of-order PUTs", () => {
    const ok = dumps([1, "two", [3]], { protocol: 2 });
    expect(scanMemoReads(ok, 0, ok.length + 1)).not.toBeNull();
    for (let cut = 0; cut < ok.length; cut++) {
      const r = scanMemoReads(ok.subarray(0, cut), 0, cut + 1);
      expect(r, `cut at ${cut}`).toBeNull();
    }
    expect(scanMemoReads(Uint8Array.of(0x80, 2, 0xff, 0x2e), 0, 5)).toBeNull();
    // BINPUT 5 then MEMOIZE: MEMOIZE's index depends on the sparse memo, not predicted
    expect(scanMemoReads(Uint8Array.of(0x80, 4, 0x4e, 0x71, 5, 0x4e, 0x94, 0x2e), 0, 9)).toBeNull();
    // a GET index at or above the bound
    expect(scanMemoReads(Uint8Array.of(0x80, 2, 0x68, 200, 0x2e), 0, 10)).toBeNull();
  });

  it("never throws on mutated input", () => {
    let x = 12345;
    const next = () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x >>> 0;
    };
    for (const [, data] of pickles.slice(0, 60)) {
      for (let k = 0; k < 20; k++) {
        const m = data.slice();
        m[next() % m.length] = next() & 0xff;
        expect(() => scanMemoReads(m, 0, m.length + 1)).not.toThrow();
      }
    }
  });
});

describe("the unpickler with pruneMemo", () => {
  it("loads every fixture pickle to the same value, sharing included, as without it", () => {
    let compared = 0;
    for (const [name, data] of pickles) {
      let plain: unknown;
      try {
        plain = loads(data, { encoding: "latin1" });
      } catch {
        continue; // needs options of its own (out-of-band buffers, extensions)
      }
      expect(describeValue(loads(data, { encoding: "latin1", pruneMemo: true })), name).toEqual(
        describeValue(plain),
      );
      compared++;
    }
    expect(compared).toBeGreaterThan(150);
  });

  it("keeps every value that is read back: shared and self-referencing objects load with their identity", () => {
    const inner = [1, 2];
    const t = new PyTuple<unknown>();
    t.push(inner, inner);
    for (const protocol of [0, 1, 2, 3, 4, 5]) {
      const v = loads(dumps([inner, t, inner], { protocol }), { pruneMemo: true }) as unknown[];
      expect(v[0]).toBe(v[2]);
      expect((v[1] as unknown[])[0]).toBe(v[0]);
      expect((v[1] as unknown[])[1]).toBe(v[0]);
    }
  });
});
