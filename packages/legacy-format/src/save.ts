/**
 * Writing the legacy stream exactly as torch 1.13's `_legacy_save` does
 * (`torch.save(obj, f, _use_new_zipfile_serialization=False)`).
 */
import { dumps, Pickler, PyStr, type Reduction, tuple } from "@pt/pickle";
import { type ByteSink, concatBytes, type DType, type Storage } from "@pt/storage";
import { flavorGlobalRenamer, installTorchPickleProtocols, savedStorage, torchReducers } from "@pt/tensor";
import { MAGIC_NUMBER, PROTOCOL_VERSION } from "./detect.js";
import { LegacySaveError } from "./errors.js";
import { legacyModuleSource, legacyStorageKey, viewOffsets } from "./keys.js";
import type { ModuleSource } from "./legacy.js";
import { DEFAULT_SYS_INFO } from "./sys-info.js";

/** Where `saveLegacy` writes: `@pt/storage`'s one {@link ByteSink}. The name stays for existing imports. */
export type LegacySink = ByteSink;

/** Options of `saveLegacy` (every field optional; defaults stated). */
export interface LegacySaveOptions {
  /** Pickle protocol of all five pickles. Default 2 (torch's default). */
  readonly protocol?: number | undefined;
  /**
   * The `sys_info` written (pass `LegacyLoadResult.sysInfo` to write a loaded file's back). Default: torch on a little-endian machine,
   * `{protocol_version: 1001, little_endian: True, type_sizes: {short: 2, int: 4, long: 4}}`.
   */
  readonly sysInfo?: {
    readonly littleEndian?: boolean;
    readonly typeSizes?: { readonly short: number; readonly int: number; readonly long: number };
    /** A loaded `SysInfo`'s dict: written back exactly (key order included). */
    readonly raw?: Map<unknown, unknown>;
  };
  /**
   * Classes to write as `('module', cls, file, source)` persistent ids (the first time each is
   * met, as torch does for `nn.Module` subclasses). Pass `LegacyLoadResult.moduleSources` to
   * re-save a whole-model file exactly.
   */
  readonly moduleSources?: ReadonlyMap<unknown, ModuleSource> | undefined;
  /** Also consulted for every value: return `{file, source}` for module classes built in TypeScript. */
  readonly moduleClass?: ((value: unknown) => ModuleSource | undefined) | undefined;
  /**
   * Keys to use for given storages. Default: the key a storage had in the legacy/tar file it was
   * loaded from (`legacyStorageKey`), else fresh keys `"0"`, `"1"`, … in order of first use,
   * skipping keys already taken.
   */
  readonly storageKeys?: ReadonlyMap<Storage, string> | undefined;
  /**
   * Storages that are views of another storage (`Storage.viewOf`, legacy `view_metadata`, tar
   * views): `"separate"` (default) writes each as a storage of its own, as torch 1.13 does (sharing
   * with the root is lost on reload); `"metadata"` writes the root's record and
   * `(view_key, offset, size)` view metadata, as torch before 1.0 did, so the views share memory
   * again when loaded (torch 1.13 reads this form too).
   */
  readonly views?: "separate" | "metadata" | undefined;
  /** Pickle reducers by constructor (for classes of other packages). Default: none. */
  readonly reducers?: ReadonlyMap<unknown, (value: never) => Reduction> | undefined;
  /**
   * Which torch's legacy writer to reproduce (default `"1.13"`): `"1.13"` drops tensors' Python
   * attributes, refuses CSC/BSR/BSC tensors (torch 1.13 cannot pickle them) and writes numpy 2's
   * `numpy._core.*` globals as numpy 1's `numpy.core.*` (`flavorGlobalRenamer`); `"2.x"` writes
   * them as torch 2.x does (`_rebuild_from_type_v2` with the attributes, `_rebuild_sparse_tensor`
   * for every layout, sparse COO with its coalesced flag).
   */
  readonly flavor?: "1.13" | "2.x" | undefined;
  /**
   * Called once per save with a warning (default `console.warn`): torch 2.x cannot load a legacy
   * file holding storages of dtypes without a storage class (uint16/32/64, float8, complex32, bit
   * and packed dtypes: "UntypedStorage has no attribute dtype"); we read such files, torch does not.
   */
  readonly onWarning?: ((message: string) => void) | undefined;
}

interface SavedRecord {
  readonly key: string;
  readonly storage: Storage;
  readonly dtype: DType;
}

/** The five pickles and the storage records of a legacy save, before writing. */
export interface LegacySavePlan {
  /** Magic, protocol version, sys_info, object and key-list pickles, in order. */
  readonly pickles: readonly Uint8Array[];
  /** Storage records in key order: key, storage, and the dtype whose element size counts it. */
  readonly records: readonly SavedRecord[];
}

