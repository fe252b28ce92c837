import {
  type GlobalRegistry,
  type HookContext,
  isTuple,
  PickleError,
  type LoadOptions as PickleLoadOptions,
  PyGlobal,
  Unpickler,
  UnsafeGlobalError,
} from "@pt/pickle";
import { BufferSource, type ByteOrder, type ByteSource, isDType, Storage } from "@pt/storage";
import { parseStoragePid, StorageClassRef, type StoragePid, torchGlobals } from "@pt/tensor";
import type { Crc32Function } from "../zip/crc32.js";
import { crc32 as defaultCrc32 } from "../zip/crc32.js";
import { ZipError, ZipIntegrityError } from "../zip/errors.js";
import { type ZipEntry, ZipReader, type ZipReaderOptions } from "../zip/reader.js";
import { TorchScriptArchiveError, ZipTorchError } from "./errors.js";
import { modelJsonArchive } from "./model-json.js";

/** What `loadZip` accepts: bytes, a byte source, or an already opened reader. */
export type ZipLoadSource = Uint8Array | ArrayBuffer | ByteSource | ZipReader;

/** Pickle limits passed down to the unpickler of `data.pkl`. */
export type PickleLimits = Pick<
  PickleLoadOptions,
  "maxDepth" | "maxMemoEntries" | "maxStringLength" | "maxBytesLength" | "maxTotalAllocation"
>;

/** Options of {@link loadZip}. */
export interface ZipLoadOptions extends ZipReaderOptions {
  /**
   * Read storages on first access instead of now (default `false`). In-memory sources are then
   * still read without copying; file and Blob sources read each storage's bytes when needed.
   */
  readonly lazy?: boolean;
  /** Extra globals, merged over `torchGlobals()` (yours win). */
  readonly globals?: GlobalRegistry;
  /** Unregistered globals: `"reject"` (default) or `"opaque"` (inert `PyObject`s). Dangerous ones are always refused. */
  readonly policy?: "reject" | "opaque";
  /** Called for every global reference of `data.pkl` (module, name, byte offset). */
  readonly onGlobal?: (module: string, name: string, offset: number) => void;
  /** How Python 2 `str` decode (default `"utf-8"`, as `torch.load`). */
  readonly encoding?: PickleLoadOptions["encoding"];
  /** Pickle limits. */
  readonly limits?: PickleLimits;
  /**
   * TorchScript archives (`torch.jit.save`: `constants.pkl`, `code/`): `"refuse"` (default) throws
   * a {@link TorchScriptArchiveError}; `"tensors"` loads `data.pkl` (the module's attributes and
   * tensors) with `__torch__` classes as inert placeholders, or, for TorchScript v1 archives
   * (`model.json`), their tensor table as a `TorchScriptV1Model`. Code is never run.
   */
  readonly torchscript?: "refuse" | "tensors";
  /** Device of every loaded storage (torch's `map_location` given as a string). Default: the saved location. */
  readonly mapLocation?: string;
}

/** What the records besides `data.pkl` say about the archive. */
export interface ZipFormatInfo {
  /** The archive prefix (the folder every record sits in). */
  readonly prefix: string;
  /** Record names under the prefix, in central-directory order. */
  readonly records: readonly string[];
  /** `version` (or `.data/version`) as a number, 1..10. */
  readonly version: number;
  /** Which record held the version. */
  readonly versionRecord: "version" | ".data/version";
  /** Byte order of the storages (`little` when there is no `byteorder` record). */
  readonly byteorder: ByteOrder;
  /** Whether a `byteorder` record exists (torch ≥ 2.1). */
  readonly hasByteorderRecord: boolean;
  /** `.format_version` (torch ≥ 2.7), else null. */
  readonly formatVersion: string | null;
  /** `.storage_alignment` (torch ≥ 2.7), else null. */
  readonly storageAlignment: number | null;
  /** `.data/serialization_id` (torch ≥ 2.1), else null. */
  readonly serializationId: string | null;
  /** Whether the archive is a TorchScript archive (`constants.pkl`, `code/…` or `model.json`). */
  readonly torchscript: boolean;
  /** The torch writer whose record set this archive has, when it matches one of `saveZip`'s flavors. */
  readonly flavor: "1.13" | "2.1" | "2.7" | null;
  /** Whether any record has a non-zero CRC-32 (false: written with `compute_crc32 = False`). */
  readonly crc32Computed: boolean;
  /** Whether `byteorder` comes after `version` (torch.save's `_disable_byteorder_record=True`). */
  readonly byteorderRecordLast: boolean;
  /**
   * Whether the storages look written under `torch.serialization.skip_data()`: every non-empty
   * `data/` record has CRC 0 while other records have CRCs (their bytes are zeros).
   */
  readonly dataSkipped: boolean;
  /** `data.pkl`'s pickle protocol (torch.save's `pickle_protocol`) from its PROTO opcode; null without one (0 or 1). */
  readonly pickleProtocol: number | null;
}

