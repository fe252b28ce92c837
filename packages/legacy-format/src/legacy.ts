/**
 * Reading the legacy stream (`torch.save(..., _use_new_zipfile_serialization=False)` and every
 * torch from 0.1.10 to 1.5): five pickles (magic number, protocol version, sys_info, the object,
 * the sorted storage keys), then per key an int64 little-endian element count and the raw bytes.
 */
import {
  GlobalRegistry,
  type HookContext,
  isTuple,
  type LoadOptions,
  type PickleLimits,
  pickLimits,
  tuple,
} from "@pt/pickle";
import {
  type ByteSource,
  type DType,
  dtypes,
  mapReadFailures,
  type Op,
  type ReadRequest,
  Storage,
  StorageNotLoadedError,
} from "@pt/storage";
import { parseStoragePid, StorageClassRef, torchGlobals } from "@pt/tensor";
import { MAGIC_NUMBER, PROTOCOL_VERSION } from "./detect.js";
import {
  LegacyLimitError,
  LegacyMagicError,
  LegacyProtocolVersionError,
  LegacyStorageError,
  LegacyTruncatedError,
} from "./errors.js";
import {
  asByteSource,
  describeValue,
  type LegacySource,
  latin1,
  loadPickleAt,
  normKey,
  type Prefix,
  readFailure,
  readInt64,
  runAsync,
  runSync,
  startPrefix,
} from "./io.js";
import { rememberKey, rememberModuleSource, viewOffsets } from "./keys.js";
import { parseSysInfo, type SysInfo } from "./sys-info.js";

/** File name and source text a whole-model save recorded for an `nn.Module` class. */
export interface ModuleSource {
  readonly file: string | null;
  readonly source: string | null;
}

/** Limits against hostile files: `@pt/pickle`'s limits (given to every pickle of the file) plus the number of storages. */
export interface LegacyLimits extends PickleLimits {
  /** Maximum number of distinct storages (and storage keys). Default 1 000 000. */
  readonly maxStorages?: number | undefined;
}

/** Options of `loadLegacy` / `loadLegacySync` (every field optional; defaults stated). */
export interface LegacyLoadOptions {
  /** Extra globals, merged over `torchGlobals()` (yours win). Default: none. */
  readonly globals?: GlobalRegistry | undefined;
  /** Unknown globals: `"reject"` (default) throws naming `module.name` and offset; `"opaque"` keeps inert placeholders that save back to the same bytes. */
  readonly policy?: "reject" | "opaque" | undefined;
  /** Called for every global the object pickle references, before it is resolved. */
  readonly onGlobal?: ((module: string, name: string, offset: number) => void) | undefined;
  /** Read storage bytes on first access instead of now (only the pickles and 8-byte headers are read). Default false. */
  readonly lazy?: boolean | undefined;
  /** How Python 2 `str` values decode (STRING/BINSTRING). Default `"utf-8"`, as `torch.load`. */
  readonly encoding?: "utf-8" | "ascii" | "latin1" | "bytes" | undefined;
  /**
   * Byte order of storage data. `"little"` (default) does what torch does: every torch writer
   * stored storage elements little-endian whatever the host, so `sys_info.little_endian` does not
   * change how data is read. `"sys_info"` byte-swaps every storage of a file whose sys_info says
   * `little_endian: False` (for streams written by other tools that store native big-endian data).
   * Element counts are accepted in either byte order when `little_endian` is False (old writers
   * stored them natively).
   */
  readonly dataByteOrder?: "little" | "sys_info" | undefined;
  readonly limits?: LegacyLimits | undefined;
  /** Device of every storage (torch's `map_location` given as a string). Default: the saved location. */
  readonly mapLocation?: string | undefined;
  /**
   * For sources read in pieces (`ByteSource`): bytes read ahead per step while the pickles are
   * read. Default: 64 KiB first, then at least doubling (few reads; the last one may run up to
   * one step past the key list into the first storage records). A small value (e.g. 1024) reads
   * the pickles in small steps so that almost no storage byte is touched before access.
   */
  readonly readAhead?: number | undefined;
}

/** Where one storage lies in the file. */
export interface LegacyStorageRecord {
  readonly key: string;
  readonly dtype: DType;
  /** Element count (bytes for untyped storages). */
  readonly numel: number;
  readonly nbytes: number;
  /** Offset of the int64 count. */
  readonly headerOffset: number;
  /** Offset of the first data byte. */
  readonly dataOffset: number;
  readonly storage: Storage;
}