function codePointCompare(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0)!);
  const y = Array.from(b, (c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

function isObjectLike(v: unknown): boolean {
  return v !== null && (typeof v === "object" || typeof v === "function");
}

/** Pickle the object once with the given key function; returns the bytes and storages met. */
function pickleObject(
  value: unknown,
  options: LegacySaveOptions,
  keyOf: (s: Storage) => string,
): {
  bytes: Uint8Array;
  order: Storage[];
  dtypes: Map<Storage, DType>;
  byKey: Map<string, SavedRecord>;
  untyped: Set<string>;
} {
  const protocol = options.protocol ?? 2;
  const emitted = new Set<unknown>();
  const order: Storage[] = [];
  const dtypes = new Map<Storage, DType>();
  const byKey = new Map<string, SavedRecord>();
  const untyped = new Set<string>();
  const persistentId = (v: unknown): unknown => {
    if (!isObjectLike(v)) return null;
    const mod = options.moduleSources?.get(v) ?? options.moduleClass?.(v) ?? legacyModuleSource(v);
    if (mod !== undefined) {
      if (emitted.has(v)) return null;
      emitted.add(v);
      return tuple(["module", v, mod.file, mod.source]);
    }
    const s = savedStorage(v);
    if (!s) return null;
    if (s.untyped) untyped.add(s.storage.dtype.name);
    const loc = s.storage.device;
    const root = options.views === "metadata" ? s.storage.base : null;
    if (root) {
      // The pre-1.0 form: the root storage's record, and (view_key, offset, size) in elements.
      const size = s.dtype.itemSize;
      const offset = viewByteOffset(s.storage, root);
      if (offset % size !== 0 || root.nbytes % size !== 0) {
        throw new LegacySaveError(
          `a ${s.dtype.name} storage view at byte offset ${offset} of a ${root.nbytes}-byte storage cannot be written as view_metadata`,
        );
      }
      const prevRoot = dtypes.get(root);
      if (prevRoot === undefined) {
        dtypes.set(root, s.dtype);
        order.push(root);
      } else if (prevRoot !== s.dtype) {
        throw new LegacySaveError(
          "Cannot save multiple tensors or storages that view the same data as different types",
        );
      }
      const rootKey = keyOf(root);
      if (!byKey.has(rootKey)) byKey.set(rootKey, { key: rootKey, storage: root, dtype: s.dtype });
      const view = tuple([fresh(keyOf(s.storage)), offset / size, s.storage.nbytes / size]);
      return tuple([
        "storage",
        s.storageClass,
        fresh(rootKey),
        CONSTANT_LOCATIONS.has(loc) ? loc : fresh(loc),
        root.nbytes / size,
        view,
      ]);
    }
    const prev = dtypes.get(s.storage);
    if (prev === undefined) {
      dtypes.set(s.storage, s.dtype);
      order.push(s.storage);
    } else if (prev !== s.dtype) {
      throw new LegacySaveError(
        "Cannot save multiple tensors or storages that view the same data as different types",
        {},
      );
    }
    const key = keyOf(s.storage);
    if (!byKey.has(key)) byKey.set(key, { key, storage: s.storage, dtype: s.dtype });
    return tuple([
      "storage",
      s.storageClass,
      fresh(key),
      CONSTANT_LOCATIONS.has(loc) ? loc : fresh(loc),
      s.numel,
      null,
    ]);
  };
  // torch builds the key (`str(storage._cdata)`) and non-constant locations (`'cuda:' + …`) afresh
  // in every persistent_id call, so CPython writes them again each time instead of a memo GET:
  // each is a new `PyStr` (a str with an identity of its own).
  const fresh = (text: string): PyStr => new PyStr(text);
  installTorchPickleProtocols(); // torch 1.13's reductions are the classes' own REDUCE methods
  let reducers = options.reducers;
  if (options.flavor === "2.x") {
    const m = new Map(torchReducers("2.x"));
    if (options.reducers) for (const [k, v] of options.reducers) m.set(k, v);
    reducers = m;
  }
  const renameGlobal = flavorGlobalRenamer(options.flavor === "2.x" ? "2.x" : "1.13");
  const pickler = new Pickler({
    protocol,
    persistentId,
    ...(reducers ? { reducers } : {}),
    ...(renameGlobal ? { renameGlobal } : {}),
  });
  const raw = pickler.dump(value);
  return { bytes: raw, order, dtypes, byKey, untyped };
}

/** Byte offset of a view in its root storage. */
function viewByteOffset(view: Storage, root: Storage): number {
  const known = viewOffsets.get(view);
  if (known !== undefined && known.root === root) return known.offset;
  return view.bytes.byteOffset - root.bytes.byteOffset;
}

const CONSTANT_LOCATIONS = new Set(["cpu", "mps", "meta"]);

/**
 * Plan a legacy save: pickle everything and choose the storage keys (no storage bytes are
 * touched). Storages loaded from a legacy file keep their keys; new ones get fresh keys.
 */
export function planLegacySave(value: unknown, options: LegacySaveOptions = {}): LegacySavePlan {
  const protocol = options.protocol ?? 2;
  // Pass 1: find which kept keys (explicit or remembered from a load) are in use, so that fresh
  // keys never collide with them. Reductions may create transient storages (per-channel
  // quantizer tensors): those have no kept key and get fresh keys in pass 2 in first-use order.
  const kept = (s: Storage) => options.storageKeys?.get(s) ?? legacyStorageKey(s);
  const reserved = new Set<string>();
  pickleObject(value, options, (s) => {
    const k = kept(s);
    if (k !== undefined) reserved.add(k);
    return "";
  });
  const keys = new Map<Storage, string>();
  const taken = new Set<string>();
  let next = 0;
  const keyOf = (s: Storage): string => {
    let k = keys.get(s);
    if (k !== undefined) return k;
    k = kept(s);
    if (k === undefined || taken.has(k)) {
      while (reserved.has(String(next)) || taken.has(String(next))) next++;
      k = String(next++);
    }
    keys.set(s, k);
    taken.add(k);
    return k;
  };
  // Pass 2: the real object pickle.
  const real = pickleObject(value, options, keyOf);
  const sortedKeys = [...real.byKey.keys()].sort(codePointCompare);
  if (real.untyped.size) {
    (options.onWarning ?? ((m: string) => console.warn(m)))(
      "legacy save: untyped storages written (dtypes without a storage class: uint16/32/64, float8, complex32, bit and packed dtypes); torch cannot load this legacy file (its legacy loader asks UntypedStorage for a dtype): save as zip for torch",
    );
  }
  const ts = options.sysInfo?.typeSizes ?? DEFAULT_SYS_INFO.typeSizes;
  const sysInfo = new Map<string, unknown>([
    ["protocol_version", PROTOCOL_VERSION],
    ["little_endian", options.sysInfo?.littleEndian ?? true],
    [
      "type_sizes",
      new Map([
        ["short", ts.short],
        ["int", ts.int],
        ["long", ts.long],
      ]),
    ],
  ]);
  const pickles = [
    dumps(MAGIC_NUMBER, { protocol }),
    dumps(PROTOCOL_VERSION, { protocol }),
    dumps(options.sysInfo?.raw ?? sysInfo, { protocol }),
    real.bytes,
    dumps(sortedKeys, { protocol }),
  ];
  return { pickles, records: sortedKeys.map((k) => real.byKey.get(k)!) };
}

/** Largest piece of a storage handed to the sink. */
const LEGACY_CHUNK = 8 << 20;

function header(count: number): Uint8Array {
  const h = new Uint8Array(8);
  new DataView(h.buffer).setBigInt64(0, BigInt(count), true);
  return h;
}

function recordCount(r: SavedRecord): number {
  return r.storage.nbytes / r.dtype.itemSize;
}

/**
 * Write `value` as torch 1.13's legacy stream to `sink` (awaiting each write). Storages are
 * written in pieces of at most 8 MiB; an unloaded lazy storage is read piece by piece (never
 * loaded whole). `sink.close()` is called at the end when present.
 */
export async function saveLegacy(
  value: unknown,
  sink: ByteSink,
  options: LegacySaveOptions = {},
): Promise<void> {
  const plan = planLegacySave(value, options);
  for (const p of plan.pickles) await sink.write(p);
  for (const r of plan.records) {
    await sink.write(header(recordCount(r)));
    // read piece by piece when lazy and unloaded (memory bounded by the piece, not the storage)
    for await (const c of r.storage.chunks(LEGACY_CHUNK)) await sink.write(c);
  }
  await sink.close?.();
}

/** `saveLegacy` into one `Uint8Array` (storages must be loaded or loadable synchronously). */
export function saveLegacySync(value: unknown, options: LegacySaveOptions = {}): Uint8Array {
  const plan = planLegacySave(value, options);
  const parts: Uint8Array[] = [...plan.pickles];
  for (const r of plan.records) {
    parts.push(header(recordCount(r)));
    parts.push(r.storage.bytes);
  }
  return concatBytes(parts);
}
