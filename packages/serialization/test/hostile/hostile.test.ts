/**
 * The hostile-input corpus (fixtures/hostile, made by generate.py): every case ends in its
 * documented typed error, or loads for controls, within 10 s (a hang detector) and 256 MiB, without modifying its
 * input and without polluting prototypes. Cases listed in known-gaps.json must still fail (an
 * unexpected pass fails the test, so the list can only shrink).
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { loads } from "@pt/pickle";
import { Tensor } from "@pt/tensor";
import { afterAll, describe, expect, test } from "vitest";
import { type LoadOptions, load, open, scan } from "../../src/index.js";
import { openFile } from "../../src/node.js";
import {
  caseBytes,
  type HostileCase,
  hostileDir,
  isOurError,
  mismatch,
  type Outcome,
  prototypeProblem,
  readKnownGaps,
  readManifest,
  sha256,
} from "./corpus.js";

/** A hang detector, an order of magnitude above the typical time; work is bounded by the memory checks. */
const TIME_LIMIT_MS = 10_000;
const MEMORY_LIMIT = 256 * 1024 * 1024;

const manifest = readManifest();
const gaps = readKnownGaps();

async function run(c: HostileCase, bytes: Uint8Array): Promise<Outcome> {
  try {
    const value = c.target === "loads" ? loads(bytes) : await load(bytes, (c.options ?? {}) as LoadOptions);
    return { ok: true, value };
  } catch (error) {
    return { ok: false, error };
  }
}

// Memory an outcome holds: JS heap + ArrayBuffers in use while the outcome is referenced, minus
// the baseline live at the start (after a full GC). Usage without a GC is an upper bound; a full
// GC is only run when that bound is large.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function usedBytes(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

gc();
/** Live memory before any case ran. */
const BASELINE = usedBytes();

/** Memory held now beyond `baseline`: without a GC when that is small, else after a full GC. */
function heldBeyond(baseline: number): number {
  const bound = usedBytes() - baseline;
  if (bound < 32 * 2 ** 20) return bound;
  gc();
  return usedBytes() - baseline;
}

/** Peak resident set size so far, in bytes (never decreases). */
function peakRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}

interface Measured {
  readonly name: string;
  readonly ms: number;
  readonly peakGrowth: number;
  readonly retained: number;
  readonly problem: string | null;
  /** "loaded", or the error's class and code. */
  readonly outcome: string;
}
const measured: Measured[] = [];
const openProblems: { name: string; problem: string | null }[] = [];

/**
 * The lazy path: `open` (storages read on first access), then every storage read, then `close`.
 * Errors may surface at open or at the first read; the outcome must meet the same expectation.
 */
async function runOpen(c: HostileCase, bytes: Uint8Array): Promise<Outcome> {
  try {
    const cp = await open(bytes, { ...((c.options ?? {}) as LoadOptions), lazy: true });
    try {
      for (const s of cp.storages) await s.load();
      return { ok: true, value: cp.value };
    } finally {
      await cp.close();
    }
  } catch (error) {
    return { ok: false, error };
  }
}

describe("manifest", () => {
  test("every case has a file, a category and an expected outcome; names are unique", () => {
    const names = new Set<string>();
    for (const c of manifest.cases) {
      expect(names.has(c.name), c.name).toBe(false);
      names.add(c.name);
      expect(c.expected).toBeTypeOf("object");
      expect(["load", "loads"]).toContain(c.target);
    }
    expect(manifest.cases.length).toBeGreaterThan(200);
  });
  test("every known gap names a case of the manifest (or a lazy-reader check) and gives a reason", () => {
    for (const [name, reason] of Object.entries(gaps)) {
      const base = name.replace(/^open:/, "");
      const base2 = base.replace(/^scan:/, "");
      if (!name.startsWith("lazy:")) expect(names(), name).toContain(base2);
      expect(reason.length, name).toBeGreaterThan(10);
    }
  });
});

function names(): string[] {
  return manifest.cases.map((c) => c.name);
}

const categories = [...new Set(manifest.cases.map((c) => c.category))];

/** Known-gap check: a gap must still fail, anything else must pass. */
function expectOutcome(id: string, problem: string | null): void {
  const gap = gaps[id];
  if (gap) expect(problem, `${id} now passes: remove it from known-gaps.json (${gap})`).not.toBeNull();
  else expect(problem, problem ?? "").toBeNull();
}

