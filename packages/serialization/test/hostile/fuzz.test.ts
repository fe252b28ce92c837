/**
 * Mutation fuzzing of the full stack: small conformance fixtures (zip and legacy files made by
 * torch) and the hostile corpus's controls, mutated with seeded byte flips, interesting values,
 * insertions, deletions, truncations and splices. Every outcome must be a successful load whose
 * tensors lie inside their storages, or one of our typed errors; never a plain TypeError /
 * RangeError, a crash or a hang.
 *
 * CI: PT_FUZZ_ITERATIONS (default 2000) iterations, seed PT_FUZZ_SEED (default fixed).
 * Longer runs: `pnpm fuzz` (test/hostile/fuzz.mjs), e.g. PT_FUZZ_ITERATIONS=200000.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isDangerousGlobal, loads, PyGlobal, PyObject } from "@pt/pickle";
import { BufferSource } from "@pt/storage";
import { Tensor } from "@pt/tensor";
import { writeZip, ZipReader } from "@pt/zip-format";
import { describe, expect, test } from "vitest";
import { type LoadOptions, load, open } from "../../src/index.js";
import { hostileDir, isOurError } from "./corpus.js";

const ITERATIONS = Number(process.env.PT_FUZZ_ITERATIONS ?? 2000);
const SEED = Number(process.env.PT_FUZZ_SEED ?? 0x5eed_2026);
/** Per-iteration time bound: a hang shows up as a slow iteration. */
const ITERATION_LIMIT_MS = Number(process.env.PT_FUZZ_ITERATION_MS ?? 10_000);
const MAX_FIXTURE_BYTES = 4096;

const conformanceDir = new URL("../../../../apps/conformance/fixtures/", import.meta.url);

interface Seed {
  readonly name: string;
  readonly bytes: Uint8Array;
}

function loadSeeds(): Seed[] {
  const dir = fileURLToPath(conformanceDir);
  const seeds: Seed[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith(".pt")) continue;
    const p = join(dir, f);
    if (statSync(p).size > MAX_FIXTURE_BYTES) continue;
    seeds.push({ name: `conformance/${f}`, bytes: new Uint8Array(readFileSync(p)) });
  }
  const hdir = fileURLToPath(new URL("files/", hostileDir));
  for (const f of readdirSync(hdir).sort()) {
    if (f.startsWith("control_") && !f.endsWith(".gz"))
      seeds.push({ name: `hostile/${f}`, bytes: new Uint8Array(readFileSync(join(hdir, f))) });
  }
  return seeds;
}

/** mulberry32: small, seeded, deterministic. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING_U8 = [
  0, 1, 0x7f, 0x80, 0xff, 0x28 /* MARK */, 0x2e /* STOP */, 0x63 /* GLOBAL */, 0x51 /* BINPERSID */,
];
const INTERESTING_U32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 64, 4096];

/** One seeded mutation of `src`; returns the new bytes and what was done. */
export function mutate(
  src: Uint8Array,
  rand: () => number,
  donor: Uint8Array,
): { bytes: Uint8Array; what: string } {
  const int = (n: number) => Math.floor(rand() * n);
  const len = src.length;
  // Bias half of the positions towards the start (zip: data.pkl; legacy: the pickles).
  const pos = () => (rand() < 0.5 ? int(Math.max(1, Math.min(len, 512))) : int(Math.max(1, len)));
  const kind = int(9);
  const out = src.slice();
  switch (kind) {
    case 0: {
      const n = 1 + int(4);
      const at: number[] = [];
      for (let k = 0; k < n; k++) {
        const p = pos();
        at.push(p);
        if (p < out.length) out[p] = (out[p] as number) ^ (1 << int(8));
      }
      return { bytes: out, what: `bit flips at ${at.join(",")}` };
    }
    case 1: {
      const p = pos();
      const v = INTERESTING_U8[int(INTERESTING_U8.length)] as number;
      if (p < out.length) out[p] = v;
      return { bytes: out, what: `byte ${p} = 0x${v.toString(16)}` };
    }
    case 2: {
      const p = Math.min(pos(), Math.max(0, len - 4));
      const v = INTERESTING_U32[int(INTERESTING_U32.length)] as number;
      if (len >= 4) new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(p, v, true);
      return { bytes: out, what: `u32le at ${p} = 0x${v.toString(16)}` };
    }
    case 3: {
      const p = pos();
      const n = 1 + int(16);
      const ins = new Uint8Array(n).map(() => int(256));
      const r = new Uint8Array(len + n);
      r.set(src.subarray(0, p));
      r.set(ins, p);
      r.set(src.subarray(p), p + n);
      return { bytes: r, what: `insert ${n} random bytes at ${p}` };
    }
    case 4: {
      const p = pos();
      const n = 1 + int(32);
      const r = new Uint8Array(Math.max(0, len - n));
      r.set(src.subarray(0, p).subarray(0, r.length));
      if (p + n < len) r.set(src.subarray(p + n), p);
      return { bytes: r, what: `delete ${n} bytes at ${p}` };
    }
    case 5: {
      const p = int(len + 1);
      return { bytes: src.slice(0, p), what: `truncate to ${p}` };
    }
    case 6: {
      const p = pos();
      const n = 1 + int(64);
      const from = int(Math.max(1, len - n));
      const chunk = src.slice(from, from + n);
      const r = new Uint8Array(len + chunk.length);
      r.set(src.subarray(0, p));
      r.set(chunk, p);
      r.set(src.subarray(p), p + chunk.length);
      return { bytes: r, what: `duplicate ${chunk.length} bytes from ${from} at ${p}` };
    }
    case 7: {
      const p = pos();
      const n = 1 + int(64);
      const from = int(Math.max(1, donor.length - n));
      const chunk = donor.subarray(from, from + n);
      for (let k = 0; k < chunk.length && p + k < out.length; k++) out[p + k] = chunk[k] as number;
      return { bytes: out, what: `splice ${chunk.length} donor bytes from ${from} over ${p}` };
    }
    default: {
      const a = mutate(src, rand, donor);
      const b = mutate(a.bytes, rand, donor);
      return { bytes: b.bytes, what: `${a.what}; ${b.what}` };
    }
  }
}

