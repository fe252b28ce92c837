import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  ALL_DTYPES,
  BufferSource,
  type ByteSource,
  dtypeFromName,
  dtypeFromStorageClass,
  dtypes,
  isStorageError,
  Storage,
  StorageError,
  StorageRangeError,
  StorageSizeError,
  swapBytes,
  UnknownDTypeError,
} from "../src/index.js";
import { FileSource, openFileSource } from "../src/node.js";

describe("dtype table", () => {
  it("has every dtype torch serializes, with sizes and storage classes", () => {
    const expected: Array<[string, number, string | null]> = [
      ["float64", 8, "DoubleStorage"],
      ["float32", 4, "FloatStorage"],
      ["float16", 2, "HalfStorage"],
      ["bfloat16", 2, "BFloat16Storage"],
      ["complex128", 16, "ComplexDoubleStorage"],
      ["complex64", 8, "ComplexFloatStorage"],
      ["complex32", 4, null],
      ["int64", 8, "LongStorage"],
      ["int32", 4, "IntStorage"],
      ["int16", 2, "ShortStorage"],
      ["int8", 1, "CharStorage"],
      ["uint8", 1, "ByteStorage"],
      ["uint16", 2, null],
      ["uint32", 4, null],
      ["uint64", 8, null],
      ["bool", 1, "BoolStorage"],
      ["float8_e4m3fn", 1, null],
      ["float8_e5m2", 1, null],
      ["float8_e4m3fnuz", 1, null],
      ["float8_e5m2fnuz", 1, null],
      ["float8_e8m0fnu", 1, null],
      ["float4_e2m1fn_x2", 1, null],
      ["bits8", 1, null],
      ["bits16", 2, null],
      ["bits1x8", 1, null],
      ["bits2x4", 1, null],
      ["bits4x2", 1, null],
      ["qint8", 1, "QInt8Storage"],
      ["quint8", 1, "QUInt8Storage"],
      ["qint32", 4, "QInt32Storage"],
      ["quint4x2", 1, "QUInt4x2Storage"],
      ["quint2x4", 1, "QUInt2x4Storage"],
    ];
    expect(ALL_DTYPES.map((d) => [d.name, d.itemSize, d.storageClass])).toEqual(expected);
    for (const d of ALL_DTYPES) {
      expect(dtypeFromName(d.name)).toBe(d);
      expect(dtypeFromName(d.qualifiedName)).toBe(d);
      if (d.storageClass) expect(dtypeFromStorageClass(d.storageClass)).toBe(d);
    }
  });
  it("flags and aliases", () => {
    expect(dtypes.float32.qualifiedName).toBe("torch.float32");
    expect(dtypeFromName("half")).toBe(dtypes.float16);
    expect(dtypeFromName("long")).toBe(dtypes.int64);
    expect(dtypes.bfloat16.isFloatingPoint).toBe(true);
    expect(dtypes.complex64.isComplex).toBe(true);
    expect(dtypes.complex64.isFloatingPoint).toBe(false);
    expect(dtypes.complex64.lanes).toBe(2);
    expect(dtypes.int64.isBigInt).toBe(true);
    expect(dtypes.qint8.isQuantized).toBe(true);
    expect(dtypes.float32.tensorTypeName).toBe("torch.FloatTensor");
  });
  it("unknown names are typed errors", () => {
    expect(() => dtypeFromName("float128")).toThrow(UnknownDTypeError);
    expect(() => dtypeFromName("float128")).toThrow("storage: unknown dtype 'float128'");
    expect(() => dtypeFromStorageClass("UntypedStorage")).toThrow("unknown storage class 'UntypedStorage'");
    try {
      dtypeFromName("x");
    } catch (e) {
      expect(isStorageError(e, "UnknownDType")).toBe(true);
    }
  });
});

