/**
 * Reading a `torch.distributed.checkpoint` (DCP) directory: `.metadata` plus `__R_S.distcp` files,
 * each item a `torch.save`d tensor chunk (or object) at a byte range of one file. Tensors are
 * assembled from their chunks lazily: a tensor's storage reads, for each chunk, only the span of
 * the chunk's data record that the requested bytes need.
 */
import { BlobSource, BufferSource, type ByteSource, checkRead, type DType, Storage } from "@pt/storage";
import { Tensor } from "@pt/tensor";
import {
  type Crc32Function,
  loadZip,
  loadZipSync,
  crc32 as portableCrc32,
  type ZipLoadResult,
  ZipReader,
} from "@pt/zip-format";
import { SerializationError } from "../errors.js";
import { type LoadOptions, load } from "../load.js";
import { weightsOnlyRegistry } from "../policy.js";
import { settleAll } from "../settle.js";
import { type DcpChunk, type DcpEntry, type DcpMetadata, parseDcpMetadata } from "./metadata.js";

/**
 * A folder of files, read by name: what a DCP directory (or a sharded checkpoint's folder) is
 * opened from. `@pt/serialization/node` has one over a local folder; remote ones implement the same.
 */
export interface FileTree {
  /** A ByteSource over the file `name` (a plain file name, or a relative path for sharded indexes). */
  open(name: string): Promise<ByteSource>;
  /** Whether `name` exists. */
  exists?(name: string): Promise<boolean>;
  /**
   * Synchronous `open`, where the tree can (local folders): with it, and sources with `readSync`,
   * DCP tensors can be read synchronously, and data files are opened only when first read.
   */
  openSync?(name: string): ByteSource;
  /** A short description for messages (the folder's path). */
  readonly label?: string;
}

/**
 * A {@link FileTree} over files already at hand (a browser's `<input webkitdirectory>` FileList,
 * `File`s, `Blob`s or bytes), by name: `webkitRelativePath`'s folder part is dropped.
 */
export function blobTree(
  files: Iterable<File | { readonly name: string; readonly data: Blob | Uint8Array }>,
): FileTree {
  const byName = new Map<string, Blob | Uint8Array>();
  for (const f of files) {
    if ("data" in f) byName.set(f.name, f.data);
    else byName.set(f.name, f);
  }
  return {
    label: "files",
    open: async (name) => {
      const b = byName.get(name);
      if (b === undefined)
        throw new SerializationError(
          "InvalidSource",
          `no file ${JSON.stringify(name)} among the given files`,
          {
            record: name,
          },
        );
      return b instanceof Uint8Array ? new BufferSource(b) : new BlobSource(b);
    },
    exists: async (name) => byName.has(name),
  };
}

