import { existsSync, readdirSync, readFileSync } from "node:fs";
import { BlobSource, BufferSource } from "@pt/storage";
import { describe, expect, test } from "vitest";
import { MemorySink, SerializationIdHasher, ZipReader, ZipWriter } from "../src/index.js";
import { corpusDir, equalBytes, readBytes } from "./helpers.js";

interface ExpectedRecord {
  name: string;
  size: number;
  compress: number;
  data_offset: number;
}
interface Expected {
  format: { kind: string; prefix: string; records: ExpectedRecord[]; serialization_id: string | null };
}

if (!existsSync(new URL("expected/", corpusDir))) throw new Error(`corpus missing at ${corpusDir.pathname}`);
const zips = readdirSync(new URL("expected/", corpusDir))
  .filter((f) => f.endsWith(".json"))
  .map((f) => ({
    file: f.slice(0, -5),
    expected: JSON.parse(readFileSync(new URL(`expected/${f}`, corpusDir), "utf8")) as Expected,
  }))
  .filter((z) => z.expected.format.kind === "zip");

test("the corpus has its zip files", () => {
  expect(zips.length).toBeGreaterThanOrEqual(100);
});

describe.each(zips)("$file", ({ file, expected }) => {
  const bytes = readBytes(new URL(`files/${file}`, corpusDir));

  test("records, sizes, data offsets, prefix and CRCs match torch's view", async () => {
    const r = await ZipReader.open(new BufferSource(bytes), { readLocalHeaders: true });
    expect(r.prefix).toBe(expected.format.prefix);
    const got = r.entries.map((e) => ({
      name: e.name,
      size: e.uncompressedSize,
      compress: e.method,
      data_offset: e.dataOffset,
    }));
    expect(got).toEqual(
      expected.format.records.map(({ name, size, compress, data_offset }) => ({
        name,
        size,
        compress,
        data_offset,
      })),
    );
    for (const e of r.entries) {
      const data = await r.read(e.name); // CRC-checked
      expect(data.length).toBe(e.uncompressedSize);
      if (e.method === 0) {
        // zero-copy view into the file's bytes
        expect(data.buffer).toBe(bytes.buffer);
        expect(await r.dataRange(e.name)).toEqual({ offset: e.dataOffset, length: e.uncompressedSize });
      }
    }
  });

  test("the synchronous reader agrees", async () => {
    const a = await ZipReader.open(new BufferSource(bytes));
    const b = ZipReader.openSync(new BufferSource(bytes));
    expect(b.prefix).toBe(a.prefix);
    for (const name of a.records.keys()) expect(equalBytes(b.readSync(name), await a.read(name))).toBe(true);
  });

  if (expected.format.serialization_id) {
    test("serialization_id recomputed from the records", async () => {
      const r = await ZipReader.open(new BufferSource(bytes));
      const h = new SerializationIdHasher();
      for (const e of r.entries) {
        if (e.name === ".data/serialization_id") continue;
        h.addRecord(e.name, e.fullName, e.uncompressedSize, e.crc32, (await r.read(e.name)).subarray(0, 8));
      }
      // Linux wheels use libstdc++, macOS wheels libc++: one of them must give the stored id.
      expect([h.digest("libstdc++"), h.digest("libc++")]).toContain(expected.format.serialization_id);
    });
  }
});

// Files written by PyTorchStreamWriter with storing-only records and no timestamps (torch.save ≥ 1.6,
// and TorchScript archives without compressed records) are reproduced byte for byte.
const rewritable = zips.filter(({ file, expected }) => {
  const b = readBytes(new URL(`files/${file}`, corpusDir));
  return (
    expected.format.records.every((r) => r.compress === 0) &&
    b[10] === 0 &&
    b[11] === 0 &&
    b[12] === 0 &&
    b[13] === 0
  );
});

test("most corpus zips are rewritable", () => {
  expect(rewritable.length).toBeGreaterThanOrEqual(60);
});

describe.each(rewritable)("rewrite $file", ({ file, expected }) => {
  test("re-writing every record gives identical bytes (serialization_id recomputed by the writer)", async () => {
    const bytes = readBytes(new URL(`files/${file}`, corpusDir));
    const r = await ZipReader.open(new BlobSource(new Blob([bytes])));
    const sink = new MemorySink();
    const w = new ZipWriter(sink, { prefix: r.prefix });
    for (const e of r.entries) {
      if (e.name === ".data/serialization_id") {
        const lib = expected.format.serialization_id === w.serializationId("libc++") ? "libc++" : "libstdc++";
        expect(await w.writeSerializationId(lib)).toBe(expected.format.serialization_id);
      } else {
        await w.writeRecord(e.name, await r.read(e.name));
      }
    }
    await w.finish();
    expect(equalBytes(sink.bytes(), bytes)).toBe(true);
  });
});