describe("Storage", () => {
  it("is zero-copy over a caller's buffer; writes are shared", () => {
    const buf = new ArrayBuffer(16);
    const s = Storage.fromBytes(dtypes.float32, buf);
    expect(s.numel).toBe(4);
    expect(s.nbytes).toBe(16);
    const f = s.typed() as Float32Array;
    f[1] = 2.5;
    expect(new Float32Array(buf)[1]).toBe(2.5);
    expect(s.typed()).toBe(f);
    expect(s.device).toBe("cpu");
    expect(s.isLoaded).toBe(true);
  });
  it("copies once when unaligned, then keeps using the copy", () => {
    const file = new Uint8Array(17);
    new DataView(file.buffer).setFloat32(1, 3, true);
    const s = Storage.fromBytes(dtypes.float32, file.subarray(1, 17));
    const f = s.typed() as Float32Array;
    expect(f[0]).toBe(3);
    f[0] = 7;
    expect(new DataView(s.bytes.buffer, s.bytes.byteOffset).getFloat32(0, true)).toBe(7);
    expect(file[3]).toBe(0x40); // the caller's bytes still hold 3: no longer aliased
    expect(s.bytes[2]).toBe(0xe0);
    expect(s.typed()).toBe(f);
  });
  it("view: a loaded, zero-copy storage over a range of a buffer, checked against its bounds", () => {
    const file = new Uint8Array(64);
    new DataView(file.buffer).setFloat32(8, 1.5, true);
    const s = Storage.view(dtypes.float32, file, 8, 16, { device: "cuda:0" });
    expect(s.isLoaded).toBe(true);
    expect(s.isLazy).toBe(false);
    expect(s.numel).toBe(4);
    expect(s.device).toBe("cuda:0");
    expect(s.bytes.buffer).toBe(file.buffer);
    expect(s.bytes.byteOffset).toBe(8);
    expect(s.bytes.length).toBe(16);
    const f = s.typed() as Float32Array;
    expect(f[0]).toBe(1.5);
    f[1] = 4;
    expect(new DataView(file.buffer).getFloat32(12, true)).toBe(4);
    expect(s.loadSync()).toBe(s);
    expect(() => Storage.view(dtypes.float32, file, 56, 16)).toThrow(StorageRangeError);
    expect(() => Storage.view(dtypes.float32, file, -4, 4)).toThrow(/outside the 64-byte buffer/);
    expect(() => Storage.view(dtypes.float32, file, 0, 6)).toThrow(StorageSizeError);
    // unaligned: moves to an aligned copy, as fromBytes does
    const u = Storage.view(dtypes.float32, file, 9, 4);
    (u.typed() as Float32Array)[0] = 2;
    expect(u.bytes.byteOffset).toBe(0);
    expect(file[9]).toBe(0);
  });
  it("rejects byte counts that are not whole elements", () => {
    expect(() => Storage.fromBytes(dtypes.float32, new Uint8Array(6))).toThrow(
      "storage: 6 bytes is not a whole number of float32 elements (4 bytes each)",
    );
    expect(() => Storage.allocate(dtypes.int8, -1)).toThrow(StorageError);
  });
  it("allocate, clone and typedAs", () => {
    const s = Storage.allocate(dtypes.int64, 3);
    (s.typed() as BigInt64Array)[2] = -5n;
    const c = s.clone();
    (c.typed() as BigInt64Array)[2] = 1n;
    expect((s.typed() as BigInt64Array)[2]).toBe(-5n);
    const u = Storage.untypedFromBytes(new Uint8Array([0, 0, 0x80, 0x3f]));
    expect(u.untyped).toBe(true);
    expect(u.dtype).toBe(dtypes.uint8);
    expect((u.typedAs(dtypes.float32) as Float32Array)[0]).toBe(1);
    expect(() => Storage.fromBytes(dtypes.float32, new Uint8Array(4), { untyped: true })).toThrow(/untyped/);
  });
  it("big-endian bytes are swapped per element on first access, into a copy", () => {
    const be = new Uint8Array([0x3f, 0x80, 0, 0, 0x40, 0, 0, 0]);
    const s = Storage.fromBytes(dtypes.float32, be, { byteOrder: "big" });
    expect([...(s.typed() as Float32Array)]).toEqual([1, 2]);
    expect(be[0]).toBe(0x3f);
    const c = Storage.fromBytes(
      dtypes.complex128,
      new Uint8Array(16).fill(1).map((_, i) => i),
      {
        byteOrder: "big",
      },
    );
    expect([...c.bytes.subarray(0, 8)]).toEqual([7, 6, 5, 4, 3, 2, 1, 0]);
  });
  it("swapBytes in place and copying", () => {
    const b = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...swapBytes(b, 2, true)]).toEqual([2, 1, 4, 3, 6, 5, 8, 7]);
    expect([...b]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    swapBytes(b, 8);
    expect([...b]).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
    expect(() => swapBytes(b, 3)).toThrow(/units of 3/);
    expect(() => swapBytes(new Uint8Array(6), 4)).toThrow(/6 bytes/);
  });
});