/**
 * Invariants of a loaded value (bounded walk by identity): every Tensor lies inside its storage;
 * no dangerous global (`os.system`, `builtins.eval`, …) appears, even as an inert placeholder;
 * under the default policy no opaque placeholder (`PyObject`) appears at all.
 */
function checkValue(v: unknown, opaqueAllowed: boolean): string | null {
  const seen = new Set<unknown>();
  const todo: unknown[] = [v];
  while (todo.length > 0 && seen.size < 100_000) {
    const x = todo.pop();
    if (typeof x !== "object" || x === null || seen.has(x)) continue;
    seen.add(x);
    if (x instanceof Tensor) {
      const { shape, stride, storageOffset, dtype, storage } = x;
      if (shape.some((s) => !Number.isSafeInteger(s) || s < 0)) return `tensor with shape ${shape.join(",")}`;
      if (stride.some((s) => !Number.isSafeInteger(s))) return `tensor with stride ${stride.join(",")}`;
      if (!Number.isSafeInteger(storageOffset) || storageOffset < 0)
        return `tensor with offset ${storageOffset}`;
      if (shape.length !== stride.length)
        return `tensor with ${shape.length} sizes and ${stride.length} strides`;
      if (shape.every((s) => s > 0) && dtype.lanes === 1) {
        let last = storageOffset;
        for (let d = 0; d < shape.length; d++) last += ((shape[d] as number) - 1) * (stride[d] as number);
        if ((last + 1) * dtype.itemSize > storage.nbytes)
          return `tensor reaches element ${last} of a ${storage.nbytes}-byte ${dtype.name} storage`;
      }
      continue;
    }
    if (x instanceof PyGlobal && isDangerousGlobal(x.module, x.name))
      return `dangerous global ${x.qualifiedName} in a loaded value`;
    if (x instanceof PyObject) {
      if (!opaqueAllowed)
        return `opaque ${x.cls.qualifiedName} object under the default (weights_only) policy`;
      todo.push(x.cls, x.args, x.state, x.listItems, x.dictItems, x.kwargs);
      continue;
    }
    if (Array.isArray(x)) for (const y of x) todo.push(y);
    else if (x instanceof Map)
      for (const [k, y] of x) {
        todo.push(k);
        todo.push(y);
      }
    else if (Object.getPrototypeOf(x) === Object.prototype) for (const y of Object.values(x)) todo.push(y);
  }
  return null;
}

interface Failure {
  readonly iteration: number;
  readonly seed: string;
  readonly mutation: string;
  readonly target: string;
  readonly problem: string;
  readonly file?: string;
}

/** `open` (lazy storages), read every storage, close; returns the value. */
async function openAndRead(bytes: Uint8Array, options: LoadOptions): Promise<unknown> {
  const cp = await open(bytes, { ...options, lazy: true });
  try {
    for (const s of cp.storages) await s.load();
    return cp.value;
  } finally {
    await cp.close();
  }
}

/** The records of a zip seed (name under the prefix → bytes), in archive order, else null. */
async function zipRecords(
  bytes: Uint8Array,
): Promise<{ prefix: string; records: [string, Uint8Array][] } | null> {
  if (bytes[0] !== 0x50) return null;
  const r = await ZipReader.open(new BufferSource(bytes));
  const records: [string, Uint8Array][] = [];
  for (const name of r.records.keys()) records.push([name, await r.read(name)]);
  return { prefix: r.prefix, records };
}

