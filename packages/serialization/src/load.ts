import {
  type LegacyLoadOptions,
  type LegacyLoadResult,
  loadLegacyOp,
  loadTarOp,
  type TarLoadOptions,
} from "@pt/legacy-format";
import { nnGlobals, reviveModules } from "@pt/nn-module";
import {
  BlobSource,
  BufferSource,
  type ByteSource,
  type Op,
  type ReadProblem,
  readBytes,
  runAsync,
  runSync,
  type Storage,
  storageReadFailure,
} from "@pt/storage";
import { memoryFormatGlobals } from "@pt/tensor";
import {
  type Crc32Function,
  isPt2Archive,
  loadPt2,
  loadZipOp,
  loadZipStorages,
  loadZipStoragesSync,
  type PickleLimits,
  type Pt2Archive,
  TorchScriptArchiveError,
  type ZipFormatInfo,
  type ZipLoadOptions,
  type ZipLoadResult,
  ZipReader,
  type ZipReaderOptions,
} from "@pt/zip-format";
import { detectFormat, type Format } from "./detect.js";
import { type RefusedGlobal, SerializationError, UnsafeGlobalError } from "./errors.js";
import { type GlobalRegistry, PickleError, PickleUnsafeGlobalError } from "./pickle-compat.js";
import { weightsOnlyRegistry } from "./policy.js";
import {
  type FileSections,
  fetchPickleSections,
  pickleSections,
  type ScanPolicyOptions,
  type ScanResult,
  scanSections,
  scanSource,
  zipSections,
} from "./scan.js";

/** What `load`/`open` read from. */
export type Source = Uint8Array | ArrayBuffer | Blob | ByteSource;

/**
 * Safety limits, passed down whole to every format (each has a safe default there): the pickle
 * limits (every pickle of every format), the zip reader's, and the legacy/tar storage count.
 */
export interface Limits extends PickleLimits {
  /** Zip: largest inflated size of one deflated record (`ZipReaderOptions`). */
  readonly maxInflatedSize?: number;
  /** Zip: largest uncompressed/compressed ratio of a deflated record. */
  readonly maxCompressionRatio?: number;
  /** Zip: largest number of central-directory entries. */
  readonly maxEntries?: number;
  /** Zip: largest central directory, in bytes. */
  readonly maxCentralDirectorySize?: number;
  /** Legacy and tar files: largest number of distinct storages (default 1 000 000). */
  readonly maxStorages?: number;
}

/** Options of `load`, `loadSync` and `open`. */
export interface LoadOptions {
  /** Read storages on first access (default `false` for `load`, `true` for `open`). */
  readonly lazy?: boolean;
  /**
   * Default `true`: torch's `weights_only` allowlist (tensors, storages, dtypes, `OrderedDict`, …);
   * any other global is refused with an {@link UnsafeGlobalError} naming every offending
   * `module.name` and its offset. `false` behaves as `unsafe: "opaque"`.
   */
  readonly weightsOnly?: boolean;
  /** More globals to accept (like `torch.serialization.add_safe_globals`): `"module.name"` or `[module, name]`. Loaded as inert placeholders unless a real implementation is known (nn modules). */
  readonly allowGlobals?: Iterable<string | readonly [module: string, name: string]>;
  /**
   * `"opaque"`: load unknown classes as inert `PyObject` placeholders and whole `nn.Module`s as
   * modules (`@pt/nn-module`). Nothing is ever executed; dangerous globals (`os.system`,
   * `builtins.eval`, …) are refused whatever the options.
   */
  readonly unsafe?: "opaque";
  /** With `unsafe: "opaque"`: `"revive"` (default) turns pickled modules into `@pt/nn-module` modules; `"opaque"` leaves them as `PyObject`s. */
  readonly modules?: "revive" | "opaque";
  /** Check zip CRC-32s (default `true`). */
  readonly checkCrc?: boolean;
  /** CRC-32 implementation (default: the portable one; `loadFile`/`openFile` use Node's `zlib.crc32`). */
  readonly crc32?: Crc32Function;
  /** TorchScript archives: `"refuse"` (default) or `"tensors"` (load `data.pkl`'s tensors; code is never run). */
  readonly torchscript?: "refuse" | "tensors";
  /** Device string given to every storage of every format (torch's `map_location` as a string). Default: as saved. */
  readonly mapLocation?: string;
  /** Limits against hostile files (pickle, zip, legacy), passed down whole to every format. */
  readonly limits?: Limits;
  /**
   * Zip records torch does not read (anything but `data.pkl`, or TorchScript's pickles) that hold
   * pickles: `"refuse"` (default) refuses the file when one holds a global `scan` flags (a
   * dangerous one), as `scan` does; `"ignore"` does not look at them (torch never unpickles them).
   */
  readonly unreadRecords?: "refuse" | "ignore";
}

