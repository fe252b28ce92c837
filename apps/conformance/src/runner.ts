/**
 * The conformance run:
 * 1. `describe`: every fixture and every corpus file is loaded with @pt/serialization and its
 *    description compared with the one real torch wrote (`compareDescriptions`);
 * 2. `torch:zip` / `torch:legacy`: every fixture is written back by our stack in both formats and
 *    real torch (`generator/check_ours.py --batch`, one Python process) loads each file and
 *    compares it deeply with the original;
 * 1b. `state_dict`: for whole pickled models, `stateDict()` of the module we load must describe
 *    exactly as torch's `model.state_dict()` of the model torch loads (`loaded_model_state_dict`);
 * 3. `bytes`: where the manifest expects a byte-identical re-save (zip with the torch 1.6–2.0
 *    layout, legacy keeping the storage keys), our re-save must equal the fixture byte for byte.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import { compareDescriptions, describe, type LoadOptions } from "@pt/serialization";
import { loadFile, saveFile } from "@pt/serialization/node";
import type { CheckName, CheckResult } from "./results.js";

/** Where things are. */
export interface Paths {
  /** Repository root. */
  readonly root: string;
  /** `apps/conformance/fixtures`. */
  readonly fixtures: string;
  /** The real-file corpus (`apps/conformance/corpus`, or `$PT_CORPUS`). */
  readonly corpus: string;
  /** Python with torch. */
  readonly python: string;
}

/** A fixture file of the manifest. */
export interface FixtureFile {
  readonly caseName: string;
  readonly format: "zip" | "legacy";
  readonly file: string;
  readonly description: string;
  readonly weightsOnly: boolean;
  readonly byteIdentical: boolean;
  readonly tags: readonly string[];
}

interface ManifestJson {
  torch_version: string;
  cases: Array<{
    name: string;
    tags: string[];
    formats: Record<
      string,
      { file: string; description: string; weights_only: boolean; byte_identical_resave: boolean }
    >;
  }>;
}

/** Options of a run. */
export interface RunOptions {
  /** Only cases whose name contains one of these strings. */
  readonly only?: readonly string[];
  /** Skip the real-torch checks (2). */
  readonly skipTorch?: boolean;
  /** Skip the corpus files in check (1). */
  readonly skipCorpus?: boolean;
  /** Progress messages (stderr). */
  readonly log?: (line: string) => void;
}

/** Load options for descriptions: classes torch stubs are inert placeholders; nothing is executed. */
export const DESCRIBE_LOAD: LoadOptions = { unsafe: "opaque", modules: "opaque" };
/** Load options for re-saving: whole modules come back as modules and are saved as such. */
export const RESAVE_LOAD: LoadOptions = { unsafe: "opaque" };

function errText(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split("\n")[0]?.slice(0, 300) ?? "";
}

/** Read the fixture manifest. */
export async function readManifest(paths: Paths): Promise<{ torchVersion: string; files: FixtureFile[] }> {
  const m = JSON.parse(await readFile(join(paths.fixtures, "MANIFEST.json"), "utf8")) as ManifestJson;
  const files: FixtureFile[] = [];
  for (const c of m.cases)
    for (const fmt of ["zip", "legacy"] as const) {
      const f = c.formats[fmt];
      if (!f) continue;
      files.push({
        caseName: c.name,
        format: fmt,
        file: join(paths.fixtures, f.file),
        description: join(paths.fixtures, f.description),
        weightsOnly: f.weights_only,
        byteIdentical: f.byte_identical_resave,
        tags: c.tags,
      });
    }
  return { torchVersion: m.torch_version, files };
}

/** The corpus files with their expected descriptions. Throws when the corpus is missing. */
export async function corpusFiles(paths: Paths): Promise<Array<{ file: string; expected: string }>> {
  const dir = join(paths.corpus, "files");
  if (!existsSync(dir))
    throw new Error(`the corpus is missing: ${dir} does not exist (set PT_CORPUS to its folder)`);
  const names = (await readdir(dir)).sort();
  return names.map((n) => ({ file: join(dir, n), expected: join(paths.corpus, "expected", `${n}.json`) }));
}