/** Result of {@link loadZip}. */
export interface ZipLoadResult {
  /** The unpickled `data.pkl`. */
  readonly value: unknown;
  readonly format: ZipFormatInfo;
  /** One Storage per key, shared by every tensor that names it, in order of first use. */
  readonly storages: ReadonlyMap<string, Storage>;
  /** The reader (its source stays open for lazy storages; close the source when done). */
  readonly reader: ZipReader;
}

const ascii = new TextDecoder("latin1");

/** Records that make an archive TorchScript. */
export function torchScriptMarkers(records: Iterable<string> | ReadonlyMap<string, unknown>): string[] {
  const out: string[] = [];
  const check = (r: string) => {
    if (r === "constants.pkl" || r === "model.json" || r.startsWith("code/")) out.push(r);
  };
  // a map's keys without an iterator result per key (archives can hold 50,000 records)
  if (records instanceof Map)
    records.forEach((_, r: string) => {
      check(r);
    });
  else for (const r of records as Iterable<string>) check(r);
  return out;
}

function isInMemory(src: ByteSource): boolean {
  return src instanceof BufferSource;
}

function toSource(s: Uint8Array | ArrayBuffer | ByteSource): ByteSource {
  if (s instanceof Uint8Array || s instanceof ArrayBuffer) return new BufferSource(s);
  return s;
}

/**
 * A ByteSource over one record's data, for lazy storages: its local header is read (and checked)
 * on the first read, not at open, so listing a checkpoint reads only the central directory and
 * `data.pkl`. A read of the whole record is CRC-checked (unless `checkCrc` is false); deflated
 * records are inflated (whole-record reads only).
 */
function recordSource(reader: ZipReader, name: string, crcOn: boolean, crcFn: Crc32Function): ByteSource {
  const e = reader.entry(name);
  const src = reader.source;
  let dataOffset: number | undefined;
  const check = (offset: number, length: number, bytes: Uint8Array): Uint8Array => {
    if (crcOn && offset === 0 && length === e.uncompressedSize && e.crc32 !== 0) {
      const c = crcFn(bytes);
      if (c !== e.crc32)
        throw new ZipIntegrityError(
          "CrcMismatch",
          `record ${name}: CRC-32 0x${c.toString(16).padStart(8, "0")} != 0x${e.crc32.toString(16).padStart(8, "0")} stored`,
          { record: name, offset: (dataOffset ?? e.localHeaderOffset) + offset },
        );
    }
    return bytes;
  };
  const whole = (offset: number, length: number) => {
    if (offset !== 0 || length !== e.uncompressedSize)
      throw new ZipTorchError(
        "StorageNotFound",
        `record ${name} is compressed: only the whole record can be read (asked ${length} bytes at ${offset})`,
        { record: name },
      );
  };
  const out: { -readonly [K in keyof ByteSource]: ByteSource[K] } = {
    byteLength: e.uncompressedSize,
    read: async (offset, length) => {
      if (e.method !== 0) {
        whole(offset, length);
        return reader.read(name);
      }
      dataOffset ??= (await reader.dataRange(name)).offset;
      return check(offset, length, await src.read(dataOffset + offset, length));
    },
  };
  const rs = src.readSync?.bind(src);
  if (rs)
    out.readSync = (offset, length) => {
      if (e.method !== 0) {
        whole(offset, length);
        return reader.readSync(name);
      }
      dataOffset ??= reader.dataRangeSync(name).offset;
      return check(offset, length, rs(dataOffset + offset, length));
    };
  if (src.fingerprint) out.fingerprint = src.fingerprint.bind(src);
  return out;
}

interface Meta {
  format: ZipFormatInfo;
  pickle: Uint8Array;
}

function text(b: Uint8Array): string {
  return ascii.decode(b);
}