for (const category of categories) {
  describe(category, () => {
    for (const c of manifest.cases.filter((x) => x.category === category)) {
      const gap = gaps[c.name];
      test(`${c.name}: ${c.description}${gap ? " [known gap]" : ""}`, async () => {
        const bytes = caseBytes(c);
        const before = sha256(bytes);
        const peak0 = peakRss();
        const t0 = performance.now();
        const outcome = await run(c, bytes);
        const ms = performance.now() - t0;
        const peakGrowth = peakRss() - peak0;
        // measured while the outcome (the loaded value or the error) is still referenced
        const retained = heldBeyond(BASELINE);
        let problem = mismatch(c.expected, outcome);
        if (!outcome.ok && !isOurError(outcome.error) && problem === null)
          problem = `untyped error ${String(outcome.error)}`;
        measured.push({
          name: c.name,
          ms,
          peakGrowth,
          retained,
          problem,
          outcome: outcome.ok
            ? "loaded"
            : `${(outcome.error as Error)?.constructor?.name}[${String((outcome.error as { code?: unknown })?.code)}]: ${String((outcome.error as Error)?.message)}`,
        });
        // Safety properties hold for every case, known gap or not.
        expect(sha256(bytes), "the input buffer was modified").toBe(before);
        expect(ms, `took ${ms.toFixed(0)} ms`).toBeLessThan(TIME_LIMIT_MS);
        expect(peakGrowth, `peak RSS grew by ${(peakGrowth / 2 ** 20).toFixed(0)} MiB`).toBeLessThan(
          MEMORY_LIMIT,
        );
        expect(retained, `the outcome holds ${(retained / 2 ** 20).toFixed(0)} MiB`).toBeLessThan(
          MEMORY_LIMIT,
        );
        expect(prototypeProblem()).toBeNull();
        expectOutcome(c.name, problem);
      });
      if (c.target === "load") {
        const openGap = gaps[`open:${c.name}`];
        test(`open:${c.name}: the same outcome through open() and lazy storage reads${openGap ? " [known gap]" : ""}`, async () => {
          const bytes = caseBytes(c);
          const before = sha256(bytes);
          const peak0 = peakRss();
          const t0 = performance.now();
          const outcome = await runOpen(c, bytes);
          const ms = performance.now() - t0;
          const peakGrowth = peakRss() - peak0;
          let problem = mismatch(c.expected, outcome);
          if (!outcome.ok && !isOurError(outcome.error) && problem === null)
            problem = `untyped error ${String(outcome.error)}`;
          expect(sha256(bytes), "the input buffer was modified").toBe(before);
          expect(ms, `took ${ms.toFixed(0)} ms`).toBeLessThan(TIME_LIMIT_MS);
          expect(peakGrowth, `peak RSS grew by ${(peakGrowth / 2 ** 20).toFixed(0)} MiB`).toBeLessThan(
            MEMORY_LIMIT,
          );
          expect(prototypeProblem()).toBeNull();
          openProblems.push({ name: `open:${c.name}`, problem });
          expectOutcome(`open:${c.name}`, problem);
        });
      }
    }
  });
}

describe("scan (what `pt scan` reports) flags the malicious files' globals without loading them", () => {
  for (const c of manifest.cases.filter((x) => x.scan !== undefined)) {
    const id = `scan:${c.name}`;
    const gap = gaps[id];
    test(`${id}${gap ? " [known gap]" : ""}`, async () => {
      const bytes = caseBytes(c);
      let problem: string | null = null;
      try {
        const result = await scan(bytes);
        for (const want of c.scan ?? []) {
          const hit = result.globals.find((g) => `${g.module}.${g.name}` === want.global);
          if (!hit)
            problem = `${want.global} not listed (found: ${result.globals.map((g) => `${g.module}.${g.name}`).join(", ")})`;
          else if (hit.verdict === "safe") problem = `${want.global} listed as allowed`;
          else if (want.dangerous !== null && hit.dangerous !== want.dangerous)
            problem = `${want.global} has dangerous=${hit.dangerous}, expected ${want.dangerous}`;
          if (problem) break;
        }
      } catch (e) {
        problem = `scan threw ${String(e)}`;
      }
      expectOutcome(id, problem);
    });
  }

  test("the controls and every conformance fixture: nothing dangerous, nothing refused", async () => {
    const dir = fileURLToPath(new URL("../../../../apps/conformance/fixtures/", import.meta.url));
    const files = readdirSync(dir).filter((f) => f.endsWith(".pt"));
    expect(files.length).toBeGreaterThan(40);
    for (const f of files) {
      const result = await scan(new Uint8Array(readFileSync(join(dir, f))));
      const dangerous = result.globals.filter((g) => g.dangerous);
      expect(dangerous.map((g) => `${f}: ${g.module}.${g.name}`)).toEqual([]);
    }
    for (const c of manifest.cases.filter((x) => x.category === "control" && x.file.endsWith(".pt"))) {
      const result = await scan(caseBytes(c));
      expect(result.globals.filter((g) => g.flagged).map((g) => `${c.name}: ${g.module}.${g.name}`)).toEqual(
        [],
      );
    }
  });
});