/** Check (1) for one file: load, describe, compare with the expected JSON. */
export async function describeCheck(
  caseName: string,
  file: string,
  expectedPath: string,
): Promise<CheckResult> {
  try {
    const expected = JSON.parse(await readFile(expectedPath, "utf8")) as Record<string, unknown>;
    const value = await loadFile(file, DESCRIBE_LOAD);
    const d = await describe(value);
    const diffs = compareDescriptions(
      { object: d.object, storages: d.storages, n_tensors: d.n_tensors },
      { object: expected.object, storages: expected.storages, n_tensors: expected.n_tensors },
    );
    return diffs.length
      ? {
          case: caseName,
          check: "describe",
          ok: false,
          detail: `${diffs.length} differences, first: ${diffs[0]}`,
        }
      : { case: caseName, check: "describe", ok: true };
  } catch (e) {
    return { case: caseName, check: "describe", ok: false, detail: `load/describe failed: ${errText(e)}` };
  }
}

/** Check (1b): `stateDict()` of a loaded whole model against torch's `loaded_model_state_dict`. */
export async function stateDictCheck(
  caseName: string,
  value: unknown,
  expectedPath: string,
): Promise<CheckResult> {
  try {
    const expected = (
      JSON.parse(await readFile(expectedPath, "utf8")) as {
        loaded_model_state_dict?: Record<string, unknown>;
      }
    ).loaded_model_state_dict;
    if (!expected) throw new Error(`${expectedPath} has no loaded_model_state_dict`);
    const fn = (value as { stateDict?: unknown } | null)?.stateDict;
    if (typeof fn !== "function") throw new Error("the loaded value is not an nn.Module (no stateDict())");
    const d = await describe((fn as () => unknown).call(value));
    const diffs = compareDescriptions(
      { object: d.object, storages: d.storages },
      { object: expected.object, storages: expected.storages },
    );
    return diffs.length
      ? {
          case: caseName,
          check: "state_dict",
          ok: false,
          detail: `${diffs.length} differences, first: ${diffs[0]}`,
        }
      : { case: caseName, check: "state_dict", ok: true };
  } catch (e) {
    return { case: caseName, check: "state_dict", ok: false, detail: errText(e) };
  }
}

/** Run a command; resolves with its status and output. */
function runProcess(
  cmd: string,
  args: string[],
  cwd: string,
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    p.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    p.on("error", reject);
    p.on("close", (code) => resolve({ status: code ?? 1, stdout, stderr }));
  });
}

/** A file written back by our stack, to be checked by torch. */
interface Written {
  readonly fixture: FixtureFile;
  readonly as: "zip" | "legacy";
  readonly path: string;
  readonly label: string;
}

/**
 * Parse `check_ours.py` output: `PASS  <label>: …` / `FAIL  <label>: …: reason` lines. A pair
 * passes when it has a `torch … loads it` line and no FAIL line.
 */
export function parseCheckOurs(
  stdout: string,
  labels: readonly string[],
): Map<string, { ok: boolean; detail?: string }> {
  const res = new Map<string, { loaded: boolean; fails: string[] }>();
  for (const l of labels) res.set(l, { loaded: false, fails: [] });
  for (const line of stdout.split("\n")) {
    const m = /^(PASS|FAIL) {2}([^:]+):(.*)$/.exec(line);
    if (!m) continue;
    const r = res.get(m[2] as string);
    if (!r) continue;
    if (m[1] === "FAIL") r.fails.push((m[3] as string).trim());
    else if (/^ torch \S+ loads it$/.test(m[3] as string)) r.loaded = true;
  }
  const out = new Map<string, { ok: boolean; detail?: string }>();
  for (const [l, r] of res) {
    if (r.fails.length)
      out.set(l, { ok: false, detail: `${r.fails.length} failed checks, first: ${r.fails[0]}` });
    else if (!r.loaded) out.set(l, { ok: false, detail: "check_ours.py printed no result for it" });
    else out.set(l, { ok: true });
  }
  return out;
}

/**
 * Have real torch load each `ours` file and compare it deeply with `original`: one
 * `check_ours.py --batch` run over a pairs file written into `dir`. Returns a verdict per label
 * (labels must not contain `:`).
 */
export async function checkWithTorch(
  paths: Paths,
  dir: string,
  items: ReadonlyArray<{ original: string; ours: string; label: string }>,
): Promise<Map<string, { ok: boolean; detail?: string }>> {
  const pairs = items.map((w) => ({
    original: relative(dir, w.original),
    ours: relative(dir, w.ours),
    byte_identical: false,
    name: w.label,
  }));
  const pairsFile = join(dir, "pairs.json");
  await writeFile(pairsFile, JSON.stringify(pairs, null, 1));
  const script = join(paths.root, "apps/conformance/generator/check_ours.py");
  const r = await runProcess(paths.python, [script, "--batch", pairsFile], paths.root);
  if (r.status !== 0 && r.status !== 1 && r.status !== 2) {
    const why = `check_ours.py exited ${r.status}: ${r.stderr.trim().split("\n").pop() ?? ""}`;
    return new Map(items.map((w) => [w.label, { ok: false, detail: why }]));
  }
  return parseCheckOurs(
    r.stdout,
    items.map((w) => w.label),
  );
}

