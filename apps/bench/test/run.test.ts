import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

// The runner end to end with stand-ins for Python (generate.py and torch_child.py) and for our
// library: generation on demand, alternation, pairing, mismatch detection, JSON, SVG and table.

const runner = fileURLToPath(new URL("../src/run.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "pt-bench-run-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const log = join(dir, "order.log");

/** Stands in for /usr/bin/python3: runs "generate.py" or "torch_child.py" by their arguments. */
const fakePython = join(dir, "python");
writeFileSync(
  fakePython,
  `#!${process.execPath}
const fs = require("node:fs");
const path = require("node:path");
const [script, ...args] = process.argv.slice(2);
const arg = (name) => args[args.indexOf(name) + 1];
if (script.endsWith("generate.py")) {
  const out = arg("--out");
  const files = { W1: "w1.pt", W2: "w2.pt", W3: "w3.pt", W4: "w4.pt", W5: "w5.pt" };
  const mp = path.join(out, "manifest.json");
  const m = fs.existsSync(mp) ? JSON.parse(fs.readFileSync(mp, "utf8")) : { workloads: {} };
  for (const id of arg("--only").split(",")) {
    fs.writeFileSync(path.join(out, files[id]), "x".repeat(1000));
    m.workloads[id] = { file: files[id], size: 1000, scale: Number(arg("--scale")) };
  }
  m.torch = "9.9.9"; m.python = "3.99";
  fs.appendFileSync(${JSON.stringify(log)}, "generate " + arg("--only") + "\\n");
  fs.writeFileSync(mp, JSON.stringify(m));
} else {
  const op = arg("--op");
  fs.appendFileSync(${JSON.stringify(log)}, "torch " + op + "\\n");
  const r = { ok: true, seconds: 0.5, peak_rise: 4096, peak_method: "clear_refs", tensors: 2, elements: 10 };
  if (op === "save") fs.writeFileSync(arg("--out"), "yy"), (r.out_size = 2);
  if (op === "list") r.listed = 3;
  console.log("PT_BENCH_RESULT " + JSON.stringify(r));
}
`,
);
chmodSync(fakePython, 0o755);

const fakeLibrary = join(dir, "library.mjs");
writeFileSync(
  fakeLibrary,
  `import { appendFileSync, writeFileSync } from "node:fs";
const t = () => ({ shape: [5], dtype: { name: "float32" }, storage: new Uint8Array(20) });
const value = () => new Map([["a", t()], ["b", t()]]);
const note = (op) => appendFileSync(${JSON.stringify(log)}, "ours " + op + "\\n");
export async function loadFile() { note("load"); return value(); }
export async function saveFile(v, p) { note("save"); writeFileSync(p, "z"); }
export async function openFile() { note("list"); return { value: value(), close: async () => {} }; }
`,
);

const results = join(dir, "results");

describe("the runner", () => {
  it("generates what is missing, alternates fresh processes and reports every pair", async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [runner, "--only", "W3,W6", "--pairs", "3", "--warmup", "0", "--scale", "0.5", "--results", results],
      {
        env: {
          ...process.env,
          PT_BENCH_PYTHON: fakePython,
          PT_BENCH_LIBRARY: fakeLibrary,
          PT_BENCH_DIR: join(dir, "scratch"),
          PT_BENCH_ONLY: "W1",
        },
      },
    ).catch((e) => {
      throw new Error(`runner failed: ${e.stderr}`);
    });
    // the --only flag wins over PT_BENCH_ONLY; W6 needs W2's file
    const lines = readFileSync(log, "utf8").trim().split("\n");
    expect(lines[0]).toBe("generate W3,W2");
    // pairs alternate which side goes first; ours' save is preceded by its untimed load
    expect(lines.slice(1)).toEqual([
      ...["ours load", "torch load", "torch load", "ours load", "ours load", "torch load"],
      ...["ours load", "ours save", "torch save"],
      ...["torch save", "ours load", "ours save"],
      ...["ours load", "ours save", "torch save"],
      ...["ours list", "torch list", "torch list", "ours list", "ours list", "torch list"],
    ]);
    // saves' outputs are removed
    expect(existsSync(join(dir, "scratch", "out-ours.pt"))).toBe(false);
    expect(existsSync(join(dir, "scratch", "out-torch.pt"))).toBe(false);

    const report = JSON.parse(readFileSync(join(results, "partial.json"), "utf8"));
    expect(report).toMatchObject({ schema: 1, scale: 0.5, pairs: 3, selfTest: false, only: "W3,W6" });
    expect(report.machine).toMatchObject({ torch: "9.9.9", python: "3.99", node: process.version });
    expect(report.rows.map((r: { workload: string; op: string }) => `${r.workload} ${r.op}`)).toEqual([
      "W3 load",
      "W3 save",
      "W6 list",
    ]);
    const [load, save, list] = report.rows;
    expect(load.status).toBe("ok");
    expect(load.torch.seconds).toEqual([0.5, 0.5, 0.5]);
    expect(load.ratio.ratios).toEqual(load.ours.seconds.map((s: number) => s / 0.5));
    expect(load.memory).toMatchObject({ target: "≤ torch's", limit: 4096, torch: 4096 });
    expect(save.status).toBe("ok");
    expect(save.memory).toBeNull();
    expect(save.outSize).toEqual({ ours: 1, torch: 2 });
    // the stand-in torch lists 3 tensors where ours finds 2
    expect(list.status).toBe("mismatch");
    expect(list.note).toBe("ours and torch disagree: listed: ours 2, torch 3");
    expect(list.verdict).toBe("n/a");

    expect(stdout).toContain("| W3: 50,000 small tensors | 1 KiB |");
    expect(stdout).toContain("- W6 list: ours and torch disagree: listed: ours 2, torch 3");
    const svg = readFileSync(join(results, "partial.svg"), "utf8");
    expect(svg).toContain("torch 9.9.9");
    expect(svg.match(/<rect x="180"/g)).toHaveLength(3);
  });
});