describe("fuzz", () => {
  const seeds = loadSeeds();

  test("seed inputs: at least 40 small torch files, all of which load", async () => {
    expect(seeds.length).toBeGreaterThanOrEqual(40);
    for (const s of seeds) {
      const opts: LoadOptions = { unsafe: "opaque" };
      await expect(load(s.bytes, opts), s.name).resolves.toBeDefined();
    }
  });

  test(
    `${ITERATIONS} mutations (seed ${SEED}): only successful loads or typed errors, no hang`,
    async () => {
      const rand = rng(SEED);
      const zips = (await Promise.all(seeds.map((s) => zipRecords(s.bytes)))).filter((z) => z !== null);
      const pickles = zips.flatMap((z) => z.records.filter(([n]) => n === "data.pkl").map(([, d]) => d));
      const failures: Failure[] = [];
      const counts = { loaded: 0, typed: 0 };
      const codes = new Map<string, number>();
      let slowest = { ms: 0, what: "" };
      const t0 = performance.now();
      for (let it = 0; it < ITERATIONS; it++) {
        const mode = rand();
        // 15%: raw data.pkl through `loads`; 30%: one record of a zip mutated, then a valid zip
        // written around it (right CRCs and sizes), so the mutation reaches the pickle and tensor
        // layers; the rest: the file's bytes mutated.
        const raw = mode < 0.15;
        const rezip = !raw && mode < 0.45;
        let bytes: Uint8Array;
        let what: string;
        let seedName: string;
        if (rezip) {
          const z = zips[Math.floor(rand() * zips.length)]!;
          const k = rand() < 0.6 ? 0 : Math.floor(rand() * z.records.length);
          const [name, data] = z.records[k]!;
          const m = mutate(data, rand, pickles[Math.floor(rand() * pickles.length)]!);
          bytes = await writeZip(
            z.records.map(([n, d], j) => [n, j === k ? m.bytes : d] as const),
            { prefix: z.prefix },
          );
          what = `record ${name}: ${m.what}`;
          seedName = `zip with prefix ${z.prefix}`;
        } else {
          const pool = raw ? pickles : seeds.map((s) => s.bytes);
          const pick = Math.floor(rand() * pool.length);
          const m = mutate(pool[pick]!, rand, pool[Math.floor(rand() * pool.length)]!);
          bytes = m.bytes;
          what = m.what;
          seedName = raw ? `data.pkl #${pick}` : seeds[pick]!.name;
        }
        const options: LoadOptions = {
          ...(rand() < 0.5 ? { checkCrc: false } : {}),
          ...(rand() < 0.3 ? { unsafe: "opaque" as const } : {}),
        };
        // 20%: the lazy path, open() then every storage read
        const lazy = !raw && rand() < 0.2;
        const before = bytes.slice();
        const start = performance.now();
        let problem: string | null = null;
        try {
          const value = raw
            ? loads(bytes)
            : lazy
              ? await openAndRead(bytes, options)
              : await load(bytes, options);
          problem = checkValue(value, raw || options.unsafe === "opaque");
          counts.loaded++;
        } catch (e) {
          if (isOurError(e)) {
            counts.typed++;
            codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
          } else {
            problem = `untyped ${e instanceof Error ? `${e.constructor.name}: ${e.message}\n${e.stack}` : String(e)}`;
          }
        }
        const ms = performance.now() - start;
        if (ms > slowest.ms) slowest = { ms, what: `${seedName}: ${what}` };
        if (ms > ITERATION_LIMIT_MS) problem = `took ${ms.toFixed(0)} ms`;
        if (bytes.some((b, k) => b !== before[k])) problem = "the input buffer was modified";
        if (problem !== null) {
          const failure: Failure = {
            iteration: it,
            seed: seedName,
            mutation: what,
            target: raw ? "loads" : `${lazy ? "open" : "load"} ${JSON.stringify(options)}`,
            problem,
          };
          if (process.env.PT_FUZZ_SAVE_FAILURES) {
            const file = join(tmpdir(), `pt-fuzz-${SEED}-${it}.bin`);
            writeFileSync(file, bytes);
            failures.push({ ...failure, file });
          } else failures.push(failure);
          if (failures.length >= 20) break;
        }
      }
      const total = performance.now() - t0;
      console.log(
        `fuzz: ${ITERATIONS} iterations in ${(total / 1000).toFixed(1)} s (seed ${SEED}): ${counts.loaded} loaded, ${counts.typed} typed errors; slowest ${slowest.ms.toFixed(0)} ms (${slowest.what}); codes ${[
          ...codes,
        ]
          .sort((a, b) => b[1] - a[1])
          .map(([c, n]) => `${c} ${n}`)
          .join(", ")}`,
      );
      expect(failures, JSON.stringify(failures, null, 1)).toEqual([]);
      // Both outcomes are exercised: the mutations are neither all fatal nor all harmless.
      expect(counts.loaded).toBeGreaterThan(0);
      expect(counts.typed).toBeGreaterThan(0);
    },
    Math.max(60_000, ITERATIONS * 100),
  );
});
