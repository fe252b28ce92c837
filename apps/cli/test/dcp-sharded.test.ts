import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadFile } from "@pt/serialization/node";
import { Tensor } from "@pt/tensor";
import { afterAll, expect, test } from "vitest";
import { ROOT, run } from "./helpers.js";

const DCP = join(ROOT, "packages/serialization/fixtures/dcp");
const SHARDED = join(ROOT, "packages/serialization/fixtures/sharded");
const tmp = mkdtempSync(join(tmpdir(), "pt-dcp-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test("pt inspect lists a 4-process DCP folder like any checkpoint", async () => {
  const r = await run("inspect", join(DCP, "dtensor-4"), "--json");
  expect(r.code).toBe(0);
  const j = JSON.parse(r.out) as { format: string; tensors: Array<{ path: string[]; shape: number[] }> };
  expect(j.format).toBe("dcp");
  expect(j.tensors.map((t) => t.path.join("."))).toEqual([
    "rows",
    "cols",
    "uneven",
    "uneven_cols",
    "grid",
    "replicated",
    "plain",
  ]);
  expect(j.tensors[2]?.shape).toEqual([7, 2]);
});

test("pt convert DIR out.pt equals torch's dcp_to_torch_save file; pt diff agrees; and back to DCP", async () => {
  for (const name of ["fsdp2-2", "dtensor-4"]) {
    const out = join(tmp, `${name}.pt`);
    expect((await run("convert", join(DCP, name), out)).code).toBe(0);
    // pt diff: ours against torch's consolidation, then the DCP folder itself against it
    expect((await run("diff", out, join(DCP, `${name}.pt`))).code).toBe(0);
    expect((await run("diff", join(DCP, name), join(DCP, `${name}.pt`))).code).toBe(0);
    const back = join(tmp, `${name}.dcp`);
    const c = await run("convert", out, back, "--format", "dcp");
    expect(c.code, c.err).toBe(0);
    expect(readdirSync(back).sort()).toEqual([".metadata", "__0_0.distcp"]);
    expect((await run("diff", back, join(DCP, `${name}.pt`))).code).toBe(0);
  }
});

test("pt inspect/convert a sharded index, re-sharded by --max-shard-size", async () => {
  const idx = join(SHARDED, "pytorch_model.bin.index.json");
  const r = await run("inspect", SHARDED, "--json");
  expect(r.code, r.err).toBe(0);
  expect((JSON.parse(r.out) as { tensors: unknown[] }).tensors.length).toBe(6);
  const one = join(tmp, "merged.pt");
  expect((await run("convert", idx, one)).code).toBe(0);
  const merged = (await loadFile(one)) as Map<string, Tensor>;
  expect([...merged.values()].every((t) => t instanceof Tensor)).toBe(true);
  const resharded = join(tmp, "resharded");
  const c = await run("convert", one, resharded, "--format", "sharded", "--max-shard-size", "100B");
  expect(c.code, c.err).toBe(0);
  expect(readdirSync(resharded).filter((f) => f.endsWith(".bin")).length).toBeGreaterThan(1);
  expect((await run("diff", resharded, idx)).code).toBe(0);
  expect((await run("convert", one, join(tmp, "x"), "--max-shard-size", "1MB")).code).toBe(2);
});

test("a folder that is neither DCP nor sharded is a one-line error", async () => {
  const r = await run("inspect", tmp);
  expect(r.code).not.toBe(0);
  expect(r.err).toMatch(/neither a DCP checkpoint/);
});
