import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadFile } from "@pt/serialization/node";
import { describe, expect, it } from "vitest";
import { defaultPaths, readKnownFailures } from "../src/main.js";
import {
  CHECKS,
  type CheckResult,
  checksFor,
  formatFailures,
  formatTable,
  type KnownFailures,
  outcome,
  staleKnown,
  summarize,
} from "../src/results.js";
import {
  checkWithTorch,
  corpusFiles,
  describeCheck,
  fixtureSets,
  parseCheckOurs,
  RESAVE_LOAD,
  readManifest,
  stateDictCheck,
} from "../src/runner.js";

const paths = defaultPaths();

describe("results", () => {
  const known: KnownFailures = { "a.pt": { bytes: "legacy keys" }, "b.pt": { describe: "fixed since" } };
  const results: CheckResult[] = [
    { case: "a.pt", check: "describe", ok: true },
    { case: "a.pt", check: "bytes", ok: false, detail: "first difference at byte 9" },
    { case: "b.pt", check: "describe", ok: true },
    { case: "c.pt", check: "torch:zip@1.13", ok: false, detail: "boom" },
    { case: "c.pt", check: "torch:zip@2.14", ok: false, skipped: "torch 2.14 cannot load the original" },
  ];
  it("classifies against the known-failure list (which may only shrink)", () => {
    expect(results.map((r) => outcome(r, known))).toEqual(["pass", "xfail", "xpass", "fail", "skip"]);
    expect(summarize(results, known)).toEqual({
      passed: 2,
      failed: 2,
      knownFailures: 1,
      unexpectedFailures: 1,
      unexpectedPasses: 1,
      skipped: 1,
    });
    expect(staleKnown(results, { ...known, "d.pt": { describe: "gone" } })).toEqual(["d.pt describe"]);
  });
  it("prints a table case × check with a column pair per oracle, and explains failures", () => {
    expect(checksFor(["1.13", "2.14"])).toEqual([...CHECKS]);
    const t = formatTable(results, known).split("\n");
    expect(t[0]).toMatch(
      /^case +describe +state_dict +torch:zip@1\.13 +torch:legacy@1\.13 +torch:zip@2\.14 +torch:legacy@2\.14 +bytes$/,
    );
    expect(t[2]).toMatch(/^a\.pt +pass +- +- +- +- +- +known$/);
    expect(t[3]).toMatch(/^b\.pt +XPASS +- +- +- +- +- +-$/);
    expect(t[4]).toMatch(/^c\.pt +- +- +FAIL +- +n\/a +- +-$/);
    const f = formatFailures(results, known);
    expect(f).toContain("FAIL   c.pt torch:zip@1.13: boom\n");
    expect(f).toContain("XPASS  b.pt describe: listed as a known failure (fixed since) but passes");
    expect(f).toContain("known  a.pt bytes: legacy keys [first difference at byte 9]");
  });
});

describe("check_ours.py output", () => {
  it("a pair passes only with a load line and no FAIL line", () => {
    const out = [
      "PASS  x.pt>zip: pickle globals within the allowlist",
      "PASS  x.pt>zip: torch 1.13.0a0 loads it",
      "PASS  x.pt>zip:$ torch.Tensor float32 [2] ...",
      "PASS  y.pt>zip: torch 1.13.0a0 loads it",
      "FAIL  y.pt>zip:$['w'] torch.Tensor: stride [1] != [2]",
      "FAIL  z.pt>legacy: pickle globals within the allowlist: global os.system is not allowed",
      "SKIP  v.pt>zip: torch 1.13.0a0 cannot load the original: AttributeError: uint16",
      "2 passed, 1 failed",
    ].join("\n");
    const r = parseCheckOurs(out, ["x.pt>zip", "y.pt>zip", "z.pt>legacy", "w.pt>zip", "v.pt>zip"]);
    expect(r.get("v.pt>zip")?.skipped).toMatch(/cannot load the original/);
    expect(r.get("x.pt>zip")).toEqual({ ok: true });
    expect(r.get("y.pt>zip")?.ok).toBe(false);
    expect(r.get("y.pt>zip")?.detail).toContain("stride [1] != [2]");
    expect(r.get("z.pt>legacy")?.detail).toContain("os.system");
    expect(r.get("w.pt>zip")).toEqual({ ok: false, detail: "check_ours.py printed no result for it" });
  });

  it("real torch passes a file equal to its original and fails a different one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pt-conf-"));
    const same = join(dir, "same.pt");
    const other = join(dir, "other.pt");
    copyFileSync(join(paths.fixtures, "seed_expand.legacy.pt"), same);
    copyFileSync(join(paths.fixtures, "tensor_0d.zip.pt"), other);
    const v = await checkWithTorch(paths, dir, [
      { original: join(paths.fixtures, "seed_expand.zip.pt"), ours: same, label: "same" },
      { original: join(paths.fixtures, "seed_expand.zip.pt"), ours: other, label: "other" },
    ]);
    expect(v.get("same")).toEqual({ ok: true });
    expect(v.get("other")?.ok).toBe(false);
  }, 30_000);
});

