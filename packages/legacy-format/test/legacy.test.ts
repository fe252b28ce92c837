import { readFileSync } from "node:fs";
import {
  dumps,
  genops,
  PyGlobal,
  PyOrderedDict,
  REDUCE,
  type Reduction,
  tuple,
  UnsafeGlobalError,
} from "@pt/pickle";
import { type ByteSource, dtypes, Storage } from "@pt/storage";
import { StorageClassRef, storageClassFor, Tensor, tensor } from "@pt/tensor";
import { describe, expect, it } from "vitest";
import {
  isLegacy,
  isLegacyError,
  LegacyFormatError,
  legacyModuleSource,
  legacyStorageKey,
  loadLegacy,
  loadLegacySync,
  MAGIC_NUMBER,
  saveLegacy,
  saveLegacySync,
} from "../src/index.js";

const fixtures = new URL("../../../apps/conformance/fixtures/", import.meta.url);
const fixture = (name: string) => new Uint8Array(readFileSync(new URL(name, fixtures)));
const corpusFile = (name: string) =>
  new Uint8Array(readFileSync(new URL(`../../../apps/conformance/corpus/files/${name}`, import.meta.url)));

function thrown(f: () => unknown): LegacyFormatError {
  try {
    f();
  } catch (e) {
    if (e instanceof LegacyFormatError) return e;
    throw new Error(`expected a LegacyFormatError, got ${String(e)}`, { cause: e });
  }
  throw new Error("expected an error");
}

/** Pickle ends of the five pickles of a legacy stream. */
function pickleEnds(bytes: Uint8Array): number[] {
  const ends: number[] = [];
  let at = 0;
  for (let i = 0; i < 5; i++) {
    const g = genops(bytes, at);
    let r = g.next();
    while (!r.done) r = g.next();
    at = r.value;
    ends.push(at);
  }
  return ends;
}

