/**
 * Every option of `load()`/`open()` reaches every format: one row per option (the table's type
 * lists `LoadOptions`' and `Limits`' keys, and a test compares them with `load.ts`, so a new
 * option without a row fails), one check per route (zip, legacy, tar, sharded index, DCP folder,
 * safetensors), or a stated reason why the option has no meaning there.
 */
import { readFileSync } from "node:fs";
import { deflateRawSync } from "node:zlib";
import { saveLegacySync } from "@pt/legacy-format";
import { Module } from "@pt/nn-module";
import { DEFAULT_LIMITS, dumps, PyGlobal, PyObject, tuple } from "@pt/pickle";
import { BufferSource, type ByteSource, type Storage } from "@pt/storage";
import { arange, Tensor, zeros } from "@pt/tensor";
import { crc32, writeZip, ZipReader } from "@pt/zip-format";
import { describe, expect, test } from "vitest";
import {
  type FileTree,
  type Limits,
  type LoadOptions,
  load,
  open,
  openDcp,
  openSharded,
  save,
  saveDcp,
} from "../src/index.js";
import { corpusDir, fixturesDir, readBytes } from "./helpers.js";

type RouteName = "zip" | "legacy" | "tar" | "sharded" | "dcp" | "safetensors";
const ROUTES: readonly RouteName[] = ["zip", "legacy", "tar", "sharded", "dcp", "safetensors"];

/** What a route gives back for one set of options. */
interface Opened {
  readonly value: unknown;
  readonly storages: readonly Storage[];
  /** Bytes read from the sources so far. */
  readonly bytesRead: number;
}
type Loader = (options: LoadOptions) => Promise<Opened>;

/** A row: for each route a check, or the reason the option means nothing there. */
type Row = { readonly [R in RouteName]: (() => Promise<void>) | string };

// ---- sources ---------------------------------------------------------------------------------

/**
 * A source that counts bytes read, with no `readSync` (files and Blobs take the asynchronous
 * paths) unless `sync`.
 */
function counting(bytes: Uint8Array, count: { n: number }, sync = false): ByteSource {
  const b = new BufferSource(bytes);
  const src: { -readonly [K in keyof ByteSource]: ByteSource[K] } = {
    byteLength: b.byteLength,
    read: (o, l) => {
      count.n += l;
      return b.read(o, l);
    },
  };
  if (sync)
    src.readSync = (o, l) => {
      count.n += l;
      return b.readSync(o, l);
    };
  return src;
}

function treeOf(files: Map<string, Uint8Array>, count: { n: number }, sync = false): FileTree {
  return {
    open: async (name) => {
      const f = files.get(name);
      if (!f) throw new Error(`no file ${name}`);
      return counting(f, count, sync);
    },
  };
}

/** A zip checkpoint with a pickle protocol that has bytes opcodes (torch.save's `pickle_protocol=4`). */
const zipOf = (value: unknown) => save(value, { pickleProtocol: 4 });
const legacyOf = (value: unknown) => saveLegacySync(value, { protocol: 4 });

/** The corpus's tar file (torch < 0.1.10: members sys_info, pickle, tensors, storages). */
const TAR = readBytes(new URL("files/pytorch__2017-03_legacy_serialized_TAR.pt", corpusDir));

