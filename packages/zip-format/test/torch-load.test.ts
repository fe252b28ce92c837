import { readdirSync, readFileSync } from "node:fs";
import { dumps, PyGlobal, PyOrderedDict, tuple } from "@pt/pickle";
import { BlobSource, BufferSource, dtypes, Storage } from "@pt/storage";
import { arange, type Tensor, tensor } from "@pt/tensor";
import { deflateSync } from "fflate";
import { describe, expect, test } from "vitest";
import {
  isZipError,
  isZipTorchError,
  loadZip,
  loadZipSync,
  MemorySink,
  saveZip,
  TorchScriptArchiveError,
  TorchScriptV1Model,
  writeZip,
  ZipReader,
  ZipTorchError,
} from "../src/index.js";
import { buildZip, corpusDir, equalBytes, readBytes, SpySource } from "./helpers.js";

const enc = new TextEncoder();

interface Expected {
  format: {
    kind: string;
    torchscript: boolean;
    prefix: string;
    version: string | null;
    data_version: string | null;
    byteorder: string | null;
    serialization_id: string | null;
    format_version: string | null;
    storage_alignment: string | null;
    records: Array<{ name: string }>;
    pickles: { "data.pkl"?: { persistent_ids?: unknown[][] } };
  };
  storages: Array<{ numel: number; nbytes: number }>;
}

const zips = readdirSync(new URL("expected/", corpusDir))
  .filter((f) => f.endsWith(".json"))
  .map((f) => ({
    file: f.slice(0, -5),
    expected: JSON.parse(readFileSync(new URL(`expected/${f}`, corpusDir), "utf8")) as Expected,
  }))
  .filter((z) => z.expected.format.kind === "zip");
const plain = zips.filter((z) => !z.expected.format.torchscript);
const torchscript = zips.filter((z) => z.expected.format.torchscript);

test("the corpus has its zip checkpoints and TorchScript archives", () => {
  expect(plain.length).toBeGreaterThanOrEqual(60);
  expect(torchscript.length).toBeGreaterThanOrEqual(30);
});

describe.each(plain)("$file", ({ file, expected }) => {
  const bytes = readBytes(new URL(`files/${file}`, corpusDir));
  const keys = new Set((expected.format.pickles["data.pkl"]?.persistent_ids ?? []).map((p) => String(p[2])));

  test("loads: format info, one zero-copy storage per key", async () => {
    const r = await loadZip(bytes, { policy: "opaque" });
    const f = r.format;
    expect(f.prefix).toBe(expected.format.prefix);
    expect(f.version).toBe(Number(expected.format.version ?? expected.format.data_version));
    expect(f.byteorder).toBe(expected.format.byteorder ?? "little");
    expect(f.serializationId).toBe(expected.format.serialization_id);
    expect(f.formatVersion).toBe(expected.format.format_version);
    expect(f.storageAlignment).toBe(
      expected.format.storage_alignment === null ? null : Number(expected.format.storage_alignment),
    );
    expect(f.torchscript).toBe(false);
    expect(f.records).toEqual(expected.format.records.map((x) => x.name));
    expect(new Set(r.storages.keys())).toEqual(keys);
    for (const s of r.storages.values()) {
      expect(s.isLoaded).toBe(true);
      if (s.nbytes > 0) expect(s.bytes.buffer).toBe(bytes.buffer); // a view of the file, no copy
    }
    // the synchronous loader agrees
    const sync = loadZipSync(bytes, { policy: "opaque" });
    expect([...sync.storages.keys()]).toEqual([...r.storages.keys()]);
  });
});

