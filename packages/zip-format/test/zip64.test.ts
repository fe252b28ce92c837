import { describe, expect, test } from "vitest";
import {
  crc32,
  encodeCentralEntry,
  encodeDataDescriptor,
  encodeEndRecords,
  encodeLocalHeader,
  recordLayout,
  ZipReader,
} from "../src/index.js";
import { SparseSource, SpySource } from "./helpers.js";

const GiB = 2 ** 30;
const U32 = 0xffffffff;
const enc = new TextEncoder();

describe("recordLayout: torch's getPadding + miniz's zip64 extra", () => {
  test("small record at 0: 30 + name + 4 rounded up to 64", () => {
    const l = recordLayout(0, "archive/data.pkl".length, 100);
    expect(l).toMatchObject({
      zip64: false,
      zip64ExtraLength: 0,
      paddingLength: 14,
      extraLength: 18,
      dataOffset: 64,
      descriptorLength: 16,
      end: 180,
    });
  });
  test("no padding needed: the FB field is still there with length 0", () => {
    // 30 + 30 + 4 = 64
    const l = recordLayout(0, 30, 1);
    expect(l.paddingLength).toBe(0);
    expect(l.extraLength).toBe(4);
    expect(l.dataOffset).toBe(64);
  });
  test("empty record: no data descriptor", () => {
    expect(recordLayout(128, 10, 0)).toMatchObject({ descriptorLength: 0, end: 192 });
  });
  test("size ≥ 0xFFFFFFFF adds 4 + 16 bytes of zip64 extra and a 24-byte descriptor", () => {
    expect(recordLayout(0, 12, U32 - 1)).toMatchObject({ zip64: false, descriptorLength: 16 });
    const l = recordLayout(0, 12, U32);
    // start = 0 + 30 + 12 + 4 + 20 = 66 -> 128
    expect(l).toMatchObject({
      zip64: true,
      zip64ExtraLength: 20,
      paddingLength: 62,
      extraLength: 86,
      dataOffset: 128,
      descriptorLength: 24,
    });
    expect(l.end).toBe(128 + U32 + 24);
  });
  test("cursor ≥ 0xFFFFFFFF adds 4 + 8 bytes (offset only), and the descriptor becomes 64-bit", () => {
    expect(recordLayout(U32 - 1, 14, 10).zip64).toBe(false);
    const l = recordLayout(2 ** 32, 14, 10);
    // start = 2^32 + 30 + 14 + 4 + 12 = 2^32 + 60 -> 2^32 + 64
    expect(l).toMatchObject({
      zip64: true,
      zip64ExtraLength: 12,
      paddingLength: 4,
      dataOffset: 2 ** 32 + 64,
      descriptorLength: 24,
    });
  });
  test("both large: 4 + 16 + 8", () => {
    const l = recordLayout(6 * GiB + 5, 20, 5 * GiB);
    expect(l.zip64ExtraLength).toBe(28);
    expect(l.dataOffset % 64).toBe(0);
    expect(l.dataOffset - (6 * GiB + 5 + 30 + 20 + 28 + 4)).toBe(l.paddingLength);
  });
  test("data offsets are always 64-byte aligned (many cursors, names, sizes)", () => {
    for (const cursor of [0, 1, 63, 64, 1000, U32 - 3, U32, U32 + 1, 2 ** 40 + 7]) {
      for (const n of [1, 7, 33, 64, 200]) {
        for (const size of [0, 1, 8, U32 - 1, U32, 2 ** 36]) {
          const l = recordLayout(cursor, n, size);
          expect(l.dataOffset % 64).toBe(0);
          expect(l.paddingLength).toBeLessThan(64);
          expect(l.dataOffset).toBe(cursor + 30 + n + l.extraLength);
        }
      }
    }
  });
});