/** What `loadLegacy` returns. */
export interface LegacyLoadResult {
  /** The loaded object. */
  readonly value: unknown;
  /** The storage keys as listed in the file (sorted by the writer). */
  readonly keys: readonly string[];
  readonly sysInfo: SysInfo;
  /** 1001. */
  readonly protocolVersion: number;
  /**
   * Every storage the object pickle named, by key: root storages (in key-list order), then views
   * (`view_metadata`) under their view keys. Storages of one key are one object.
   */
  readonly storages: Map<string, Storage>;
  /** The storage records in file order. */
  readonly records: readonly LegacyStorageRecord[];
  /** `('module', cls, file, source)` persistent ids: class value → recorded file/source. */
  readonly moduleSources: Map<unknown, ModuleSource>;
  /** Offset just after the last storage record (trailing bytes are ignored, as torch does). */
  readonly end: number;
}

let torchRegistry: GlobalRegistry | null = null;
/** @internal `torchGlobals()` merged with the caller's registry. */
export function registryFor(globals: GlobalRegistry | undefined): GlobalRegistry {
  torchRegistry ??= torchGlobals();
  return globals ? torchRegistry.merge(globals) : torchRegistry;
}

/** A storage's bytes were needed while the object pickle was still being read (internal signal). */
class NotLocatedError extends LegacyStorageError {
  constructor(key: string) {
    super(`storage '${key}' was read before its record was located in the file`, { record: "storage", key });
  }
}

function isNotLocated(e: unknown): boolean {
  let c: unknown = e;
  for (let i = 0; i < 10 && c instanceof Error; i++) {
    if (c instanceof NotLocatedError || c instanceof StorageNotLoadedError) return true;
    c = (c as { cause?: unknown }).cause;
  }
  return false;
}

