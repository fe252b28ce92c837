import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { join } from "node:path";
import type { ByteSource } from "@pt/storage";
import { Tensor } from "@pt/tensor";
import { ZipReader } from "@pt/zip-format";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RangeServer } from "../../../tools/test-support/range-server.js";
import { isSerializationError, open, openUrl, resolveInFolder, type UrlCheckpoint } from "../src/index.js";
import { openFile, openPath } from "../src/node.js";
import { BIG_BYTES, seededFloats } from "./big-checkpoint.js";
import { fixturesDir, readBytes } from "./helpers.js";
import { type RemoteFixtures, startRemoteFixtures } from "./remote-setup.js";

let fx: RemoteFixtures;
let server: RangeServer;
let big: string;
beforeAll(async () => {
  fx = await startRemoteFixtures();
  server = fx.server;
  big = fx.local["/w2.pt"] as string;
}, 60_000);
afterAll(() => fx.close());

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
    expect(cp.http.stats.bytesFetched).toBe(server.log.bytes);
    expect(cp.source?.stats.bytesFetched).toBe(server.log.bytes);
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
    const got = await (cp.source as ByteSource).read(off, 4 << 20);
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
    expect(cp.source?.rangeSupported).toBe(false);
    expect(notes[0]).toMatch(/does not support range requests/);
    const local = await open(bytes);
    expect(Object.keys(listing(cp))).toEqual(Object.keys(listing(local)));
    expect(listing(cp)).toEqual(listing(local));
  });
});

/** The byte offset of data/0's bytes in the big file (its local header read through the source). */
async function firstDataOffset(cp: UrlCheckpoint): Promise<number> {
  const reader = await ZipReader.open(cp.source as ByteSource);
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

/** sha256 of a tensor's logical bytes (row-major, contiguous), its storage loaded first. */
async function hashOf(t: Tensor): Promise<string> {
  await t.load();
  const a = t.contiguous().data();
  return createHash("sha256")
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest("hex");
}

function bytesHash(a: Float32Array): string {
  return createHash("sha256")
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest("hex");
}

/** path → tensor description (with its storage key) or leaf value, over the whole object. */
function treeOf(cp: { value: unknown; storageKeys: ReadonlyMap<unknown, string> }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const walk = (v: unknown, path: string) => {
    if (v instanceof Tensor) {
      const s = v.storage.base ?? v.storage;
      out[path] = [v.dtype.name, [...v.shape], [...v.stride], v.storageOffset, cp.storageKeys.get(s)];
    } else if (v instanceof Map) for (const [k, x] of v) walk(x, `${path}/${String(k)}`);
    else if (Array.isArray(v))
      v.forEach((x, i) => {
        walk(x, `${path}/${i}`);
      });
    else out[path] = typeof v === "bigint" ? `${v}n` : v;
  };
  walk(cp.value, "");
  return out;
}

/** path → sha256 of every tensor's values. */
async function hashes(v: unknown): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (x: unknown, path: string): Promise<void> => {
    if (x instanceof Tensor) out[path] = await hashOf(x);
    else if (x instanceof Map) for (const [k, y] of x) await walk(y, `${path}/${String(k)}`);
    else if (Array.isArray(x)) for (let i = 0; i < x.length; i++) await walk(x[i], `${path}/${i}`);
  };
  await walk(v, "");
  return out;
}

const size = (p: string) => statSync(p).size;
const BLOCK = 64 * 1024;