/** One record of a zip checkpoint, as listed by `open`. */
export interface CheckpointRecord {
  readonly name: string;
  /** Uncompressed size. */
  readonly size: number;
  readonly compressedSize: number;
  /** 0 stored, 8 deflated. */
  readonly method: number;
}

/** An opened checkpoint (`open`/`openFile`): the value with (by default lazy) storages. */
export interface Checkpoint {
  readonly format: Format;
  /** The unpickled object; tensors are `@pt/tensor` Tensors over `storages`. */
  readonly value: unknown;
  /** Zip records under the archive prefix (zip and TorchScript archives). */
  readonly records?: readonly CheckpointRecord[];
  /** Zip details (version, byteorder, serialization id, …). */
  readonly zip?: ZipFormatInfo;
  /** A `torch.export` archive (format `"pt2"`): its models, weights and constants (`loadPt2`). */
  readonly pt2?: Pt2Archive;
  /** Every storage, in order of first use (zip: by key `"0"`, `"1"`, …). */
  readonly storages: readonly Storage[];
  /** The key each storage has in the file (`data/<key>` in zip files; the legacy or tar key). */
  readonly storageKeys: ReadonlyMap<Storage, string>;
  /** Release the source (file handles). Lazy storages that were not loaded can no longer be read. */
  close(): Promise<void>;
}

interface Resolved {
  readonly registry: GlobalRegistry;
  readonly opaque: boolean;
  readonly revive: boolean;
}

/** Storage → key, from a format's key → storage map. */
function keysOf(byKey: ReadonlyMap<string, Storage>): Map<Storage, string> {
  const keys = new Map<Storage, string>();
  byKey.forEach((s, key) => {
    if (!keys.has(s)) keys.set(s, key);
  });
  return keys;
}

/**
 * The checkpoint `base` with `storages`, `storageKeys` and (zip) `records` made on first use:
 * `load()` returns only the value, and a file of 50,000 tensors would otherwise build three
 * 50,000-entry lists nobody reads.
 */
function withLazyLists(
  base: Omit<Checkpoint, "storages" | "storageKeys" | "records">,
  byKey: ReadonlyMap<string, Storage>,
  records: (() => CheckpointRecord[]) | null,
): Checkpoint {
  const cp = base as Checkpoint;
  const lazy = (name: string, make: () => unknown) => {
    Object.defineProperty(cp, name, {
      enumerable: true,
      configurable: true,
      get() {
        const v = make();
        Object.defineProperty(cp, name, { value: v, enumerable: true, writable: false, configurable: false });
        return v;
      },
    });
  };
  lazy("storages", () => [...byKey.values()]);
  lazy("storageKeys", () => keysOf(byKey));
  if (records !== null) lazy("records", records);
  return cp;
}

function resolvePolicy(options: LoadOptions): Resolved {
  if (options.unsafe !== undefined && options.unsafe !== "opaque")
    throw new SerializationError(
      "InvalidOption",
      `unknown unsafe mode ${JSON.stringify(options.unsafe)} (only "opaque")`,
    );
  const opaque = options.unsafe === "opaque" || options.weightsOnly === false;
  const nn = nnGlobals();
  if (!opaque)
    return { registry: weightsOnlyRegistry(options.allowGlobals ?? [], nn), opaque, revive: false };
  // typed values torch's weights_only refuses (memory formats) are read only here, never by default
  const registry = (
    options.modules === "opaque"
      ? weightsOnlyRegistry(options.allowGlobals ?? [])
      : weightsOnlyRegistry(options.allowGlobals ?? [], nn).merge(nn)
  ).merge(memoryFormatGlobals());
  return { registry, opaque, revive: options.modules !== "opaque" };
}