/** `tar` with member `name`'s data replaced (headers rewritten, checksums recomputed). */
function tarWith(tar: Uint8Array, name: string, data: Uint8Array): Uint8Array {
  const out: Uint8Array[] = [];
  for (let at = 0; at + 512 <= tar.length; ) {
    const h = tar.slice(at, at + 512);
    if (h.every((b) => b === 0)) break;
    const size = Number.parseInt(
      new TextDecoder().decode(h.subarray(124, 136)).replace(/\0.*$/, "").trim(),
      8,
    );
    const member = new TextDecoder().decode(h.subarray(0, 100)).replace(/\0.*$/, "");
    let body = tar.subarray(at + 512, at + 512 + size);
    if (member === name) {
      body = data;
      h.set(new TextEncoder().encode(`${body.length.toString(8).padStart(11, "0")}\0`), 124);
    }
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.set(new TextEncoder().encode(`${sum.toString(8).padStart(6, "0")}\0 `), 148);
    out.push(h, body, new Uint8Array((512 - (body.length % 512)) % 512));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  out.push(new Uint8Array(1024));
  return new Uint8Array(Buffer.concat(out));
}

/** A tar file whose object pickle is `value` (tensors left out: the file's own storages stay). */
function tarOf(value: unknown): Uint8Array {
  const plain = value instanceof Map ? new Map([...value].filter(([, v]) => !(v instanceof Tensor))) : value;
  return tarWith(TAR, "pickle", dumps(plain, { protocol: 4 }));
}

/** Every record of a zip deflated (a re-zipped checkpoint), written with a minimal zip writer. */
async function deflated(zip: Uint8Array): Promise<Uint8Array> {
  const r = await ZipReader.open(new BufferSource(zip));
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let pos = 0;
  for (const e of r.entries) {
    const data = await r.read(e.name);
    const packed = new Uint8Array(deflateRawSync(data));
    const name = new TextEncoder().encode(e.fullName);
    const fields = (v: DataView, base: number) => {
      v.setUint16(base + 6, 0x0800, true);
      v.setUint16(base + 8, 8, true);
      v.setUint32(base + 14, crc32(data), true);
      v.setUint32(base + 18, packed.length, true);
      v.setUint32(base + 22, data.length, true);
      v.setUint16(base + 26, name.length, true);
    };
    const h = new Uint8Array(30 + name.length);
    const hv = new DataView(h.buffer);
    hv.setUint32(0, 0x04034b50, true);
    fields(hv, 0);
    h.set(name, 30);
    const c = new Uint8Array(46 + name.length);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    fields(cv, 2); // the central header's fields sit 2 bytes later (version made by)
    cv.setUint32(42, pos, true);
    c.set(name, 46);
    parts.push(h, packed);
    central.push(c);
    pos += h.length + packed.length;
  }
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, central.length, true);
  ev.setUint16(10, central.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, pos, true);
  return new Uint8Array(Buffer.concat([...parts, ...central, eocd]));
}

/** `bytes` with the stored CRC of every zip record named `*\/name` changed (the data is intact). */
function badCrc(bytes: Uint8Array, name: string): Uint8Array {
  const out = bytes.slice();
  const v = new DataView(out.buffer);
  let hits = 0;
  for (let i = 0; i + 46 <= out.length; i++) {
    if (v.getUint32(i, true) !== 0x02014b50) continue;
    const n = v.getUint16(i + 28, true);
    const entry = new TextDecoder().decode(out.subarray(i + 46, i + 46 + n));
    if (entry.endsWith(`/${name}`)) {
      v.setUint32(i + 16, v.getUint32(i + 16, true) ^ 0x5a5a5a5a, true);
      hits++;
    }
  }
  expect(hits).toBeGreaterThan(0);
  return out;
}

/** `zip` with one more record, `extra.pkl`: a pickle calling `os.system` (torch never reads it). */
async function withEvilRecord(zip: Uint8Array): Promise<Uint8Array> {
  const r = await ZipReader.open(new BufferSource(zip));
  const records: Array<[string, Uint8Array]> = [];
  for (const e of r.records.values()) records.push([e.name, await r.read(e.name)]);
  records.push([
    "extra.pkl",
    dumps(new PyObject(new PyGlobal("os", "system"), tuple(["echo"])), { protocol: 2 }),
  ]);
  return writeZip(records, { prefix: r.prefix });
}