/** Parse the small records; `read` returns a record's bytes (CRC-checked). */
function parseMeta(reader: ZipReader, read: (name: string) => Uint8Array, options: ZipLoadOptions): Meta {
  const records = [...reader.records.keys()];
  const markers = torchScriptMarkers(records);
  const torchscript = markers.length > 0;
  if (torchscript && (options.torchscript ?? "refuse") === "refuse") {
    const what = markers.includes("model.json")
      ? "a TorchScript v1 archive (model.json, torch.jit.save of PyTorch 1.0-1.2)"
      : `a TorchScript archive (torch.jit.save: ${markers.includes("constants.pkl") ? "constants.pkl" : ""}${
          markers.some((m) => m.startsWith("code/"))
            ? `${markers.includes("constants.pkl") ? " and " : ""}${markers.filter((m) => m.startsWith("code/")).length} code/ records`
            : ""
        })`;
    throw new TorchScriptArchiveError(
      `${what}: it holds compiled TorchScript code, which is never run; load it with torchscript: "tensors" to read the tensors of its data.pkl, or use torch.jit.load`,
      markers,
    );
  }
  let versionRecord: "version" | ".data/version";
  if (reader.has("version")) versionRecord = "version";
  else if (reader.has(".data/version")) versionRecord = ".data/version";
  else
    throw new ZipTorchError(
      "VersionUnsupported",
      `archive ${reader.prefix}/ has no version record (neither version nor .data/version): not a torch checkpoint`,
      {},
    );
  const vText = text(read(versionRecord)).trim();
  const version = /^\d{1,3}$/.test(vText) ? Number(vText) : Number.NaN;
  if (!(version >= 1 && version <= 10)) {
    throw new ZipTorchError(
      "VersionUnsupported",
      `record ${versionRecord} says ${JSON.stringify(vText.slice(0, 40))}: supported versions are 1 to 10`,
      { record: versionRecord },
    );
  }
  let byteorder: ByteOrder = "little";
  const hasByteorderRecord = reader.has("byteorder");
  if (hasByteorderRecord) {
    const b = text(read("byteorder")).trim();
    if (b !== "little" && b !== "big")
      throw new ZipTorchError(
        "ByteorderInvalid",
        `record byteorder says ${JSON.stringify(b.slice(0, 40))}: expected little or big`,
        { record: "byteorder" },
      );
    byteorder = b;
  }
  const opt = (name: string): string | null => (reader.has(name) ? text(read(name)).trim() : null);
  const formatVersion = opt(".format_version");
  const alignText = opt(".storage_alignment");
  const serializationId = opt(".data/serialization_id");
  if (!reader.has("data.pkl"))
    throw new ZipTorchError(
      "NoDataPkl",
      `archive ${reader.prefix}/ has no data.pkl record${torchscript ? " (TorchScript v1 archives keep their tensors in model.json)" : reader.has("archive_format") && reader.has("data/weights/model_weights_config.json") ? " (a torch.export archive, .pt2: read its weights and constants with loadPt2)" : ""}`,
      {},
    );
  const pickle = read("data.pkl");
  const dataNames = records.filter((r) => r.startsWith("data/"));
  const core = records.filter((r) => !r.startsWith("data/"));
  const eq = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  let flavor: ZipFormatInfo["flavor"] = null;
  // _disable_byteorder_record=True: torch's C++ writer adds `byteorder` last, after `version`
  const byteorderRecordLast =
    hasByteorderRecord && records.indexOf("byteorder") > records.indexOf(versionRecord);
  let crc32Computed = false;
  let dataCrcs = 0;
  let dataRecords = 0;
  for (const e of reader.records.values()) {
    const isData = e.name.startsWith("data/") && e.uncompressedSize > 0;
    if (isData) dataRecords++;
    if (e.crc32 !== 0) {
      crc32Computed = true;
      if (isData) dataCrcs++;
    }
  }
  const dataSkipped = dataRecords > 0 && dataCrcs === 0 && crc32Computed;
  if (!torchscript && versionRecord === "version") {
    const dataIdx = records.indexOf(dataNames[0] ?? "");
    const contiguous = dataNames.every((n, i) => records[dataIdx + i] === n) || dataNames.length === 0;
    if (contiguous && eq(core, ["data.pkl", "version"]) && inStringOrder(dataNames)) flavor = "1.13";
    else if (
      contiguous &&
      eq(core, ["data.pkl", "byteorder", "version", ".data/serialization_id"]) &&
      inStringOrder(dataNames)
    )
      flavor = "2.1";
    else if (
      contiguous &&
      eq(core, [
        "data.pkl",
        ".format_version",
        ".storage_alignment",
        "byteorder",
        "version",
        ".data/serialization_id",
      ]) &&
      inNumericOrder(dataNames)
    )
      flavor = "2.7";
    else if (byteorderRecordLast && contiguous) {
      const trail = ["version", "byteorder", ".data/serialization_id"];
      if (eq(core, ["data.pkl", ...trail]) && inStringOrder(dataNames)) flavor = "2.1";
      else if (
        eq(core, ["data.pkl", ".format_version", ".storage_alignment", ...trail]) &&
        inNumericOrder(dataNames)
      )
        flavor = "2.7";
    }
  }
  return {
    pickle,
    format: {
      prefix: reader.prefix,
      records,
      version,
      versionRecord,
      byteorder,
      hasByteorderRecord,
      formatVersion,
      storageAlignment: alignText === null ? null : Number(alignText),
      serializationId,
      torchscript,
      flavor,
      crc32Computed,
      byteorderRecordLast,
      dataSkipped,
      pickleProtocol: pickle.length >= 2 && pickle[0] === 0x80 ? (pickle[1] as number) : null,
    },
  };
}

