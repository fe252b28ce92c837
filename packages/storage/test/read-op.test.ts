import { describe, expect, it } from "vitest";
import {
  BufferSource,
  type ByteSource,
  MemorySink,
  mapReadFailures,
  type Op,
  type ReadProblem,
  readBytes,
  readChecked,
  readSyncChecked,
  runAsync,
  runSync,
  StorageRangeError,
  StorageReadError,
} from "../src/index.js";

const bytes = Uint8Array.from({ length: 64 }, (_, i) => i);

/** A parser: reads a length byte at 0, then that many bytes after it, plus a batch of two reads. */
function* lengthPrefixed(): Op<{ body: number[]; pair: number[] }> {
  const [n] = yield* readBytes(0, 1);
  const body = yield* readBytes(1, n as number);
  const [a, b] = yield [
    { offset: 10, length: 2 },
    { offset: 20, length: 1 },
  ];
  return { body: [...body], pair: [...(a as Uint8Array), ...(b as Uint8Array)] };
}

/** A source that counts reads and can only read asynchronously. */
function asyncOnly(data: Uint8Array): ByteSource & { reads: number } {
  const s = {
    reads: 0,
    byteLength: data.byteLength,
    async read(offset: number, length: number) {
      s.reads++;
      return data.slice(offset, offset + length);
    },
  };
  return s;
}

describe("Op / runSync / runAsync (the one sync/async driver)", () => {
  const data = Uint8Array.from([3, 7, 8, 9, ...bytes.subarray(4)]);

  it("one parser gives the same result driven synchronously and asynchronously", async () => {
    const want = { body: [7, 8, 9], pair: [10, 11, 20] };
    expect(runSync(lengthPrefixed(), new BufferSource(data))).toEqual(want);
    const src = asyncOnly(data);
    expect(await runAsync(lengthPrefixed(), src)).toEqual(want);
    expect(src.reads).toBe(4);
  });

  it("reads outside the source are a StorageRangeError naming offset and length", async () => {
    function* past(): Op<Uint8Array> {
      return yield* readBytes(60, 10);
    }
    const e = (() => {
      try {
        runSync(past(), new BufferSource(bytes));
      } catch (x) {
        return x;
      }
    })();
    expect(e).toBeInstanceOf(StorageRangeError);
    expect((e as StorageRangeError).details).toEqual({ offset: 60, length: 10, byteLength: 64 });
    await expect(runAsync(past(), asyncOnly(bytes))).rejects.toBeInstanceOf(StorageRangeError);
  });

  it("a source without readSync, a short read and a failing source are StorageReadErrors", async () => {
    expect(() => runSync(lengthPrefixed(), asyncOnly(bytes))).toThrow(/no readSync/);
    const short: ByteSource = {
      byteLength: 64,
      read: async () => new Uint8Array(1),
      readSync: () => new Uint8Array(1),
    };
    expect(() => readSyncChecked(short, 0, 4)).toThrow(StorageReadError);
    await expect(readChecked(short, 0, 4)).rejects.toThrow(/returned 1 bytes/);
    const failing: ByteSource = {
      byteLength: 64,
      read: async () => {
        throw new Error("disk gone");
      },
    };
    const e = await readChecked(failing, 0, 4).catch((x) => x);
    expect(e).toBeInstanceOf(StorageReadError);
    expect((e as Error).message).toMatch(/disk gone/);
    expect((e as Error).cause).toBeInstanceOf(Error);
  });

  it("a layer's ReadFailure turns each problem into its own error", () => {
    const seen: ReadProblem[] = [];
    const fail = (p: ReadProblem) => {
      seen.push(p);
      return new TypeError(`layer: ${p.kind} ${p.offset}+${p.length}`);
    };
    expect(() => runSync(readBytes(63, 2), new BufferSource(bytes), fail)).toThrow("layer: range 63+2");
    expect(() => runSync(readBytes(0, 1), asyncOnly(bytes), fail)).toThrow("layer: sync 0+0");
    expect(seen.map((p) => p.kind)).toEqual(["range", "sync"]);
  });
});

describe("mapReadFailures: a layer's parser keeps its errors inside another layer's parser", () => {
  const inner = () =>
    mapReadFailures(readBytes(60, 10), (p) => new RangeError(`inner: ${p.kind} at ${p.offset}`));
  function* outer(): Op<number> {
    const head = yield* readBytes(0, 4);
    const tail = yield* inner();
    return head.length + tail.length;
  }
  it("the innermost mapper names the failure, sync and async; the driver's maps the rest", async () => {
    expect(() => runSync(outer(), new BufferSource(bytes))).toThrow("inner: range at 60");
    await expect(runAsync(outer(), asyncOnly(bytes))).rejects.toThrow("inner: range at 60");
    function* bare(): Op<Uint8Array> {
      return yield* readBytes(70, 1);
    }
    expect(() => runSync(bare(), new BufferSource(bytes), (p) => new TypeError(`outer: ${p.kind}`))).toThrow(
      "outer: range",
    );
  });

  it("a parser may catch a failed read and go on", () => {
    function* tolerant(): Op<string> {
      try {
        yield* readBytes(100, 1);
      } catch (e) {
        return `recovered from ${(e as Error).name}`;
      }
      return "no failure";
    }
    expect(runSync(tolerant(), new BufferSource(bytes))).toBe("recovered from Error");
  });
});

describe("ByteSink / MemorySink (the one sink)", () => {
  it("keeps copies of what was written, in order", async () => {
    const sink = new MemorySink();
    const chunk = Uint8Array.from([1, 2, 3]);
    sink.write(chunk);
    chunk.fill(9); // writers may reuse their buffers
    sink.write(Uint8Array.from([4]));
    expect([...sink.bytes()]).toEqual([1, 2, 3, 4]);
  });
});