/** A TorchScript archive (a `constants.pkl` record) whose `data.pkl` holds `value`. */
function torchScriptOf(value: unknown): Promise<Uint8Array> {
  const enc = new TextEncoder();
  return writeZip([
    ["data.pkl", dumps(value, { protocol: 2 })],
    ["constants.pkl", dumps([], { protocol: 2 })],
    ["version", enc.encode("3\n")],
  ]);
}

// ---- routes ----------------------------------------------------------------------------------

function fromBytes(bytes: Uint8Array, sync = false): Loader {
  return async (options) => {
    const count = { n: 0 };
    const cp = await open(counting(bytes, count, sync), options);
    return { value: cp.value, storages: cp.storages, bytesRead: count.n };
  };
}

/** 64 KiB of zeros in a deflated zip (mostly compressible), alone or as shard `a.bin` of an index. */
async function deflatedZeros(r: RouteName): Promise<Loader> {
  const value = new Map([["w", zeros([16384])]]);
  return r === "zip"
    ? fromBytes(await deflated(await zipOf(value)))
    : sharded(await deflated(await zipOf(new Map([["x", value]]))));
}

/** A sharded index over shard `a.bin` (given) and `b.bin` (a legacy file with two storages). */
function sharded(a: Uint8Array, sync = false): Loader {
  const aKeys = ["x"];
  const files = new Map<string, Uint8Array>([
    ["a.bin", a],
    [
      "b.bin",
      legacyOf(
        new Map([
          ["p", arange(4)],
          ["q", arange(3)],
        ]),
      ),
    ],
    [
      "index.json",
      new TextEncoder().encode(
        JSON.stringify({
          metadata: {},
          weight_map: { p: "b.bin", q: "b.bin", ...Object.fromEntries(aKeys.map((k) => [k, "a.bin"])) },
        }),
      ),
    ],
  ]);
  return async (options) => {
    const count = { n: 0 };
    const cp = await openSharded(treeOf(files, count, sync), "index.json", options);
    return { value: cp.value, storages: [...(cp.storageKeys?.keys() ?? [])], bytesRead: count.n };
  };
}

/** A DCP folder written by `saveDcp` (tensors as chunks, other items as torch.save bytes). */
async function dcpFolder(value: Map<string, unknown>): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  await saveDcp(value, {
    create: async (name) => {
      const parts: Uint8Array[] = [];
      return {
        write: (c: Uint8Array) => {
          parts.push(c.slice());
        },
        close: () => {
          files.set(name, new Uint8Array(Buffer.concat(parts)));
        },
      };
    },
  });
  return files;
}

function dcpOf(files: Map<string, Uint8Array>): Loader {
  return async (options) => {
    const count = { n: 0 };
    const cp = await openDcp(treeOf(files, count), options);
    return { value: cp.value, storages: cp.storages, bytesRead: count.n };
  };
}

/** A state dict (a Map) as each route's file. Sharded: the dict is shard `a.bin` (a zip file). */
async function route(r: RouteName, value: Map<string, unknown>): Promise<Loader> {
  switch (r) {
    case "zip":
      return fromBytes(await zipOf(value));
    case "legacy":
      return fromBytes(legacyOf(value));
    case "tar":
      return fromBytes(tarOf(value));
    case "sharded":
      return sharded(await zipOf(new Map([["x", value]])));
    case "dcp":
      return dcpOf(await dcpFolder(value));
    default:
      throw new Error(`no ${r} route`);
  }
}

// ---- checks ----------------------------------------------------------------------------------

/** Every message of `e`'s cause chain, joined. */
function messages(e: unknown): string {
  const out: string[] = [];
  for (let k = 0; k < 10 && e instanceof Error; k++) {
    out.push(e.message);
    e = e.cause;
  }
  return out.join(" ← ");
}

/** The load fails, and the failure names `what` (a limit, a check). */
async function fails(p: Promise<unknown>, what: RegExp): Promise<void> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e, `expected a failure naming ${what}`).toBeInstanceOf(Error);
  expect(messages(e)).toMatch(what);
}