describe("lazy storages", () => {
  const data = new Uint8Array(64).map((_, i) => i);
  it("read nothing until accessed, then read once (sync source)", () => {
    let reads = 0;
    const inner = new BufferSource(data);
    const src: ByteSource = {
      byteLength: 64,
      read: (o, l) => inner.read(o, l),
      readSync: (o, l) => {
        reads++;
        return inner.readSync(o, l);
      },
    };
    const s = Storage.lazy(dtypes.int16, src, 8, 8);
    expect(s.isLoaded).toBe(false);
    expect(s.numel).toBe(4);
    expect(reads).toBe(0);
    expect((s.typed() as Int16Array)[0]).toBe(8 | (9 << 8));
    s.typed();
    expect(reads).toBe(1);
    expect(s.isLoaded).toBe(true);
  });
  it("async-only sources need load(); access before is a clear error", async () => {
    const inner = new BufferSource(data);
    const src: ByteSource = { byteLength: 64, read: (o, l) => inner.read(o, l) };
    const s = Storage.lazy(dtypes.uint8, src, 60, 4);
    expect(() => s.bytes).toThrow(
      "storage: lazy storage of 4 bytes at source offset 60 is not loaded and its source has no readSync; await storage.load() first",
    );
    const [a, b] = await Promise.all([s.load(), s.load()]);
    expect(a).toBe(s);
    expect(b).toBe(s);
    expect([...s.bytes]).toEqual([60, 61, 62, 63]);
  });
  it("ranges are checked up front; short reads and failing sources are typed errors", async () => {
    const src = new BufferSource(data);
    expect(() => Storage.lazy(dtypes.float32, src, 60, 8)).toThrow(
      "storage: storage of 8 bytes at offset 60 runs past the end of the 64-byte source",
    );
    const liar: ByteSource = { byteLength: 64, read: async () => new Uint8Array(2) };
    await expect(Storage.lazy(dtypes.uint8, liar, 0, 4).load()).rejects.toThrow(
      "source returned 2 bytes, expected 4",
    );
    const failing: ByteSource = {
      byteLength: 64,
      read: async () => {
        throw new Error("disk on fire");
      },
    };
    const err = await Storage.lazy(dtypes.uint8, failing, 0, 4)
      .load()
      .catch((e: unknown) => e);
    expect(isStorageError(err, "ReadFailed")).toBe(true);
    expect((err as Error).cause).toBeInstanceOf(Error);
  });
});

