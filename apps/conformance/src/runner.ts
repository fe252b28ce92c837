/**
 * The conformance run, over every fixture set (`fixtures/` written by torch 1.13, `fixtures-2.14/`
 * by torch 2.14) and against every oracle (a Python with torch, given by a command and a label):
 * 1. `describe`: every fixture and every corpus file is loaded with @pt/serialization and its
 *    description compared with the one real torch wrote (`compareDescriptions`);
 * 2. `torch:zip@<label>` / `torch:legacy@<label>`: every fixture is written back by our stack in
 *    both formats, in the flavor of that oracle's torch, and that torch (`generator/check_ours.py
 *    --batch`, one Python process per oracle) loads each file and compares it deeply with the
 *    original (`n/a` when that torch cannot load the original, or cannot load legacy files of
 *    the value at all);
 * 1b. `state_dict`: for whole pickled models, `stateDict()` of the module we load must describe
 *    exactly as torch's `model.state_dict()` of the model torch loads (`loaded_model_state_dict`);
 * 3. `bytes`: where the manifest expects a byte-identical re-save, our re-save in the fixture's own
 *    format and flavor ("like the input": zip layout, CRCs, byteorder record, alignment; legacy
 *    keeping the storage keys) must equal the fixture byte for byte.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import { compareDescriptions, describe } from "@pt/describe";
import type { LoadOptions } from "@pt/serialization";
import { loadFile, openFile, saveFile } from "@pt/serialization/node";
import type { CheckResult } from "./results.js";

/** An oracle: a Python with torch, by the command that runs it and its torch version label. */
export interface Oracle {
  /** `1.13`, `2.14`: names its columns (`torch:zip@2.14`) and chooses the flavor we write for it. */
  readonly label: string;
  /** The command (`["/usr/bin/python3"]`, `["<root>/scripts/torch2-python"]`); script arguments follow. */
  readonly command: readonly string[];
}

/** Which torch's files we write for an oracle label: torch 1.x gets torch 1.13's, 2.x the newest. */
export function flavorFor(label: string): "1.13" | "2.7" {
  return label.startsWith("1.") ? "1.13" : "2.7";
}

/** A fixture set: the files one torch wrote, and its manifest. */
export interface FixtureSet {
  /** The torch that wrote it (`1.13`, `2.14`). */
  readonly label: string;
  /** Its folder (`apps/conformance/fixtures`, `apps/conformance/fixtures-2.14`). */
  readonly dir: string;
  /** Prefix of its case names in results (`""` for 1.13's, `"2.14/"`). */
  readonly prefix: string;
}

/** Where things are. */
export interface Paths {
  /** Repository root. */
  readonly root: string;
  /** `apps/conformance/fixtures` (torch 1.13's set; `sets` lists every set). */
  readonly fixtures: string;
  /** Every fixture set (default: the torch 1.13 and torch 2.14 sets). */
  readonly sets?: readonly FixtureSet[];
  /** The real-file corpus (`apps/conformance/corpus`, or `$PT_CORPUS`). */
  readonly corpus: string;
  /** Python with torch 1.13 (used when `oracles` is not given). */
  readonly python: string;
  /** The oracles every torch check runs against (default: torch 1.13 at `python`). */
  readonly oracles?: readonly Oracle[];
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
  /** The set it belongs to (default: torch 1.13's). */
  readonly set?: FixtureSet;
  /** Its name in results (`dtype_int8.zip.pt`, `2.14/dtype_uint16.legacy.pt`). */
  readonly label?: string;
  /** The file torch compares ours with when it cannot load this one (the case's zip file). */
  readonly compareWith?: string;
  /** Why the writing torch cannot load the case's legacy file (legacy checks do not apply). */
  readonly legacyUnloadable?: string;
}

