import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PyOrderedDict } from "@pt/pickle";
import { type ByteSource, dtypes, Storage } from "@pt/storage";
import { arange, fromTypedArray, Tensor } from "@pt/tensor";
import { afterAll, expect, test } from "vitest";
import { load, open } from "../src/index.js";
import { loadFile, openFile, saveFile } from "../src/node.js";
import { fixturesDir, readBytes } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "pt-serialization-node-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("loadFile: one buffer, storages are views of it", async () => {
  const path = fileURLToPath(new URL("views_shared_base.zip.pt", fixturesDir));
  const v = (await loadFile(path)) as Map<string, Tensor>;
  const tensors = [...v.values()].filter((t): t is Tensor => t instanceof Tensor);
  expect(tensors.length).toBeGreaterThan(3);
  const buffers = new Set(tensors.map((t) => t.storage.bytes.buffer));
  expect(buffers.size).toBe(1);
  expect([...buffers][0]?.byteLength).toBe(readFileSync(path).length);
  const fromBytes = (await load(readBytes(new URL("views_shared_base.zip.pt", fixturesDir)))) as Map<
    string,
    Tensor
  >;
  expect([...v.keys()]).toEqual([...fromBytes.keys()]);
});

test("openFile: lazy over the file descriptor, storages read on first access", async () => {
  const path = fileURLToPath(new URL("dtype_all_in_one.zip.pt", fixturesDir));
  const cp = await openFile(path);
  try {
    // the lists are still made on first access
    expect(Object.getOwnPropertyDescriptor(cp, "storages")?.get).toBeTypeOf("function");
    expect(cp.format).toBe("zip");
    expect(cp.storages.length).toBeGreaterThan(5);
    expect(cp.storages.every((s) => !s.isLoaded)).toBe(true);
    const t = (cp.value as Map<string, Tensor>).get("float64") as Tensor;
    expect(t.storage.isLoaded).toBe(false);
    t.values(); // synchronous read through FileSource.readSync
    expect(t.storage.isLoaded).toBe(true);
    expect(cp.storages.filter((s) => s.isLoaded)).toHaveLength(1);
    expect(cp.records?.map((r) => r.name)[0]).toBe("data.pkl");
  } finally {
    await cp.close();
  }
});

test("saveFile: the archive prefix is the file name without its last extension", async () => {
  const path = join(dir, "model.v2.pt");
  const sd = new PyOrderedDict([["w", arange(4, undefined, 1, { dtype: dtypes.float32 })]]);
  await saveFile(sd, path, { fsync: true });
  const cp = await open(readFileSync(path));
  expect(cp.zip?.prefix).toBe("model.v2");
  expect(cp.zip?.flavor).toBe("2.7");
  await saveFile(sd, path, { prefix: "custom", flavor: "1.13" });
  expect((await open(readFileSync(path))).zip?.prefix).toBe("custom");
  expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
});

test("an interrupted save leaves the old file intact and no temporary file", async () => {
  const path = join(dir, "keep.pt");
  writeFileSync(path, "the previous checkpoint");
  // a lazy storage whose source fails after the first records were written
  const failing: ByteSource = {
    byteLength: 1 << 20,
    read: () => Promise.reject(new Error("device unplugged")),
  };
  const broken = new Tensor(Storage.lazy(dtypes.float32, failing, 0, 1 << 20), 0, [1 << 18], [1]);
  const value = new PyOrderedDict<string, Tensor>([
    ["ok", arange(400_000, undefined, 1, { dtype: dtypes.float32 })], // 1.6 MB: flushed to the temporary file before the failure
    ["broken", broken],
  ]);
  await expect(saveFile(value, path)).rejects.toThrow(/reading 1048576 bytes at offset 0 failed/);
  expect(readFileSync(path, "utf8")).toBe("the previous checkpoint");
  expect(readdirSync(dir).filter((f) => f.includes("keep.pt."))).toEqual([]);
  // a save into a missing folder fails before touching anything
  await expect(saveFile(value, join(dir, "missing", "x.pt"))).rejects.toThrow(/ENOENT/);
  expect(existsSync(join(dir, "missing"))).toBe(false);
});

test("loadFile: big records are CRC-checked while the file is read (and corruption is still caught)", async () => {
  // 36 MiB and 6 MiB records: over the size from which loadFile reads in chunks and checksums
  // each arrived chunk while the next ones are read; a small record is checked as usual.
  const big = new Float32Array(9 << 20);
  for (let i = 0; i < big.length; i += 4099) big[i] = i;
  const mid = new Int32Array(6 << 18).map((_, i) => i * 7);
  const sd = new PyOrderedDict<string, Tensor>([
    ["big", fromTypedArray(big)],
    ["small", arange(5, undefined, 1, { dtype: dtypes.float32 })],
    ["mid", fromTypedArray(mid)],
  ]);
  const path = join(dir, "big.pt");
  await saveFile(sd, path);
  const back = (await loadFile(path)) as Map<string, Tensor>;
  const same = (a: Uint8Array | undefined, b: ArrayBufferView) =>
    a !== undefined && Buffer.compare(a, new Uint8Array(b.buffer, b.byteOffset, b.byteLength)) === 0;
  expect(same(back.get("big")?.storage.bytes, big)).toBe(true);
  expect(same(back.get("mid")?.storage.bytes, mid)).toBe(true);
  expect(back.get("small")?.values()).toEqual([0, 1, 2, 3, 4]);
  const bytes = readFileSync(path);
  const cp = await open(bytes);
  // flip one byte in the middle of each big record: each must fail its CRC
  for (const key of ["0", "2"]) {
    const at = bytes.indexOf(Buffer.from(`big/data/${key}`)) + 4096 * 1024 + 1234;
    expect(cp.storages.length).toBe(3);
    const bad = Buffer.from(bytes);
    bad[at] = (bad[at] as number) ^ 0x40;
    writeFileSync(join(dir, "bad.pt"), bad);
    await expect(loadFile(join(dir, "bad.pt"))).rejects.toMatchObject({ code: "CrcMismatch" });
    // the same file loads with checkCrc: false
    await expect(loadFile(join(dir, "bad.pt"), { checkCrc: false })).resolves.toBeInstanceOf(Map);
  }
});