describe("header encodings for large records (as miniz writes them)", () => {
  const name = enc.encode("archive/data/0");
  test("local header: sizes 0, zip64 extra with the size and a compressed size of 0, then FB + Z padding", () => {
    const size = 5 * GiB;
    const l = recordLayout(64, name.length, size);
    const h = encodeLocalHeader(name, size, l);
    const v = new DataView(h.buffer);
    expect(v.getUint32(0, true)).toBe(0x04034b50);
    expect(v.getUint16(4, true)).toBe(0); // version needed
    expect(v.getUint16(6, true)).toBe(0x0808);
    expect([v.getUint32(14, true), v.getUint32(18, true), v.getUint32(22, true)]).toEqual([0, 0, 0]);
    expect(v.getUint16(28, true)).toBe(l.extraLength);
    const x = 30 + name.length;
    expect(v.getUint16(x, true)).toBe(1);
    expect(v.getUint16(x + 2, true)).toBe(16);
    expect(v.getBigUint64(x + 4, true)).toBe(BigInt(size));
    expect(v.getBigUint64(x + 12, true)).toBe(0n);
    expect(String.fromCharCode(h[x + 20] as number, h[x + 21] as number)).toBe("FB");
    expect(v.getUint16(x + 22, true)).toBe(l.paddingLength);
    expect(h.subarray(x + 24).every((b) => b === 0x5a)).toBe(true);
    expect(h.length).toBe(l.dataOffset - 64);
  });
  test("data descriptor: 64-bit sizes when zip64", () => {
    const l = recordLayout(2 ** 33, name.length, 3);
    const d = encodeDataDescriptor(0x12345678, 3, l);
    const v = new DataView(d.buffer);
    expect(d.length).toBe(24);
    expect([v.getUint32(0, true), v.getUint32(4, true)]).toEqual([0x08074b50, 0x12345678]);
    expect([v.getBigUint64(8, true), v.getBigUint64(16, true)]).toEqual([3n, 3n]);
  });
  test("central entry: 0xFFFFFFFF fields and a zip64 extra with sizes then offset", () => {
    const c = encodeCentralEntry(name, 5 * GiB, 7, 6 * GiB);
    const v = new DataView(c.buffer);
    expect([v.getUint32(20, true), v.getUint32(24, true), v.getUint32(42, true)]).toEqual([U32, U32, U32]);
    expect(v.getUint16(30, true)).toBe(28);
    const x = 46 + name.length;
    expect([v.getUint16(x, true), v.getUint16(x + 2, true)]).toEqual([1, 24]);
    expect([v.getBigUint64(x + 4, true), v.getBigUint64(x + 12, true), v.getBigUint64(x + 20, true)]).toEqual(
      [BigInt(5 * GiB), BigInt(5 * GiB), BigInt(6 * GiB)],
    );
  });
  test("end records: 32-bit fields saturate", () => {
    const e = encodeEndRecords(70000, 5 * GiB, 100);
    const v = new DataView(e.buffer);
    expect(v.getBigUint64(48, true)).toBe(BigInt(5 * GiB));
    expect(v.getBigUint64(64, true)).toBe(BigInt(5 * GiB + 100));
    expect([v.getUint16(84, true), v.getUint16(86, true), v.getUint32(92, true)]).toEqual([
      0xffff,
      0xffff,
      U32,
    ]);
  });
});

/** A >4 GiB archive laid out exactly as torch would write it, with only its headers materialised. */
function sparseArchive(): {
  source: SparseSource;
  small: Uint8Array;
  layouts: Map<string, ReturnType<typeof recordLayout>>;
  cdSize: number;
} {
  const segments: { offset: number; bytes: Uint8Array }[] = [];
  const central: Uint8Array[] = [];
  const layouts = new Map<string, ReturnType<typeof recordLayout>>();
  const small = enc.encode("small record past 4 GiB");
  const recs: [string, number, Uint8Array | null][] = [
    ["data.pkl", 10, enc.encode("0123456789")],
    ["data/0", 5 * GiB, null],
    ["data/1", small.length, small],
    ["version", 2, enc.encode("3\n")],
  ];
  let cursor = 0;
  for (const [n, size, bytes] of recs) {
    const nb = enc.encode(`big/${n}`);
    const l = recordLayout(cursor, nb.length, size);
    layouts.set(n, l);
    const crc = bytes ? crc32(bytes) : 0; // 0: "not computed"
    segments.push({ offset: cursor, bytes: encodeLocalHeader(nb, size, l) });
    if (bytes) segments.push({ offset: l.dataOffset, bytes });
    segments.push({ offset: l.dataOffset + size, bytes: encodeDataDescriptor(crc, size, l) });
    central.push(encodeCentralEntry(nb, size, crc, cursor));
    cursor = l.end;
  }
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  let p = cursor;
  for (const c of central) {
    segments.push({ offset: p, bytes: c });
    p += c.length;
  }
  const end = encodeEndRecords(recs.length, cursor, cdSize);
  segments.push({ offset: p, bytes: end });
  return { source: new SparseSource(p + end.length, segments), small, layouts, cdSize };
}

describe("a sparse 5 GiB archive", () => {
  test("listing reads only the tail and the central directory", async () => {
    const { source, cdSize } = sparseArchive();
    const spy = new SpySource(source);
    const r = await ZipReader.open(spy);
    expect(source.byteLength).toBeGreaterThan(5 * GiB);
    expect(r.zip64).toBe(true);
    expect([...r.records.keys()]).toEqual(["data.pkl", "data/0", "data/1", "version"]);
    expect(r.entry("data/0").uncompressedSize).toBe(5 * GiB);
    expect(r.entry("data/1").localHeaderOffset).toBeGreaterThan(2 ** 32);
    // tail (≤ 65,557 bytes), zip64 end record (56), central directory
    expect(spy.reads.length).toBe(3);
    expect(spy.bytesRead).toBeLessThanOrEqual(22 + 0xffff + 20 + 56 + cdSize);
    expect(spy.reads.every(([off]) => off >= source.byteLength - 70000)).toBe(true);
  });
  test("records past 4 GiB: data ranges, reads and CRCs", async () => {
    const { source, small, layouts } = sparseArchive();
    const r = await ZipReader.open(source);
    const l1 = layouts.get("data/1");
    expect(await r.dataRange("data/1")).toEqual({ offset: l1?.dataOffset, length: small.length });
    expect(await r.read("data/1")).toEqual(small);
    expect(r.dataRangeSync("data/0")).toEqual({ offset: layouts.get("data/0")?.dataOffset, length: 5 * GiB });
    expect(ZipReader.openSync(source).readSync("version")).toEqual(enc.encode("3\n"));
  });
});
