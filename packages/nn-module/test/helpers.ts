/**
 * Test-only helpers: read a torch zip checkpoint (stored entries only, as torch writes them)
 * with nothing but the packages this one depends on, and pickle values the way torch.save does.
 */
import { readFileSync } from "node:fs";
import { dumps, genops, loads, PyStr } from "@pt/pickle";
import { dtypes, Storage } from "@pt/storage";
import { parseStoragePid, savedStorage, storagePersistentId, torchGlobals, torchReducers } from "@pt/tensor";
import { nnGlobals, reviveModules } from "../src/index.js";

export const FIXTURES = new URL("../../../apps/conformance/fixtures/", import.meta.url);

/** The stored records of a zip archive, by name. */
export function readStoredZip(bytes: Uint8Array): Map<string, Uint8Array> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (dv.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error("test zip: no end of central directory");
  const count = dv.getUint16(eocd + 10, true);
  let p = dv.getUint32(eocd + 16, true);
  const out = new Map<string, Uint8Array>();
  for (let i = 0; i < count; i++) {
    if (dv.getUint32(p, true) !== 0x02014b50) throw new Error(`test zip: bad central header at ${p}`);
    const method = dv.getUint16(p + 10, true);
    const size = dv.getUint32(p + 20, true);
    const n = dv.getUint16(p + 28, true);
    const e = dv.getUint16(p + 30, true);
    const c = dv.getUint16(p + 32, true);
    const local = dv.getUint32(p + 42, true);
    const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + n));
    if (method !== 0) throw new Error(`test zip: ${name} is compressed`);
    const ln = dv.getUint16(local + 26, true);
    const le = dv.getUint16(local + 28, true);
    const start = local + 30 + ln + le;
    out.set(name, bytes.subarray(start, start + size));
    p += 46 + n + e + c;
  }
  return out;
}

export interface LoadedCheckpoint {
  readonly prefix: string;
  readonly dataPkl: Uint8Array;
  readonly value: unknown;
}

/** Load `fixtures/<name>.zip.pt` with torch + nn globals, policy "opaque", then `reviveModules`. */
export function loadFixture(name: string): LoadedCheckpoint {
  const bytes = new Uint8Array(readFileSync(new URL(`${name}.zip.pt`, FIXTURES)));
  const records = readStoredZip(bytes);
  const pklName = [...records.keys()].find((k) => k.endsWith("/data.pkl"));
  if (!pklName) throw new Error(`${name}: no data.pkl`);
  const prefix = pklName.slice(0, -"/data.pkl".length);
  const dataPkl = records.get(pklName)!;
  const storages = new Map<string, Storage>();
  const value = loads(dataPkl, {
    globals: torchGlobals().merge(nnGlobals()),
    policy: "opaque",
    persistentLoad: (pid) => {
      const p = parseStoragePid(pid);
      let s = storages.get(p.key);
      if (!s) {
        const rec = records.get(`${prefix}/data/${p.key}`);
        if (!rec) throw new Error(`${name}: no record data/${p.key}`);
        s = p.untyped
          ? Storage.fromBytes(dtypes.uint8, rec.slice(), { untyped: true })
          : Storage.fromBytes(p.dtype, rec.slice());
        storages.set(p.key, s);
      }
      return s;
    },
  });
  return { prefix, dataPkl, value: reviveModules(value) };
}

/** Pickle like torch.save's data.pkl: protocol 2, storages keyed "0", "1", … in first-met order. */
export function dumpTorch(value: unknown): { pkl: Uint8Array; storages: Storage[] } {
  // torch's keys are fresh str objects (str(len(id_map))), one per storage: PyStr keeps that identity.
  const keys = new Map<Storage, PyStr>();
  const storages: Storage[] = [];
  const pkl = dumps(value, {
    protocol: 2,
    reducers: torchReducers(),
    persistentId: (obj) => {
      const s = savedStorage(obj);
      if (!s) return null;
      let key = keys.get(s.storage);
      if (key === undefined) {
        key = new PyStr(String(keys.size));
        keys.set(s.storage, key);
        storages.push(s.storage);
      }
      return storagePersistentId(obj, key);
    },
  });
  return { pkl, storages };
}

/** The fixture description JSON. */
export function description(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`${name}.zip.pt.json`, FIXTURES), "utf8")) as Record<
    string,
    unknown
  >;
}

export const NN_MODELS = [
  "mlp",
  "cnn_bn",
  "user_cnn",
  "lstm",
  "transformer_layer",
  "tied_embedding",
  "user_net",
];

const STRING_OPS = new Set(["BINUNICODE", "SHORT_BINUNICODE", "UNICODE", "BINUNICODE8"]);
const PUT_OPS = new Set(["PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"]);
const GET_OPS = new Set(["GET", "BINGET", "LONG_BINGET"]);

/**
 * The opcode stream of a pickle with string sharing factored out: a memo get of a str becomes
 * the str itself, memo puts disappear, and other gets name the object by its put order. Two
 * pickles with equal streams differ only in which equal strings CPython held as one object.
 */
export function normalizeStrings(pkl: Uint8Array): string[] {
  const memo = new Map<number, string>();
  const out: string[] = [];
  let last = "";
  let objects = 0;
  let memoNext = 0;
  for (const { op, arg } of genops(pkl)) {
    const name = op.name;
    if (PUT_OPS.has(name)) {
      const idx = name === "MEMOIZE" ? memoNext : Number(arg);
      memoNext = Math.max(memoNext, idx + 1);
      memo.set(idx, last.startsWith("STR ") ? last : `OBJ#${objects++}`);
      continue;
    }
    if (GET_OPS.has(name)) {
      const v = memo.get(Number(arg)) ?? `?${String(arg)}`;
      out.push(v.startsWith("STR ") ? v : `GET ${v}`);
      last = v;
      continue;
    }
    last = STRING_OPS.has(name)
      ? `STR ${String(arg)}`
      : `${name} ${typeof arg === "bigint" ? `${arg}n` : String(arg)}`;
    out.push(last);
  }
  return out;
}
