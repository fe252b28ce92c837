import { readdirSync } from "node:fs";
import { BufferSource } from "@pt/storage";
import { describe, expect, test } from "vitest";
import { archivePrefix, ZipReader, type ZipSink, ZipWriter } from "../src/index.js";
import { nodeCrc32 } from "../src/node.js";
import { equalBytes, fixturesDir, readBytes } from "./helpers.js";

const files = readdirSync(new URL("torch/", fixturesDir)).sort();

test("fixtures exist (run fixtures/generate.py)", () => {
  expect(files).toEqual([
    "descriptor_like_data.pt",
    "empty_and_scalar.pt",
    "file_object.pt",
    "large_record.pt",
    "model.v2.pt",
    "state_dict.pt",
  ]);
});

/** A sink that only hashes what it gets and keeps chunk boundaries — like a file stream. */
class CollectingSink implements ZipSink {
  chunks: Uint8Array[] = [];
  closed = false;
  async write(chunk: Uint8Array): Promise<void> {
    await Promise.resolve();
    this.chunks.push(chunk.slice());
  }
  close(): void {
    this.closed = true;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.chunks.reduce((s, c) => s + c.length, 0));
    let p = 0;
    for (const c of this.chunks) {
      out.set(c, p);
      p += c.length;
    }
    return out;
  }
}

describe.each(files)("torch 1.13 %s", (file) => {
  const bytes = readBytes(new URL(`torch/${file}`, fixturesDir));

  test("prefix follows torch's rule for the target name", () => {
    const r = ZipReader.openSync(new BufferSource(bytes));
    expect(r.prefix).toBe(file === "file_object.pt" ? archivePrefix() : archivePrefix(`/some/dir/${file}`));
  });

  test("re-writing the records (streamed in chunks, async sink) gives identical bytes", async () => {
    const r = await ZipReader.open(new BufferSource(bytes));
    const sink = new CollectingSink();
    const w = new ZipWriter(sink, { prefix: r.prefix, crc32: nodeCrc32 });
    for (const [name, e] of r.records) {
      const data = await r.read(name);
      // feed the record in uneven chunks: the writer must not care
      const chunks = function* (): Generator<Uint8Array> {
        for (let p = 0, k = 1; p < data.length; p += k, k = k * 3 + 1)
          yield data.subarray(p, Math.min(data.length, p + k));
      };
      await w.writeRecord(name, chunks(), e.uncompressedSize);
    }
    await w.finish();
    expect(sink.closed).toBe(true);
    expect(equalBytes(sink.bytes(), bytes)).toBe(true);
  });

  test("every record's data is 64-byte aligned", async () => {
    const r = await ZipReader.open(new BufferSource(bytes), { readLocalHeaders: true });
    for (const e of r.entries) expect((e.dataOffset as number) % 64).toBe(0);
  });
});

test("an empty storage is an empty record without data descriptor (flags 0x0800), as miniz writes it", async () => {
  const bytes = readBytes(new URL("torch/empty_and_scalar.pt", fixturesDir));
  const r = await ZipReader.open(new BufferSource(bytes), { readLocalHeaders: true });
  const empty = [...r.records.values()].filter((e) => e.uncompressedSize === 0);
  expect(empty.length).toBe(1);
  for (const e of empty) {
    expect(e.flags).toBe(0x0800);
    expect(e.crc32).toBe(0);
  }
  expect([...r.records.values()].filter((e) => e.uncompressedSize > 0).every((e) => e.flags === 0x0808)).toBe(
    true,
  );
});
