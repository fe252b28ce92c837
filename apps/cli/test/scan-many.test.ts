import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scanMany } from "@pt/serialization";
import { collectScanInputs, fileScanInput } from "@pt/serialization/node";
import AjvModule from "ajv";
import AjvDraft04Module from "ajv-draft-04";
import addFormatsModule from "ajv-formats";
import { afterAll, expect, test } from "vitest";
import { CORPUS, ROOT, run } from "./helpers.js";

const CLI = join(ROOT, "apps/cli");
const FILES = join(CORPUS, "files");
const tmp = mkdtempSync(join(tmpdir(), "pt-scan-many-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const jsonSchema = JSON.parse(readFileSync(join(CLI, "schemas/scan-json.schema.json"), "utf8"));
const sarifSchema = JSON.parse(readFileSync(join(CLI, "schemas/sarif-schema-2.1.0.json"), "utf8"));
// CommonJS packages: under NodeNext typing their default import is the module object
const Ajv = AjvModule.default;
const AjvDraft04 = AjvDraft04Module.default;
const addFormats = addFormatsModule.default;
const validateLine = addFormats(new Ajv({ allErrors: true })).compile(jsonSchema);
const validateSarif = addFormats(new AjvDraft04({ allErrors: true, strict: false })).compile(sarifSchema);

interface FileLine {
  type: "file";
  path: string;
  verdict: string;
  pickles: number;
  sections: number;
  bytesRead: number;
  error: { code: string | null } | null;
}
interface SummaryLine {
  type: "summary";
  files: number;
  pickles: number;
  safe: number;
  unsafe: number;
  dangerous: number;
  unreadable: number;
  skipped: Array<{ path: string; reason: string }>;
}

function lines(out: string): Array<FileLine | SummaryLine> {
  return out
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
}

function checkLines(ls: Array<FileLine | SummaryLine>): { files: FileLine[]; summary: SummaryLine } {
  for (const l of ls) expect(validateLine(l), JSON.stringify(validateLine.errors)).toBe(true);
  const files = ls.filter((l): l is FileLine => l.type === "file");
  const summary = ls.at(-1) as SummaryLine;
  expect(summary.type).toBe("summary");
  expect(ls.filter((l) => l.type === "summary")).toHaveLength(1);
  return { files, summary };
}

/** The built CLI (the worker pool needs the compiled worker). */
function cli(...args: string[]): { code: number; out: string; err: string } {
  const bin = join(CLI, "bin/pt.js");
  if (!existsSync(join(CLI, "dist/scan-worker.js")))
    throw new Error("apps/cli/dist is missing: run pnpm build first (turbo's test task does)");
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", cwd: ROOT });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const EXIT = { safe: 0, unsafe: 1, dangerous: 1, unreadable: 2 } as const;

test("pt scan CORPUS in one call: the verdict of each file is the verdict of pt scan FILE alone; the work is counted", async () => {
  const names = readdirSync(FILES).sort();
  expect(names.length).toBe(135);
  const many = await run("scan", CORPUS, "--json");
  const { files, summary } = checkLines(lines(many.out));
  expect(files.map((f) => f.path)).toEqual(names.map((n) => join(FILES, n)));
  let pickles = 0;
  for (const f of files) {
    const one = await run("scan", f.path, "--json");
    expect(one.code, f.path).toBe(EXIT[f.verdict as keyof typeof EXIT]);
    const j = JSON.parse(one.out) as { sections: Array<{ pickles: number }> };
    const p = j.sections.reduce((k, s) => k + s.pickles, 0);
    expect(f.pickles, f.path).toBe(p);
    pickles += p;
  }
  expect(summary.files).toBe(135);
  expect(summary.pickles).toBe(pickles);
  expect(summary.safe + summary.unsafe + summary.dangerous + summary.unreadable).toBe(135);
  // everything else in the corpus folder (expected JSON, tools, README) is skipped with a note
  expect(summary.skipped.length).toBeGreaterThan(0);
  for (const s of summary.skipped) expect(many.err).toContain(`skipped ${s.path}`);
  expect(many.code).toBe(summary.unsafe + summary.dangerous > 0 ? 1 : summary.unreadable > 0 ? 2 : 0);
});

test("scanMany reads only the pickles: far fewer bytes than the files hold, one result per input in order", async () => {
  const { inputs } = collectScanInputs([FILES]);
  let read = 0;
  let size = 0;
  const paths: string[] = [];
  for await (const r of scanMany(inputs)) {
    paths.push(r.path);
    read += r.bytesRead;
    expect(["safe", "unsafe", "dangerous", "unreadable"]).toContain(r.verdict);
  }
  for (const p of paths) size += readFileSync(p).length;
  expect(paths).toEqual(inputs.map((i) => i.path));
  expect(read).toBeLessThan(size / 2);
});

test("scanMany: a byte budget ends a file in a typed error, not a verdict", async () => {
  const big = join(FILES, readdirSync(FILES).find((n) => n.endsWith(".zip.pt")) as string);
  const out = [];
  for await (const r of scanMany([fileScanInput(big), fileScanInput(join(tmp, "missing.pt"))], {
    maxBytes: 64,
  }))
    out.push(r);
  expect(out[0]?.verdict).toBe("unreadable");
  expect(out[0]?.error?.code).toBe("ScanBudget");
  expect(out[1]?.verdict).toBe("unreadable");
  expect(out[1]?.error).not.toBeNull();
});

test("DCP folders and sharded indexes are one checkpoint each; symlinks are not followed", async () => {
  const dcp = join(ROOT, "packages/serialization/fixtures/dcp/single");
  const idx = join(ROOT, "packages/serialization/fixtures/sharded/pytorch_model.bin.index.json");
  const link = join(tmp, "links");
  rmSync(link, { recursive: true, force: true });
  symlinkSync(FILES, link);
  const r = await run("scan", dcp, idx, tmp, "--json");
  const { files, summary } = checkLines(lines(r.out));
  expect(files.map((f) => [f.path, (f as unknown as { kind: string }).kind, f.verdict])).toEqual([
    [dcp, "dcp", "safe"],
    [idx, "sharded", "safe"],
  ]);
  expect(files[1]?.pickles).toBe(4); // one data.pkl per shard
  expect(summary.skipped).toEqual([{ path: link, reason: "symbolic link (not followed)" }]);
  expect(r.code).toBe(0);
});

test("--sarif validates against the SARIF 2.1.0 schema, with a result per flagged global", async () => {
  const r = await run("scan", FILES, "--sarif");
  const log = JSON.parse(r.out) as { version: string; runs: Array<{ results: Array<{ ruleId: string }> }> };
  expect(validateSarif(log), JSON.stringify(validateSarif.errors?.slice(0, 3))).toBe(true);
  expect(log.version).toBe("2.1.0");
  const j = checkLines(lines((await run("scan", FILES, "--json")).out));
  const flagged = j.files.reduce(
    (k, f) =>
      k + (f as unknown as { globals: Array<{ flagged: boolean }> }).globals.filter((g) => g.flagged).length,
    0,
  );
  expect(log.runs[0]?.results.filter((x) => x.ruleId === "PT001" || x.ruleId === "PT002")).toHaveLength(
    flagged,
  );
  expect(r.code).toBe(j.summary.unsafe + j.summary.dangerous > 0 ? 1 : 0);
});

test("worker pool: same results as in-process; a stalling file is stopped with a typed error while the others get verdicts", async () => {
  const inProcess = checkLines(lines((await run("scan", FILES, "--json")).out));
  const pooled = cli("scan", FILES, "--json", "--jobs", "2");
  const p = checkLines(lines(pooled.out));
  expect(p.files).toEqual(inProcess.files);
  // one pickle of 40 million APPENDs: seconds of scanning work alone, far past the 1 s limit
  // below (the file is one section, so only the worker pool's hard limit can stop it), while
  // the other file needs a millisecond of it
  const stall = join(tmp, "stall.pkl");
  const n = 40_000_000;
  const body = Buffer.alloc(3 + 2 * n);
  body.write("(]", 0, "latin1");
  body.fill("Na", 2, 2 + 2 * n, "latin1");
  body[2 + 2 * n] = 0x2e;
  writeFileSync(stall, body);
  const evil = join(tmp, "evil.pkl");
  writeFileSync(evil, Buffer.from("cos\nsystem\n(S'true'\ntR.", "latin1"));
  const r = cli("scan", stall, evil, "--json", "--timeout", "1", "--jobs", "2");
  const { files, summary } = checkLines(lines(r.out));
  expect(files[0]?.verdict).toBe("unreadable");
  expect(files[0]?.error?.code).toBe("ScanTimeout");
  expect(files[1]?.verdict).toBe("dangerous");
  expect(summary).toMatchObject({ files: 2, dangerous: 1, unreadable: 1 });
  expect(r.code).toBe(1);
  expect(cli("scan", stall, "--timeout", "1").code).toBe(2);
});

test("hostile and external suites in one call: each file's verdict is that of pt scan FILE alone", async () => {
  for (const dir of [
    "packages/serialization/fixtures/hostile/files",
    "packages/serialization/fixtures/external",
  ]) {
    const many = await run("scan", join(ROOT, dir), "--json");
    const { files, summary } = checkLines(lines(many.out));
    expect(files.length).toBeGreaterThan(100);
    expect(summary.files).toBe(files.length);
    for (const f of files) {
      const one = await run("scan", f.path);
      expect(one.code, f.path).toBe(EXIT[f.verdict as keyof typeof EXIT]);
    }
  }
});
