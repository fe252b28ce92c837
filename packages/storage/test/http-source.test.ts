import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RangeServer, startRangeServer } from "../../../tools/test-support/range-server.js";
import { HttpSource, HttpSourceError } from "../src/index.js";

/** Seeded bytes (xorshift32). */
function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

let server: RangeServer;
beforeAll(async () => {
  server = await startRangeServer();
});
afterAll(() => server.close());

const fast = { retryDelayMs: 1, blockSize: 4096, cacheBlocks: 8, directThreshold: 64 * 1024 };

describe("HttpSource", () => {
  it("reads any range exactly, opening with one request for the first block", async () => {
    const data = bytes(300_000, 7);
    server.files.set("/a.bin", { data });
    server.reset();
    const src = await HttpSource.open(`${server.base}/a.bin`, fast);
    expect(src.byteLength).toBe(data.length);
    expect(src.rangeSupported).toBe(true);
    expect(src.note).toBeNull();
    expect(server.log.requests).toBe(1);
    expect(server.log.bytes).toBe(4096);
    let x = 99;
    for (let k = 0; k < 40; k++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const off = x % data.length;
      const len = Math.min(data.length - off, (x >> 8) % 20_000);
      expect(await src.read(off, len)).toEqual(data.subarray(off, off + len));
    }
    // a direct read (over the threshold) and the last bytes
    expect(await src.read(1000, 100_000)).toEqual(data.subarray(1000, 101_000));
    expect(await src.read(data.length - 3, 3)).toEqual(data.subarray(data.length - 3));
    await expect(src.read(data.length - 3, 4)).rejects.toThrow(/outside the 300000-byte file/);
    expect(src.stats.bytesFetched).toBe(server.log.bytes);
  });

  it("coalesces reads issued together into one request per run of blocks and caches blocks", async () => {
    const data = bytes(100_000, 3);
    server.files.set("/c.bin", { data });
    const src = await HttpSource.open(`${server.base}/c.bin`, fast);
    server.reset();
    // blocks 2..9 asked for by 16 reads at once; block 20 apart from them
    const reads = Array.from({ length: 16 }, (_, i) => src.read(2 * 4096 + i * 2048, 100));
    reads.push(src.read(20 * 4096 + 5, 10));
    const got = await Promise.all(reads);
    got.slice(0, 16).forEach((g, i) => {
      expect(g).toEqual(data.subarray(2 * 4096 + i * 2048, 2 * 4096 + i * 2048 + 100));
    });
    expect(server.log.ranges).toEqual([
      `bytes=${2 * 4096}-${10 * 4096 - 1}`,
      `bytes=${20 * 4096}-${21 * 4096 - 1}`,
    ]);
    // cached: no new request
    await src.read(3 * 4096, 10);
    expect(server.log.requests).toBe(2);
    // the cache holds 8 blocks: reading 10 more evicts block 3
    await Promise.all(Array.from({ length: 10 }, (_, i) => src.read((11 + i) * 4096, 1)));
    const before = server.log.requests;
    await src.read(3 * 4096, 10);
    expect(server.log.requests).toBe(before + 1);
  });

  it("retries transient failures with backoff, and gives up on other statuses", async () => {
    const data = bytes(10_000, 5);
    server.files.set("/r.bin", { data, failNext: { count: 2, status: 503 } });
    server.reset();
    const src = await HttpSource.open(`${server.base}/r.bin`, fast);
    expect(server.log.requests).toBe(3);
    expect(src.stats.requests).toBe(3);
    expect(await src.read(5000, 10)).toEqual(data.subarray(5000, 5010));
    server.files.set("/r.bin", { data, failNext: { count: 10, status: 503 } });
    const e = await src.read(9000, 10).catch((x) => x);
    expect(e).toBeInstanceOf(HttpSourceError);
    expect(e.status).toBe(503);
    expect(e.message).toMatch(/^storage: http: .*HTTP 503 for bytes=8192-9999 \(after 4 attempts\)/);
    const missing = await HttpSource.open(`${server.base}/missing.bin`, fast).catch((x) => x);
    expect(missing).toBeInstanceOf(HttpSourceError);
    expect(missing.reason).toBe("status");
    expect(missing.status).toBe(404);
  });

  it("refuses to read a file that changed underneath (ETag or size)", async () => {
    server.files.set("/ch.bin", { data: bytes(50_000, 1), version: 1 });
    const src = await HttpSource.open(`${server.base}/ch.bin`, fast);
    server.files.set("/ch.bin", { data: bytes(50_000, 2), version: 2 });
    const e = await src.read(20_000, 10).catch((x) => x);
    expect(e).toBeInstanceOf(HttpSourceError);
    expect(e.reason).toBe("changed");
    expect(e.message).toMatch(/changed since it was opened \(ETag "v1-50000" → "v2-50000"\)/);
    server.files.set("/ch2.bin", { data: bytes(50_000, 1), etag: false });
    const s2 = await HttpSource.open(`${server.base}/ch2.bin`, fast);
    server.files.set("/ch2.bin", { data: bytes(60_000, 1), etag: false });
    await expect(s2.read(20_000, 10)).rejects.toThrow(/now 60000 bytes, 50000 when it was opened/);
  });

  it("falls back to one streamed download when the server ignores Range, with a note", async () => {
    const data = bytes(70_000, 9);
    server.files.set("/n.bin", { data, ranges: false });
    server.reset();
    const notes: string[] = [];
    const src = await HttpSource.open(`${server.base}/n.bin`, { ...fast, onNote: (m) => notes.push(m) });
    expect(src.rangeSupported).toBe(false);
    expect(src.note).toMatch(
      /does not support range requests .*downloading the whole file \(70000 bytes\) once/,
    );
    expect(notes).toEqual([src.note]);
    expect(await src.read(123, 45_000)).toEqual(data.subarray(123, 45_123));
    expect(server.log.requests).toBe(1);
    expect(server.log.bytes).toBe(70_000);
    await expect(
      HttpSource.open(`${server.base}/n.bin`, { ...fast, maxDownloadBytes: 1000 }),
    ).rejects.toThrow(/70000 bytes, over the 1000-byte limit/);
  });

  it("opens an empty file", async () => {
    server.files.set("/e.bin", { data: new Uint8Array(0) });
    const src = await HttpSource.open(`${server.base}/e.bin`, fast);
    expect(src.byteLength).toBe(0);
    expect(await src.read(0, 0)).toEqual(new Uint8Array(0));
  });
});
