import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PyOrderedDict } from "@pt/pickle";
import { BufferSource, dtypes } from "@pt/storage";
import { arange, full, type Tensor, zeros } from "@pt/tensor";
import { ZipReader } from "@pt/zip-format";
import { afterAll, expect, test } from "vitest";
import { load, open, save } from "../src/index.js";
import { saveFile } from "../src/node.js";
import { fixturesDir, manifest, readBytes } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "pt-serialization-save-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function handmade(): PyOrderedDict<string, Tensor> {
  const sd = new PyOrderedDict<string, Tensor>([
    ["weight", arange(6, undefined, 1, { dtype: dtypes.float32 }).reshape(2, 3)],
    ["bias", zeros([2], { dtype: dtypes.float32 })],
    ["steps", full([], 7, { dtype: dtypes.int64 })],
  ]);
  sd.attributes = new Map([["_metadata", new PyOrderedDict([["", new Map([["version", 1]])]])]]);
  return sd;
}

test("a state dict built from scratch in TypeScript equals torch.save's bytes", async () => {
  const path = join(dir, "handmade_state_dict.zip.pt");
  await saveFile(handmade(), path, { flavor: "1.13" });
  expect(readBytes(new URL(`file://${path}`))).toEqual(
    readBytes(new URL("handmade_state_dict.zip.pt", fixturesDir)),
  );
  // in memory, with the prefix given explicitly
  const bytes = await save(handmade(), { flavor: "1.13", prefix: "handmade_state_dict.zip" });
  expect(bytes).toEqual(readBytes(new URL("handmade_state_dict.zip.pt", fixturesDir)));
});

test("seed: two slices of one 1e6-element storage: written once, sharing kept", async () => {
  const bytes = readBytes(new URL("seed_two_slices.zip.pt", fixturesDir));
  const v = (await load(bytes)) as Map<string, Tensor>;
  const [a, b] = [...v.values()];
  expect(a?.storage).toBe(b?.storage);
  expect(a?.storage.numel).toBe(1_000_000);
  expect(a?.storage.bytes.buffer).toBe(bytes.buffer); // a view of the file
  const ours = await save(v, { flavor: "1.13", prefix: "seed_two_slices.zip" });
  const z = await ZipReader.open(new BufferSource(ours));
  expect([...z.records.keys()]).toEqual(["data.pkl", "data/0", "version"]);
  expect(z.entry("data/0").uncompressedSize).toBe(4_000_000);
  expect(sameBytes(ours, bytes)).toBe(true);
  const back = (await load(ours)) as Map<string, Tensor>;
  const [c, d] = [...back.values()];
  expect(c?.storage).toBe(d?.storage);
});

test("seed: an expanded tensor writes its 4 floats", async () => {
  const e = zeros([4], { dtype: dtypes.float32 }).expand(4, 4);
  const cp = await open(await save(e));
  expect(cp.records?.find((r) => r.name === "data/0")?.size).toBe(16);
  expect((cp.value as Tensor).stride).toEqual([0, 1]);
  expect(
    await save(await load(readBytes(new URL("seed_expand.zip.pt", fixturesDir))), {
      flavor: "1.13",
      prefix: "seed_expand.zip",
    }),
  ).toEqual(readBytes(new URL("seed_expand.zip.pt", fixturesDir)));
});

test("default flavor is the newest (2.7) and prefix 'archive'", async () => {
  const cp = await open(await save(new Map([["w", arange(3, undefined, 1, { dtype: dtypes.float32 })]])));
  expect(cp.zip?.flavor).toBe("2.7");
  expect(cp.zip?.prefix).toBe("archive");
});

/**
 * Reverse direction: real torch 1.13 loads what we wrote and compares it deeply with the original
 * fixture (apps/conformance/generator/check_ours.py, batch mode). The full pass over every
 * fixture is the conformance runner's job; here a sample of kinds, all three flavors.
 */
test("files we write are loaded by real torch to equal objects", async () => {
  const pick = [
    "dtype_all_in_one",
    "views_shared_base",
    "parameters",
    "quantized_per_tensor",
    "sparse_coo",
    "nested_shared",
    "nn_user_net_model",
    "optimizer_adam",
  ];
  const pairs: Array<{ original: string; ours: string; byte_identical: boolean; name: string }> = [];
  const byName = new Map(manifest().map((c) => [c.name, c]));
  for (const name of pick) {
    const z = byName.get(name)?.formats.zip;
    if (!z) throw new Error(`no fixture ${name}`);
    const original = fileURLToPath(new URL(z.file, fixturesDir));
    const value = await load(readBytes(new URL(z.file, fixturesDir)), {
      unsafe: "opaque",
      modules: "opaque",
    });
    // torch 1.13 cannot read 2.x sparse pickles (is_coalesced was added to _rebuild_sparse_tensor)
    const flavors = name === "sparse_coo" ? (["1.13"] as const) : (["1.13", "2.1", "2.7"] as const);
    for (const flavor of flavors) {
      const sub = join(dir, flavor);
      const path = join(sub, z.file);
      mkdirSync(sub, { recursive: true });
      await saveFile(value, path, { flavor });
      pairs.push({
        original,
        ours: path,
        byte_identical: flavor === "1.13" && z.byte_identical_resave,
        name: `${name}@${flavor}`,
      });
    }
  }
  // and the state dict built from scratch
  const hm = join(dir, "ts", "handmade_state_dict.zip.pt");
  mkdirSync(join(dir, "ts"), { recursive: true });
  await saveFile(handmade(), hm, { flavor: "1.13" });
  pairs.push({
    original: fileURLToPath(new URL("handmade_state_dict.zip.pt", fixturesDir)),
    ours: hm,
    byte_identical: true,
    name: "handmade",
  });
  const list = join(dir, "pairs.json");
  writeFileSync(list, JSON.stringify(pairs));
  const script = fileURLToPath(new URL("../generator/check_ours.py", fixturesDir));
  const r = spawnSync("/usr/bin/python3", [script, "--batch", list, "-q"], {
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(r.error).toBeUndefined();
  expect(`${r.stdout}${r.stderr}`.trim()).toMatch(/^\d+ passed, 0 failed$/m);
  expect(r.status).toBe(0);
}, 60_000);

test("saving refuses an unknown format", async () => {
  await expect(save(1, { format: "npz" as "zip" })).rejects.toThrow(/unknown format "npz"/);
});