describe("inputs", () => {
  it("reads the manifest and finds the corpus (failing loudly when it is missing)", async () => {
    const m = await readManifest(paths);
    expect(m.files).toHaveLength(99);
    expect(m.torchVersion).toMatch(/^1\.13/);
    const sets = fixtureSets(paths);
    expect(sets.map((x) => x.label)).toEqual(["1.13", "2.14"]);
    const m2 = await readManifest(paths, sets[1]);
    expect(m2.torchVersion).toMatch(/^2\.14/);
    expect(m2.files.length).toBeGreaterThan(m.files.length);
    expect(m2.files.find((f) => f.label === "2.14/dtype_uint16.legacy.pt")?.compareWith).toMatch(
      /dtype_uint16\.zip\.pt$/,
    );
    expect((await corpusFiles(paths)).length).toBeGreaterThan(100);
    await expect(corpusFiles({ ...paths, corpus: "/nonexistent/corpus" })).rejects.toThrow(
      /corpus is missing/,
    );
  });

  it("describe check: passes on a fixture, fails against another file's description", async () => {
    const f = join(paths.fixtures, "seed_expand.zip.pt");
    expect(await describeCheck("x", f, `${f}.json`)).toEqual({ case: "x", check: "describe", ok: true });
    const bad = await describeCheck("x", f, join(paths.fixtures, "tensor_0d.zip.pt.json"));
    expect(bad.ok).toBe(false);
    expect(bad.detail).toMatch(/differences, first: \$\.object/);
  });

  it("state_dict check: our loaded module's stateDict() against torch's, and a non-module fails", async () => {
    const f = join(paths.fixtures, "nn_tied_embedding_model.legacy.pt");
    const model = await loadFile(f, RESAVE_LOAD);
    expect(await stateDictCheck("m", model, `${f}.json`)).toEqual({
      case: "m",
      check: "state_dict",
      ok: true,
    });
    const other = join(paths.fixtures, "nn_mlp_model.zip.pt");
    const wrong = await stateDictCheck("m", await loadFile(other, RESAVE_LOAD), `${f}.json`);
    expect(wrong.ok).toBe(false);
    expect(wrong.detail).toMatch(/differences/);
    expect((await stateDictCheck("m", new Map(), `${f}.json`)).detail).toMatch(/not an nn\.Module/);
  });

  it("the known-failure list parses and names only real checks", () => {
    const k = readKnownFailures(join(paths.root, "apps/conformance/known-failures.json"));
    for (const checks of Object.values(k))
      for (const [c, reason] of Object.entries(checks)) {
        expect(CHECKS as readonly string[]).toContain(c);
        expect(typeof reason === "string" && reason.length > 10).toBe(true);
      }
  });
});

describe("the command", () => {
  it("prints the table and a closing line `N passed, N failed` (built dist, a partial run)", () => {
    const dist = join(paths.root, "apps/conformance/dist/main.js");
    if (!existsSync(dist))
      throw new Error(`${dist} is missing: build first (turbo's test task depends on build)`);
    const r = spawnSync(process.execPath, [dist, "--only", "seed_expand", "--skip-corpus"], {
      encoding: "utf8",
    });
    expect(r.stdout.split("\n")[0]).toMatch(/^case +describe +state_dict +torch:zip@1\.13 .* +bytes$/);
    expect(r.stdout).toMatch(/\nseed_expand\.zip\.pt +\S+ +- +\S+ +\S+ +\S+ +\S+ +\S+\n/);
    expect(r.stdout).toMatch(/\n2\.14\/seed_expand\.zip\.pt +\S+ +- +\S+ +\S+ +\S+ +\S+ +\S+\n/);
    expect(r.stdout).toMatch(/\n\d+ passed, \d+ failed\n$/);
    expect([0, 1]).toContain(r.status);
    const j = spawnSync(
      process.execPath,
      [dist, "--json", "--only", "seed_expand", "--skip-corpus", "--skip-torch"],
      {
        encoding: "utf8",
      },
    );
    const json = JSON.parse(j.stdout) as {
      torch: string;
      results: Array<{ case: string; check: string; outcome: string }>;
    };
    expect(json.torch).toBe("not run");
    expect(spawnSync(process.execPath, [dist, "--oracle", "nolabel"], { encoding: "utf8" }).status).toBe(2);
    expect(json.results.map((x) => `${x.case} ${x.check}`)).toContain("seed_expand.legacy.pt bytes");
    const bad = spawnSync(process.execPath, [dist, "--bogus"], { encoding: "utf8" });
    expect(bad.status).toBe(2);
  }, 30_000);
});