describe("after every case", () => {
  test("no prototype was polluted", () => {
    expect(prototypeProblem()).toBeNull();
    expect(Object.keys(Object.prototype)).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("lazy readers notice a file changed underneath", () => {
  const dir = mkdtempSync(join(tmpdir(), "pt-hostile-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Offset of the storage bytes `needle` inside the file. */
  function locate(file: Uint8Array, needle: Uint8Array): number {
    const at = Buffer.from(file).indexOf(Buffer.from(needle));
    if (at < 0) throw new Error("storage bytes not found");
    return at;
  }
  // float32 0..5, the bytes of storage "0" in the controls
  const f6 = new Uint8Array(new Float32Array([0, 1, 2, 3, 4, 5]).buffer);

  for (const [id, label, file, options] of [
    ["lazy:zip-crc", "zip, CRC checked", "control_torch_zip.pt", {}],
    ["lazy:zip-no-crc-check", "zip, CRC unchecked", "control_torch_zip.pt", { checkCrc: false }],
    ["lazy:zip-crc-zero", "zip, stored CRC 0", "control_crc_zero.pt", {}],
    ["lazy:legacy", "legacy (no CRC at all)", "control_torch_legacy.pt", {}],
  ] as const) {
    const gap = gaps[id];
    test(`${id}: ${label}: a storage byte rewritten after openFile is not returned silently${gap ? " [known gap]" : ""}`, async () => {
      const path = join(dir, `${label.replace(/\W+/g, "_")}.pt`);
      copyFileSync(fileURLToPath(new URL(`files/${file}`, hostileDir)), path);
      const cp = await openFile(path, { lazy: true, ...options });
      try {
        const storage = cp.storages[0];
        expect(storage).toBeDefined();
        expect(storage?.isLazy).toBe(true);
        const bytes = new Uint8Array(readFileSync(path));
        const at = locate(bytes, f6);
        bytes[at + 4] = (bytes[at + 4] as number) ^ 0xff;
        // same size, new content (and a new mtime)
        await new Promise((r) => setTimeout(r, 20));
        writeFileSync(path, bytes);
        let problem: string | null = null;
        try {
          await storage?.load();
          const got = storage?.bytes.slice(0, 24);
          // Bytes read before the change (a consistent snapshot) are fine; changed bytes are not.
          if (!got || got.some((b, k) => b !== f6[k]))
            problem = `the changed file was read without notice (byte 4 is now ${got?.[4]}, was ${f6[4]})`;
        } catch (error) {
          if (!isOurError(error)) problem = `untyped error ${String(error)}`;
        }
        expectOutcome(id, problem);
      } finally {
        await cp.close();
      }
    });
  }

  test("an unchanged file still reads lazily (the check has no false alarm)", async () => {
    const path = join(dir, "unchanged.pt");
    copyFileSync(fileURLToPath(new URL("files/control_torch_zip.pt", hostileDir)), path);
    const cp = await openFile(path, { lazy: true });
    try {
      const w = (cp.value as Map<string, unknown>).get("w");
      expect(w).toBeInstanceOf(Tensor);
      await cp.storages[0]?.load();
      expect(cp.storages[0]?.bytes.slice(0, 24)).toEqual(f6);
    } finally {
      await cp.close();
    }
  });
});

afterAll(() => {
  const slow = [...measured].sort((a, b) => b.ms - a.ms).slice(0, 5);
  const heavy = [...measured].sort((a, b) => b.retained - a.retained).slice(0, 4);
  const total = measured.reduce((s, m) => s + m.ms, 0);
  console.log(
    `hostile corpus: ${measured.length} cases in ${total.toFixed(0)} ms; slowest ${slow
      .map((m) => `${m.name} ${m.ms.toFixed(0)} ms`)
      .join(", ")}; largest retained ${heavy
      .map((m) => `${m.name} ${(m.retained / 2 ** 20).toFixed(1)} MiB`)
      .join(", ")}; ${measured.filter((m) => m.problem !== null).length} known gaps`,
  );
  if (process.env.PT_HOSTILE_REPORT)
    writeFileSync(
      process.env.PT_HOSTILE_REPORT,
      `${JSON.stringify([...measured, ...openProblems], null, 1)}\n`,
    );
});