/** A limit: without it the route loads; with it the load fails naming the limit. */
function limitCheck(r: RouteName, value: () => Map<string, unknown>, limits: Limits, name: string) {
  return async () => {
    const l = await route(r, value());
    await l({});
    await fails(l({ limits }), new RegExp(name));
  };
}

/** An unsafe global (`mymod.thing`): refused by default, loaded with `options`. */
function globalCheck(r: RouteName, options: LoadOptions) {
  return async () => {
    const l = await route(r, new Map<string, unknown>([["g", new PyGlobal("mymod", "thing")]]));
    await fails(l({}), /mymod\.thing/);
    const got = (await l(options)).value as Map<string, unknown>;
    const g = r === "sharded" ? (got.get("x") as Map<string, unknown>).get("g") : got.get("g");
    expect((g as PyGlobal).qualifiedName).toBe("mymod.thing");
  };
}

function perRoute(make: (r: RouteName) => () => Promise<void>, na: Partial<Record<RouteName, string>>): Row {
  const row = {} as Record<RouteName, (() => Promise<void>) | string>;
  for (const r of ROUTES) row[r] = na[r] ?? make(r);
  return row as Row;
}

const SAFETENSORS_NA =
  "load()/open() do not read safetensors files (no pickle, no zip, no storages with a saved device); @pt/safetensors has its own reader, used for safetensors shards of a sharded index";
const NO_ZIP = "no zip container in this format (checksums, inflation limits and entry counts are zip's)";
const PICKLE_ONLY: Partial<Record<RouteName, string>> = { safetensors: SAFETENSORS_NA };
const ZIP_ONLY: Partial<Record<RouteName, string>> = {
  legacy: NO_ZIP,
  tar: NO_ZIP,
  safetensors: SAFETENSORS_NA,
};

const deep = () => {
  let v: unknown = 1;
  for (let i = 0; i < 8; i++) v = [v, i];
  return new Map<string, unknown>([["deep", v]]);
};
const text = () => new Map<string, unknown>([["s", "x".repeat(300)]]);