describe("Storage.chunks (streaming without loading)", () => {
  const data = new Uint8Array(100).map((_, i) => i);
  const counting = () => {
    const reads: Array<[number, number]> = [];
    const inner = new BufferSource(data);
    const src: ByteSource = {
      byteLength: 100,
      read: async (o, l) => {
        reads.push([o, l]);
        return inner.read(o, l);
      },
    };
    return { src, reads };
  };
  const collect = async (g: AsyncGenerator<Uint8Array>) => {
    const parts: number[][] = [];
    for await (const c of g) parts.push([...c]);
    return parts;
  };
  it("reads an unloaded lazy storage piece by piece and keeps nothing", async () => {
    const { src, reads } = counting();
    const s = Storage.lazy(dtypes.int32, src, 10, 40);
    const parts = await collect(s.chunks(16));
    expect(parts.map((p) => p.length)).toEqual([16, 16, 8]);
    expect(parts.flat()).toEqual([...data.subarray(10, 50)]);
    expect(reads).toEqual([
      [10, 16],
      [26, 16],
      [42, 8],
    ]);
    expect(s.isLoaded).toBe(false);
    // a sub-range, and a view of the lazy storage reading its parent's range
    expect((await collect(s.chunks(100, 4, 12))).flat()).toEqual([...data.subarray(14, 22)]);
    const v = Storage.viewOf(s, 8, 16);
    expect((await collect(v.chunks(6))).flat()).toEqual([...data.subarray(18, 34)]);
    expect(s.isLoaded).toBe(false);
  });
  it("yields views of a loaded storage's bytes (no source reads)", async () => {
    const { src, reads } = counting();
    const s = Storage.lazy(dtypes.uint8, src, 0, 20);
    await s.load();
    const n = reads.length;
    const parts: Uint8Array[] = [];
    for await (const c of s.chunks(8)) parts.push(c);
    expect(parts.map((p) => p.length)).toEqual([8, 8, 4]);
    expect(parts[1]?.buffer).toBe(s.bytes.buffer);
    expect(reads.length).toBe(n);
  });
  it("big-endian sources are loaded (elements swapped as a whole)", async () => {
    const s = Storage.lazy(dtypes.int16, new BufferSource(new Uint8Array([0, 1, 0, 2])), 0, 4, {
      byteOrder: "big",
    });
    expect((await collect(s.chunks(2))).flat()).toEqual([1, 0, 2, 0]);
  });
  it("bad sizes, ranges and short reads are typed errors", async () => {
    const { src } = counting();
    const s = Storage.lazy(dtypes.uint8, src, 0, 20);
    await expect(collect(s.chunks(0))).rejects.toThrow("chunk size must be a positive integer, not 0");
    await expect(collect(s.chunks(4, 10, 30))).rejects.toThrow(StorageRangeError);
    const liar: ByteSource = { byteLength: 64, read: async () => new Uint8Array(2) };
    const err = await collect(Storage.lazy(dtypes.uint8, liar, 0, 8).chunks(4)).catch((e: unknown) => e);
    expect(isStorageError(err, "ReadFailed")).toBe(true);
    expect((err as Error).message).toContain("source returned 2 bytes, expected 4");
  });
});

describe("storage views (legacy view_metadata)", () => {
  it("share bytes with the root, also when the root is lazy", () => {
    const root = Storage.lazy(
      dtypes.float32,
      new BufferSource(new Uint8Array(new Float32Array([0, 1, 2, 3, 4]).buffer)),
      0,
      20,
    );
    const v = Storage.viewOf(root, 8, 8);
    expect([v.numel, v.isLoaded, v.base]).toEqual([2, false, root]);
    expect([...(v.typed() as Float32Array)]).toEqual([2, 3]);
    expect(root.isLoaded).toBe(true);
    (v.typed() as Float32Array)[0] = 20;
    expect((root.typed() as Float32Array)[2]).toBe(20);
    const vv = Storage.viewOf(v, 4, 4);
    expect(vv.base).toBe(root);
    expect((vv.typed() as Float32Array)[0]).toBe(3);
    expect(() => Storage.viewOf(root, 16, 8)).toThrow(
      "storage: view of 8 bytes at offset 16 is outside the 20-byte storage",
    );
  });
  it("a misaligned root is realigned once and views follow it", () => {
    const file = new Uint8Array(13);
    new DataView(file.buffer).setFloat32(5, 7, true);
    const root = Storage.fromBytes(dtypes.float32, file.subarray(1, 13));
    const v = Storage.viewOf(root, 4, 4);
    expect((v.typed() as Float32Array)[0]).toBe(7);
    (root.typed() as Float32Array)[1] = 8;
    expect((v.typed() as Float32Array)[0]).toBe(8);
  });
});

describe("FileSource (node)", () => {
  it("reads ranges synchronously, fingerprints size+mtime, closes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pt-storage-"));
    try {
      const p = join(dir, "f.bin");
      writeFileSync(p, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
      utimesSync(p, 1000, 1000);
      const src = openFileSource(p);
      expect(src).toBeInstanceOf(FileSource);
      expect(src.byteLength).toBe(8);
      expect([...src.readSync(2, 3)]).toEqual([3, 4, 5]);
      expect([...(await src.read(6, 2))]).toEqual([7, 8]);
      expect(src.fingerprint()).toBe("8:1000000");
      expect(() => src.readSync(6, 4)).toThrow(
        "storage: read of 4 bytes at offset 6 is outside the 8-byte file",
      );
      const s = Storage.lazy(dtypes.int32, src, 4, 4);
      expect((s.typed() as Int32Array)[0]).toBe(0x08070605);
      src.close();
      expect(() => src.readSync(0, 1)).toThrow(/closed/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