/** Whether `names` equals its own default (UTF-16 code unit) sort, without sorting a copy. */
function inStringOrder(names: readonly string[]): boolean {
  for (let i = 1; i < names.length; i++) if ((names[i - 1] as string) > (names[i] as string)) return false;
  return true;
}

/**
 * Whether `names` (`data/<key>`) equals its stable sort by numeric key. A linear check when every
 * key is a number; otherwise (NaN comparisons) the sort itself decides, as before.
 */
function inNumericOrder(names: readonly string[]): boolean {
  const keys = names.map((x) => Number(x.slice(5)));
  if (keys.every((k) => !Number.isNaN(k))) {
    for (let i = 1; i < keys.length; i++) if ((keys[i - 1] as number) > (keys[i] as number)) return false;
    return true;
  }
  const sorted = [...names].sort((x, y) => Number(x.slice(5)) - Number(y.slice(5)));
  return sorted.every((x, i) => x === names[i]);
}

interface StoragePlan {
  /** The record of a key, or throws. */
  recordFor(key: string): ZipEntry;
  /** A storage over the record (eager view, or lazy). */
  make(entry: ZipEntry, pid: StoragePid, device: string): Storage;
}

/** Unpickle data.pkl with one Storage per key. */
function unpickle(
  meta: Meta,
  plan: StoragePlan,
  options: ZipLoadOptions,
): { value: unknown; storages: Map<string, Storage> } {
  const storages = new Map<string, Storage>();
  const registry = options.globals ? torchGlobals().merge(options.globals) : torchGlobals();
  // The last persistent id's parts and its storage: views of one storage (torch writes a fresh
  // pid tuple per tensor) then skip the parse and the checks, which gave the same answer.
  let lastCls: unknown;
  let lastKey: unknown;
  let lastLoc: unknown;
  let lastNumel: unknown;
  let lastStorage: Storage | null = null;
  const persistentLoad = (pid: unknown, ctx: HookContext): unknown => {
    if (
      lastStorage !== null &&
      isTuple(pid) &&
      pid.length === 5 &&
      pid[2] === lastKey &&
      pid[1] === lastCls &&
      pid[4] === lastNumel &&
      pid[3] === lastLoc &&
      pid[0] === "storage"
    )
      return lastStorage;
    const s = persistentLoadParsed(pid, ctx);
    if (isTuple(pid) && pid.length === 5 && typeof pid[2] === "string" && typeof pid[3] === "string") {
      lastCls = pid[1];
      lastKey = pid[2];
      lastLoc = pid[3];
      lastNumel = pid[4];
      lastStorage = s;
    } else lastStorage = null;
    return s;
  };
  const persistentLoadParsed = (pid: unknown, ctx: HookContext): Storage => {
    let p: StoragePid;
    try {
      const cls = isTuple(pid) ? pid[1] : undefined;
      if (cls !== undefined && !(cls instanceof StorageClassRef))
        throw new Error(
          `the storage class is ${cls instanceof PyGlobal ? cls.qualifiedName : isDType(cls) ? `the dtype torch.${cls.name}` : typeof cls}, not a storage class`,
        );
      p = parseStoragePid(pid);
    } catch (e) {
      throw new ZipTorchError(
        "PersistentIdInvalid",
        `data.pkl: invalid persistent id at offset ${ctx.offset}: ${(e as Error).message}`,
        { record: "data.pkl", offset: ctx.offset, cause: e },
      );
    }
    const device = options.mapLocation ?? p.location;
    const first = storages.get(p.key);
    if (first) {
      // One Storage per key. torch's savers never give a key two dtypes or two sizes.
      if (first.dtype !== p.dtype || first.untyped !== p.untyped)
        throw new ZipTorchError(
          "PersistentIdInvalid",
          `storage ${p.key}: data.pkl declares it as ${first.untyped ? "untyped" : first.dtype.name} and again as ${p.untyped ? "untyped" : p.dtype.name} at offset ${ctx.offset}`,
          { record: "data.pkl", key: p.key, offset: ctx.offset },
        );
      checkSize(p, first.nbytes, null, ctx);
      return first;
    }
    const entry = plan.recordFor(p.key);
    checkSize(p, entry.uncompressedSize, entry.name, ctx);
    const s = plan.make(entry, p, device);
    storages.set(p.key, s);
    return s;
  };
  const torchscript = meta.format.torchscript;
  const u = new Unpickler(meta.pickle, {
    ...options.limits,
    globals: registry,
    policy: torchscript ? "opaque" : (options.policy ?? "reject"),
    ...(options.onGlobal ? { onGlobal: options.onGlobal } : {}),
    persistentLoad,
    encoding: options.encoding ?? "utf-8",
    // most memoized objects of data.pkl (persistent ids, argument tuples) are never fetched again
    pruneMemo: true,
  });
  let value: unknown;
  try {
    value = u.load();
  } catch (e) {
    // our own errors thrown inside persistentLoad arrive wrapped in the pickle layer's HookError
    if (e instanceof PickleError && e.cause instanceof ZipError) throw e.cause;
    // a refusal is a verdict on the file, not a malformed data.pkl: rethrown as is, never wrapped
    if (e instanceof ZipError || e instanceof UnsafeGlobalError) throw e;
    const offset = (e as { offset?: unknown }).offset;
    throw new ZipTorchError("DataPklInvalid", `data.pkl: ${(e as Error).message}`, {
      record: "data.pkl",
      ...(typeof offset === "number" ? { offset } : {}),
      cause: e,
    });
  }
  return { value, storages };
}