/** One row per option of `load()`/`open()` (`LoadOptions`); `limits` has a table of its own. */
const OPTIONS: { readonly [K in keyof Required<LoadOptions>]: Row } = {
  lazy: perRoute(
    (r) => async () => {
      const l = await route(r, new Map([["w", zeros([16384])]]));
      const eager = await l({ lazy: false });
      const lazy = await l({ lazy: true });
      // the 64 KiB storage is not read by the lazy open
      expect(eager.bytesRead - lazy.bytesRead).toBeGreaterThanOrEqual(65536);
    },
    {
      tar: "a tar file keeps every storage in its one `storages` member, which is read whole to find them: always eager",
      dcp: "DCP tensors are always lazy (assembled from their chunks on first read); non-tensor items are small torch.save files, loaded whole",
      safetensors: SAFETENSORS_NA,
    },
  ),
  weightsOnly: perRoute((r) => globalCheck(r, { weightsOnly: false }), PICKLE_ONLY),
  allowGlobals: perRoute((r) => globalCheck(r, { allowGlobals: ["mymod.thing"] }), PICKLE_ONLY),
  unsafe: perRoute((r) => globalCheck(r, { unsafe: "opaque" }), PICKLE_ONLY),
  modules: {
    zip: async () => {
      const l = fromBytes(readBytes(new URL("nn_mlp_model.zip.pt", fixturesDir)));
      expect((await l({ unsafe: "opaque" })).value).toBeInstanceOf(Module);
      expect((await l({ unsafe: "opaque", modules: "opaque" })).value).toBeInstanceOf(PyObject);
    },
    legacy: async () => {
      const l = fromBytes(readBytes(new URL("nn_mlp_model.legacy.pt", fixturesDir)));
      expect((await l({ unsafe: "opaque" })).value).toBeInstanceOf(Module);
      expect((await l({ unsafe: "opaque", modules: "opaque" })).value).toBeInstanceOf(PyObject);
    },
    tar: async () => {
      // a parameterless module (torch.nn.ReLU) pickled as the tar file's object
      const zipped = readBytes(new URL("nn_mlp_model.zip.pt", fixturesDir));
      const raw = (await load(zipped, { unsafe: "opaque", modules: "opaque" })) as PyObject;
      const relu = findObject(raw, "torch.nn.modules.activation.ReLU");
      const l = fromBytes(tarWith(TAR, "pickle", dumps(relu, { protocol: 2 })));
      expect((await l({ unsafe: "opaque" })).value).toBeInstanceOf(Module);
      expect((await l({ unsafe: "opaque", modules: "opaque" })).value).toBeInstanceOf(PyObject);
    },
    dcp: async () => {
      const zipped = readBytes(new URL("nn_mlp_model.zip.pt", fixturesDir));
      const raw = await load(zipped, { unsafe: "opaque", modules: "opaque" });
      const l = dcpOf(await dcpFolder(new Map([["m", raw]])));
      const v = async (o: LoadOptions) => ((await l(o)).value as Map<string, unknown>).get("m");
      expect(await v({ unsafe: "opaque" })).toBeInstanceOf(Module);
      expect(await v({ unsafe: "opaque", modules: "opaque" })).toBeInstanceOf(PyObject);
    },
    sharded: "a shard must hold a state dict (a dict of tensors); a pickled module is refused as a shard",
    safetensors: SAFETENSORS_NA,
  },
  checkCrc: perRoute(
    (r) => async () => {
      const value = new Map([["w", arange(8)]]);
      const l =
        r === "zip"
          ? fromBytes(badCrc(await zipOf(value), "data.pkl"))
          : r === "sharded"
            ? sharded(badCrc(await zipOf(new Map([["x", value]])), "data.pkl"))
            : dcpOf(await dcpFolder(value).then(corruptDcp));
      // DCP tensors are read lazily: the CRC is checked when their bytes are
      const read = async (o: LoadOptions) => {
        for (const s of (await l(o)).storages) await s.load();
      };
      await fails(read({}), /CRC/);
      await read({ checkCrc: false });
    },
    ZIP_ONLY,
  ),
  crc32: perRoute(
    (r) => async () => {
      const l = await route(
        r,
        new Map<string, unknown>([
          ["w", arange(8)],
          ["o", new Map([["k", 1]])],
        ]),
      );
      let calls = 0;
      await l({
        lazy: false,
        crc32: (b) => {
          calls++;
          return crc32(b);
        },
      });
      expect(calls).toBeGreaterThan(0);
    },
    ZIP_ONLY,
  ),
  torchscript: perRoute(
    (r) => async () => {
      const ts = await torchScriptOf(new Map([["k", 1]]));
      const l = r === "zip" ? fromBytes(ts) : sharded(await torchScriptOf(new Map([["x", 1]])));
      await fails(l({}), /TorchScript/);
      const v = (await l({ torchscript: "tensors" })).value as Map<string, unknown>;
      expect(v.size).toBeGreaterThan(0);
    },
    {
      legacy: "TorchScript archives are zip files only",
      tar: "TorchScript archives are zip files only",
      dcp: "DCP items are written by torch.save (never torch.jit.save)",
      safetensors: SAFETENSORS_NA,
    },
  ),
  mapLocation: perRoute(
    (r) => async () => {
      const l = await route(r, new Map([["w", arange(8)]]));
      const before = await l({});
      expect(before.storages.length).toBeGreaterThan(0);
      expect(before.storages.every((s) => s.device === "cpu")).toBe(true);
      const after = await l({ mapLocation: "meta" });
      expect(after.storages.length).toBe(before.storages.length);
      expect(after.storages.every((s) => s.device === "meta")).toBe(true);
    },
    { safetensors: SAFETENSORS_NA },
  ),
  // the whole object, with fields for every layer, reaches each format (each field: LIMITS below)
  unreadRecords: perRoute(
    (r) => async () => {
      const value = new Map([["w", arange(8)]]);
      // the check scans the archive's other records synchronously: sources with readSync
      const l =
        r === "zip"
          ? fromBytes(await withEvilRecord(await zipOf(value)), true)
          : sharded(await withEvilRecord(await zipOf(new Map([["x", value]]))), true);
      await fails(l({}), /os\.system/);
      await l({ unreadRecords: "ignore" });
    },
    {
      legacy: "a legacy stream is its pickles and storage records, all read by torch: no unread record",
      tar: "torch reads all four pickle members of a tar checkpoint (sys_info, storages, tensors, pickle); the unread-record check is a zip one (records listed by its central directory)",
      dcp: "DCP items are torch.save files written by the DCP writer (no extra records); their pickles are all read",
      safetensors: SAFETENSORS_NA,
    },
  ),
  limits: perRoute(
    (r) => limitCheck(r, deep, { maxDepth: 3, maxInflatedSize: 2 ** 30, maxStorages: 1000 }, "maxDepth"),
    PICKLE_ONLY,
  ),
};