describe("openUrl: DCP folders", () => {
  it("lists a DCP folder by URL as the local folder, fetching only .metadata, the non-tensor items and each file's first block", {
    timeout: 120_000,
  }, async () => {
    for (const name of ["dcp", "dtensor-4", "fsdp2-2"]) {
      const dir = fx.local[`/${name}/`] as string;
      const local = await openPath(dir);
      server.reset();
      const cp = await openUrl(`${server.base}/${name}/`);
      try {
        expect(cp.format).toBe("dcp");
        expect(cp.source).toBeNull();
        expect(treeOf(cp)).toEqual(treeOf(local));
        expect(Object.keys(treeOf(cp)).length).toBeGreaterThan(1);
        expect(cp.http.stats.bytesFetched).toBe(server.log.bytes);
        const files = (local as { files: readonly string[] }).files;
        expect([...cp.http.files.keys()].sort()).toEqual(
          [".metadata", ...files].map((f) => `${server.base}/${name}/${f}`).sort(),
        );
        // the metadata whole, then at most two blocks of each data file (its first; non-tensor items)
        expect(server.log.bytes).toBeLessThanOrEqual(size(join(dir, ".metadata")) + 2 * BLOCK * files.length);
        console.log(
          `DCP ${name}: listing fetched ${server.log.bytes} of ${cp.http.totalSize} bytes in ${server.log.requests} requests`,
        );
        // every tensor read remotely equals the local one
        expect(await hashes(cp.value)).toEqual(await hashes(local.value));
      } finally {
        await cp.close();
        await local.close();
      }
    }
  });

  it("reads only the tensor asked for; .metadata and folder URLs without the slash open the same", async () => {
    expect(fx.dataBytes).toBe(8 << 20);
    server.reset();
    const cp = await openUrl(`${server.base}/dcp/.metadata`);
    try {
      expect(cp.url).toBe(`${server.base}/dcp/`);
      const listed = server.log.bytes;
      expect(listed).toBeLessThan(fx.dataBytes / 16);
      const t = (cp.value as Map<string, unknown>).get("layers.1.weight") as Tensor;
      expect(await hashOf(t)).toBe(bytesHash(fx.tensors.get("layers.1.weight") as Float32Array));
      const read = server.log.bytes - listed;
      // the 2 MiB of the tensor in one request, plus its chunk's zip directory and pickle (cache blocks)
      expect(read).toBeGreaterThanOrEqual(2 << 20);
      expect(read).toBeLessThanOrEqual((2 << 20) + 4 * BLOCK);
      expect(((cp.value as Map<string, unknown>).get("layers.2.weight") as Tensor).storage.isLoaded).toBe(
        false,
      );
      expect((cp.value as Map<string, unknown>).get("step")).toBe(7);
      expect(cp.http.stats.bytesFetched).toBe(server.log.bytes);
    } finally {
      await cp.close();
    }
    const bare = await openUrl(`${server.base}/dcp`);
    try {
      expect(bare.format).toBe("dcp");
      expect(bare.url).toBe(`${server.base}/dcp/`);
      expect(treeOf(bare)).toEqual(treeOf(await openPath(fx.local["/dcp/"] as string)));
    } finally {
      await bare.close();
    }
  });

  it("a server without range support: every file downloaded once, noted, the same values", async () => {
    const paths = server.mount("/norange-dcp/", fx.local["/dtensor-4/"] as string, { ranges: false });
    const notes: string[] = [];
    const cp = await openUrl(`${server.base}/norange-dcp/`, { http: { onNote: (m) => notes.push(m) } });
    const local = await openPath(fx.local["/dtensor-4/"] as string);
    try {
      expect(notes.length).toBe(paths.length);
      for (const n of notes) expect(n).toMatch(/does not support range requests/);
      expect(cp.http.notes).toEqual(notes);
      expect(treeOf(cp)).toEqual(treeOf(local));
      expect(await hashes(cp.value)).toEqual(await hashes(local.value));
    } finally {
      await cp.close();
      await local.close();
    }
  });

  it("a data file the metadata names but the server lacks is an error naming its URL", async () => {
    server.mount("/broken-dcp/", fx.local["/dtensor-4/"] as string);
    server.files.delete("/broken-dcp/__2_0.distcp");
    const e = await openUrl(`${server.base}/broken-dcp/`).catch((x: unknown) => x);
    expect(isSerializationError(e, "InvalidSource")).toBe(true);
    expect((e as Error).message).toContain(`${server.base}/broken-dcp/__2_0.distcp answered HTTP 404`);
    expect((e as { record?: string }).record).toBe("__2_0.distcp");
  });
});

