import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { TensorJson } from "../src/cmd-inspect.js";
import { CORPUS, FIXTURES, run } from "./helpers.js";

/** data_sha256 of every dense, non-quantized tensor of a torch description (storages' values excluded). */
function expectedHashes(o: unknown, out: string[] = []): string[] {
  if (Array.isArray(o)) for (const x of o) expectedHashes(x, out);
  else if (o && typeof o === "object") {
    const d = o as Record<string, unknown>;
    if (d._type === "storage") return out;
    if (d._type === "tensor" && d.layout === "strided") {
      if (typeof d.data_sha256 === "string" && d.qscheme === undefined) out.push(d.data_sha256);
      return out;
    }
    for (const v of Object.values(d)) expectedHashes(v, out);
  }
  return out;
}

const files = [
  ...readdirSync(join(CORPUS, "files")).map((n) => [
    join(CORPUS, "files", n),
    join(CORPUS, "expected", `${n}.json`),
  ]),
  ...readdirSync(FIXTURES)
    .filter((n) => n.endsWith(".pt"))
    .map((n) => [join(FIXTURES, n), join(FIXTURES, `${n}.json`)]),
] as Array<[string, string]>;

describe("every corpus file and fixture", () => {
  it("inspect --hash either matches torch's data_sha256 for every tensor or fails with one line", async () => {
    expect(files.length).toBeGreaterThan(200);
    let matched = 0;
    const failures: string[] = [];
    for (const [file, exp] of files) {
      const r = await run("inspect", "--json", "--hash", file);
      if (r.code !== 0) {
        expect(r.code, file).toBe(2);
        expect(r.err.split("\n"), file).toHaveLength(2);
        failures.push(`${file}: ${r.err.trim()}`);
        continue;
      }
      const json = JSON.parse(r.out) as { format: string; tensors: TensorJson[] };
      matched++;
      // torch describes TorchScript archives as jit-loaded modules (another object): no comparison.
      if (json.format === "torchscript") continue;
      const want = expectedHashes((JSON.parse(readFileSync(exp, "utf8")) as { object: unknown }).object);
      const got = json.tensors.filter((t) => !/^q/.test(t.dtype)).map((t) => t.sha256);
      // Tensors torch describes inside sparse/quantized containers are not plain entries of ours.
      for (const h of got) expect(want, file).toContain(h);
    }
    // Most files load (the loader's known gaps are reported by the conformance run).
    expect(matched, failures.join("\n")).toBeGreaterThan(files.length * 0.8);
  }, 60_000);

  it("disasm and scan never crash: exit 0/1 with output, or 2 with one error line", async () => {
    for (const [file] of files) {
      for (const cmd of ["disasm", "scan"]) {
        const r = await run(cmd, file);
        expect([0, 1, 2], `${cmd} ${file}`).toContain(r.code);
        if (r.code === 2) expect(r.err.split("\n"), `${cmd} ${file}`).toHaveLength(2);
        else expect(r.err, `${cmd} ${file}`).toBe("");
      }
    }
  }, 60_000);
});