/** One row per field of `limits` (`Limits`). */
const LIMITS: { readonly [K in keyof Required<Limits>]: Row } = {
  maxDepth: perRoute((r) => limitCheck(r, deep, { maxDepth: 3 }, "maxDepth"), PICKLE_ONLY),
  maxMemoEntries: perRoute(
    (r) =>
      limitCheck(
        r,
        () => new Map<string, unknown>([["names", Array.from({ length: 60 }, (_, i) => `name${i}`)]]),
        { maxMemoEntries: 20 },
        "maxMemoEntries",
      ),
    PICKLE_ONLY,
  ),
  maxStringLength: perRoute(
    (r) => limitCheck(r, text, { maxStringLength: 100 }, "maxStringLength"),
    PICKLE_ONLY,
  ),
  maxBytesLength: perRoute(
    (r) =>
      limitCheck(
        r,
        () => new Map<string, unknown>([["b", new Uint8Array(300)]]),
        { maxBytesLength: 100 },
        "maxBytesLength",
      ),
    {
      dcp: "DCP items are torch.save'd with pickle protocol 2 (torch's default, and saveDcp's), where bytes are `_codecs.encode` calls on strings: maxStringLength and maxTotalAllocation bound them",
      safetensors: SAFETENSORS_NA,
    },
  ),
  maxTotalAllocation: perRoute(
    (r) => limitCheck(r, text, { maxTotalAllocation: 200 }, "maxTotalAllocation"),
    PICKLE_ONLY,
  ),
  maxInflatedSize: perRoute(
    (r) => async () => {
      const l = await deflatedZeros(r);
      await l({});
      await fails(l({ limits: { maxInflatedSize: 1000 } }), /maxInflatedSize/);
    },
    {
      ...ZIP_ONLY,
      dcp: "saveDcp and torch's DCP writer store their items' records (no deflated record to inflate)",
    },
  ),
  maxCompressionRatio: perRoute(
    (r) => async () => {
      const l = await deflatedZeros(r);
      await l({});
      await fails(l({ limits: { maxCompressionRatio: 2 } }), /ratio limit/);
    },
    {
      ...ZIP_ONLY,
      dcp: "saveDcp and torch's DCP writer store their items' records (no deflated record to inflate)",
    },
  ),
  maxEntries: perRoute(
    (r) =>
      limitCheck(
        r,
        () => new Map<string, unknown>([["o", new Map([["k", 1]])]]),
        { maxEntries: 2 },
        "maxEntries|entries",
      ),
    ZIP_ONLY,
  ),
  maxCentralDirectorySize: perRoute(
    (r) =>
      limitCheck(
        r,
        () => new Map<string, unknown>([["o", new Map([["k", 1]])]]),
        { maxCentralDirectorySize: 40 },
        "maxCentralDirectorySize|central directory",
      ),
    ZIP_ONLY,
  ),
  maxStorages: perRoute(
    (r) =>
      r === "sharded"
        ? async () => {
            // shard b.bin is a legacy file with two storages
            const l = sharded(await zipOf(new Map([["x", 1]])));
            await l({});
            await fails(l({ limits: { maxStorages: 1 } }), /maxStorages/);
          }
        : limitCheck(
            r,
            () =>
              new Map<string, unknown>([
                ["a", arange(4)],
                ["b", arange(5)],
              ]),
            { maxStorages: 1 },
            "maxStorages",
          ),
    {
      zip: "a zip checkpoint has one record per storage: maxEntries bounds them",
      dcp: "DCP tensors are chunks named by the metadata, not pickled storages; its items are zip files (maxEntries)",
      safetensors: SAFETENSORS_NA,
    },
  ),
};