describe("TorchScript archives", () => {
  test.each(torchscript)("$file is refused by default, naming what it is", async ({ file }) => {
    const bytes = readBytes(new URL(`files/${file}`, corpusDir));
    const err = await loadZip(bytes).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TorchScriptArchiveError);
    expect((err as Error).message).toMatch(/^zip: a TorchScript (v1 )?archive .*never run/);
    expect(() => loadZipSync(bytes)).toThrow(TorchScriptArchiveError);
  });

  test("torchscript: 'tensors' loads data.pkl with __torch__ classes as placeholders", async () => {
    const bytes = readBytes(new URL("files/pytorch__pytq-2020-05_lstm.scripted.pt", corpusDir));
    const r = await loadZip(bytes, { torchscript: "tensors" });
    expect(r.format.torchscript).toBe(true);
    expect(r.storages.size).toBe(4);
    expect((r.value as { cls: { qualifiedName: string } }).cls.qualifiedName).toMatch(/^__torch__\./);
  });
});

test("TorchScript v1 archives (model.json) load their tensor table with torchscript: 'tensors'", async () => {
  const bytes = readBytes(new URL("files/tchrs__2019-05_foo.pt", corpusDir));
  const r = await loadZip(bytes, { torchscript: "tensors" });
  expect(r.value).toBeInstanceOf(TorchScriptV1Model);
  const m = r.value as TorchScriptV1Model;
  expect([m.producerName, m.producerVersion, m.mainModuleName]).toEqual(["pytorch", "1.0", "foo"]);
  expect(m.tensors.map((t) => [t.record, t.dataType, t.tensor.toArray()])).toEqual([
    ["tensors/0", "FLOAT", [42]],
  ]);
  expect(loadZipSync(bytes, { torchscript: "tensors" }).storages.size).toBe(1);
});

describe("lazy loading", () => {
  const file = "burn__lpips_squeeze.pt"; // 2.9 MB, 59 storages
  const bytes = readBytes(new URL(`files/${file}`, corpusDir));

  test("listing reads only the end records, the central directory and data.pkl", async () => {
    const spy = new SpySource(new BlobSource(new Blob([bytes])));
    const r = await loadZip(spy, { lazy: true });
    const full = await ZipReader.open(new BufferSource(bytes), { readLocalHeaders: true });
    // every byte of a storage record, its local header included
    const extent = (name: string) => {
      const e = full.entry(name);
      return [e.localHeaderOffset, (e.dataOffset as number) + e.uncompressedSize] as const;
    };
    const storageRecords = [...full.records.keys()].filter((n) => n.startsWith("data/"));
    const touches = (reads: [number, number][], name: string) => {
      const [a, b] = extent(name);
      return reads.some(([o, l]) => o < b && o + l > a);
    };
    // (the first read is the file's tail, where the end record is searched for)
    expect((spy.reads[0]?.[0] as number) + (spy.reads[0]?.[1] as number)).toBe(bytes.length);
    expect(storageRecords.filter((n) => touches(spy.reads.slice(1), n))).toEqual([]);
    const all = [...r.storages.values()];
    expect(all.length).toBe(59);
    expect(all.every((s) => !s.isLoaded)).toBe(true);
    const before = spy.reads.length;
    const first = r.storages.get("0") as Storage;
    await first.load();
    const after = spy.reads.slice(before) as [number, number][];
    expect(storageRecords.filter((n) => touches(after, n))).toEqual(["data/0"]);
    expect(after.reduce((t, [, l]) => t + l, 0)).toBeLessThan(first.nbytes + 200);
    expect(all.filter((s) => s.isLoaded)).toHaveLength(1);
  });

  test("lazy storages are CRC-checked when read", async () => {
    const r0 = await ZipReader.open(new BufferSource(bytes));
    const range = await r0.dataRange("data/0");
    const bad = new Uint8Array(bytes);
    bad[range.offset] = (bad[range.offset] as number) ^ 0xff;
    const r = await loadZip(new BlobSource(new Blob([bad])), { lazy: true });
    const err = (await r.storages
      .get("0")
      ?.load()
      .catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/^storage: reading/);
    expect(isZipError(err.cause, "CrcMismatch")).toBe(true);
    const ok = await loadZip(new BlobSource(new Blob([bad])), { lazy: true, checkCrc: false });
    await expect(ok.storages.get("0")?.load()).resolves.toBeDefined();
  });

  test("eager loads from a Blob read every storage once", async () => {
    const r = await loadZip(new BlobSource(new Blob([bytes])));
    expect([...r.storages.values()].every((s) => s.isLoaded)).toBe(true);
    const mem = await loadZip(bytes);
    for (const [k, s] of r.storages)
      expect(equalBytes(s.bytes, mem.storages.get(k)?.bytes as Uint8Array)).toBe(true);
  });
});

