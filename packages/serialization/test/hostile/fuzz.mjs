#!/usr/bin/env node
/**
 * Long fuzzing runs of the full stack (`pnpm fuzz` at the root, or `node test/hostile/fuzz.mjs`
 * in packages/serialization). Runs test/hostile/fuzz.test.ts with more iterations, one or more
 * seeds, saving every failing input to the temp folder.
 *
 *   node test/hostile/fuzz.mjs [--iterations N] [--seed S] [--seeds K]
 *
 * Defaults: 200000 iterations (or PT_FUZZ_ITERATIONS), seed 0x5eed2026 (or PT_FUZZ_SEED), 1 seed.
 * With --seeds K, seeds S, S+1, ... S+K-1 are run one after another. Exit status 1 on any failure.
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && process.argv[i + 1] !== undefined) return process.argv[i + 1];
  return fallback;
}

const iterations = Number(arg("iterations", process.env.PT_FUZZ_ITERATIONS ?? 200000));
const seed = Number(arg("seed", process.env.PT_FUZZ_SEED ?? 0x5eed2026));
const seeds = Number(arg("seeds", 1));
if (!Number.isSafeInteger(iterations) || iterations <= 0 || !Number.isSafeInteger(seed) || !(seeds >= 1)) {
  console.error("usage: fuzz.mjs [--iterations N] [--seed S] [--seeds K]");
  process.exit(2);
}

let failed = false;
for (let k = 0; k < seeds; k++) {
  const s = seed + k;
  console.log(`fuzz: seed ${s}, ${iterations} iterations`);
  const r = spawnSync("pnpm", ["exec", "vitest", "run", "test/hostile/fuzz.test.ts"], {
    cwd: pkgDir,
    stdio: "inherit",
    env: {
      ...process.env,
      PT_FUZZ_ITERATIONS: String(iterations),
      PT_FUZZ_SEED: String(s),
      PT_FUZZ_SAVE_FAILURES: "1",
    },
  });
  if (r.status !== 0) {
    failed = true;
    console.error(
      `fuzz: seed ${s} failed (failing inputs are saved as pt-fuzz-${s}-<iteration>.bin in the temp folder)`,
    );
  }
}
process.exit(failed ? 1 : 0);