/** `record` null: the storage's record, `data/<key>` (named only when throwing). */
function checkSize(p: StoragePid, recordSize: number, name: string | null, ctx: HookContext): void {
  if (p.nbytes !== recordSize) {
    const record = name ?? `data/${p.key}`;
    throw new ZipTorchError(
      "StorageSizeMismatch",
      `storage ${p.key}: data.pkl declares ${p.numel} ${p.untyped ? "bytes" : `${p.dtype.name} elements`} (${p.nbytes} bytes) at offset ${ctx.offset}, but record ${record} holds ${recordSize} bytes`,
      { record, key: p.key, offset: ctx.offset },
    );
  }
}

/** A storage read failed because of the archive (CRC, bounds): throw the zip error, which names the record. */
function unwrapRead(e: unknown): never {
  const cause = (e as { cause?: unknown }).cause;
  throw cause instanceof ZipError ? cause : e;
}

function recordFinder(reader: ZipReader, torchscript: boolean): (key: string) => ZipEntry {
  const dirs = torchscript ? ["data/", "constants/"] : ["data/"];
  const records = reader.records;
  return (key) => {
    for (const d of dirs) {
      const e = records.get(`${d}${key}`);
      if (e !== undefined) return e;
    }
    throw new ZipTorchError(
      "StorageNotFound",
      `storage ${key}: data.pkl names it but the archive has no record ${dirs.map((d) => d + key).join(" or ")}`,
      { key, record: `data/${key}` },
    );
  };
}

/**
 * A storage over a stored record's bytes `b` (checked, a subarray of the in-memory source): a
 * `Storage.view` of the source's buffer, so no view object is kept per storage until it is used.
 */