/** Compare two files byte for byte; null when equal, else a reason with the first differing offset. */
async function byteDiff(a: string, b: string): Promise<string | null> {
  const [x, y] = await Promise.all([readFile(a), readFile(b)]);
  if (x.equals(y)) return null;
  let i = 0;
  const n = Math.min(x.length, y.length);
  while (i < n && x[i] === y[i]) i++;
  return `sizes ${x.length} (torch) vs ${y.length} (ours), first difference at byte ${i}`;
}

/** The whole run. */
export async function runConformance(
  paths: Paths,
  options: RunOptions = {},
): Promise<{ results: CheckResult[]; torchVersion: string }> {
  const log = options.log ?? (() => {});
  const only = options.only ?? [];
  const pick = (name: string) => only.length === 0 || only.some((o) => name.includes(o));
  const { torchVersion, files } = await readManifest(paths);
  const fixtures = files.filter((f) => pick(basename(f.file)));
  const results: CheckResult[] = [];

  // (1) describe: fixtures, then the corpus.
  log(`describe: ${fixtures.length} fixtures`);
  for (const f of fixtures) results.push(await describeCheck(basename(f.file), f.file, f.description));
  if (!options.skipCorpus) {
    const corpus = (await corpusFiles(paths)).filter((c) => pick(`corpus/${basename(c.file)}`));
    log(`describe: ${corpus.length} corpus files`);
    for (const c of corpus)
      results.push(await describeCheck(`corpus/${basename(c.file)}`, c.file, c.expected));
  }

  // (2) + (3): write every fixture back in both formats.
  const tmp = await mkdtemp(join(tmpdir(), "pt-conformance-"));
  try {
    const written: Written[] = [];
    for (const as of ["zip", "legacy"] as const) await mkdir(join(tmp, as));
    log(`re-saving ${fixtures.length} fixtures as zip and legacy`);
    for (const f of fixtures) {
      const name = basename(f.file);
      let value: unknown;
      try {
        value = await loadFile(f.file, RESAVE_LOAD);
      } catch (e) {
        for (const check of ["torch:zip", "torch:legacy"] as const)
          results.push({ case: name, check, ok: false, detail: `load failed: ${errText(e)}` });
        if (f.byteIdentical)
          results.push({ case: name, check: "bytes", ok: false, detail: `load failed: ${errText(e)}` });
        continue;
      }
      if (f.tags.includes("whole_model")) results.push(await stateDictCheck(name, value, f.description));
      for (const as of ["zip", "legacy"] as const) {
        // Same file name as the fixture: torch's zip prefix is the file name up to its last dot.
        const out = join(tmp, as, name);
        const check: CheckName = as === "zip" ? "torch:zip" : "torch:legacy";
        try {
          await saveFile(value, out, as === "zip" ? { format: "zip", flavor: "1.13" } : { format: "legacy" });
        } catch (e) {
          results.push({ case: name, check, ok: false, detail: `save failed: ${errText(e)}` });
          if (f.byteIdentical && f.format === as)
            results.push({ case: name, check: "bytes", ok: false, detail: `save failed: ${errText(e)}` });
          continue;
        }
        written.push({ fixture: f, as, path: out, label: `${name}>${as}` });
        if (f.byteIdentical && f.format === as) {
          const d = await byteDiff(f.file, out);
          results.push(
            d === null
              ? { case: name, check: "bytes", ok: true }
              : { case: name, check: "bytes", ok: false, detail: d },
          );
        }
      }
    }

    if (!options.skipTorch && written.length) {
      log(`real torch checks ${written.length} files (check_ours.py --batch)`);
      const verdicts = await checkWithTorch(
        paths,
        tmp,
        written.map((w) => ({ original: w.fixture.file, ours: w.path, label: w.label })),
      );
      for (const w of written) {
        const check: CheckName = w.as === "zip" ? "torch:zip" : "torch:legacy";
        results.push({
          case: basename(w.fixture.file),
          check,
          ...(verdicts.get(w.label) ?? { ok: false, detail: "no result" }),
        });
      }
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return { results, torchVersion };
}
