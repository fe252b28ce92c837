import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ByteSource } from "@pt/storage";
import type { Tensor } from "@pt/tensor";
import { ZipReader } from "@pt/zip-format";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RangeServer, startRangeServer } from "../../storage/test/range-server.js";
import { open, openUrl } from "../src/index.js";
import { openFile } from "../src/node.js";
import { BIG_BYTES, seededFloats, writeBigCheckpoint } from "./big-checkpoint.js";
import { fixturesDir, readBytes } from "./helpers.js";

let server: RangeServer;
let dir: string;
let big: string;
beforeAll(async () => {
  server = await startRangeServer();
  dir = mkdtempSync(join(tmpdir(), "pt-url-"));
  big = join(dir, "w2.pt");
  await writeBigCheckpoint(big);
  server.files.set("/w2.pt", { data: { path: big } });
}, 60_000);
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** name → [dtype, shape, stride, offset, storage key] of a state dict. */
function listing(cp: { value: unknown; storageKeys: ReadonlyMap<unknown, string> }) {
  const out: Record<string, unknown[]> = {};
  for (const [k, t] of cp.value as Map<string, Tensor>)
    out[k] = [t.dtype.name, [...t.shape], [...t.stride], t.storageOffset, cp.storageKeys.get(t.storage)];
  return out;
}

describe("openUrl", () => {
  it("lists a 1 GiB zip checkpoint fetching under 1 MiB, then reads only the tensor asked for", async () => {
    expect(statSync(big).size).toBeGreaterThan(BIG_BYTES);
    server.reset();
    const cp = await openUrl(`${server.base}/w2.pt`);
    const local = await openFile(big);
    expect(listing(cp)).toEqual(listing(local));
    expect(listing(cp)["big.weight"]).toEqual(["float32", [16384, 16384], [16384, 1], 0, "0"]);
    // what a listing costs: the first block, the central directory, the pickle
    expect(server.log.bytes).toBeLessThan(1 << 20);
    expect(cp.source.stats.bytesFetched).toBe(server.log.bytes);
    console.log(
      `listing the ${statSync(big).size}-byte checkpoint fetched ${server.log.bytes} bytes in ${server.log.requests} requests`,
    );
    const small = (cp.value as Map<string, Tensor>).get("small.weight") as Tensor;
    await small.storage.load();
    expect(Array.from(small.storage.typed() as Float32Array).slice(0, 12)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    ]);
    expect(server.log.bytes).toBeLessThan(1 << 20);
    // a range of the big storage: one exact request
    const bigT = (cp.value as Map<string, Tensor>).get("big.weight") as Tensor;
    expect(bigT.storage.isLoaded).toBe(false);
    const before = server.log.bytes;
    const off = await firstDataOffset(cp);
    const got = await cp.source.read(off, 4 << 20);
    expect(new Float32Array(got.slice(0, 1 << 20).buffer)).toEqual(seededFloats(1 << 18, 42));
    expect(server.log.bytes - before).toBe(4 << 20);
    await cp.close();
    await local.close();
  });

  it("lists legacy and tar checkpoints over HTTP with the same tree as from memory", async () => {
    for (const file of [
      new URL("nn_cnn_bn_state_dict.legacy.pt", fixturesDir),
      new URL("dtype_all_in_one.legacy.pt", fixturesDir),
      new URL("../corpus/files/pytorch__2017-03_legacy_serialized_TAR.pt", fixturesDir),
    ]) {
      const bytes = readBytes(file);
      const name = `/${file.pathname.split("/").pop()}`;
      server.files.set(name, { data: bytes });
      server.reset();
      const cp = await openUrl(`${server.base}${name}`, { unsafe: "opaque" });
      const local = await open(bytes, { unsafe: "opaque" });
      expect(cp.format).toBe(local.format);
      const want = describeTensors(local.value);
      expect(Object.keys(want).length).toBeGreaterThan(1);
      expect(describeTensors(cp.value)).toEqual(want);
      expect(server.log.bytes).toBeLessThanOrEqual(bytes.length + 65536);
      await cp.close();
    }
  });

  it("falls back to one download when the server has no range support, with the same tree", async () => {
    const file = new URL("dtype_all_in_one.zip.pt", fixturesDir);
    const bytes = readBytes(file);
    server.files.set("/norange.pt", { data: bytes, ranges: false });
    const notes: string[] = [];
    const cp = await openUrl(`${server.base}/norange.pt`, { http: { onNote: (m) => notes.push(m) } });
    expect(cp.source.rangeSupported).toBe(false);
    expect(notes[0]).toMatch(/does not support range requests/);
    const local = await open(bytes);
    expect(Object.keys(listing(cp))).toEqual(Object.keys(listing(local)));
    expect(listing(cp)).toEqual(listing(local));
  });
});

/** The byte offset of data/0's bytes in the big file (its local header read through the source). */
async function firstDataOffset(cp: { source: ByteSource }): Promise<number> {
  const reader = await ZipReader.open(cp.source);
  return (await reader.dataRange("data/0")).offset;
}

/** path → dtype/shape/stride/offset of every tensor reachable from `v` (any container). */
function describeTensors(
  v: unknown,
  path = "",
  out: Record<string, unknown> = {},
  seen = new Set<unknown>(),
) {
  if (typeof v !== "object" || v === null || seen.has(v)) return out;
  seen.add(v);
  const t = v as Tensor;
  if (t.shape && t.stride && t.dtype) {
    out[path] = [t.dtype.name, [...t.shape], [...t.stride], t.storageOffset];
    return out;
  }
  if (v instanceof Map) for (const [k, x] of v) describeTensors(x, `${path}/${String(k)}`, out, seen);
  else if (Array.isArray(v))
    v.forEach((x, i) => {
      describeTensors(x, `${path}/${i}`, out, seen);
    });
  return out;
}
