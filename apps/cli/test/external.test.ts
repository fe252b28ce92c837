/**
 * External scanner suites (packages/serialization/fixtures/external: picklescan's and modelscan's
 * samples, fickling-shaped bypasses, CPython's pickletester vectors; see each PROVENANCE.md):
 * every malicious sample is flagged by `pt scan` (exit 1) and refused by `load()` naming a
 * global; no benign sample is flagged except by torch's weights_only design (no dangerous global,
 * no mis-framed pickle). And `scan()` and `load()` agree on every file of the suites, the
 * corpus and the fixtures. Files in known-failures.json must still miss (the list only shrinks).
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { load, loadSync, scan, UnsafeGlobalError } from "@pt/serialization";
import { describe, expect, it } from "vitest";
import { CORPUS, FIXTURES, ROOT, run } from "./helpers.js";

const EXT = join(ROOT, "packages/serialization/fixtures/external");
const known = JSON.parse(readFileSync(join(EXT, "known-failures.json"), "utf8")) as Record<string, string>;
const modelscan = JSON.parse(readFileSync(join(EXT, "modelscan/generated/cases.json"), "utf8")) as Record<
  string,
  "malicious" | "benign"
>;
const fickling = {
  ...(JSON.parse(readFileSync(join(EXT, "fickling/cases.json"), "utf8")) as Record<string, string>),
  ...(JSON.parse(readFileSync(join(EXT, "fickling/crashes/cases.json"), "utf8")) as Record<string, string>),
  ...(JSON.parse(readFileSync(join(EXT, "fickling/vectors/cases.json"), "utf8")) as Record<string, string>),
};

function files(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else out.push(p);
  }
  return out;
}

const SAMPLE = /\.(pkl|pickle|pt|bin|zip|7z|npy|npz|dill|joblib)$/;
const MALICIOUS =
  /(malicious|GHSA-|exploit|sploit|bypass|exfiltration|types_CodeType|codeinjection|io_FileIO|logging_FileHandler|urllib_request|unsafe_zip)/;
const INVALID = /(bad_pytorch|broken_model|not_a_pickle)/;

/** `flagged`: benign to its suite, flagged by our documented design (the dangerous globals named after `flagged:`). */
type Kind = "malicious" | "benign" | "invalid" | "flagged";
function kindOf(rel: string): Kind {
  const base = rel.split("/").pop() as string;
  if (rel.startsWith("fickling/"))
    return fickling[base] === "malicious"
      ? "malicious"
      : fickling[base]?.startsWith("flagged:")
        ? "flagged"
        : "benign";
  if (rel.startsWith("modelscan/generated/")) return modelscan[base] === "malicious" ? "malicious" : "benign";
  if (INVALID.test(base)) return "invalid";
  return MALICIOUS.test(base) ? "malicious" : "benign";
}

const samples = files(EXT)
  .map((p) => relative(EXT, p))
  .filter((r) => SAMPLE.test(r))
  .sort();

async function loadOutcome(bytes: Uint8Array): Promise<unknown> {
  try {
    await load(bytes);
    return null;
  } catch (e) {
    return e;
  }
}

describe("external scanner suites", () => {
  it("has the suites", () => {
    for (const s of ["picklescan/", "modelscan/", "fickling/", "cpython/"])
      expect(samples.filter((r) => r.startsWith(s)).length, s).toBeGreaterThan(0);
    expect(samples.filter((r) => kindOf(r) === "malicious").length).toBeGreaterThan(100);
    // every generated modelscan-shaped sample has its verdict, and every verdict its file
    const generated = samples
      .filter((r) => r.startsWith("modelscan/generated/"))
      .map((r) => r.split("/").pop());
    expect(generated.sort()).toEqual(Object.keys(modelscan).sort());
    const vectors = samples
      .filter((r) => r.startsWith("fickling/vectors/"))
      .map((r) => r.split("/").pop() as string);
    expect(vectors.filter((v) => !/^(malicious|benign|flagged:.+)$/.test(fickling[v] ?? ""))).toEqual([]);
    expect(vectors.length).toBeGreaterThan(200);
  });

  const misses: string[] = [];
  for (const rel of samples) {
    const kind = kindOf(rel);
    it(`${rel}: ${kind}${known[rel] ? " [known failure]" : ""}`, async () => {
      const path = join(EXT, rel);
      const bytes = new Uint8Array(readFileSync(path));
      const r = await run("scan", "--json", path);
      const problem: string[] = [];
      if (kind === "malicious") {
        if (r.code !== 1) problem.push(`pt scan exited ${r.code}: ${r.err.trim()}`);
        const err = await loadOutcome(bytes);
        if (!(err instanceof UnsafeGlobalError) || err.globals.length === 0)
          problem.push(`load() did not refuse naming a global: ${String(err)}`);
      } else if (kind === "flagged") {
        // exit 1 for exactly the documented dangerous globals, and load refuses naming them
        const expected = (fickling[rel.split("/").pop() as string] as string)
          .slice("flagged:".length)
          .split(",");
        const res = await scan(bytes);
        const dangerous = [
          ...new Set(
            res.globals
              .filter((g) => g.verdict === "dangerous")
              .map((g) => (g.normalized ? `${g.normalized.module}.${g.normalized.name}` : g.global)),
          ),
        ];
        if (r.code !== 1 || dangerous.sort().join() !== expected.sort().join())
          problem.push(`expected exit 1 for ${expected}, got ${r.code} for ${dangerous}`);
        const err = await loadOutcome(bytes);
        if (!(err instanceof UnsafeGlobalError))
          problem.push(`load() did not refuse naming a global: ${String(err)}`);
      } else if (kind === "benign") {
        const res = await scan(bytes).catch(() => null);
        if (res === null) {
          // an archive we cannot open (encrypted records): not scanned, and not flagged
          expect(r.code, rel).toBe(2);
          return;
        }
        const dangerous = res.globals.filter((g) => g.verdict === "dangerous").map((g) => g.global);
        if (dangerous.length) problem.push(`dangerous: ${dangerous.join(", ")}`);
        if (res.problems.some((p) => p.kind === "frame")) problem.push("mis-framed");
        // flagged only by the weights_only design: globals outside the allowlist, none dangerous
        if (r.code === 1 && (dangerous.length || !res.globals.some((g) => g.flagged)))
          problem.push(`pt scan flagged it: ${r.out.slice(0, 500)}`);
      } else {
        expect([1, 2]).toContain(r.code); // never "safe" and never a crash
      }
      if (known[rel]) {
        expect(problem, `${rel} is listed in known-failures.json but now passes: remove it`).not.toEqual([]);
        misses.push(rel);
      } else expect(problem, rel).toEqual([]);
    });
  }
});

