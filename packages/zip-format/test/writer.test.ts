import { readFileSync } from "node:fs";
import { BufferSource } from "@pt/storage";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import {
  archivePrefix,
  crc32,
  isZipError,
  libcxxStringHash,
  libstdcxxStringHash,
  MemorySink,
  SerializationIdHasher,
  writeZip,
  ZipReader,
  ZipWriter,
} from "../src/index.js";
import { hasNativeCrc32, nodeCrc32 } from "../src/node.js";
import { fixturesDir } from "./helpers.js";

const enc = new TextEncoder();

describe("crc32", () => {
  test("known values", () => {
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(enc.encode("123456789"))).toBe(0xcbf43926);
    expect(crc32(enc.encode("The quick brown fox jumps over the lazy dog"))).toBe(0x414fa339);
  });
  test("slicing-by-8 equals the Node implementation, and continues across chunks", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(300), (data, cut) => {
        const k = Math.min(cut, data.length);
        const whole = crc32(data);
        expect(crc32(data.subarray(k), crc32(data.subarray(0, k)))).toBe(whole);
        expect(nodeCrc32(data)).toBe(whole);
        expect(nodeCrc32(data.subarray(k), nodeCrc32(data.subarray(0, k)))).toBe(whole);
      }),
      { numRuns: 300 },
    );
    expect(typeof hasNativeCrc32).toBe("boolean");
  });
});

describe("archivePrefix (torch's basename rule)", () => {
  test.each([
    ["model.pt", "model"],
    ["/a/b/sd.pt", "sd"],
    ["C:\\models\\sd.pth", "sd"],
    ["ckpt.tar.gz", "ckpt.tar"],
    ["weights", "weights"],
    [".hidden", "archive"],
    ["dir/", "archive"],
    ["", "archive"],
    [undefined, "archive"],
    [null, "archive"],
  ])("%s → %s", (target, prefix) => {
    expect(archivePrefix(target)).toBe(prefix);
  });
});

describe("ZipWriter", () => {
  const records: [string, Uint8Array][] = [
    ["data.pkl", enc.encode("\x80\x02}q\x00.")],
    ["data/0", new Uint8Array(1000).map((_, i) => i * 7)],
    ["data/1", new Uint8Array(0)],
    ["version", enc.encode("3\n")],
  ];

  test("round trip through the reader, every record aligned", async () => {
    const bytes = await writeZip(records, { prefix: "sd" });
    const r = await ZipReader.open(new BufferSource(bytes), { readLocalHeaders: true });
    expect(r.prefix).toBe("sd");
    expect([...r.records.keys()]).toEqual(records.map(([n]) => n));
    for (const [n, d] of records) {
      expect(await r.read(n)).toEqual(d);
      expect((r.entry(n).dataOffset as number) % 64).toBe(0);
    }
  });

  test("entries: names, CRCs (unsigned, also over 2^31), data offsets once read", async () => {
    const bytes = await writeZip(records, { prefix: "sd" });
    const r = ZipReader.openSync(new BufferSource(bytes));
    const crcs = records.map(([, d]) => crc32(d));
    expect(crcs.some((c) => c >= 2 ** 31)).toBe(true); // the case that must stay unsigned
    for (const [i, [n]] of records.entries()) {
      const e = r.entry(n);
      expect(e.index).toBe(i);
      expect(e.name).toBe(n);
      expect(e.fullName).toBe(`sd/${n}`);
      expect(new TextDecoder().decode(e.nameBytes)).toBe(`sd/${n}`);
      expect(e.crc32).toBe(crcs[i]);
      expect(e.isDirectory).toBe(false);
      expect(e.dataOffset).toBeUndefined();
      r.readSync(n);
      expect(e.dataOffset).toBe(r.dataRangeSync(n).offset);
      expect(r.readEntrySync(e)).toEqual(records[i]?.[1]);
    }
  });

  test("chunked (sync and async iterables) equals one buffer", async () => {
    const one = await writeZip(records);
    const sink = new MemorySink();
    const w = new ZipWriter(sink);
    for (const [n, d] of records) {
      async function* chunks(): AsyncGenerator<Uint8Array> {
        for (let p = 0; p < d.length; p += 333) yield d.subarray(p, p + 333);
      }
      await w.writeRecord(n, chunks(), d.length);
    }
    await w.finish();
    expect(sink.bytes()).toEqual(one);
    expect(w.recordNames).toEqual(records.map(([n]) => n));
  });

  test("misuse gives typed errors", async () => {
    const w = new ZipWriter(new MemorySink());
    await w.writeRecord("a", enc.encode("x"));
    await expect(w.writeRecord("a", enc.encode("y"))).rejects.toSatisfy((e) =>
      isZipError(e, "WriterInvalid"),
    );
    await expect(w.writeRecord("b", [enc.encode("xy")], 3)).rejects.toSatisfy((e) =>
      isZipError(e, "WriterInvalid"),
    );
    const w2 = new ZipWriter(new MemorySink());
    await expect(w2.writeRecord("b", [enc.encode("xyz")], 2)).rejects.toSatisfy((e) =>
      isZipError(e, "WriterInvalid"),
    );
    await expect(w2.writeRecord("c", [enc.encode("x")])).rejects.toSatisfy((e) =>
      isZipError(e, "WriterInvalid"),
    );
    const w3 = new ZipWriter(new MemorySink());
    await w3.finish();
    await expect(w3.writeRecord("late", enc.encode("x"))).rejects.toSatisfy((e) =>
      isZipError(e, "WriterState"),
    );
    await expect(w3.finish()).rejects.toSatisfy((e) => isZipError(e, "WriterState"));
    expect(() => new ZipWriter(new MemorySink(), { prefix: "a/b" })).toThrow(/prefix/);
  });

  test("computeCrc: false writes CRC 0, which readers accept as 'not computed'", async () => {
    const bytes = await writeZip(records, { computeCrc: false });
    const r = await ZipReader.open(new BufferSource(bytes));
    for (const e of r.entries) expect(e.crc32).toBe(0);
    for (const [n, d] of records) expect(await r.read(n)).toEqual(d);
  });

  test("a sink error propagates", async () => {
    const w = new ZipWriter({ write: () => Promise.reject(new Error("disk full")) });
    await expect(w.writeRecord("a", enc.encode("x"))).rejects.toThrow("disk full");
  });
});

