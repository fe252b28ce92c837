import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { disassemble, dumps, isPickleError, loads } from "../src/index.js";

const casesDir = fileURLToPath(new URL("../fixtures/cases/", import.meta.url));
const seeds = readdirSync(casesDir)
  .filter((f) => f.endsWith(".pkl"))
  .map((f) => new Uint8Array(readFileSync(join(casesDir, f))))
  .filter((b) => b.length < 4096);
const ITERATIONS = Number(process.env.PICKLE_FUZZ_ITERATIONS ?? 3000);

/** xorshift32: deterministic mutations. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

it(
  `mutated fixtures only ever produce typed errors (${ITERATIONS} cases)`,
  () => {
    const rand = rng(0x5eed);
    let errors = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const seed = seeds[Math.floor(rand() * seeds.length)] as Uint8Array;
      const data = seed.slice();
      const n = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < n; k++) {
        const at = Math.floor(rand() * data.length);
        const kind = rand();
        if (kind < 0.6) data[at] = Math.floor(rand() * 256);
        else if (kind < 0.8)
          data[at] = [0x28, 0x2e, 0x30, 0x31, 0x32, 0x68, 0x71, 0x52, 0x62, 0x65, 0x75][
            Math.floor(rand() * 11)
          ] as number;
        else data[at] = 0xff;
      }
      const cut = rand() < 0.2 ? Math.floor(rand() * data.length) : data.length;
      const input = data.subarray(0, cut);
      // pruneMemo never changes the outcome: the same error message, or an equal value
      const outcome = (pruneMemo: boolean): string => {
        try {
          return `value ${disassemble(dumps(loads(input, { policy: "opaque", encoding: "latin1", pruneMemo }), { protocol: 2 }))}`;
        } catch (e) {
          return `error ${e instanceof Error ? e.message : String(e)}`;
        }
      };
      expect(outcome(true), `case ${i}`).toBe(outcome(false));
      for (const run of [
        () => loads(input, { policy: "opaque", encoding: "latin1", maxTotalAllocation: 1 << 24 }),
        () => loads(input),
        () => disassemble(input),
      ]) {
        try {
          const v = run();
          if (typeof v !== "string") {
            try {
              dumps(v, { protocol: 2 });
            } catch (e) {
              if (!isPickleError(e)) throw e;
            }
          }
        } catch (e) {
          if (!isPickleError(e)) throw new Error(`untyped error on case ${i}: ${String(e)}`, { cause: e });
          errors++;
        }
      }
    }
    expect(errors).toBeGreaterThan(ITERATIONS / 4);
  },
  // a hang guard, not a speed bound: the work is bounded by ITERATIONS (17.8 s seen at load 19)
  Math.max(120_000, ITERATIONS * 40),
);