/** A checkpoint as torch writes it, but with records chosen by the test. */
async function archive(records: Array<[string, Uint8Array]>): Promise<Uint8Array> {
  return writeZip(records, { prefix: "t" });
}

describe("storages", () => {
  test("big-endian archives are byte-swapped on read", async () => {
    const t = tensor([1.5, -2, 3e10], { dtype: dtypes.float64 });
    const sink = new MemorySink();
    await saveZip(new Map([["x", t]]), sink, { flavor: "2.1", prefix: "t" });
    const r0 = await ZipReader.open(new BufferSource(sink.bytes()));
    const be = new Uint8Array((await r0.read("data/0")).length);
    const le = await r0.read("data/0");
    for (let i = 0; i < le.length; i += 8) for (let k = 0; k < 8; k++) be[i + k] = le[i + 7 - k] as number;
    const bytes = await archive([
      ["data.pkl", await r0.read("data.pkl")],
      ["byteorder", enc.encode("big")],
      ["data/0", be],
      ["version", enc.encode("3\n")],
    ]);
    const r = await loadZip(bytes);
    expect(r.format.byteorder).toBe("big");
    const x = (r.value as Map<string, Tensor>).get("x") as Tensor;
    expect(x.toArray()).toEqual([1.5, -2, 3e10]);
    // the file's bytes are not modified
    expect(bytes.includes(0x3f)).toBe(true);
  });

  test("a misaligned storage record is copied (only that one) and still reads right", async () => {
    const t = arange(5, undefined, 1, { dtype: dtypes.float32 });
    const sink = new MemorySink();
    await saveZip(t, sink, { flavor: "1.13", prefix: "t" });
    const r0 = await ZipReader.open(new BufferSource(sink.bytes()));
    // buildZip writes no padding: a junk record shifts data/0 to an offset that is not a multiple of 4
    const pkl = await r0.read("data.pkl");
    const data = await r0.read("data/0");
    let bytes = new Uint8Array(0);
    for (let junk = 1; junk < 4; junk++) {
      bytes = buildZip([
        { name: "t/data.pkl", data: pkl },
        { name: "t/junk", data: new Uint8Array(junk) },
        { name: "t/data/0", data },
        { name: "t/version", data: enc.encode("3\n") },
      ]);
      if ((await ZipReader.open(new BufferSource(bytes)).then((z) => z.dataRange("data/0"))).offset % 4)
        break;
    }
    const r = await loadZip(bytes);
    const s = r.storages.get("0") as Storage;
    expect(s.bytes.byteOffset % 4).not.toBe(0);
    expect((r.value as Tensor).toArray()).toEqual([0, 1, 2, 3, 4]);
    expect(s.bytes.byteOffset % 4).toBe(0); // moved to an aligned copy
  });

  test("deflated records (a re-zipped checkpoint) load", async () => {
    const t = arange(100, undefined, 1, { dtype: dtypes.int32 });
    const sink = new MemorySink();
    await saveZip(new Map([["t", t]]), sink, { flavor: "1.13", prefix: "t" });
    const r0 = await ZipReader.open(new BufferSource(sink.bytes()));
    const entries = [];
    for (const name of ["data.pkl", "data/0", "version"]) {
      const data = await r0.read(name);
      entries.push({ name: `t/${name}`, data, stored: deflateSync(data), method: 8 });
    }
    const bytes = buildZip(entries);
    for (const src of [bytes, new BlobSource(new Blob([bytes]))]) {
      const r = await loadZip(src);
      expect(((r.value as Map<string, Tensor>).get("t") as Tensor).toArray()).toEqual(
        Array.from({ length: 100 }, (_, i) => i),
      );
    }
    expect(((loadZipSync(bytes).value as Map<string, Tensor>).get("t") as Tensor).get([99])).toBe(99);
  });

  test("one Storage per key: tensors naming it share it, writes are visible through both", async () => {
    const base = arange(10, undefined, 1, { dtype: dtypes.float32 });
    const sink = new MemorySink();
    await saveZip([base.slice(0, 0, 3), base.slice(0, 5, 10)], sink, { prefix: "t" });
    const r = await loadZip(sink.bytes());
    const [a, b] = r.value as Tensor[];
    expect(a?.storage).toBe(b?.storage);
    expect(r.storages.size).toBe(1);
    (b!.storage.typed() as Float32Array).set([42], 0); // a float32 storage
    expect(a?.get([0])).toBe(42);
  });

  test("a storage whose declared size differs from its record is refused, naming the key", async () => {
    const sink = new MemorySink();
    await saveZip(new Map([["w", arange(4, undefined, 1, { dtype: dtypes.float32 })]]), sink, {
      prefix: "t",
      flavor: "1.13",
    });
    const r0 = await ZipReader.open(new BufferSource(sink.bytes()));
    const bytes = await archive([
      ["data.pkl", await r0.read("data.pkl")],
      ["data/0", new Uint8Array(12)],
      ["version", enc.encode("3\n")],
    ]);
    const err = (await loadZip(bytes).catch((e: unknown) => e)) as ZipTorchError;
    expect(err).toBeInstanceOf(ZipTorchError);
    expect(err.code).toBe("StorageSizeMismatch");
    expect(err.key).toBe("0");
    expect(err.message).toMatch(
      /^zip: storage 0: data\.pkl declares 4 float32 elements \(16 bytes\).*record data\/0 holds 12 bytes/,
    );
    const missing = await archive([
      ["data.pkl", await r0.read("data.pkl")],
      ["version", enc.encode("3\n")],
    ]);
    await expect(loadZip(missing)).rejects.toThrow(
      /storage 0: data.pkl names it but the archive has no record data\/0/,
    );
  });
});