function toByteSource(source: Source): ByteSource {
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) return new BufferSource(source);
  if (typeof Blob !== "undefined" && source instanceof Blob) return new BlobSource(source);
  const s = source as ByteSource;
  if (s && typeof s.byteLength === "number" && typeof s.read === "function") return s;
  throw new SerializationError(
    "InvalidSource",
    "source must be a Uint8Array, ArrayBuffer, Blob or ByteSource ({ byteLength, read(offset, length) })",
  );
}

/**
 * The zip layer's options: `limits` passed down whole (the reader takes its own fields from it
 * flat, the unpickler its pickle limits), every other option as given.
 */
function zipOptions(options: LoadOptions, policy: Resolved, lazy: boolean): ZipLoadOptions {
  return {
    ...readerOptions(options),
    lazy,
    globals: policy.registry,
    policy: policy.opaque ? "opaque" : "reject",
    limits: options.limits,
    torchscript: options.torchscript,
    mapLocation: options.mapLocation,
  };
}

function readerOptions(options: LoadOptions): ZipReaderOptions {
  return { ...options.limits, checkCrc: options.checkCrc, crc32: options.crc32 };
}

/**
 * A source that refuses to read once the data changed underneath (its `fingerprint`, e.g. a
 * file's size and mtime, differs from the one at open): lazy storages never mix old and new bytes.
 */
async function changeDetecting(src: ByteSource): Promise<ByteSource> {
  const fp = src.fingerprint?.bind(src);
  if (!fp) return src;
  const initial = await fp();
  const check = (now: string, offset: number) => {
    if (now !== initial)
      throw new SerializationError(
        "SourceChanged",
        `the source changed after it was opened (fingerprint ${initial} → ${now}): refusing to read ${offset === -1 ? "" : `at offset ${offset} `}lazily`,
        offset === -1 ? {} : { offset },
      );
  };
  const out: { -readonly [K in keyof ByteSource]: ByteSource[K] } = {
    byteLength: src.byteLength,
    read: async (offset, length) => {
      check(await fp(), offset);
      return src.read(offset, length);
    },
    fingerprint: fp,
  };
  const rs = src.readSync?.bind(src);
  if (rs)
    out.readSync = (offset, length) => {
      const now = fp();
      if (typeof now !== "string") return rs(offset, length); // an async fingerprint is checked by read()
      check(now, offset);
      return rs(offset, length);
    };
  const stream = src.readChunks?.bind(src);
  if (stream)
    out.readChunks = async (offset, length, chunkSize, visit) => {
      check(await fp(), offset);
      return stream(offset, length, chunkSize, visit);
    };
  if (src.close) out.close = src.close.bind(src);
  return out;
}

/**
 * A malformed or mis-framed pickle: the pickle layer's error as is, or wrapped once by the format
 * layer that read it (its `cause`: zip's `DataPklInvalid`, legacy's `Pickle`/`Truncated`).
 */
function malformedPickle(e: unknown): boolean {
  return e instanceof PickleError || (e instanceof Error && e.cause instanceof PickleError);
}

/** Every global the policy refuses, from the one scanner (first occurrence of each name). */
export function refusedBy(result: ScanResult): (RefusedGlobal & { readonly record: string })[] {
  const seen = new Set<string>();
  const out: (RefusedGlobal & { readonly record: string })[] = [];
  for (const g of result.globals) {
    if (!g.flagged || seen.has(g.global)) continue;
    seen.add(g.global);
    // a section torch does not read, one our reader refuses (read leniently), a mis-framed or
    // malformed pickle: say so
    const problems = result.problems.filter((p) => p.section === g.section).map((p) => p.message);
    const notes = [g.loaded ? null : g.role, ...problems].filter((n) => n !== null);
    out.push({
      module: g.module ?? "",
      name: g.name ?? g.global,
      offset: g.offset,
      opcode: g.opcode,
      record: g.section,
      dangerous: g.verdict === "dangerous",
      ...(notes.length ? { note: notes.join(": ") } : {}),
    });
  }
  return out;
}