/** The first `PyObject` of class `qualname` inside `v` (a module tree). */
function findObject(v: unknown, qualname: string, depth = 0): PyObject {
  const seen: unknown[] = [v];
  while (seen.length > 0 && depth++ < 100000) {
    const x = seen.pop();
    if (x instanceof PyObject) {
      if (x.cls.qualifiedName === qualname) return x;
      seen.push(x.state, ...(x.dictItems ?? []).flat(), ...(x.listItems ?? []), ...x.args);
    } else if (x instanceof Map) for (const [k, y] of x) seen.push(k, y);
    else if (Array.isArray(x)) seen.push(...x);
  }
  throw new Error(`no ${qualname}`);
}

/** A DCP folder whose tensors' records (`data/0` of the torch.save'd chunks in the .distcp file) have wrong CRCs. */
function corruptDcp(files: Map<string, Uint8Array>): Map<string, Uint8Array> {
  const out = new Map(files);
  for (const [name, bytes] of files) if (name.endsWith(".distcp")) out.set(name, badCrc(bytes, "data/0"));
  return out;
}

/** The fields of an exported interface of `load.ts`, read from its source. */
function fieldsOf(iface: string): string[] {
  const src = readFileSync(new URL("../src/load.ts", import.meta.url), "utf8");
  const at = src.indexOf(`export interface ${iface} `);
  expect(at).toBeGreaterThanOrEqual(0);
  const body = src.slice(at, src.indexOf("\n}\n", at));
  return [...body.matchAll(/^ {2}readonly (\w+)\?:/gm)].map((m) => m[1] as string);
}

describe("every option of load()/open() reaches every format", () => {
  test("the tables list every field of LoadOptions and Limits (a new option needs a row)", () => {
    expect(Object.keys(OPTIONS).sort()).toEqual(fieldsOf("LoadOptions").sort());
    // Limits extends @pt/pickle's PickleLimits, whose fields are DEFAULT_LIMITS' keys
    expect(Object.keys(LIMITS).sort()).toEqual(
      [...fieldsOf("Limits"), ...Object.keys(DEFAULT_LIMITS)].sort(),
    );
    for (const row of [...Object.values(OPTIONS), ...Object.values(LIMITS)])
      for (const r of ROUTES) {
        const c = row[r];
        if (typeof c === "string") expect(c.length, "a not-applicable reason").toBeGreaterThan(20);
      }
  });

  for (const [table, rows] of [
    ["option", OPTIONS],
    ["limits.", LIMITS],
  ] as const) {
    for (const [name, row] of Object.entries(rows) as [string, Row][]) {
      for (const r of ROUTES) {
        const c = row[r];
        if (typeof c === "string") continue;
        test(`${table === "option" ? "" : table}${name} takes effect: ${r}`, c, 20_000);
      }
    }
  }
});