function residentStorage(
  src: ByteSource,
  b: Uint8Array,
  p: StoragePid,
  opts: ReturnType<typeof storageOptions>,
): Storage {
  const whole = (src as BufferSource).bytes;
  if (b.buffer !== whole.buffer) return Storage.fromBytes(p.dtype, b, opts);
  return Storage.view(p.dtype, whole, b.byteOffset - whole.byteOffset, b.byteLength, opts);
}

function storageOptions(p: StoragePid, device: string, byteorder: ByteOrder) {
  return { device, untyped: p.untyped, byteOrder: byteorder };
}

/**
 * Load a torch zip checkpoint (`torch.save` since 1.6): parse `data.pkl` with torch's globals and
 * give every storage key one `Storage`, shared by all tensors that name it.
 *
 * - In-memory sources (`Uint8Array`, `ArrayBuffer`, `BufferSource`): storages are zero-copy views
 *   of the record bytes (64-byte aligned by torch's writer; `Storage` copies one storage only if
 *   its typed view would be misaligned).
 * - Other sources (files, Blobs): storages are read after unpickling, or on first access with
 *   `lazy: true` (only the central directory and `data.pkl` are read to list a checkpoint).
 * - `byteorder` big: storages are byte-swapped on first access. Declared storage sizes are checked
 *   against the record sizes; `version`/`.data/version` must be 1..10; CRCs are checked unless
 *   `checkCrc: false` (lazy storages: when their bytes are read).
 */
export async function loadZip(source: ZipLoadSource, options: ZipLoadOptions = {}): Promise<ZipLoadResult> {
  const reader =
    source instanceof ZipReader ? source : await ZipReader.open(toSource(source), readerOptions(options));
  const src = reader.source;
  const small = new Map<string, Uint8Array>();
  for (const name of [
    "version",
    ".data/version",
    "byteorder",
    ".format_version",
    ".storage_alignment",
    ".data/serialization_id",
  ])
    if (reader.has(name)) small.set(name, await reader.read(name));
  const markers = torchScriptMarkers(reader.records);
  const refuse = markers.length > 0 && (options.torchscript ?? "refuse") === "refuse";
  if (!refuse && reader.has("data.pkl")) small.set("data.pkl", await reader.read("data.pkl"));
  if (!refuse && !reader.has("data.pkl") && reader.has("model.json")) {
    const records = new Map<string, Uint8Array>();
    const mj = new TextDecoder().decode(await reader.read("model.json"));
    for (const name of reader.records.keys())
      if (name.startsWith("tensors/")) records.set(name, await reader.read(name));
    return modelJsonResult(
      reader,
      (n) => small.get(n) as Uint8Array,
      mj,
      (n) => records.get(n) as Uint8Array,
    );
  }
  const meta = parseMeta(reader, (n) => small.get(n) as Uint8Array, options);
  const find = recordFinder(reader, meta.format.torchscript);
  const byteorder = meta.format.byteorder;
  const inMemory = isInMemory(src) && src.readSync !== undefined;
  const crcOn = options.checkCrc ?? true;
  const crcFn = options.crc32 ?? defaultCrc32;
  const plan: StoragePlan = {
    recordFor: find,
    make(entry, p, device) {
      const opts = storageOptions(p, device, byteorder);
      const stored = entry.method === 0;
      // In memory: a zero-copy view of the record (CRC-checked now).
      if (inMemory && stored && !options.lazy)
        return residentStorage(src, reader.readEntrySync(entry), p, opts);
      // Deflated (a re-zipped file): inflated now, lazy or not (no byte range to read later).
      if (!stored) {
        if (src.readSync) return Storage.fromBytes(p.dtype, reader.readEntrySync(entry), opts);
        const holder = Storage.allocate(p.dtype, p.numel, { device, untyped: p.untyped });
        inflate.push([entry.name, holder]);
        return holder;
      }
      // Else lazy: read after unpickling unless `lazy`.
      const s = Storage.lazy(p.dtype, recordSource(reader, entry.name, crcOn, crcFn), 0, p.nbytes, opts);
      deferred.push(s);
      return s;
    },
  };
  // Storages still to read after unpickling (the others already hold their bytes).
  const deferred: Storage[] = [];
  const inflate: Array<[string, Storage]> = [];
  const { value, storages } = unpickle(meta, plan, options);
  for (const [record, holder] of inflate) holder.bytes.set(await reader.read(record));
  if (!options.lazy) await Promise.all(deferred.map((s) => s.load().catch(unwrapRead)));
  return { value, format: meta.format, storages, reader };
}