function scanOptionsOf(policy: Resolved): ScanPolicyOptions {
  return policy.opaque ? { registry: policy.registry, unsafe: "opaque" } : { registry: policy.registry };
}

/**
 * After a zip file loaded: its records torch does not read that hold pickles (`zipSections`, the
 * scan's own list, without the records torch read) are judged as `scan` judges them, so a
 * dangerous global hidden in one refuses the file exactly when `scan` flags it. Cheap: storage
 * records (`data/<number>`) are not tried, other stored records only when their first or last
 * byte could be a pickle's. Needs `readSync`
 * (async sources are not read whole; `scan` says so in `notTried`). `unreadRecords: "ignore"`
 * skips it.
 */
function refuseUnreadPickles(reader: ZipReader, policy: Resolved, options: LoadOptions): void {
  if (options.unreadRecords === "ignore" || !reader.source.readSync) return;
  const sections = zipSections(reader, { others: true, torchRecords: false });
  if (sections.length === 0) return;
  const result = scanSections({ format: "zip", unsupported: null, sections }, scanOptionsOf(policy));
  const refused = refusedBy(result);
  if (refused.length > 0) throw new UnsafeGlobalError(refused, policy.opaque ? "opaque" : "weightsOnly");
}

/**
 * Turn a failed load into the scanner's verdict: when the pickle layer refused a global, or the
 * file could not be loaded at all (unknown format, no data.pkl…) and the scanner finds globals the
 * policy refuses, an {@link UnsafeGlobalError} listing every one of them (so `load` and `scan`
 * agree). A malformed or mis-framed pickle, or a TorchScript archive, keeps its own error unless
 * the scanner finds a dangerous global: then the refusal names every flagged global, the
 * pickle's problem (its offsets) noted beside the globals of its section, the error as `cause`.
 */
function explainRefusal(e: unknown, files: () => FileSections | null, policy: Resolved): never {
  // the pickle layer's refusal reaches here as is: no format layer wraps it (ARCHITECTURE.md, "Errors")
  const unsafe = e instanceof PickleUnsafeGlobalError ? e : null;
  const ownError = !unsafe && (malformedPickle(e) || e instanceof TorchScriptArchiveError);
  let sections: FileSections | null = null;
  try {
    sections = files();
  } catch {
    sections = null;
  }
  const refused = sections ? refusedBy(scanSections(sections, scanOptionsOf(policy))) : [];
  if (ownError && !refused.some((g) => g.dangerous)) throw e;
  for (const g of unsafe?.globals ?? []) {
    if (refused.some((r) => r.module === g.module && r.name === g.name)) continue;
    refused.push({ ...g, record: g.record ?? sections?.sections.find((s) => s.loaded)?.name ?? "data.pkl" });
  }
  if (refused.length === 0) throw e;
  throw new UnsafeGlobalError(refused, policy.opaque ? "opaque" : "weightsOnly", e);
}

/** The sections of a source, fetched on demand when it is async (the error path only). */
async function sectionsOf(src: ByteSource): Promise<() => FileSections | null> {
  try {
    const files = await fetchPickleSections(src);
    return () => files;
  } catch {
    return () => null;
  }
}

function finish(value: unknown, policy: Resolved): unknown {
  return policy.revive ? reviveModules(value) : value;
}

/** The legacy and tar readers' options: `limits` (pickle limits and `maxStorages`) passed down whole. */
function legacyOptions(
  options: LoadOptions,
  policy: Resolved,
  lazy: boolean,
): LegacyLoadOptions & TarLoadOptions {
  return {
    globals: policy.registry,
    policy: policy.opaque ? "opaque" : "reject",
    limits: options.limits,
    mapLocation: options.mapLocation,
    lazy,
  };
}