/** A ByteSource for one storage record whose place in the file is known only after the key list. */
class RecordSource implements ByteSource {
  base = -1;
  declare readonly readSync?: (offset: number, length: number) => Uint8Array;
  constructor(
    private readonly src: ByteSource,
    readonly byteLength: number,
    readonly key: string,
    base: number | undefined,
    prefetched: Uint8Array | undefined,
  ) {
    if (base !== undefined) this.base = base;
    const rs =
      src.readSync?.bind(src) ??
      (prefetched
        ? (o: number, l: number) => prefetched.subarray(o - this.base, o - this.base + l)
        : undefined);
    if (rs) {
      (this as { readSync?: (o: number, l: number) => Uint8Array }).readSync = (o, l) => rs(this.at(o), l);
    }
  }
  private at(o: number): number {
    if (this.base < 0) throw new NotLocatedError(this.key);
    return this.base + o;
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    try {
      return this.src.read(this.at(offset), length);
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

interface RootInfo {
  readonly key: string;
  readonly storage: Storage;
  readonly dtype: DType;
  readonly numel: number;
  readonly nbytes: number;
  readonly source: RecordSource;
  /** The element count its record header must hold. */
  readonly count: number;
}

interface PidState {
  objects: Map<string, Storage>;
  roots: Map<string, RootInfo>;
  modules: Map<unknown, ModuleSource>;
}

function str(v: unknown): unknown {
  return v instanceof Uint8Array ? latin1(v) : v;
}

function strOrNull(v: unknown): string | null {
  const s = str(v);
  return typeof s === "string" ? s : null;
}

/** The persistent_load of the object pickle (torch's `_legacy_load.persistent_load`). */
function makePersistentLoad(
  state: PidState,
  bs: ByteSource,
  total: number,
  byteOrder: "little" | "big",
  maxStorages: number,
  located: Map<string, { offset: number; bytes?: Uint8Array }> | null,
  mapLocation: string | undefined,
): (pid: unknown, ctx: HookContext) => unknown {
  return (pid, ctx) => {
    const where = { record: "object" as const, offset: ctx.offset };
    if (!isTuple(pid) || pid.length < 1) {
      throw new LegacyStorageError(
        `persistent id at offset ${ctx.offset} must be a tuple, got ${describeValue(pid)}`,
        where,
      );
    }
    const typename = str(pid[0]);
    if (typename === "module") {
      if (pid.length !== 4) {
        throw new LegacyStorageError(
          `module persistent id at offset ${ctx.offset} must be ('module', cls, file, source), got ${pid.length} items`,
          where,
        );
      }
      const cls = pid[1];
      if (cls !== null && (typeof cls === "object" || typeof cls === "function")) {
        if (!state.modules.has(cls)) {
          const src = { file: strOrNull(pid[2]), source: strOrNull(pid[3]) };
          state.modules.set(cls, src);
          rememberModuleSource(cls, src);
        }
      }
      return cls;
    }
    if (typename !== "storage") {
      throw new LegacyStorageError(
        `unknown persistent id type ${describeValue(typename)} at offset ${ctx.offset}`,
        where,
      );
    }
    const norm = tuple(
      pid.map((x, i) => {
        if (i === 5 && isTuple(x) && x[0] instanceof Uint8Array) return tuple([latin1(x[0]), ...x.slice(1)]);
        return i === 2 || i === 3 ? str(x) : x;
      }),
    );
    if (norm.length === 5) norm.push(null);
    let p: ReturnType<typeof parseStoragePid>;
    try {
      p = parseStoragePid(norm);
    } catch (e) {
      throw new LegacyStorageError(
        `invalid storage persistent id at offset ${ctx.offset}: ${(e as Error).message}`,
        { ...where, cause: e },
      );
    }
    const key = normKey(p.key) ?? p.key;
    if (p.nbytes > total) {
      throw new LegacyStorageError(
        `storage '${key}' declares ${p.numel} ${p.dtype.name} elements (${p.nbytes} bytes) but the whole file has ${total} bytes (persistent id at offset ${ctx.offset})`,
        { ...where, key },
      );
    }
    let root = state.objects.get(key);
    const known = state.roots.get(key);
    if (known && (known.dtype !== p.dtype || known.numel !== p.numel)) {
      throw new LegacyStorageError(
        `storage '${key}' is declared as ${p.numel} ${p.dtype.name} elements at offset ${ctx.offset} but earlier as ${known.numel} ${known.dtype.name} elements`,
        { ...where, key },
      );
    }
    if (!root) {
      if (state.roots.size >= maxStorages) {
        throw new LegacyLimitError("maxStorages", state.roots.size + 1, maxStorages, { ...where, key });
      }
      const loc = located?.get(key);
      const source = new RecordSource(bs, p.nbytes, key, loc?.offset, loc?.bytes);
      root = Storage.lazy(p.dtype, source, 0, p.nbytes, {
        device: mapLocation ?? p.location,
        untyped: p.untyped,
        byteOrder,
      });
      state.objects.set(key, root);
      state.roots.set(key, {
        key,
        storage: root,
        dtype: p.dtype,
        numel: p.numel,
        nbytes: p.nbytes,
        source,
        count: p.numel,
      });
      rememberKey(root, key);
    }
    const vm = p.viewMetadata;
    if (!vm) return root;
    const viewKey = normKey(vm.viewKey) ?? vm.viewKey;
    let view = state.objects.get(viewKey);
    if (!view) {
      const size = p.dtype.itemSize;
      if (vm.offset < 0 || vm.size < 0 || (vm.offset + vm.size) * size > root.nbytes) {
        throw new LegacyStorageError(
          `view '${viewKey}' of storage '${key}' covers elements [${vm.offset}, ${vm.offset + vm.size}) outside its ${root.nbytes / size} ${p.dtype.name} elements (persistent id at offset ${ctx.offset})`,
          { ...where, key: viewKey },
        );
      }
      view = Storage.viewOf(
        root,
        vm.offset * size,
        vm.size * size,
        p.dtype,
        p.untyped ? { untyped: true } : {},
      );
      viewOffsets.set(view, { root, offset: vm.offset * size });
      state.objects.set(viewKey, view);
      rememberKey(view, viewKey);
    }
    return view;
  };
}

/**
 * Locate the storage records without running any rebuild function: the object pickle is read
 * once with only the storage classes resolved (everything else inert), which yields each root
 * storage's dtype and size; the record offsets then follow from the key list. With `prefetch`
 * (sources without `readSync`) the record bytes are read too.
 */
function* locateRecords(
  prefix: Prefix,
  objectAt: number,
  plain: () => LoadOptions,
  maxStorages: number,
  prefetch: boolean,
): Op<Map<string, { offset: number; bytes?: Uint8Array }>> {
  const sizes = new Map<string, number>();
  const storageClasses = new GlobalRegistry();
  for (const [m, n, v] of registryFor(undefined).entries())
    if (v instanceof StorageClassRef) storageClasses.register(m, n, v);
  const obj = yield* loadPickleAt(prefix, objectAt, "object", () => ({
    ...plain(),
    globals: storageClasses,
    policy: "opaque",
    persistentLoad: (pid: unknown) => {
      if (isTuple(pid) && str(pid[0]) === "storage") {
        try {
          const p = parseStoragePid(tuple(pid.map((x, i) => (i === 2 || i === 3 ? str(x) : x))));
          const key = normKey(p.key) ?? p.key;
          if (!sizes.has(key)) {
            if (sizes.size >= maxStorages)
              throw new LegacyLimitError("maxStorages", sizes.size + 1, maxStorages, { record: "object" });
            sizes.set(key, p.nbytes);
          }
        } catch (e) {
          if (e instanceof LegacyLimitError) throw e;
          // the real pass reports malformed ids
        }
      }
      return null;
    },
  }));
  const keysPickle = yield* loadPickleAt(prefix, obj.end, "keys", plain);
  const out = new Map<string, { offset: number; bytes?: Uint8Array }>();
  if (!Array.isArray(keysPickle.value)) return out;
  let p = keysPickle.end;
  const reads: ReadRequest[] = [];
  for (const k of keysPickle.value) {
    const key = normKey(k);
    const n = key === null ? undefined : sizes.get(key);
    if (key === null || n === undefined || p + 8 + n > prefix.total) break;
    out.set(key, prefetch && n === 0 ? { offset: p + 8, bytes: new Uint8Array(0) } : { offset: p + 8 });
    if (prefetch && n > 0) reads.push({ offset: p + 8, length: n });
    p += 8 + n;
  }
  if (reads.length > 0) {
    const got = yield reads;
    let i = 0;
    for (const v of out.values()) if (i < got.length && reads[i]!.offset === v.offset) v.bytes = got[i++]!;
  }
  return out;
}

/** Element sizes for unreferenced records (see the caller); null when none fits. */
function* inferUnreferenced(
  keys: readonly string[],
  roots: ReadonlyMap<string, RootInfo>,
  start: number,
  total: number,
  buf: Uint8Array,
): Op<Map<string, { nbytes: number; count: number }> | null> {
  const found = new Map<string, { nbytes: number; count: number }>();
  const countAt = function* (p: number): Op<bigint> {
    if (p + 8 <= buf.length) return readInt64(buf, p);
    const [h] = yield [{ offset: p, length: 8 }];
    return readInt64(h!, 0);
  };
  const search = function* (i: number, p: number): Op<boolean> {
    if (i === keys.length) return p === total;
    if (p + 8 > total) return false;
    const key = keys[i]!;
    const count = yield* countAt(p);
    const known = roots.get(key);
    if (known) {
      if (count !== BigInt(known.count)) return false;
      return yield* search(i + 1, p + 8 + known.nbytes);
    }
    if (count < 0n) return false;
    for (const size of [1, 2, 4, 8, 16]) {
      const nbytes = count * BigInt(size);
      if (BigInt(p + 8) + nbytes > BigInt(total)) break;
      found.set(key, { nbytes: Number(nbytes), count: Number(count) });
      if (yield* search(i + 1, p + 8 + Number(nbytes))) return true;
    }
    found.delete(key);
    return false;
  };
  return (yield* search(0, start)) ? found : null;
}

/** The legacy stream parser: reads the pickles and locates every storage record. */
function* legacyParser(src: LegacySource, bs: ByteSource, options: LegacyLoadOptions): Op<LegacyLoadResult> {
  const prefix = yield* startPrefix(src, options.readAhead ?? null);
  const total = prefix.total;
  const encoding = options.encoding ?? "utf-8";
  const limits = pickLimits(options.limits);
  const maxStorages = options.limits?.maxStorages ?? 1_000_000;
  const plain = (): LoadOptions => ({ encoding, ...limits });

  const magic = yield* loadPickleAt(prefix, 0, "magic", plain);
  if (magic.value !== MAGIC_NUMBER) {
    throw new LegacyMagicError(
      `invalid magic number ${describeValue(magic.value)} at offset 0 (expected ${MAGIC_NUMBER}); not a legacy torch file`,
      { offset: 0 },
    );
  }
  const proto = yield* loadPickleAt(prefix, magic.end, "protocol", plain);
  if (proto.value !== PROTOCOL_VERSION) {
    throw new LegacyProtocolVersionError(
      `invalid protocol version ${describeValue(proto.value)} at offset ${magic.end} (expected ${PROTOCOL_VERSION})`,
      { offset: magic.end },
    );
  }
  const si = yield* loadPickleAt(prefix, proto.end, "sys_info", plain);
  const sysInfo = parseSysInfo(si.value, "sys_info", proto.end);
  const byteOrder = options.dataByteOrder === "sys_info" && !sysInfo.littleEndian ? "big" : "little";

  const registry = registryFor(options.globals);
  let state: PidState = { objects: new Map(), roots: new Map(), modules: new Map() };
  let located: Map<string, { offset: number; bytes?: Uint8Array }> | null = null;
  let obj: { value: unknown; end: number };
  for (;;) {
    state = { objects: new Map(), roots: new Map(), modules: new Map() };
    const persistentLoad = makePersistentLoad(
      state,
      bs,
      total,
      byteOrder,
      maxStorages,
      located,
      options.mapLocation,
    );
    try {
      obj = yield* loadPickleAt(prefix, si.end, "object", () => {
        const o: { -readonly [K in keyof LoadOptions]: LoadOptions[K] } = {
          ...plain(),
          globals: registry,
          persistentLoad,
          // most memoized objects (persistent ids, argument tuples) are never fetched again
          pruneMemo: true,
        };
        if (options.policy !== undefined) o.policy = options.policy;
        if (options.onGlobal !== undefined) o.onGlobal = options.onGlobal;
        return o;
      });
      break;
    } catch (e) {
      // A rebuild function read storage data while unpickling (sparse, per-channel quantized):
      // locate every record first, then unpickle again.
      if (located !== null || !isNotLocated(e)) throw e;
      located = yield* locateRecords(prefix, si.end, plain, maxStorages, !bs.readSync);
    }
  }

  const keysAt = obj.end;
  const keysPickle = yield* loadPickleAt(prefix, keysAt, "keys", plain);
  const kv = keysPickle.value;
  if (!Array.isArray(kv)) {
    throw new LegacyStorageError(
      `the key list at offset ${keysAt} must be a list, got ${describeValue(kv)}`,
      {
        record: "keys",
        offset: keysAt,
      },
    );
  }
  if (kv.length > maxStorages) {
    throw new LegacyLimitError("maxStorages", kv.length, maxStorages, { record: "keys", offset: keysAt });
  }
  const keys: string[] = [];
  const seen = new Set<string>();
  for (const k of kv) {
    const key = normKey(k);
    if (key === null) {
      throw new LegacyStorageError(`the key list at offset ${keysAt} holds ${describeValue(k)}, not a key`, {
        record: "keys",
        offset: keysAt,
      });
    }
    if (seen.has(key)) {
      throw new LegacyStorageError(`storage key '${key}' appears twice in the key list at offset ${keysAt}`, {
        record: "keys",
        offset: keysAt,
        key,
      });
    }
    seen.add(key);
    keys.push(key);
  }
  for (const key of keys) {
    if (!state.roots.has(key) && state.objects.has(key)) {
      throw new LegacyStorageError(
        `key '${key}' in the key list at offset ${keysAt} names a storage view, not a stored storage`,
        { record: "keys", offset: keysAt, key },
      );
    }
  }
  const unreferenced = keys.filter((k) => !state.roots.has(k));
  if (unreferenced.length > 0) {
    // Records no persistent id names: their element size is unknown. Find the sizes (1, 2, 4, 8
    // or 16 bytes) that make every record fit and the last one end at the end of the file; the
    // bytes become untyped storages under their keys.
    const found =
      unreferenced.length <= 4
        ? yield* inferUnreferenced(keys, state.roots, keysPickle.end, total, prefix.buf)
        : null;
    if (!found) {
      throw new LegacyStorageError(
        `key '${unreferenced[0]}' in the key list at offset ${keysAt} is not referenced by the object pickle, and no element size makes the storage records fit the file`,
        { record: "keys", offset: keysAt, key: unreferenced[0] },
      );
    }
    for (const [key, { nbytes, count }] of found) {
      const source = new RecordSource(bs, nbytes, key, undefined, undefined);
      const storage = Storage.lazy(dtypes.uint8, source, 0, nbytes, {
        untyped: true,
        byteOrder,
        ...(options.mapLocation !== undefined ? { device: options.mapLocation } : {}),
      });
      state.roots.set(key, { key, storage, dtype: dtypes.uint8, numel: nbytes, nbytes, source, count });
      rememberKey(storage, key);
    }
  }
  const roots = keys.map((k) => state.roots.get(k)!);
  for (const key of state.roots.keys()) {
    if (!seen.has(key)) {
      throw new LegacyStorageError(
        `storage '${key}' is used by the object pickle but missing from the key list at offset ${keysAt}`,
        { record: "keys", offset: keysAt, key },
      );
    }
  }

  // Record offsets follow from the declared sizes; the counts are read (8 bytes each) and checked.
  const start = keysPickle.end;
  const headers: ReadRequest[] = [];
  let p = start;
  for (const r of roots) {
    if (p + 8 > total) break;
    headers.push({ offset: p, length: 8 });
    p += 8 + r.nbytes;
  }
  const fromPrefix = headers.every((h) => h.offset + h.length <= prefix.buf.length);
  const got =
    headers.length === 0
      ? []
      : fromPrefix
        ? headers.map((h) => prefix.buf.subarray(h.offset, h.offset + 8))
        : yield headers;
  const records: LegacyStorageRecord[] = [];
  p = start;
  roots.forEach((r, i) => {
    if (p + 8 > total) {
      throw new LegacyTruncatedError(
        `the file (${total} bytes) ends inside the 8-byte header of storage '${r.key}' at offset ${p}`,
        { record: "storage", key: r.key, offset: p },
      );
    }
    const h = got[i]!;
    const count = readInt64(h, 0, true);
    const want = BigInt(r.count);
    if (count !== want && (sysInfo.littleEndian || readInt64(h, 0, false) !== want)) {
      throw new LegacyStorageError(
        `storage '${r.key}' at offset ${p}: the record holds ${count} elements but the object pickle declared ${r.count} ${r.dtype.name} elements`,
        { record: "storage", key: r.key, offset: p },
      );
    }
    const dataOffset = p + 8;
    if (dataOffset + r.nbytes > total) {
      throw new LegacyTruncatedError(
        `the file (${total} bytes) ends inside storage '${r.key}': its ${r.nbytes} bytes start at offset ${dataOffset}`,
        { record: "storage", key: r.key, offset: dataOffset },
      );
    }
    if (r.source.base >= 0 && r.source.base !== dataOffset) {
      throw new LegacyStorageError(
        `storage '${r.key}' was located at offset ${r.source.base} but its record data starts at ${dataOffset}`,
        {
          record: "storage",
          key: r.key,
          offset: dataOffset,
        },
      );
    }
    r.source.base = dataOffset;
    records.push({
      key: r.key,
      dtype: r.dtype,
      numel: r.numel,
      nbytes: r.nbytes,
      headerOffset: p,
      dataOffset,
      storage: r.storage,
    });
    p = dataOffset + r.nbytes;
  });

  const storages = new Map<string, Storage>();
  for (const r of roots) storages.set(r.key, r.storage);
  for (const [k, s] of state.objects) if (!storages.has(k)) storages.set(k, s);
  return {
    value: obj.value,
    keys,
    sysInfo,
    protocolVersion: PROTOCOL_VERSION,
    storages,
    records,
    moduleSources: state.modules,
    end: p,
  };
}

/**
 * Load a legacy stream. Storages of one key are one `Storage` shared by every tensor naming it;
 * `view_metadata` views share the root's memory. With `lazy`, only the pickles and the 8-byte
 * record headers are read; each storage reads its bytes on first access (`await storage.load()`).
 */
export async function loadLegacy(
  source: LegacySource,
  options: LegacyLoadOptions = {},
): Promise<LegacyLoadResult> {
  const bs = asByteSource(source);
  const result = await runAsync(legacyParser(source, bs, options), bs);
  if (!options.lazy) await Promise.all(result.records.map((r) => r.storage.load()));
  return result;
}

/**
 * The legacy loader as a parser (`@pt/storage`'s `Op`) over `source`, for loaders that compose it
 * with other steps and drive it sync or async (`loadLegacy`/`loadLegacySync` drive this one parser).
 * Storages are left lazy: unless `lazy`, the driver loads `records`' storages. Failed reads are
 * this layer's errors.
 */
export function loadLegacyOp(source: ByteSource, options: LegacyLoadOptions = {}): Op<LegacyLoadResult> {
  return mapReadFailures(legacyParser(source, source, options), readFailure);
}

/** `loadLegacy` for in-memory data or a source with `readSync`. */
export function loadLegacySync(source: LegacySource, options: LegacyLoadOptions = {}): LegacyLoadResult {
  const bs = asByteSource(source);
  const result = runSync(legacyParser(source, bs, options), bs);
  if (!options.lazy) for (const r of result.records) r.storage.loadSync();
  return result;
}
