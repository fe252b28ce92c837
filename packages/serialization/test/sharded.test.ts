import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Tensor } from "@pt/tensor";
import { afterAll, expect, test } from "vitest";
import { parseShardIndex, parseSize } from "../src/index.js";
import { openShardedFile, saveShardedDir } from "../src/node.js";

const fixtures = new URL("../fixtures/sharded/", import.meta.url);
const indexPath = fileURLToPath(new URL("pytorch_model.bin.index.json", fixtures));
const expected = JSON.parse(readFileSync(new URL("expected.json", fixtures), "utf8")) as Array<
  [string, string, number[], number[]]
>;
const dir = mkdtempSync(join(tmpdir(), "pt-sharded-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function check(value: Map<string, unknown>): void {
  expect([...value.keys()]).toEqual(expected.map(([k]) => k));
  for (const [k, dtype, shape, values] of expected) {
    const t = value.get(k) as Tensor;
    expect(t, k).toBeInstanceOf(Tensor);
    expect(t.dtype.name, k).toBe(dtype);
    expect([...t.shape], k).toEqual(shape);
    expect(Array.from(t.toFloat32Array()), k).toEqual(values.map((x) => Math.fround(x)));
  }
}

test("sharded index: the shards open as one state dict, in weight_map order", async () => {
  const cp = await openShardedFile(indexPath);
  try {
    expect(cp.index.files.length).toBe(4);
    expect(cp.index.totalSize).toBe(264);
    check(cp.value);
    expect([...cp.storageKeys.values()].every((k) => /^pytorch_model-0000\d-of-00004\.bin:/.test(k))).toBe(
      true,
    );
  } finally {
    await cp.close();
  }
});

test("sharded write: re-sharded by a size limit as transformers names and indexes it", async () => {
  const cp = await openShardedFile(indexPath);
  try {
    const r = await saveShardedDir(cp.value, join(dir, "out"), { maxShardSize: 100 });
    expect(r.totalSize).toBe(264);
    expect(r.index).toBe("pytorch_model.bin.index.json");
    const n = r.files.length - 1;
    expect(r.files.slice(0, n)).toEqual(
      Array.from(
        { length: n },
        (_, i) => `pytorch_model-${String(i + 1).padStart(5, "0")}-of-${String(n).padStart(5, "0")}.bin`,
      ),
    );
    const text = readFileSync(join(dir, "out", "pytorch_model.bin.index.json"), "utf8");
    const idx = parseShardIndex(text);
    expect([...idx.weightMap.keys()]).toEqual([...idx.weightMap.keys()].sort());
    expect(text.endsWith("}\n")).toBe(true);
    const back = await openShardedFile(join(dir, "out", "pytorch_model.bin.index.json"));
    check(back.value);
    await back.close();
    // one shard when everything fits: pytorch_model.bin, no index
    const one = await saveShardedDir(cp.value, join(dir, "one"), { maxShardSize: parseSize("1MB") });
    expect(one.index).toBeNull();
    expect(readdirSync(join(dir, "one"))).toEqual(["pytorch_model.bin"]);
  } finally {
    await cp.close();
  }
});

test("sharded write: the same split and a byte-identical index as the Hugging Face layout", async () => {
  const cp = await openShardedFile(indexPath);
  try {
    // generate.py's state-dict order
    const order = [
      "embed.weight",
      "layers.0.weight",
      "layers.0.bias",
      "layers.1.weight",
      "layers.1.bias",
      "head.weight",
    ];
    const sd = new Map(order.map((k) => [k, cp.value.get(k)]));
    const r = await saveShardedDir(sd, join(dir, "same"), { maxShardSize: 80 });
    expect(r.files).toEqual([...cp.index.files].sort().concat("pytorch_model.bin.index.json"));
    expect(readFileSync(join(dir, "same", "pytorch_model.bin.index.json"), "utf8")).toBe(
      readFileSync(indexPath, "utf8"),
    );
  } finally {
    await cp.close();
  }
});

test("sharded index: hostile shard names and missing tensors are refused", async () => {
  expect(() => parseShardIndex('{"weight_map": {"a": "../x.bin"}}')).toThrow(/not a relative path/);
  expect(() => parseShardIndex('{"weight_map": {"a": "/etc/passwd"}}')).toThrow(/not a relative path/);
  expect(() => parseShardIndex('{"metadata": {}}')).toThrow(/no "weight_map"/);
  expect(parseSize("5GB")).toBe(5_000_000_000);
  expect(parseSize("10GiB")).toBe(10 * 2 ** 30);
});

test("openPath: a file, a DCP folder, a sharded folder or index, and a folder that is none of these", async () => {
  const { openPath } = await import("../src/node.js");
  const dcpDir = fileURLToPath(new URL("../fixtures/dcp/single", import.meta.url));
  const formats: string[] = [];
  for (const p of [indexPath, fileURLToPath(fixtures), dcpDir, `${dcpDir}.pt`]) {
    const cp = await openPath(p);
    formats.push(cp.format);
    await cp.close();
  }
  expect(formats).toEqual(["sharded", "sharded", "dcp", "zip"]);
  await expect(openPath(dir)).rejects.toThrow(/neither a DCP checkpoint/);
});

test("a model.safetensors.index.json checkpoint opens as one, shards read lazily", async () => {
  const { saveSafetensors } = await import("@pt/safetensors");
  const { blobTree, openSharded } = await import("../src/index.js");
  const { fromTypedArray } = await import("@pt/tensor");
  const a = fromTypedArray(new Float32Array([1, 2, 3, 4]), { shape: [2, 2] });
  const b = fromTypedArray(new Int32Array([7, 8, 9]));
  const c = fromTypedArray(new Float32Array([0.5]));
  const s1 = await saveSafetensors(new Map([["layer.a", a]]));
  const s2 = await saveSafetensors(
    new Map<string, Tensor>([
      ["layer.b", b],
      ["head.c", c],
    ]),
  );
  const index = JSON.stringify({
    metadata: { total_size: 16 + 12 + 4 },
    weight_map: {
      "head.c": "model-00002-of-00002.safetensors",
      "layer.a": "model-00001-of-00002.safetensors",
      "layer.b": "model-00002-of-00002.safetensors",
    },
  });
  const tree = blobTree([
    { name: "model.safetensors.index.json", data: new TextEncoder().encode(index) },
    { name: "model-00001-of-00002.safetensors", data: s1 },
    { name: "model-00002-of-00002.safetensors", data: s2 },
  ]);
  const cp = await openSharded(tree, "model.safetensors.index.json");
  try {
    const sd = cp.value as Map<string, Tensor>;
    expect([...sd.keys()].sort()).toEqual(["head.c", "layer.a", "layer.b"]);
    expect(Array.from((await (sd.get("layer.b") as Tensor).storage.load()).typed() as Int32Array)).toEqual([
      7, 8, 9,
    ]);
    expect((sd.get("layer.a") as Tensor).shape).toEqual([2, 2]);
  } finally {
    await cp.close();
  }
});