/** What the loader found, before the policy's finishing step. */
interface Opened {
  readonly format: Format;
  readonly value: unknown;
  /** Zip and TorchScript archives. */
  readonly zip?: ZipLoadResult;
  readonly byKey: ReadonlyMap<string, Storage>;
  /** Storages still to read (eager loads from sources read in pieces); zip: read through `loadZipStorages`. */
  readonly deferred: readonly Storage[];
  /** A torch.export archive, left to `loadPt2` (`open` only). */
  readonly pt2?: ZipReader;
}

/** A zip or TorchScript archive's part of {@link openOp}. */
function* zipOpened(reader: ZipReader, options: LoadOptions, policy: Resolved, lazy: boolean): Op<Opened> {
  const { result, deferred } = yield* loadZipOp(reader, zipOptions(options, policy, lazy));
  return {
    format: result.format.torchscript ? "torchscript" : "zip",
    value: result.value,
    zip: result,
    byKey: result.storages,
    deferred,
  };
}

/**
 * The loader, written once: detect the format and load it, as one parser (`@pt/storage`'s `Op`,
 * composed of the formats' own parsers) that `load`/`open` drive asynchronously and `loadSync`
 * synchronously. Failures are the formats' errors; the drivers turn refusals into
 * {@link UnsafeGlobalError}s (`explainRefusal`).
 */
function* openOp(
  src: ByteSource,
  options: LoadOptions,
  policy: Resolved,
  lazy: boolean,
  pt2 = false,
): Op<Opened> {
  const head = yield* readBytes(0, Math.min(512, src.byteLength));
  const format = detectFormat(head);
  if (format === "zip") {
    const reader = yield* ZipReader.openOp(src, readerOptions(options));
    // perhaps a torch.export archive (.pt2): `open` decides (isPt2Archive) and reads it with loadPt2
    if (pt2 && reader.has("archive_format"))
      return { format: "zip", value: undefined, byKey: new Map(), deferred: [], pt2: reader };
    return yield* zipOpened(reader, options, policy, lazy);
  }
  if (format === "legacy" || format === "tar") {
    const lo = legacyOptions(options, policy, lazy);
    const r = format === "tar" ? yield* loadTarOp(src, lo) : yield* loadLegacyOp(src, lo);
    // legacy storages are lazy until loaded; a tar file's are read with their member
    const deferred =
      format === "legacy" && !lazy ? (r as LegacyLoadResult).records.map((x) => x.storage) : [];
    return { format, value: r.value, byKey: r.storages, deferred };
  }
  throw new SerializationError(
    "UnknownFormat",
    `not a torch checkpoint: the first ${head.length} bytes are neither a zip archive (PK\\x03\\x04), a legacy torch pickle (magic number 0x1950a86a20f9469cfc6c) nor a tar file`,
    { offset: 0 },
  );
}

/** A failed read outside the formats' parsers (the first bytes): a source's own error as is. */
function readFailure(p: ReadProblem): Error {
  return p.kind === "failed" && p.cause instanceof Error ? p.cause : storageReadFailure(p);
}

async function openInternal(source: Source, options: LoadOptions, lazyDefault: boolean): Promise<Checkpoint> {
  const lazy = options.lazy ?? lazyDefault;
  const raw = toByteSource(source);
  const src = lazy ? await changeDetecting(raw) : raw;
  const policy = resolvePolicy(options);
  let opened: Opened;
  let pt2: ZipReader | null = null;
  try {
    opened = await runAsync(openOp(src, options, policy, lazy, true), src, readFailure);
    if (opened.pt2) {
      if (await isPt2Archive(opened.pt2)) pt2 = opened.pt2;
      else opened = await runAsync(zipOpened(opened.pt2, options, policy, lazy), src, readFailure);
    }
    if (pt2) return openPt2(pt2, src);
    if (opened.zip) await loadZipStorages(opened.deferred);
    else await Promise.all(opened.deferred.map((s) => s.load()));
  } catch (e) {
    explainRefusal(e, await sectionsOf(src), policy);
  }
  const zip = opened.zip;
  if (zip) refuseUnreadPickles(zip.reader, policy, options);
  return withLazyLists(
    {
      format: opened.format,
      value: finish(opened.value, policy),
      ...(zip ? { zip: zip.format } : {}),
      close: async () => {
        await src.close?.();
      },
    },
    opened.byKey,
    zip
      ? () =>
          [...zip.reader.records.values()].map((e) => ({
            name: e.name,
            size: e.uncompressedSize,
            compressedSize: e.compressedSize,
            method: e.method,
          }))
      : null,
  );
}