/** Assemble a legacy stream from parts (for hostile inputs). */
function stream(parts: {
  sysInfo?: unknown;
  object: Uint8Array;
  keys: unknown;
  records: Uint8Array[];
}): Uint8Array {
  const sys =
    parts.sysInfo ??
    new Map<string, unknown>([
      ["protocol_version", 1001],
      ["little_endian", true],
      [
        "type_sizes",
        new Map([
          ["short", 2],
          ["int", 4],
          ["long", 4],
        ]),
      ],
    ]);
  const chunks = [
    dumps(MAGIC_NUMBER),
    dumps(1001),
    dumps(sys),
    parts.object,
    dumps(parts.keys),
    ...parts.records,
  ];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function record(count: bigint, data: Uint8Array): Uint8Array {
  const r = new Uint8Array(8 + data.length);
  new DataView(r.buffer).setBigInt64(0, count, true);
  r.set(data, 8);
  return r;
}

/** An object pickle holding one float32 tensor over storage `key` with `numel` elements. */
function objectWith(key: unknown, numel: number, size = numel, view: unknown = null): Uint8Array {
  const marker = { marker: true };
  const value = {
    [REDUCE](): Reduction {
      return {
        func: new PyGlobal("torch._utils", "_rebuild_tensor_v2"),
        args: [marker, 0, tuple([size]), tuple([1]), false, new PyOrderedDict()],
      };
    },
  };
  return dumps(value, {
    persistentId: (v) =>
      v === marker ? tuple(["storage", storageClassFor(dtypes.float32), key, "cpu", numel, view]) : null,
  });
}

describe("legacy stream: loading", () => {
  it("detects legacy streams of every pickle protocol", () => {
    for (const p of [0, 1, 2, 3, 4, 5])
      expect(isLegacy(dumps(MAGIC_NUMBER, { protocol: p })), `protocol ${p}`).toBe(true);
    expect(isLegacy(dumps(MAGIC_NUMBER + 1n))).toBe(false);
    expect(isLegacy(new Uint8Array([0x50, 0x4b, 3, 4]))).toBe(false);
  });

  it("shares storages between tensors and keeps view_metadata views inside their root", () => {
    const r = loadLegacySync(corpusFile("bumblebee__2022-05_storage_view.legacy.pt"));
    const root = r.storages.get("94279043900432")!;
    const a = r.storages.get("94279029750368")!;
    const b = r.storages.get("94279029750432")!;
    expect(r.keys).toEqual(["94279043900432"]);
    expect(a.base).toBe(root);
    expect(b.base).toBe(root);
    const [sa, sb] = r.value as [Storage, Storage];
    expect(sa).toBe(a);
    expect(sb).toBe(b);
    (root.typed() as Float32Array)[1] = 42;
    expect((b.typed() as Float32Array)[0]).toBe(42);
    expect((a.typed() as Float32Array)[0]).toBe(0);
  });

  it("loads the old _rebuild_tensor and keys that are memory addresses", () => {
    const s = Storage.fromTypedArray(dtypes.float32, new Float32Array([1, 2, 3, 4]));
    const old = {
      [REDUCE](): Reduction {
        return {
          func: new PyGlobal("torch._utils", "_rebuild_tensor"),
          args: [s, 1, tuple([3]), tuple([1])],
        };
      },
    };
    const bytes = saveLegacySync([old, old], { storageKeys: new Map([[s, "140245012345680"]]) });
    const r = loadLegacySync(bytes);
    const [t, u] = r.value as [Tensor, Tensor];
    expect(t).toBe(u);
    expect(t.values()).toEqual([2, 3, 4]);
    expect(r.keys).toEqual(["140245012345680"]);
    expect(legacyStorageKey(t.storage)).toBe("140245012345680");
  });

  it("lazy mode reads no storage byte until a storage is accessed", async () => {
    const bytes = fixture("views_shared_base.legacy.pt");
    const reads: [number, number][] = [];
    const spy: ByteSource = {
      byteLength: bytes.length,
      read: async (o, l) => {
        reads.push([o, l]);
        return bytes.slice(o, o + l);
      },
    };
    const r = await loadLegacy(spy, { lazy: true, readAhead: 1 });
    const eager = loadLegacySync(bytes);
    expect(r.records.length).toBeGreaterThan(0);
    for (const rec of r.records) {
      for (const [o, l] of reads)
        expect(o + l <= rec.dataOffset || o >= rec.dataOffset + rec.nbytes, `read [${o}, ${o + l})`).toBe(
          true,
        );
      expect(rec.storage.isLoaded).toBe(false);
    }
    const n = reads.length;
    await r.records[0]!.storage.load();
    expect(reads.slice(n)).toEqual([[r.records[0]!.dataOffset, r.records[0]!.nbytes]]);
    expect(r.records[0]!.storage.bytes).toEqual(eager.records[0]!.storage.bytes);
  });

  it("lazy mode with the default read-ahead reads at most one step past the key list", async () => {
    const bytes = fixture("seed_two_slices.legacy.pt");
    let total = 0;
    const r = await loadLegacy(
      {
        byteLength: bytes.length,
        read: async (o, l) => {
          total += l;
          return bytes.slice(o, o + l);
        },
      },
      { lazy: true },
    );
    expect(r.records[0]!.nbytes).toBe(4_000_000);
    expect(total).toBeLessThanOrEqual(64 * 1024 + 8);
    expect(r.records[0]!.storage.isLoaded).toBe(false);
  });

  it("reads sources without readSync and big objects read in pieces", async () => {
    const bytes = fixture("nn_transformer_layer_model.legacy.pt");
    const src: ByteSource = { byteLength: bytes.length, read: async (o, l) => bytes.slice(o, o + l) };
    const a = await loadLegacy(src, { policy: "opaque" });
    const b = loadLegacySync(bytes, { policy: "opaque" });
    expect(a.keys).toEqual(b.keys);
    expect(saveLegacySync(a.value, { moduleSources: a.moduleSources })).toEqual(bytes);
    // sparse tensors read their indices while unpickling: records are located first
    const sparse = fixture("sparse_coo.legacy.pt");
    const c = await loadLegacy({ byteLength: sparse.length, read: async (o, l) => sparse.slice(o, o + l) });
    expect(saveLegacySync(c.value)).toEqual(sparse);
  });

  it("truncation at every byte gives a typed error naming the pickle or storage key and the offset", async () => {
    const bytes = fixture("dtype_all_in_one.legacy.pt");
    const full = loadLegacySync(bytes);
    const ends = pickleEnds(bytes);
    const names = ["magic", "protocol", "sys_info", "object", "keys"];
    for (let cut = 0; cut < bytes.length; cut++) {
      const e = thrown(() => loadLegacySync(bytes.subarray(0, cut)));
      expect(e.code, `cut ${cut}: ${e.message}`).toBe("Truncated");
      expect(e.message.startsWith("legacy: ")).toBe(true);
      const p = ends.findIndex((end) => cut < end);
      if (p >= 0) {
        expect(e.record, `cut ${cut}`).toBe(names[p]);
        expect(e.offset).toBe(p === 0 ? 0 : ends[p - 1]);
      } else {
        const rec = full.records.find((r) => cut < r.dataOffset + r.nbytes)!;
        expect(e.record).toBe("storage");
        expect(e.key).toBe(rec.key);
        expect(e.offset).toBe(cut < rec.dataOffset ? rec.headerOffset : rec.dataOffset);
        expect(e.message).toContain(`'${rec.key}'`);
      }
    }
    // the same through the asynchronous path, at every record boundary
    for (const cut of [
      ...ends,
      ...full.records.flatMap((r) => [r.headerOffset + 3, r.dataOffset, r.dataOffset + 1]),
    ]) {
      const part = bytes.slice(0, cut);
      await expect(
        loadLegacy({ byteLength: part.length, read: async (o, l) => part.slice(o, o + l) }),
      ).rejects.toSatisfy((e: unknown) => isLegacyError(e, "Truncated"));
    }
  });

  it("reads past storages that are listed but never referenced", () => {
    const unref = new Uint8Array(new Float32Array([7, 8, 9]).buffer);
    const mine = new Uint8Array(new Float32Array([1.5, 2.5]).buffer);
    const bytes = stream({
      object: objectWith("2", 2),
      keys: ["1", "2"],
      records: [record(3n, unref), record(2n, mine)],
    });
    const r = loadLegacySync(bytes);
    expect((r.value as Tensor).values()).toEqual([1.5, 2.5]);
    const skipped = r.storages.get("1")!;
    expect(skipped.untyped).toBe(true);
    expect(skipped.bytes).toEqual(unref);
    expect(r.records.map((x) => [x.key, x.headerOffset])).toEqual([
      ["1", bytes.length - 36],
      ["2", bytes.length - 16],
    ]);
  });

  it("refuses hostile and inconsistent streams quickly", () => {
    const data = new Uint8Array(8);
    const ok = stream({ object: objectWith("0", 2), keys: ["0"], records: [record(2n, data)] });
    expect((loadLegacySync(ok).value as Tensor).shape).toEqual([2]);

    const t0 = performance.now();
    // a huge count in a storage header
    let e = thrown(() =>
      loadLegacySync(stream({ object: objectWith("0", 2), keys: ["0"], records: [record(2n ** 62n, data)] })),
    );
    expect([e.code, e.key, e.record]).toEqual(["Storage", "0", "storage"]);
    // a huge declared numel: refused before anything is allocated
    e = thrown(() =>
      loadLegacySync(
        stream({ object: objectWith("0", 2 ** 50, 1), keys: ["0"], records: [record(2n ** 50n, data)] }),
      ),
    );
    expect(e.code).toBe("Storage");
    expect(e.message).toContain("4503599627370496");
    // keys: not a list, duplicates, unknown, missing, not strings
    e = thrown(() =>
      loadLegacySync(stream({ object: objectWith("0", 2), keys: "0", records: [record(2n, data)] })),
    );
    expect([e.code, e.record]).toEqual(["Storage", "keys"]);
    e = thrown(() =>
      loadLegacySync(stream({ object: objectWith("0", 2), keys: ["0", "0"], records: [record(2n, data)] })),
    );
    expect(e.message).toContain("twice");
    e = thrown(() =>
      loadLegacySync(stream({ object: objectWith("0", 2), keys: ["0", "9"], records: [record(2n, data)] })),
    );
    expect(e.key).toBe("9");
    e = thrown(() => loadLegacySync(stream({ object: objectWith("0", 2), keys: [], records: [] })));
    expect(e.message).toContain("missing from the key list");
    e = thrown(() => loadLegacySync(stream({ object: objectWith("0", 2), keys: [null], records: [] })));
    expect(e.record).toBe("keys");
    // a view outside its root
    e = thrown(() =>
      loadLegacySync(
        stream({
          object: objectWith("0", 2, 1, tuple(["v", 1, 5])),
          keys: ["0"],
          records: [record(2n, data)],
        }),
      ),
    );
    expect([e.code, e.key]).toEqual(["Storage", "v"]);
    // type_sizes that cannot be honoured, a non-dict sys_info
    const sysInfo = new Map<string, unknown>([["type_sizes", new Map([["int", 8]])]]);
    e = thrown(() =>
      loadLegacySync(
        stream({ sysInfo, object: objectWith("0", 2), keys: ["0"], records: [record(2n, data)] }),
      ),
    );
    expect([e.code, e.record]).toEqual(["BadSysInfo", "sys_info"]);
    expect(e.message).toContain("type_sizes.int = number 8");
    e = thrown(() =>
      loadLegacySync(stream({ sysInfo: [1], object: objectWith("0", 2), keys: ["0"], records: [] })),
    );
    expect(e.code).toBe("BadSysInfo");
    // magic and protocol version
    e = thrown(() => loadLegacySync(dumps(12345)));
    expect([e.code, e.record, e.offset]).toEqual(["BadMagic", "magic", 0]);
    const badProto = stream({ object: objectWith("0", 2), keys: ["0"], records: [record(2n, data)] });
    badProto.set(dumps(1002), dumps(MAGIC_NUMBER).length);
    expect(thrown(() => loadLegacySync(badProto)).code).toBe("BadProtocolVersion");
    // an unknown persistent id kind, and a dangerous global in the object
    const obj = { x: 1 };
    const pid = dumps([obj], { persistentId: (v) => (v === obj ? tuple(["socket", 1]) : null) });
    e = thrown(() => loadLegacySync(stream({ object: pid, keys: [], records: [] })));
    expect([e.code, e.record]).toEqual(["Storage", "object"]);
    // the pickle layer's refusal passes through as is (never wrapped), naming the file offset
    const evil = new Uint8Array([0x80, 2, ...new TextEncoder().encode("cos\nsystem\n)R.")]);
    const evilStream = stream({ object: evil, keys: [], records: [] });
    let refusal: unknown;
    try {
      loadLegacySync(evilStream, { policy: "opaque" });
    } catch (err) {
      refusal = err;
    }
    expect(refusal).toBeInstanceOf(UnsafeGlobalError);
    const objectStart = pickleEnds(evilStream)[2] ?? -1;
    expect((refusal as UnsafeGlobalError).globals).toEqual([
      { module: "os", name: "system", dangerous: true, offset: objectStart + 2, opcode: "GLOBAL" },
    ]);
    // too many storages
    e = thrown(() => loadLegacySync(ok, { limits: { maxStorages: 0 } }));
    expect(e.code).toBe("Limit");
    // a hang detector only (an order of magnitude above the typical time): speed is the bench's
    expect(performance.now() - t0).toBeLessThan(10_000);
  });

  it("accepts big-endian element counts when sys_info says little_endian False, and can swap data", () => {
    const sysInfo = new Map<string, unknown>([
      ["protocol_version", 1001],
      ["little_endian", false],
    ]);
    const be = new Uint8Array(8 + 8);
    new DataView(be.buffer).setBigInt64(0, 2n, false);
    new DataView(be.buffer).setFloat32(8, 1.5, false);
    new DataView(be.buffer).setFloat32(12, -2, false);
    const bytes = stream({ sysInfo, object: objectWith("0", 2), keys: ["0"], records: [be] });
    const asTorch = loadLegacySync(bytes);
    expect(asTorch.sysInfo.littleEndian).toBe(false);
    const swapped = loadLegacySync(bytes, { dataByteOrder: "sys_info" });
    expect((swapped.value as Tensor).values()).toEqual([1.5, -2]);
    expect((asTorch.value as Tensor).values()).not.toEqual([1.5, -2]);
  });
});

describe("legacy stream: saving", () => {
  it("writes the same bytes through the streaming sink and gives fresh keys that avoid kept ones", async () => {
    const kept = loadLegacySync(fixture("tensor_0d.legacy.pt"));
    const fresh = tensor([1, 2, 3], { dtype: dtypes.float64 });
    const value = new Map<string, unknown>([
      ["fresh", fresh],
      ["kept", kept.value],
    ]);
    const chunks: Uint8Array[] = [];
    let closed = false;
    await saveLegacy(value, {
      write: (c) => void chunks.push(c.slice()),
      close: () => {
        closed = true;
      },
    });
    expect(closed).toBe(true);
    const joined = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      joined.set(c, at);
      at += c.length;
    }
    expect(joined).toEqual(saveLegacySync(value));
    const back = loadLegacySync(joined);
    expect(back.keys).toEqual(["0", "1"]);
    expect(legacyStorageKey((back.value as Map<string, Tensor>).get("kept")!.storage)).toBe("0");
    expect(legacyStorageKey((back.value as Map<string, Tensor>).get("fresh")!.storage)).toBe("1");
  });

  it("refuses two dtypes over one storage, as torch does", () => {
    const s = Storage.untypedFromBytes(new Uint8Array(8));
    const a = new Tensor(s, 0, [2], [1], { dtype: dtypes.float32 });
    const b = new Tensor(s, 0, [4], [1], { dtype: dtypes.int16 });
    const e = thrown(() => saveLegacySync([a, b]));
    expect(e.code).toBe("Save");
    expect(e.message).toContain("view the same data as different types");
  });

  it("keeps ('module', …) persistent ids of whole-model files, and writes them for TS classes", () => {
    const bytes = fixture("nn_user_net_model.legacy.pt");
    const r = loadLegacySync(bytes, { policy: "opaque" });
    expect(r.moduleSources.size).toBeGreaterThan(0);
    const [cls, src] = [...r.moduleSources][0]!;
    expect(src.file).toBe("generator/models.py");
    expect(src.source).toContain("class Net");
    expect(saveLegacySync(r.value, { moduleSources: r.moduleSources })).toEqual(bytes);
    // the sources are also remembered per class object, so a plain re-save writes them again
    expect(legacyModuleSource(cls)).toEqual(src);
    expect(saveLegacySync(r.value)).toEqual(bytes);
    // the hook form
    const viaHook = saveLegacySync(r.value, { moduleClass: (v) => r.moduleSources.get(v) });
    expect(viaHook).toEqual(bytes);
    expect(cls).toBeInstanceOf(PyGlobal);
    expect(StorageClassRef).toBeDefined();
  });
});