/**
 * Whether `scan()`'s verdict and `load()`'s outcome agree: load refuses a file for its globals
 * exactly when scan flags a global, and then names every global scan flags (so does `loadSync`);
 * a pickle load finds malformed or mis-framed is never "safe". (Files load refuses for other
 * reasons, a bad CRC or an unknown format, may scan clean.)
 */
async function agreement(bytes: Uint8Array): Promise<string | null> {
  const err = await loadOutcome(bytes);
  let s: Awaited<ReturnType<typeof scan>>;
  try {
    s = await scan(bytes);
  } catch (e) {
    // the container itself is refused (a hostile zip structure): load must refuse it too
    return err === null ? `scan threw ${String(e)} but load succeeded` : null;
  }
  const flagged = [...new Set(s.globals.filter((g) => g.flagged).map((g) => g.global))];
  if (err instanceof UnsafeGlobalError && flagged.length === 0)
    return `load refused ${err.message} but scan flags nothing`;
  if (flagged.length > 0) {
    if (err === null) return `scan flags ${flagged} but load succeeded`;
    // refused for another reason first (a TorchScript archive): fine unless a flagged global is dangerous
    const dangerous = s.globals.some((g) => g.flagged && g.verdict === "dangerous");
    if (!(err instanceof UnsafeGlobalError) && dangerous)
      return `scan flags ${flagged} but load gave ${String(err)}`;
    if (err instanceof UnsafeGlobalError) {
      const named = new Set(err.globals.map((g) => (g.module ? `${g.module}.${g.name}` : g.name)));
      const missing = flagged.filter((g) => !named.has(g));
      if (missing.length)
        return `scan flags ${missing} but load's refusal does not name them: ${err.message}`;
    }
  }
  // loadSync refuses (or not) as load does
  let syncErr: unknown = null;
  try {
    loadSync(bytes);
  } catch (e) {
    syncErr = e;
  }
  if (err instanceof UnsafeGlobalError !== syncErr instanceof UnsafeGlobalError)
    return `load gave ${String(err)} but loadSync ${String(syncErr)}`;
  // a pickle load refuses as mis-framed is never called safe by scan
  if (s.safe && err instanceof Error && /of the FRAME at offset/.test(err.message))
    return `scan says safe but load found a mis-framed pickle: ${err.message}`;
  return null;
}

/** Every sample-like file under the packages' and the conformance app's fixture folders (besides the sets above). */
function fixtureFiles(): string[] {
  const roots = [
    FIXTURES,
    join(ROOT, "apps/conformance/fixtures-2.14"),
    ...readdirSync(join(ROOT, "packages")).map((p) => join(ROOT, "packages", p, "fixtures")),
  ];
  const skip = [EXT, join(ROOT, "packages/serialization/fixtures/hostile")];
  return roots
    .filter((r) => existsSync(r))
    .flatMap((r) => files(r))
    .filter(
      (f) =>
        !skip.some((d) => f.startsWith(d)) && /\.(pt|pt2|pkl|pickle|bin|zip|tar|npy|npz|distcp)$/.test(f),
    );
}

describe("scan() and load() agree", () => {
  const sets: Array<[string, string[]]> = [
    ["corpus", files(join(CORPUS, "files"))],
    ["fixtures", fixtureFiles()],
    ["external", samples.map((r) => join(EXT, r))],
    ["hostile", files(join(ROOT, "packages/serialization/fixtures/hostile/files"))],
  ];
  for (const [name, list] of sets) {
    it(`on every file of the ${name} (${list.length})`, async () => {
      expect(list.length).toBeGreaterThan(0);
      const bad: string[] = [];
      for (const f of list) {
        if (statSync(f).size > 64 << 20) continue;
        const why = await agreement(new Uint8Array(readFileSync(f)));
        if (why) bad.push(`${relative(ROOT, f)}: ${why}`);
      }
      expect(bad).toEqual([]);
    }, 300_000);
  }
});