describe("serialization id", () => {
  const cases = JSON.parse(
    readFileSync(new URL("serialization-id/libstdcxx-cases.json", fixturesDir), "utf8"),
  ) as { names: string[]; hash: string }[];
  test("the libstdc++ name hash equals a real std::unordered_set<std::string> (oracle.cc, g++)", () => {
    expect(cases.length).toBeGreaterThan(50);
    for (const c of cases) {
      const h = new SerializationIdHasher();
      for (const n of c.names) h.addRecord(n, `archive/${n}`, 0, 0, new Uint8Array(0));
      expect(h.digest("libstdc++").slice(0, 20)).toBe(c.hash);
    }
  });
  test("50,000 records (many rehashes of the set): the value of the BigInt implementation it replaced", () => {
    // The id is computed on 32-bit halves; this value was computed by the previous, BigInt-based
    // implementation (commit 72580cd), which the oracle cases above also checked.
    const h = new SerializationIdHasher();
    for (let i = 0; i < 50_000; i++)
      h.addRecord(
        `data/${i}`,
        `archive/data/${i}`,
        64,
        (i * 2654435761) >>> 0,
        new Uint8Array(8).fill(i & 255),
      );
    expect(h.digest("libstdc++")).toBe("0902507128371009892200749957414847961410");
    expect(h.digest("libc++")).toBe("1611259973684062872500749957414847961410");
  });
  test("string hashes: known values", () => {
    // std::hash<std::string>{}("") with libstdc++ and libc++ (CityHash k2)
    expect(libstdcxxStringHash(new Uint8Array(0))).toBe(6142509188972423790n);
    expect(libcxxStringHash(new Uint8Array(0))).toBe(0x9ae16a3b2f90404fn);
  });
  test("CRC half: data descriptors, and record data that starts with a descriptor signature", () => {
    const a = new SerializationIdHasher();
    a.addRecord("x", "p/x", 8, 5, enc.encode("PK\x07\x08\x01\x00\x00\x00"));
    const b = new SerializationIdHasher();
    b.addRecord("x", "p/x", 8, 5, enc.encode("abcdefgh"));
    expect(a.digest().slice(20)).not.toBe(b.digest().slice(20));
    expect(a.digest()).toHaveLength(40);
  });
});