/**
 * A `torch.export` archive (`.pt2`): its weights then its constants by name (a `Map`, in the
 * configs' order), read from their records; the exported program is never run nor interpreted, so
 * every policy reads it. An entry we cannot read (a `torch.save`d tensor subclass, an unknown dtype
 * or layout, a non-tensor constant) refuses the archive by name, with `loadPt2`'s reason.
 */
async function openPt2(reader: ZipReader, src: ByteSource): Promise<Checkpoint> {
  const a = await loadPt2(reader);
  const value = new Map<string, unknown>();
  const byKey = new Map<string, Storage>();
  for (const t of [...a.weights, ...a.constants]) {
    if (t.tensor === null)
      throw new SerializationError(
        "FormatUnsupported",
        `torch.export archive: ${t.kind} ${JSON.stringify(t.name)} of model ${t.model} (${t.record}) cannot be read: ${t.problem ?? "unknown reason"}`,
      );
    value.set(value.has(t.name) ? `${t.model}.${t.name}` : t.name, t.tensor);
    if (!byKey.has(t.record)) byKey.set(t.record, t.tensor.storage);
  }
  return withLazyLists(
    {
      format: "pt2",
      value,
      pt2: a,
      close: async () => {
        await src.close?.();
      },
    },
    byKey,
    () =>
      [...reader.records.values()].map((e) => ({
        name: e.name,
        size: e.uncompressedSize,
        compressedSize: e.compressedSize,
        method: e.method,
      })),
  );
}

/**
 * Load a checkpoint (`torch.load`): detects zip, legacy and tar files by their first bytes and
 * dispatches. Safe by default (torch's `weights_only` allowlist); nothing is ever executed.
 */
export async function load(source: Source, options: LoadOptions = {}): Promise<unknown> {
  return (await openInternal(source, options, false)).value;
}

/**
 * Open a checkpoint for listing or partial reading: by default storages are lazy, so only the
 * central directory and `data.pkl` are read until a storage's bytes are needed.
 */
export function open(source: Source, options: LoadOptions = {}): Promise<Checkpoint> {
  return openInternal(source, options, true);
}

/**
 * Synchronous {@link load}: the source must be bytes or a ByteSource with `readSync` (Node's
 * `FileSource`). Zip files only (and legacy files when `@pt/legacy-format` loads synchronously).
 */
export function loadSync(source: Uint8Array | ArrayBuffer | ByteSource, options: LoadOptions = {}): unknown {
  const src = toByteSource(source);
  if (!src.readSync) throw new SerializationError("InvalidSource", "loadSync needs a source with readSync");
  const policy = resolvePolicy(options);
  let opened: Opened;
  try {
    opened = runSync(openOp(src, options, policy, options.lazy ?? false), src, readFailure);
    if (opened.zip) loadZipStoragesSync(opened.deferred);
    else for (const s of opened.deferred) s.loadSync();
  } catch (e) {
    explainRefusal(e, () => pickleSections(src), policy);
  }
  if (opened.zip) refuseUnreadPickles(opened.zip.reader, policy, options);
  return finish(opened.value, policy);
}

/**
 * Scan a checkpoint's pickles without loading anything (like torch's
 * `get_unsafe_globals_in_checkpoint`, and picklescan): every global of every pickle of the file
 * (every pickle torch or TorchScript reads, other pickles in zip records, all pickles of a plain
 * pickle file, NumPy object arrays), with offset, opcode, uses and verdict under the default
 * `weights_only` policy (or the one given). `load` with the same policy refuses a file exactly
 * when `scan` says it is not safe because of its globals.
 */
export async function scan(source: Source, options: ScanPolicyOptions = {}): Promise<ScanResult> {
  return scanSource(toByteSource(source), options);
}