interface ManifestJson {
  torch_version: string;
  cases: Array<{
    name: string;
    tags: string[];
    formats: Record<
      string,
      {
        file: string;
        description: string;
        weights_only: boolean;
        byte_identical_resave: boolean;
        torch_load_error?: string;
        compare_with?: string;
      }
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

/** The fixture sets of `paths` (torch 1.13's alone when `sets` is not given). */
export function fixtureSets(paths: Paths): readonly FixtureSet[] {
  return paths.sets ?? [{ label: "1.13", dir: paths.fixtures, prefix: "" }];
}

/** Read a fixture manifest (default: torch 1.13's set). */
export async function readManifest(
  paths: Paths,
  set: FixtureSet = fixtureSets(paths)[0] as FixtureSet,
): Promise<{ torchVersion: string; files: FixtureFile[] }> {
  const m = JSON.parse(await readFile(join(set.dir, "MANIFEST.json"), "utf8")) as ManifestJson;
  const files: FixtureFile[] = [];
  for (const c of m.cases)
    for (const fmt of ["zip", "legacy"] as const) {
      const f = c.formats[fmt];
      if (!f) continue;
      const legacyError = c.formats.legacy?.torch_load_error;
      files.push({
        caseName: c.name,
        format: fmt,
        file: join(set.dir, f.file),
        description: join(set.dir, f.description),
        weightsOnly: f.weights_only,
        byteIdentical: f.byte_identical_resave,
        tags: c.tags,
        set,
        label: `${set.prefix}${f.file}`,
        ...(f.compare_with ? { compareWith: join(set.dir, f.compare_with) } : {}),
        ...(legacyError ? { legacyUnloadable: legacyError } : {}),
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
 * Parse `check_ours.py` output: `PASS  <label>: …` / `FAIL  <label>: …: reason` / `SKIP  <label>:
 * reason` lines. A pair passes when it has a `torch … loads it` line and no FAIL line; it is
 * skipped when torch cannot load the original (a SKIP line).
 */
export function parseCheckOurs(
  stdout: string,
  labels: readonly string[],
): Map<string, { ok: boolean; detail?: string; skipped?: string }> {
  const res = new Map<string, { loaded: boolean; fails: string[]; skip?: string }>();
  for (const l of labels) res.set(l, { loaded: false, fails: [] });
  for (const line of stdout.split("\n")) {
    const m = /^(PASS|FAIL|SKIP) {2}([^:]+):(.*)$/.exec(line);
    if (!m) continue;
    const r = res.get(m[2] as string);
    if (!r) continue;
    if (m[1] === "FAIL") r.fails.push((m[3] as string).trim());
    else if (m[1] === "SKIP") r.skip = (m[3] as string).trim();
    else if (/^ torch \S+ loads it$/.test(m[3] as string)) r.loaded = true;
  }
  const out = new Map<string, { ok: boolean; detail?: string; skipped?: string }>();
  for (const [l, r] of res) {
    if (r.fails.length)
      out.set(l, { ok: false, detail: `${r.fails.length} failed checks, first: ${r.fails[0]}` });
    else if (r.skip !== undefined) out.set(l, { ok: false, skipped: r.skip });
    else if (!r.loaded) out.set(l, { ok: false, detail: "check_ours.py printed no result for it" });
    else out.set(l, { ok: true });
  }
  return out;
}

/** The oracles of `paths` (torch 1.13 at `paths.python` when `oracles` is not given). */
export function oraclesOf(paths: Paths): readonly Oracle[] {
  return paths.oracles ?? [{ label: "1.13", command: [paths.python] }];
}

/**
 * Have real torch (`oracle`, default the first of `paths`) load each `ours` file and compare it
 * deeply with `original`: one `check_ours.py --batch` run over a pairs file written into `dir`.
 * Returns a verdict per label (labels must not contain `:`).
 */
export async function checkWithTorch(
  paths: Paths,
  dir: string,
  items: ReadonlyArray<{ original: string; ours: string; label: string; fallback?: string }>,
  oracle: Oracle = oraclesOf(paths)[0] as Oracle,
): Promise<Map<string, { ok: boolean; detail?: string; skipped?: string }>> {
  const pairs = items.map((w) => ({
    original: relative(dir, w.original),
    ours: relative(dir, w.ours),
    byte_identical: false,
    name: w.label,
    ...(w.fallback ? { fallback: relative(dir, w.fallback) } : {}),
  }));
  const pairsFile = join(dir, `pairs-${oracle.label}.json`);
  await writeFile(pairsFile, JSON.stringify(pairs, null, 1));
  const script = join(paths.root, "apps/conformance/generator/check_ours.py");
  const [cmd, ...pre] = oracle.command as [string, ...string[]];
  let r: { status: number; stdout: string; stderr: string };
  try {
    r = await runProcess(cmd, [...pre, script, "--batch", pairsFile], paths.root);
  } catch (e) {
    r = { status: 127, stdout: "", stderr: errText(e) };
  }
  if (r.status !== 0 && r.status !== 1 && r.status !== 2) {
    const why = `torch ${oracle.label} (${oracle.command.join(" ")}): check_ours.py exited ${r.status}: ${r.stderr.trim().split("\n").pop() ?? ""}`;
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
  const oracles = oraclesOf(paths);
  const fixtures: FixtureFile[] = [];
  let torchVersion = "";
  for (const set of fixtureSets(paths)) {
    const m = await readManifest(paths, set);
    if (!torchVersion) torchVersion = m.torchVersion;
    fixtures.push(...m.files.filter((f) => pick(f.label ?? basename(f.file))));
  }
  const nameOf = (f: FixtureFile) => f.label ?? basename(f.file);
  const results: CheckResult[] = [];

  // (1) describe: fixtures, then the corpus.
  log(`describe: ${fixtures.length} fixtures`);
  for (const f of fixtures) results.push(await describeCheck(nameOf(f), f.file, f.description));
  if (!options.skipCorpus) {
    const corpus = (await corpusFiles(paths)).filter((c) => pick(`corpus/${basename(c.file)}`));
    log(`describe: ${corpus.length} corpus files`);
    for (const c of corpus)
      results.push(await describeCheck(`corpus/${basename(c.file)}`, c.file, c.expected));
  }

  // (2) + (3): write every fixture back in both formats, in each oracle's flavor.
  const tmp = await mkdtemp(join(tmpdir(), "pt-conformance-"));
  try {
    const written = new Map<string, Written[]>(oracles.map((o) => [o.label, []]));
    const flavors = [...new Set(oracles.map((o) => flavorFor(o.label)))];
    let n = 0;
    log(`re-saving ${fixtures.length} fixtures as zip and legacy (flavors ${flavors.join(", ")})`);
    for (const f of fixtures) {
      const name = nameOf(f);
      const own = flavorFor(f.set?.label ?? "1.13");
      let cp: Awaited<ReturnType<typeof openFile>>;
      try {
        cp = await openFile(f.file, RESAVE_LOAD);
      } catch (e) {
        for (const o of oracles)
          for (const as of ["zip", "legacy"] as const)
            results.push({
              case: name,
              check: `torch:${as}@${o.label}`,
              ok: false,
              detail: `load failed: ${errText(e)}`,
            });
        if (f.byteIdentical)
          results.push({ case: name, check: "bytes", ok: false, detail: `load failed: ${errText(e)}` });
        continue;
      }
      try {
        const value = cp.value;
        if (f.tags.includes("whole_model")) results.push(await stateDictCheck(name, value, f.description));
        const dir = join(tmp, String(n++));
        await mkdir(dir);
        // (3) bytes: like the input, in the flavor of the torch that wrote it
        if (f.byteIdentical) {
          // Same file name as the fixture: torch's zip prefix is the file name up to its last dot.
          const out = join(dir, basename(f.file));
          try {
            await saveFile(value, out, { format: f.format, flavor: own, like: cp, onWarning: quiet });
            const d = await byteDiff(f.file, out);
            results.push(
              d === null
                ? { case: name, check: "bytes", ok: true }
                : { case: name, check: "bytes", ok: false, detail: d },
            );
          } catch (e) {
            results.push({ case: name, check: "bytes", ok: false, detail: `save failed: ${errText(e)}` });
          }
        }
        // (2) for each oracle, both formats in its torch's flavor
        for (const flavor of flavors)
          for (const as of ["zip", "legacy"] as const) {
            const targets = oracles.filter((o) => flavorFor(o.label) === flavor);
            const check = (o: Oracle) => `torch:${as}@${o.label}`;
            if (as === "legacy" && f.legacyUnloadable) {
              for (const o of targets)
                results.push({
                  case: name,
                  check: check(o),
                  ok: false,
                  skipped: `torch ${f.set?.label} cannot load its own legacy file of this value (${f.legacyUnloadable.slice(0, 120)})`,
                });
              continue;
            }
            const out = join(dir, `${flavor}-${as}`, basename(f.file));
            await mkdir(join(dir, `${flavor}-${as}`), { recursive: true });
            try {
              await saveFile(value, out, { format: as, flavor, onWarning: quiet });
            } catch (e) {
              // a documented refusal: torch 1.13 has no pickle for the value (CSC/BSR/BSC)
              const refused = /torch 1\.13 cannot/.test(errText(e));
              for (const o of targets)
                results.push(
                  refused
                    ? { case: name, check: check(o), ok: false, skipped: `refused: ${errText(e)}` }
                    : { case: name, check: check(o), ok: false, detail: `save failed: ${errText(e)}` },
                );
              continue;
            }
            for (const o of targets)
              written
                .get(o.label)
                ?.push({ fixture: f, as, path: out, label: `${name.replace(/[/:]/g, "|")}>${as}` });
          }
      } finally {
        await cp.close();
      }
    }

    if (!options.skipTorch)
      for (const o of oracles) {
        const ws = written.get(o.label) ?? [];
        if (!ws.length) continue;
        log(`torch ${o.label} checks ${ws.length} files (${o.command.join(" ")} check_ours.py --batch)`);
        // A fixture of another torch's set: the same case of this torch's own set stands in for the
        // original when this torch cannot load it (a torch 2.14 file in torch 1.13).
        const ownSet = fixtureSets(paths).find((s) => s.label === o.label);
        const fallbackOf = (f: FixtureFile): string | undefined => {
          if (!ownSet || f.set?.label === o.label) return undefined;
          const p = join(ownSet.dir, basename(f.file));
          return existsSync(p) ? p : undefined;
        };
        const verdicts = await checkWithTorch(
          paths,
          tmp,
          ws.map((w) => {
            const fb = fallbackOf(w.fixture);
            return {
              original: w.fixture.compareWith ?? w.fixture.file,
              ours: w.path,
              label: w.label,
              ...(fb ? { fallback: fb } : {}),
            };
          }),
          o,
        );
        for (const w of ws)
          results.push({
            case: nameOf(w.fixture),
            check: `torch:${w.as}@${o.label}`,
            ...(verdicts.get(w.label) ?? { ok: false, detail: "no result" }),
          });
      }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return { results, torchVersion };
}

/** The legacy writer's warning (torch cannot load untyped legacy records) is expected here. */
const quiet = (): void => {};
