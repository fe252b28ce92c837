#!/usr/bin/env node
/**
 * The big-file check (too big for every CI run; run by hand after `pnpm build`):
 *
 *   node apps/cli/scripts/big-check.mjs [--gib 5] [--dir /tmp] [--keep] [--diff-gb 1.6]
 *
 * 1. Builds a checkpoint of about `--gib` GiB (zip, torch 2.7 layout): layers of float32, one
 *    int64 and one float16 tensor, and a non-contiguous view, each with deterministic values,
 *    generated storage by storage (the generator never holds more than one storage).
 * 2. `pt convert big.pt big.safetensors`, then `pt convert big.safetensors back.pt`, each in a
 *    process of its own whose peak RSS (`process.resourceUsage().maxRSS`) is reported; both must
 *    stay under 1.5 GiB.
 * 3. torch (/usr/bin/python3) reads the safetensors file by hand (numpy memmap) and loads
 *    back.pt with `torch.load`, and finds every tensor equal to the generator's formula.
 * 4. Two checkpoints of `--diff-gb` GB that differ in one element: `pt diff` (time, peak RSS)
 *    against torch loading both files (time); and `pt inspect --hash` (time, peak RSS).
 *
 * Every number is printed at the end as JSON. Files are deleted afterwards unless --keep.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statfsSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const RUN = join(here, "rss-run.mjs");
const GEN = join(here, "big-make.mjs");
const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const gib = Number(opt("gib", "5"));
const diffGb = Number(opt("diff-gb", "1.6"));
const base = opt("dir", "/tmp");
const keep = argv.includes("--keep");
const LIMIT = 1.5 * 2 ** 30;

const fs = statfsSync(base);
const free = fs.bavail * fs.bsize;
const need = (3 * gib * 2 ** 30 + 2 * diffGb * 1e9) * 1.05;
if (free < need) {
  console.error(
    `big-check: ${base} has ${(free / 2 ** 30).toFixed(1)} GiB free, needs ${(need / 2 ** 30).toFixed(1)} GiB`,
  );
  process.exit(2);
}
const dir = mkdtempSync(join(base, "pt-big-"));
const results = { gib, files: {} };

function step(label, cmd, args, okCodes = [0]) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 26 });
  const secs = (Date.now() - t0) / 1000;
  if (!okCodes.includes(r.status)) {
    console.error(`big-check: ${label} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
    if (!keep) rmSync(dir, { recursive: true, force: true });
    process.exit(1);
  }
  const m = /maxRSS (\d+)/.exec(r.stderr);
  const rss = m ? Number(m[1]) * 1024 : null;
  console.error(`${label}: ${secs.toFixed(1)} s${rss ? `, peak RSS ${(rss / 2 ** 20).toFixed(0)} MiB` : ""}`);
  return { secs, rss, out: r.stdout };
}

try {
  const big = join(dir, "big.pt");
  const st = join(dir, "big.safetensors");
  const back = join(dir, "back.pt");
  results.make = step("make", process.execPath, [GEN, big, String(gib * 2 ** 30), "0"]);
  results.files.big = statSync(big).size;
  results.toSafetensors = step("convert → safetensors", process.execPath, [RUN, "convert", big, st]);
  results.files.safetensors = statSync(st).size;
  results.toZip = step("convert → zip", process.execPath, [RUN, "convert", st, back]);
  results.files.back = statSync(back).size;
  rmSync(big);
  results.torchCheck = step("torch check", "/usr/bin/python3", [join(here, "big-check.py"), st, back]);
  rmSync(st);
  rmSync(back);

  // diff and hash of two ~1.6 GB files that differ in one element
  const a = join(dir, "a.pt");
  const b = join(dir, "b.pt");
  step("make A", process.execPath, [GEN, a, String(Math.round(diffGb * 1e9)), "0"]);
  step("make B", process.execPath, [GEN, b, String(Math.round(diffGb * 1e9)), "1"]);
  results.diff = step("pt diff A B", process.execPath, [RUN, "diff", a, b], [1]);
  results.diffOutput = results.diff.out.trim();
  results.torchLoadBoth = step("torch.load A and B", "/usr/bin/python3", [
    "-c",
    "import sys, torch; a = torch.load(sys.argv[1]); b = torch.load(sys.argv[2]); print(len(a), len(b))",
    a,
    b,
  ]);
  results.hash = step("pt inspect --hash A", process.execPath, [RUN, "inspect", "--hash", "--json", a]);
  for (const k of ["diff", "hash"]) delete results[k].out;
  const ok =
    results.toSafetensors.rss < LIMIT &&
    results.toZip.rss < LIMIT &&
    results.diff.secs < results.torchLoadBoth.secs;
  results.ok = ok;
  for (const k of ["make", "toSafetensors", "toZip", "torchCheck", "torchLoadBoth"]) delete results[k].out;
  console.log(JSON.stringify(results, null, 1));
  if (!ok) process.exitCode = 1;
} finally {
  if (!keep) rmSync(dir, { recursive: true, force: true });
}