describe("openUrl: sharded indexes", () => {
  const cases: Array<[url: string, local: string]> = [
    ["/sharded/pytorch_model.bin.index.json", "/sharded/pytorch_model.bin.index.json"],
    ["/sharded/", "/sharded/pytorch_model.bin.index.json"],
    ["/st/model.safetensors.index.json", "/st/model.safetensors.index.json"],
    ["/st/", "/st/model.safetensors.index.json"],
    ["/fixture-sharded/pytorch_model.bin.index.json", "/fixture-sharded/pytorch_model.bin.index.json"],
  ];
  it("opens a sharded index by URL as the local one, fetching the index and each shard's metadata only", {
    timeout: 120_000,
  }, async () => {
    for (const [url, rel] of cases) {
      const prefix = rel.slice(0, rel.lastIndexOf("/") + 1);
      const indexPath = join(fx.local[prefix] as string, rel.slice(prefix.length));
      const local = await openPath(indexPath);
      server.reset();
      const cp = await openUrl(`${server.base}${url}`);
      try {
        expect(cp.format, url).toBe("sharded");
        expect(treeOf(cp), url).toEqual(treeOf(local));
        const shards = (local as { index: { files: readonly string[] } }).index.files;
        expect(shards.length).toBeGreaterThan(1);
        // the index, then per shard its first block and its metadata (zip directory and pickle; a safetensors header)
        expect(server.log.bytes, url).toBeLessThanOrEqual(size(indexPath) + 3 * BLOCK * shards.length);
        expect(cp.http.stats.bytesFetched).toBe(server.log.bytes);
        console.log(
          `sharded ${url}: listing fetched ${server.log.bytes} of ${cp.http.totalSize} bytes in ${server.log.requests} requests`,
        );
        expect(await hashes(cp.value), url).toEqual(await hashes(local.value));
        if (prefix !== "/fixture-sharded/")
          for (const [k, v] of fx.tensors)
            expect(await hashOf((cp.value as Map<string, unknown>).get(k) as Tensor)).toBe(bytesHash(v));
      } finally {
        await cp.close();
        await local.close();
      }
    }
  });

  it("a missing shard is an error naming its URL; an empty folder URL says what was looked for", async () => {
    const paths = server.mount("/broken-sharded/", fx.local["/sharded/"] as string);
    const shard = paths.find((p) => p.endsWith(".bin")) as string;
    server.files.delete(shard);
    const e = await openUrl(`${server.base}/broken-sharded/pytorch_model.bin.index.json`).catch(
      (x: unknown) => x,
    );
    expect(isSerializationError(e, "InvalidSource")).toBe(true);
    expect((e as Error).message).toContain(`${server.base}${shard} answered HTTP 404`);
    const none = await openUrl(`${server.base}/nothing/`).catch((x: unknown) => x);
    expect(isSerializationError(none, "UnknownFormat")).toBe(true);
    expect((none as Error).message).toMatch(
      /neither a DCP checkpoint's \.metadata nor pytorch_model\.bin\.index\.json/,
    );
    const missing = await openUrl(`${server.base}/nothing.pt`).catch((x: unknown) => x);
    expect((missing as { status?: number }).status).toBe(404);
  });

  it("shard and data file names resolve inside the folder URL only, encoded", () => {
    expect(resolveInFolder("http://h/a/b/", "x y#?.bin")).toBe("http://h/a/b/x%20y%23%3F.bin");
    expect(resolveInFolder("http://h/a/b/?token=1", "sub/s.bin")).toBe("http://h/a/b/sub/s.bin");
    for (const bad of ["../x.bin", "a//b", "/abs", "./x", "a\\b"])
      expect(() => resolveInFolder("http://h/a/", bad)).toThrow(/not a relative path/);
  });
});