describe("records", () => {
  const pkl = dumps(new PyOrderedDict([["a", 1]]));
  test.each(["1", "3", "10"])("version %s is accepted", async (v) => {
    const r = await loadZip(
      await archive([
        ["data.pkl", pkl],
        ["version", enc.encode(`${v}\n`)],
      ]),
    );
    expect(r.format.version).toBe(Number(v));
    expect((r.value as Map<string, number>).get("a")).toBe(1);
  });
  test(".data/version is accepted", async () => {
    const r = await loadZip(
      await archive([
        ["data.pkl", pkl],
        [".data/version", enc.encode("6\n")],
      ]),
    );
    expect(r.format.versionRecord).toBe(".data/version");
  });
  test.each(["0", "11", "x"])("version %s is refused", async (v) => {
    const err = await loadZip(
      await archive([
        ["data.pkl", pkl],
        ["version", enc.encode(`${v}\n`)],
      ]),
    ).catch((e: unknown) => e);
    expect(isZipTorchError(err, "VersionUnsupported")).toBe(true);
    expect((err as Error).message).toContain("supported versions are 1 to 10");
  });
  test("a missing version, data.pkl or a bad byteorder are clear errors", async () => {
    await expect(loadZip(await archive([["data.pkl", pkl]]))).rejects.toThrow(/no version record/);
    await expect(loadZip(await archive([["version", enc.encode("3\n")]]))).rejects.toThrow(/no data\.pkl/);
    await expect(
      loadZip(
        await archive([
          ["data.pkl", pkl],
          ["byteorder", enc.encode("middle")],
          ["version", enc.encode("3\n")],
        ]),
      ),
    ).rejects.toThrow(/byteorder says "middle"/);
  });
  test("persistent ids naming one key: one Storage; another class or size for it is refused", async () => {
    class Ref {
      constructor(readonly pid: unknown) {}
    }
    const pid = (cls: string, numel: number) =>
      new Ref(tuple(["storage", new PyGlobal("torch", cls), "0", "cpu", numel]));
    const load = async (refs: Ref[]) =>
      loadZip(
        await archive([
          ["data.pkl", dumps(refs, { persistentId: (v) => (v instanceof Ref ? v.pid : null) })],
          ["data/0", new Uint8Array(16)],
          ["version", enc.encode("3\n")],
        ]),
      );
    // consecutive ids for one storage (views of it): the same object every time
    const same = (await load([pid("FloatStorage", 4), pid("FloatStorage", 4), pid("FloatStorage", 4)]))
      .value as Storage[];
    expect(same[0]).toBeInstanceOf(Storage);
    expect(same[1]).toBe(same[0]);
    expect(same[2]).toBe(same[0]);
    const dtype = (await load([pid("FloatStorage", 4), pid("IntStorage", 4)]).catch(
      (e: unknown) => e,
    )) as ZipTorchError;
    expect(dtype.code).toBe("PersistentIdInvalid");
    expect(dtype.message).toMatch(/declares it as float32 and again as int32/);
    const size = (await load([pid("FloatStorage", 4), pid("FloatStorage", 2)]).catch(
      (e: unknown) => e,
    )) as ZipTorchError;
    expect(size.code).toBe("StorageSizeMismatch");
  });
  test("an invalid persistent id is a typed error with its offset", async () => {
    const bad = new Uint8Array([0x80, 0x02, ...enc.encode("X\x01\x00\x00\x00zQ.")]);
    const err = (await loadZip(
      await archive([
        ["data.pkl", bad],
        ["version", enc.encode("3\n")],
      ]),
    ).catch((e: unknown) => e)) as ZipTorchError;
    expect(err.code).toBe("PersistentIdInvalid");
    expect(err.offset).toBe(8);
  });
  test("globals outside torch's are refused unless opaque; the caller's registry is merged", async () => {
    const g = new Uint8Array([0x80, 0x02, ...enc.encode("cargparse\nNamespace\n)R.")]);
    const bytes = await archive([
      ["data.pkl", g],
      ["version", enc.encode("3\n")],
    ]);
    await expect(loadZip(bytes)).rejects.toThrow(/unsafe global argparse\.Namespace/);
    const seen: string[] = [];
    const r = await loadZip(bytes, { policy: "opaque", onGlobal: (m, n, o) => seen.push(`${m}.${n}@${o}`) });
    expect(seen).toEqual(["argparse.Namespace@2"]);
    expect(r.value).toHaveProperty("cls.qualifiedName", "argparse.Namespace");
    const { GlobalRegistry, callable } = await import("@pt/pickle");
    const mine = new GlobalRegistry().register(
      "argparse",
      "Namespace",
      callable("argparse", "Namespace", () => "ns"),
    );
    expect((await loadZip(bytes, { globals: mine })).value).toBe("ns");
  });
});

test("a Storage made by hand saves and loads back", async () => {
  const s = Storage.fromTypedArray(dtypes.int16, new Int16Array([1, -2, 3]));
  const sink = new MemorySink();
  await saveZip(s, sink);
  const r = await loadZip(sink.bytes());
  expect(r.value).toBeInstanceOf(Storage);
  expect([...((r.value as Storage).typed() as Int16Array)]).toEqual([1, -2, 3]);
});