/**
 * Synchronous {@link loadZip}. The source must support `readSync` (bytes, `BufferSource`, a Node
 * `FileSource`).
 */
export function loadZipSync(
  source: Uint8Array | ArrayBuffer | ByteSource | ZipReader,
  options: ZipLoadOptions = {},
): ZipLoadResult {
  const reader =
    source instanceof ZipReader ? source : ZipReader.openSync(toSource(source), readerOptions(options));
  const src = reader.source;
  const markers = torchScriptMarkers(reader.records);
  const refuse = markers.length > 0 && (options.torchscript ?? "refuse") === "refuse";
  if (!refuse && !reader.has("data.pkl") && reader.has("model.json"))
    return modelJsonResult(
      reader,
      (n) => reader.readSync(n),
      new TextDecoder().decode(reader.readSync("model.json")),
      (n) => reader.readSync(n),
    );
  const meta = parseMeta(
    reader,
    (n) => {
      if (n === "data.pkl" && refuse) return new Uint8Array(0);
      return reader.readSync(n);
    },
    options,
  );
  const find = recordFinder(reader, meta.format.torchscript);
  const inMemory = isInMemory(src);
  const crcOn = options.checkCrc ?? true;
  const crcFn = options.crc32 ?? defaultCrc32;
  const plan: StoragePlan = {
    recordFor: find,
    make(entry, p, device) {
      const opts = storageOptions(p, device, meta.format.byteorder);
      const stored = entry.method === 0;
      if (stored && inMemory && !options.lazy)
        return residentStorage(src, reader.readEntrySync(entry), p, opts);
      // deflated: inflated now (no byte range to read later)
      if (!stored) return Storage.fromBytes(p.dtype, reader.readEntrySync(entry), opts);
      return Storage.lazy(p.dtype, recordSource(reader, entry.name, crcOn, crcFn), 0, p.nbytes, opts);
    },
  };
  const { value, storages } = unpickle(meta, plan, options);
  if (!options.lazy)
    for (const s of storages.values()) {
      try {
        s.loadSync();
      } catch (e) {
        unwrapRead(e);
      }
    }
  return { value, format: meta.format, storages, reader };
}

/** A TorchScript v1 (`model.json`) archive loaded for its tensor table. */
function modelJsonResult(
  reader: ZipReader,
  read: (name: string) => Uint8Array,
  modelJson: string,
  record: (name: string) => Uint8Array,
): ZipLoadResult {
  const version = reader.has("version")
    ? Number(new TextDecoder().decode(read("version")).trim())
    : Number.NaN;
  if (!(version >= 1 && version <= 10))
    throw new ZipTorchError(
      "VersionUnsupported",
      `model.json archive: version ${version}: supported versions are 1 to 10`,
      {
        record: "version",
      },
    );
  const model = modelJsonArchive(modelJson, record, (n) => reader.has(n));
  const storages = new Map<string, Storage>();
  for (const t of model.tensors) storages.set(t.record, t.tensor.storage);
  return {
    value: model,
    format: {
      prefix: reader.prefix,
      records: [...reader.records.keys()],
      version,
      versionRecord: "version",
      byteorder: "little",
      hasByteorderRecord: false,
      formatVersion: null,
      storageAlignment: null,
      serializationId: null,
      torchscript: true,
      flavor: null,
      crc32Computed: true,
      byteorderRecordLast: false,
      dataSkipped: false,
      pickleProtocol: null,
    },
    storages,
    reader,
  };
}

function readerOptions(o: ZipLoadOptions): ZipReaderOptions {
  const r: { -readonly [K in keyof ZipReaderOptions]: ZipReaderOptions[K] } = {};
  if (o.checkCrc !== undefined) r.checkCrc = o.checkCrc;
  if (o.crc32 !== undefined) r.crc32 = o.crc32;
  if (o.maxInflatedSize !== undefined) r.maxInflatedSize = o.maxInflatedSize;
  if (o.maxCompressionRatio !== undefined) r.maxCompressionRatio = o.maxCompressionRatio;
  if (o.maxEntries !== undefined) r.maxEntries = o.maxEntries;
  if (o.maxCentralDirectorySize !== undefined) r.maxCentralDirectorySize = o.maxCentralDirectorySize;
  if (o.readLocalHeaders !== undefined) r.readLocalHeaders = o.readLocalHeaders;
  return r;
}