/** A ByteSource over `[offset, offset + length)` of another one. */
export class SliceSource implements ByteSource {
  readSync?: (offset: number, length: number) => Uint8Array;
  constructor(
    private readonly src: ByteSource,
    private readonly offset: number,
    readonly byteLength: number,
  ) {
    if (offset + byteLength > src.byteLength)
      throw new SerializationError(
        "InvalidSource",
        `a range of ${byteLength} bytes at offset ${offset} runs past the end of the ${src.byteLength}-byte file`,
        { offset },
      );
    const rs = src.readSync?.bind(src);
    if (rs) this.readSync = (o, n) => rs(this.offset + this.check(o, n), n);
  }
  private check(o: number, n: number): number {
    checkRead(o, n, this.byteLength, "slice");
    return o;
  }
  read(o: number, n: number): Promise<Uint8Array> {
    try {
      return this.src.read(this.offset + this.check(o, n), n);
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

/** Where a chunk's elements are: contiguous little-endian bytes in a file, or already in memory. */
type ChunkData =
  | {
      readonly kind: "file";
      readonly file: ByteSource;
      readonly offset: number;
      /** The data record's CRC-32 when the record is exactly the chunk's elements (checked on whole reads). */
      readonly crc: number | null;
    }
  | { readonly kind: "memory"; readonly bytes: Uint8Array };

function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

function chunkError(fqn: string, c: DcpChunk, what: string, cause?: unknown): SerializationError {
  return new SerializationError(
    "FormatUnsupported",
    `dcp: ${fqn} chunk at offsets [${c.offsets.join(", ")}] (${c.storage.relativePath} bytes ${c.storage.offset}+${c.storage.length}): ${what}`,
    { record: c.storage.relativePath, offset: c.storage.offset, ...(cause === undefined ? {} : { cause }) },
  );
}

/**
 * The bytes of one global DCP tensor (row-major, contiguous), assembled from its chunks on demand:
 * `read(offset, length)` reads from each chunk only the span of its data the range needs.
 */
class AssembledSource implements ByteSource {
  readonly byteLength: number;
  private readonly data: Array<ChunkData | null>;
  private readonly pending: Array<Promise<ChunkData> | null>;
  private readonly globalStrides: number[];
  readSync?: (offset: number, length: number) => Uint8Array;

  constructor(
    private readonly entry: DcpEntry & { kind: "tensor" },
    private readonly files: DcpFiles,
    syncFiles: boolean,
    private readonly crc: Crc32Function | null,
  ) {
    this.byteLength = numelOf(entry.shape) * entry.dtype.itemSize;
    this.data = entry.chunks.map(() => null);
    this.pending = entry.chunks.map(() => null);
    const st: number[] = [];
    let acc = 1;
    for (let d = entry.shape.length - 1; d >= 0; d--) {
      st[d] = acc;
      acc *= entry.shape[d] as number;
    }
    this.globalStrides = st;
    if (syncFiles) this.readSync = (o, n) => this.assembleSync(o, n);
  }

  private chunkDataSync(i: number): ChunkData {
    const have = this.data[i];
    if (have) return have;
    const c = this.entry.chunks[i] as DcpChunk;
    const file = this.files.openSync(c.storage.relativePath);
    const d = resolveChunkSync(this.entry, c, file);
    this.data[i] = d;
    return d;
  }

  private chunkData(i: number): Promise<ChunkData> {
    const have = this.data[i];
    if (have) return Promise.resolve(have);
    let p = this.pending[i];
    if (!p) {
      const c = this.entry.chunks[i] as DcpChunk;
      p = (async () => {
        const file = await this.files.open(c.storage.relativePath);
        const d = await resolveChunk(this.entry, c, file);
        this.data[i] = d;
        return d;
      })();
      this.pending[i] = p;
      p.catch(() => {
        this.pending[i] = null;
      });
    }
    return p;
  }

  /** The runs of chunk `c` (each contiguous in the global tensor and in the chunk) overlapping elements `[e0, e1)`. */
  private runs(c: DcpChunk, e0: number, e1: number, visit: (g: number, l: number, n: number) => void): void {
    const shape = this.entry.shape;
    const nd = shape.length;
    if (nd === 0) {
      if (e0 < 1 && e1 > 0) visit(0, 0, 1);
      return;
    }
    // merge trailing dimensions the chunk covers fully into one run
    let k = nd - 1;
    while (k > 0 && c.offsets[k] === 0 && c.sizes[k] === shape[k]) k--;
    let runLen = 1;
    for (let d = k; d < nd; d++) runLen *= c.sizes[d] as number;
    if (runLen === 0 || c.sizes.some((n) => n === 0)) return;
    const idx = new Array<number>(k).fill(0);
    let local = 0;
    for (;;) {
      let g = (c.offsets[k] as number) * (this.globalStrides[k] as number);
      for (let d = 0; d < k; d++)
        g += ((c.offsets[d] as number) + (idx[d] as number)) * (this.globalStrides[d] as number);
      if (g < e1 && g + runLen > e0) visit(g, local, runLen);
      local += runLen;
      let d = k - 1;
      while (d >= 0) {
        idx[d] = (idx[d] as number) + 1;
        if ((idx[d] as number) < (c.sizes[d] as number)) break;
        idx[d] = 0;
        d--;
      }
      if (d < 0) break;
    }
  }

  /** The local element span `[lo, hi)` chunk `i` must supply for elements `[e0, e1)`, or null. */
  private span(i: number, e0: number, e1: number): [number, number] | null {
    let lo = Number.POSITIVE_INFINITY;
    let hi = -1;
    this.runs(this.entry.chunks[i] as DcpChunk, e0, e1, (g, l, n) => {
      const a = Math.max(e0, g);
      const b = Math.min(e1, g + n);
      lo = Math.min(lo, l + (a - g));
      hi = Math.max(hi, l + (b - g));
    });
    return hi < 0 ? null : [lo, hi];
  }

  /** Check a whole chunk's bytes against its record's CRC-32 (partial reads cannot be checked). */
  private verify(i: number, d: ChunkData, sp: [number, number], bytes: Uint8Array): void {
    if (d.kind !== "file" || d.crc === null || this.crc === null) return;
    const c = this.entry.chunks[i] as DcpChunk;
    if (sp[0] !== 0 || sp[1] !== numelOf(c.sizes)) return;
    const got = this.crc(bytes) >>> 0;
    if (got !== d.crc >>> 0)
      throw chunkError(
        this.entry.fqn,
        c,
        `CRC-32 mismatch in its data record: stored ${d.crc.toString(16).padStart(8, "0")}, computed ${got.toString(16).padStart(8, "0")}`,
      );
  }

  private scatter(out: Uint8Array, i: number, e0: number, e1: number, lo: number, bytes: Uint8Array): void {
    const size = this.entry.dtype.itemSize;
    this.runs(this.entry.chunks[i] as DcpChunk, e0, e1, (g, l, n) => {
      const a = Math.max(e0, g);
      const b = Math.min(e1, g + n);
      const from = (l + (a - g) - lo) * size;
      out.set(bytes.subarray(from, from + (b - a) * size), (a - e0) * size);
    });
  }

  private range(offset: number, length: number): [number, number] {
    checkRead(offset, length, this.byteLength, "tensor");
    const size = this.entry.dtype.itemSize;
    return [Math.floor(offset / size), Math.ceil((offset + length) / size)];
  }

  private assembleSync(offset: number, length: number): Uint8Array {
    const [e0, e1] = this.range(offset, length);
    const size = this.entry.dtype.itemSize;
    const out = new Uint8Array((e1 - e0) * size);
    for (let i = 0; i < this.entry.chunks.length; i++) {
      const sp = this.span(i, e0, e1);
      if (!sp) continue;
      const d = this.chunkDataSync(i);
      const bytes =
        d.kind === "memory"
          ? d.bytes.subarray(sp[0] * size, sp[1] * size)
          : (d.file.readSync as (o: number, n: number) => Uint8Array)(
              d.offset + sp[0] * size,
              (sp[1] - sp[0]) * size,
            );
      this.verify(i, d, sp, bytes);
      this.scatter(out, i, e0, e1, sp[0], bytes);
    }
    return out.subarray(offset - e0 * size, offset - e0 * size + length);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    const [e0, e1] = this.range(offset, length);
    const size = this.entry.dtype.itemSize;
    const out = new Uint8Array((e1 - e0) * size);
    const jobs: Array<Promise<void>> = [];
    for (let i = 0; i < this.entry.chunks.length; i++) {
      const sp = this.span(i, e0, e1);
      if (!sp) continue;
      jobs.push(
        (async () => {
          const d = await this.chunkData(i);
          const bytes =
            d.kind === "memory"
              ? d.bytes.subarray(sp[0] * size, sp[1] * size)
              : await d.file.read(d.offset + sp[0] * size, (sp[1] - sp[0]) * size);
          this.verify(i, d, sp, bytes);
          this.scatter(out, i, e0, e1, sp[0], bytes);
        })(),
      );
    }
    await Promise.all(jobs);
    return out.subarray(offset - e0 * size, offset - e0 * size + length);
  }
}

const CHUNK_LOAD = { lazy: true, policy: "reject" as const };

/** The tensor of a chunk's `torch.save` bytes, checked against the metadata. */
function chunkTensor(entry: DcpEntry & { kind: "tensor" }, c: DcpChunk, value: unknown): Tensor {
  if (!(value instanceof Tensor)) throw chunkError(entry.fqn, c, "the saved object is not a tensor");
  if (value.dtype !== entry.dtype)
    throw chunkError(entry.fqn, c, `saved as ${value.dtype.name}, the metadata says ${entry.dtype.name}`);
  if (value.shape.length !== c.sizes.length || value.shape.some((s, d) => s !== c.sizes[d]))
    throw chunkError(
      entry.fqn,
      c,
      `saved with shape [${value.shape.join(", ")}], the metadata says [${c.sizes.join(", ")}]`,
    );
  return value;
}

function checkTransforms(fqn: string, c: DcpChunk): void {
  if (c.storage.transforms.length > 0)
    throw chunkError(
      fqn,
      c,
      `stored through extensions ${c.storage.transforms.join(", ")}, which are not supported`,
    );
}

function storageKeyOf(storages: ReadonlyMap<string, Storage>, t: Tensor): string | null {
  const root = t.storage.base ?? t.storage;
  for (const [k, s] of storages) if (s === root) return k;
  return null;
}

/**
 * The record key of a chunk's tensor whose bytes can be read in place from the `.distcp` file
 * (contiguous, little-endian, stored uncompressed), else null.
 */
function inPlaceRecord(reader: ZipReader, r: ZipLoadResult, t: Tensor): string | null {
  const k = storageKeyOf(r.storages, t);
  return k !== null &&
    t.isContiguous() &&
    r.format.byteorder === "little" &&
    reader.records.get(`data/${k}`)?.method === 0
    ? k
    : null;
}

/** A chunk read in place: its tensor's first byte in the `.distcp` file (`recordOffset`: its record's data). */
function inPlaceChunk(
  entry: DcpEntry & { kind: "tensor" },
  c: DcpChunk,
  file: ByteSource,
  recordOffset: number,
  reader: ZipReader,
  k: string,
  t: Tensor,
): ChunkData {
  return {
    kind: "file",
    file,
    offset: c.storage.offset + recordOffset + t.storageOffset * entry.dtype.itemSize,
    crc: exactRecordCrc(reader, k, t),
  };
}

function chunkFailure(entry: DcpEntry & { kind: "tensor" }, c: DcpChunk, e: unknown): Error {
  if (e instanceof SerializationError) return e;
  return chunkError(entry.fqn, c, (e as Error).message, e);
}

async function resolveChunk(
  entry: DcpEntry & { kind: "tensor" },
  c: DcpChunk,
  file: ByteSource,
): Promise<ChunkData> {
  checkTransforms(entry.fqn, c);
  try {
    const reader = await ZipReader.open(new SliceSource(file, c.storage.offset, c.storage.length));
    const r = await loadZip(reader, { ...CHUNK_LOAD, globals: weightsOnlyRegistry() });
    const t = chunkTensor(entry, c, r.value);
    const k = inPlaceRecord(reader, r, t);
    if (k !== null)
      return inPlaceChunk(entry, c, file, (await reader.dataRange(`data/${k}`)).offset, reader, k, t);
    await t.load();
    return { kind: "memory", bytes: contiguousBytes(t) };
  } catch (e) {
    throw chunkFailure(entry, c, e);
  }
}

function resolveChunkSync(entry: DcpEntry & { kind: "tensor" }, c: DcpChunk, file: ByteSource): ChunkData {
  checkTransforms(entry.fqn, c);
  try {
    const reader = ZipReader.openSync(new SliceSource(file, c.storage.offset, c.storage.length));
    const r = loadZipSync(reader, { ...CHUNK_LOAD, globals: weightsOnlyRegistry() });
    const t = chunkTensor(entry, c, r.value);
    const k = inPlaceRecord(reader, r, t);
    if (k !== null)
      return inPlaceChunk(entry, c, file, reader.dataRangeSync(`data/${k}`).offset, reader, k, t);
    return { kind: "memory", bytes: contiguousBytes(t) };
  } catch (e) {
    throw chunkFailure(entry, c, e);
  }
}

/** The data record's CRC-32 when the record holds exactly the tensor's elements, else null. */
function exactRecordCrc(reader: ZipReader, key: string, t: Tensor): number | null {
  const e = reader.records.get(`data/${key}`);
  if (!e || t.storageOffset !== 0 || e.uncompressedSize !== t.numel * t.dtype.itemSize) return null;
  return e.crc32;
}

function contiguousBytes(t: Tensor): Uint8Array {
  const a = t.contiguous().data();
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** The files of a DCP directory, each opened once on first use. */
class DcpFiles {
  private readonly opened = new Map<string, ByteSource>();
  private readonly pending = new Map<string, Promise<ByteSource>>();
  constructor(private readonly tree: FileTree) {}
  open(name: string): Promise<ByteSource> {
    const have = this.opened.get(name);
    if (have) return Promise.resolve(have);
    let p = this.pending.get(name);
    if (!p) {
      p = this.tree.open(name).then(async (s) => {
        const raced = this.opened.get(name); // opened synchronously meanwhile
        if (raced) {
          await s.close?.();
          return raced;
        }
        this.opened.set(name, s);
        return s;
      });
      this.pending.set(name, p);
    }
    return p;
  }
  /** A file: already opened, or opened synchronously now (needs the tree's `openSync`). */
  openSync(name: string): ByteSource {
    const have = this.opened.get(name);
    if (have) return have;
    if (!this.tree.openSync)
      throw new SerializationError("InvalidSource", `dcp: ${name} cannot be opened synchronously`, {
        record: name,
      });
    const s = this.tree.openSync(name);
    this.opened.set(name, s);
    return s;
  }
  async close(): Promise<void> {
    for (const s of this.opened.values()) await s.close?.();
    this.opened.clear();
  }
}

/** An opened DCP checkpoint: the state dict `dcp_to_torch_save` would build, tensors lazy. */
export interface DcpCheckpoint {
  readonly format: "dcp";
  /**
   * The nested state dict (dicts as `Map`s, lists as arrays), rebuilt from `planner_data` as torch's
   * `_EmptyStateDictLoadPlanner` does; tensors are contiguous `Tensor`s over lazy storages that
   * assemble their chunks on first access, non-tensor items are loaded objects.
   */
  readonly value: unknown;
  /** The parsed `.metadata`. */
  readonly metadata: DcpMetadata;
  /** One storage per tensor item, in metadata order. */
  readonly storages: readonly Storage[];
  /** Storage → the item's flattened name. */
  readonly storageKeys: ReadonlyMap<Storage, string>;
  /** The data files the metadata refers to. */
  readonly files: readonly string[];
  /**
   * The bytes of tensor item `fqn` (row-major, contiguous, little-endian) as a ByteSource: a read
   * fetches, from each chunk it overlaps, only the span it needs. Undefined for non-tensor items.
   */
  source(fqn: string): ByteSource | undefined;
  close(): Promise<void>;
}

/** torch's `set_element`: put `value` at `path` in `root`, creating dicts (str keys) and lists (int keys). */
function setElement(root: Map<unknown, unknown>, path: ReadonlyArray<string | number>, value: unknown): void {
  let cur: Map<unknown, unknown> | unknown[] = root;
  const extend = (l: unknown[], i: number) => {
    if (i > 1_000_000)
      throw new SerializationError("FormatUnsupported", `dcp: planner_data list index ${i} is too large`);
    while (l.length <= i) l.push(null);
  };
  for (let i = 1; i < path.length; i++) {
    const prev = path[i - 1] as string | number;
    const def = typeof path[i] === "string" ? new Map() : [];
    if (cur instanceof Map) {
      if (!cur.has(prev)) cur.set(prev, def);
      cur = cur.get(prev) as Map<unknown, unknown> | unknown[];
    } else {
      if (typeof prev !== "number")
        throw new SerializationError(
          "FormatUnsupported",
          `dcp: planner_data path ${JSON.stringify(path)} indexes a list with a key`,
        );
      extend(cur, prev);
      if (cur[prev] === null) cur[prev] = def;
      cur = cur[prev] as Map<unknown, unknown> | unknown[];
    }
    if (!(cur instanceof Map) && !Array.isArray(cur))
      throw new SerializationError(
        "FormatUnsupported",
        `dcp: planner_data path ${JSON.stringify(path)} runs through a value`,
      );
  }
  const last = path[path.length - 1] as string | number;
  if (cur instanceof Map) cur.set(last, value);
  else {
    if (typeof last !== "number")
      throw new SerializationError(
        "FormatUnsupported",
        `dcp: planner_data path ${JSON.stringify(path)} indexes a list with a key`,
      );
    extend(cur, last);
    cur[last] = value;
  }
}

/** Options of {@link openDcp}: the load options used for non-tensor items (`unsafe`, `allowGlobals`, limits…). */
export type DcpOpenOptions = LoadOptions;

/** Read a DCP directory's `.metadata` from `tree`. */
export async function readDcpMetadata(tree: FileTree): Promise<DcpMetadata> {
  const src = await tree.open(".metadata");
  try {
    return parseDcpMetadata(await src.read(0, src.byteLength));
  } finally {
    await src.close?.();
  }
}

/**
 * Open a DCP checkpoint directory. Reads `.metadata` and every non-tensor item (small `torch.save`d
 * objects, loaded with `options`' policy: safe by default); tensors stay lazy.
 */
export async function openDcp(tree: FileTree, options: DcpOpenOptions = {}): Promise<DcpCheckpoint> {
  const metadata = await readDcpMetadata(tree);
  const files = new DcpFiles(tree);
  const names = new Set<string>();
  for (const e of metadata.entries.values()) {
    if (e.kind === "bytes") names.add(e.storage.relativePath);
    else for (const c of e.chunks) names.add(c.storage.relativePath);
  }
  try {
    if (tree.exists)
      for (const n of names)
        if (!(await tree.exists(n)))
          throw new SerializationError(
            "InvalidSource",
            `dcp: the metadata refers to ${n}, which is not in ${tree.label ?? "the checkpoint folder"}`,
            { record: n },
          );
    // Synchronous reads need every data file at hand: a tree that opens files synchronously
    // (local folders) opens each on first read (one file tells whether its sources read
    // synchronously); any other tree's files are opened now.
    let sync: boolean;
    if (tree.openSync) {
      const first = names.values().next();
      sync = !first.done && typeof files.openSync(first.value).readSync === "function";
    } else {
      // opened in parallel, a few at a time (remote files cost a round trip each)
      const opened = await settleAll([...names], 8, (n) => files.open(n));
      sync = opened.every((s) => typeof s.readSync === "function");
    }
    const root = new Map<unknown, unknown>();
    const storages: Storage[] = [];
    const keys = new Map<Storage, string>();
    const sources = new Map<string, ByteSource>();
    for (const [fqn, e] of metadata.entries) {
      let v: unknown;
      if (e.kind === "tensor") {
        checkCoverage(e);
        const src = new AssembledSource(
          e,
          files,
          sync,
          options.checkCrc === false ? null : (options.crc32 ?? portableCrc32),
        );
        sources.set(fqn, src);
        const st = Storage.lazy(
          e.dtype,
          src,
          0,
          src.byteLength,
          options.mapLocation === undefined ? {} : { device: options.mapLocation },
        );
        storages.push(st);
        keys.set(st, fqn);
        v = new Tensor(st, 0, e.shape);
      } else v = await loadBytesItem(e, files, options);
      const path = metadata.plannerData?.get(fqn);
      if (path) setElement(root, path, v);
      else root.set(fqn, v);
    }
    return {
      format: "dcp",
      value: root,
      metadata,
      storages,
      storageKeys: keys,
      files: [...names],
      source: (fqn) => sources.get(fqn),
      close: () => files.close(),
    };
  } catch (e) {
    await files.close();
    throw e;
  }
}

/** Chunks must tile the tensor: as many elements as it has (torch leaves uncovered ones uninitialized). */
function checkCoverage(e: DcpEntry & { kind: "tensor" }): void {
  const total = numelOf(e.shape);
  let covered = 0;
  for (const c of e.chunks) covered += numelOf(c.sizes);
  if (covered !== total)
    throw new SerializationError(
      "FormatUnsupported",
      `dcp: the chunks of ${e.fqn} hold ${covered} elements, its shape [${e.shape.join(", ")}] ${total}`,
      { record: ".metadata" },
    );
}

async function loadBytesItem(
  e: DcpEntry & { kind: "bytes" },
  files: DcpFiles,
  options: LoadOptions,
): Promise<unknown> {
  const s = e.storage;
  if (s.transforms.length > 0)
    throw new SerializationError(
      "FormatUnsupported",
      `dcp: ${e.fqn} is stored through extensions ${s.transforms.join(", ")}, which are not supported`,
      { record: s.relativePath, offset: s.offset },
    );
  const file = await files.open(s.relativePath);
  const bytes = await new SliceSource(file, s.offset, s.length).read(0, s.length);
  try {
    return await load(bytes, { ...options, lazy: false });
  } catch (err) {
    throw new SerializationError(
      (err as { code?: string }).code === "UnsafeGlobal" ? "UnsafeGlobal" : "FormatUnsupported",
      `dcp: item ${e.fqn} (${s.relativePath} bytes ${s.offset}+${s.length}): ${(err as Error).message}`,
      { record: s.relativePath, offset: s.offset, cause: err },
    );
  }
}

export type { DType };
