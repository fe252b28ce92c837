/**
 * What the worker does: open checkpoints (lazily: only the directory and pickles are read), describe
 * them as plain data for the page, and compute per-tensor statistics, diffs and conversions by
 * streaming storage bytes in chunks. Nothing here touches the DOM; nothing from a file is executed.
 */

import { PyObject, PyOrderedDict } from "@pt/pickle";
import { writeSafetensors } from "@pt/safetensors";
import {
  type Checkpoint,
  displayChildren,
  isModuleLike,
  listing,
  open,
  saveTo,
  shortRepr,
} from "@pt/serialization";
import {
  BlobSource,
  type ByteSource,
  type DType,
  HttpSource,
  numberView,
  Storage,
  StorageRangeError,
} from "@pt/storage";
import { Parameter, QuantizedTensor, Tensor } from "@pt/tensor";
import { ZipReader } from "@pt/zip-format";
import type {
  DiffRow,
  Format,
  ListingJson,
  Stats,
  StorageInfo,
  Summary,
  TensorInfo,
  Totals,
  TreeNode,
} from "./protocol.js";
import { type SafetyReport, safetyReport } from "./safety.js";

/** How the page opens every file: nothing executed, user classes as inert placeholders. */
const LOAD_OPTIONS = { unsafe: "opaque", lazy: true, torchscript: "tensors" } as const;
/** Elements per streamed chunk. */
export const CHUNK = 1 << 22;
/** Largest piece of a converted file handed to its destination at a time. */
const CHUNK_BYTES = 8 << 20;
/** Children of one container shown in the tree (the rest are counted). */
const TREE_LIMIT = 2000;
const BINS = 64;
const GRID = 64;

export class Cancelled extends Error {
  constructor() {
    super("cancelled");
  }
}

interface Doc {
  readonly id: number;
  readonly name: string;
  readonly source: ByteSource;
  readonly cp: Checkpoint | null;
  readonly tensors: Tensor[];
  readonly infos: TensorInfo[];
  readonly storages: Storage[];
  zip: Promise<ZipReader> | null;
}

const docs = new Map<number, Doc>();
let nextDoc = 1;

/** A step of progress; throws {@link Cancelled} when the request was cancelled. */
export type Tick = (done: number, total: number, phase: string) => Promise<void>;

function rootOf(s: Storage): Storage {
  return s.base ?? s;
}

function describeValue(cp: Checkpoint): {
  tree: TreeNode;
  tensors: Tensor[];
  infos: TensorInfo[];
  storages: Storage[];
  storageInfos: StorageInfo[];
} {
  const tensors: Tensor[] = [];
  const infos: TensorInfo[] = [];
  const storages: Storage[] = [];
  const storageIndex = new Map<Storage, number>();
  const users = new Map<number, number[]>();
  /** Times each storage is saved as a value of its own. */
  const bare = new Map<number, number>();
  const keyOf = (s: Storage) =>
    cp.storageKeys.get(s) ?? (s.base ? cp.storageKeys.get(s.base) : undefined) ?? null;
  const storageOf = (s: Storage): number => {
    const r = rootOf(s);
    let i = storageIndex.get(r);
    if (i === undefined) {
      i = storages.length;
      storages.push(r);
      storageIndex.set(r, i);
      users.set(i, []);
    }
    return i;
  };
  const seen = new Map<object, string>();
  const node = (key: string, v: unknown, path: string): TreeNode => {
    if (typeof v === "object" && v !== null) {
      const prev = seen.get(v);
      if (prev !== undefined) return { key, label: `→ same object as ${prev}`, kind: "ref" };
      seen.set(v, path || "<root>");
    }
    if (v instanceof Tensor) {
      const t = v;
      const s = storageOf(t.storage);
      const item = t.dtype.itemSize;
      let span = 0;
      t.shape.forEach((n, d) => {
        span += (n - 1) * Math.abs(t.stride[d] ?? 0);
      });
      const index = tensors.length;
      tensors.push(t);
      (users.get(s) as number[]).push(index);
      infos.push({
        index,
        path: path || "<root>",
        cls: t instanceof Parameter ? "Parameter" : t instanceof QuantizedTensor ? "QTensor" : "Tensor",
        dtype: t.dtype.name,
        shape: [...t.shape],
        stride: [...t.stride],
        offset: t.storageOffset,
        numel: t.numel,
        requiresGrad: t.requiresGrad,
        contiguous: t.isContiguous(),
        storage: s,
        byteStart: t.storageOffset * item,
        byteEnd: t.numel === 0 ? t.storageOffset * item : (t.storageOffset + span + 1) * item,
      });
      return {
        key,
        label: `${infos[index]?.cls} ${t.dtype.name} [${t.shape.join(", ")}]`,
        kind: "tensor",
        tensor: index,
      };
    }
    if (v instanceof Storage) {
      const s = storageOf(v);
      bare.set(s, (bare.get(s) ?? 0) + 1);
      return { key, label: `Storage ${v.dtype.name}[${v.numel}] ${v.device}`, kind: "storage", storage: s };
    }
    const kids = displayChildren(v);
    const label = shortRepr(v);
    // an instance of a class outside the allowlist, kept as an inert placeholder (never run)
    const kind = isModuleLike(v) ? "module" : v instanceof PyObject ? "placeholder" : "container";
    if (!kids) return { key, label, kind: kind === "placeholder" ? "placeholder" : "leaf" };
    // every child is walked (its tensors are listed); the tree shows the first TREE_LIMIT
    const all = kids.map(([k, x]) => {
      const label = typeof k === "number" ? `[${k}]` : k;
      return node(label, x, path ? (typeof k === "number" ? `${path}${label}` : `${path}.${k}`) : label);
    });
    return {
      key,
      label,
      kind,
      children: all.length > TREE_LIMIT ? all.slice(0, TREE_LIMIT) : all,
      ...(all.length > TREE_LIMIT ? { more: all.length - TREE_LIMIT } : {}),
    };
  };
  const tree = node("", cp.value, "");
  const storageInfos = storages.map(
    (s, i): StorageInfo => ({
      index: i,
      key: keyOf(s),
      dtype: s.dtype.name,
      numel: s.numel,
      nbytes: s.nbytes,
      device: s.device,
      users: users.get(i) ?? [],
      bare: bare.get(i) ?? 0,
    }),
  );
  return { tree, tensors, infos, storages, storageInfos };
}

function totalsOf(infos: TensorInfo[], storages: StorageInfo[]): Totals {
  const byDtype: Totals["byDtype"] = {};
  const slot = (d: string) => {
    byDtype[d] ??= { tensors: 0, parameters: 0, bytes: 0 };
    return byDtype[d];
  };
  for (const t of infos) {
    const s = slot(t.dtype);
    s.tensors++;
    s.parameters += t.numel;
  }
  let bytes = 0;
  for (const s of storages) {
    bytes += s.nbytes;
    slot(storages[s.index]?.dtype ?? s.dtype).bytes += s.nbytes;
  }
  return {
    tensors: infos.length,
    parameters: infos.reduce((n, t) => n + t.numel, 0),
    bytes,
    storages: storages.length,
    shared: storages.filter((s) => s.users.length + s.bare > 1).length,
    byDtype,
  };
}

async function summarize(
  name: string,
  source: ByteSource,
  opening: Promise<Checkpoint>,
  extra: Partial<Summary>,
  given?: SafetyReport,
) {
  const t0 = performance.now();
  const id = nextDoc++;
  let cp: Checkpoint | null = null;
  let error: string | undefined;
  try {
    cp = await opening;
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  }
  const safety = given ?? (await safetyReport(source));
  const d = cp ? describeValue(cp) : null;
  const doc: Doc = {
    id,
    name,
    source,
    cp,
    tensors: d?.tensors ?? [],
    infos: d?.infos ?? [],
    storages: d?.storages ?? [],
    zip: null,
  };
  docs.set(id, doc);
  const details: string[] = [];
  const z = cp?.zip;
  if (z) {
    if (z.flavor)
      details.push(
        `torch ${z.flavor === "1.13" ? "1.6-2.0" : z.flavor === "2.1" ? "2.1-2.6" : "≥2.7"} layout`,
      );
    details.push(`version ${z.version}`, `${z.byteorder}-endian`);
  }
  const storageInfos = d?.storageInfos ?? [];
  const summary: Summary = {
    doc: id,
    name,
    size: source.byteLength,
    format: cp?.format ?? safety.format,
    details,
    ...(cp?.records ? { records: cp.records.map((r) => ({ name: r.name, size: r.size })) } : {}),
    ...(error !== undefined ? { error } : {}),
    tree: d?.tree ?? null,
    tensors: d?.infos ?? [],
    storages: storageInfos,
    totals: totalsOf(d?.infos ?? [], storageInfos),
    safety,
    openMs: performance.now() - t0,
    ...extra,
  };
  return summary;
}

/**
 * A Blob source that can also read synchronously, through the workers' `FileReaderSync`: some
 * tensors (quantized, sparse) need their storage's bytes while the pickle is read.
 */
class WorkerBlobSource extends BlobSource {
  readonly readSync?: (offset: number, length: number) => Uint8Array;
  constructor(blob: Blob) {
    super(blob);
    const FRS = (globalThis as { FileReaderSync?: new () => { readAsArrayBuffer(b: Blob): ArrayBuffer } })
      .FileReaderSync;
    if (FRS) {
      const reader = new FRS();
      this.readSync = (offset, length) => {
        if (offset < 0 || length < 0 || offset + length > blob.size)
          throw new StorageRangeError(
            `read of ${length} bytes at offset ${offset} is outside the ${blob.size}-byte file`,
            { offset, length, byteLength: blob.size },
          );
        return new Uint8Array(reader.readAsArrayBuffer(blob.slice(offset, offset + length)));
      };
    }
  }
}

/**
 * Open lazily; a checkpoint whose pickle needs storage bytes while it is read (quantized, sparse)
 * from a source without synchronous reads is opened again with its storages read up front.
 */
async function openChecked(source: ByteSource): Promise<Checkpoint> {
  try {
    return await open(source, LOAD_OPTIONS);
  } catch (e) {
    if (!String((e as Error).message).includes("has no readSync")) throw e;
    return open(source, { ...LOAD_OPTIONS, lazy: false });
  }
}

/** Open dropped or picked files (each its own document; an `*.index.json` joins its shards). */
export async function openFiles(files: File[]): Promise<Summary[]> {
  const out: Summary[] = [];
  const indexes = files.filter((f) => f.name.endsWith(".json"));
  for (const f of files) {
    if (indexes.includes(f)) continue;
    const source = new WorkerBlobSource(f);
    out.push(await summarize(f.name, source, openChecked(source), {}));
  }
  for (const f of indexes) out.push(await joinShards(f, out));
  return out;
}

const VERDICT_ORDER = ["safe", "unknown", "unsafe", "dangerous"] as const;

/**
 * A sharded checkpoint (`pytorch_model.bin.index.json` and the like): one document whose value is
 * every tensor of the index's `weight_map`, taken from the shards opened with it. It is a
 * document like any other: tree, statistics, diff, and convert (to one file).
 */
async function joinShards(index: File, opened: Summary[]): Promise<Summary> {
  const source = new WorkerBlobSource(index);
  const byName = new Map(opened.map((s) => [s.name, docs.get(s.doc)]));
  const shardSummaries = new Map(opened.map((s) => [s.name, s]));
  let weightMap: Record<string, string> = {};
  let problem: string | null = null;
  try {
    const j = JSON.parse(await index.text()) as { weight_map?: Record<string, string> };
    if (!j.weight_map || typeof j.weight_map !== "object") problem = "no weight_map in the index";
    else weightMap = j.weight_map;
  } catch (e) {
    problem = `not JSON: ${(e as Error).message}`;
  }
  const merged = new PyOrderedDict<string, unknown>();
  const keys = new Map<Storage, string>();
  const missing: string[] = [];
  const shards = new Set(Object.values(weightMap));
  for (const [name, shard] of Object.entries(weightMap)) {
    const d = byName.get(shard);
    const v = d?.cp?.value;
    const t = v instanceof Map ? v.get(name) : undefined;
    if (t === undefined) {
      missing.push(`${name} (${shard}${d ? "" : ", not opened"})`);
      continue;
    }
    merged.set(name, t);
  }
  for (const shard of shards) {
    const d = byName.get(shard);
    d?.cp?.storageKeys.forEach((k, st) => {
      keys.set(st, `${shard}:${k}`);
    });
  }
  const safeties = [...shards].map((sh) => shardSummaries.get(sh)?.safety).filter((x) => x !== undefined);
  const worst = safeties.reduce<SafetyReport | undefined>(
    (a, b) => (!a || VERDICT_ORDER.indexOf(b.verdict) > VERDICT_ORDER.indexOf(a.verdict) ? b : a),
    undefined,
  );
  const cp = {
    format: "sharded",
    value: merged,
    storages: [],
    storageKeys: keys,
    close: async () => undefined,
  } as unknown as Checkpoint;
  const note =
    problem ??
    `${shards.size} shard${shards.size === 1 ? "" : "s"}: ${[...shards].join(", ")}${missing.length ? `; ${missing.length} tensor${missing.length === 1 ? "" : "s"} of the index not found: ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", …" : ""}` : ""}`;
  return summarize(
    index.name,
    source,
    problem ? Promise.reject(new Error(problem)) : Promise.resolve(cp),
    { note, size: [...shards].reduce((n, sh) => n + (shardSummaries.get(sh)?.size ?? 0), 0) },
    {
      ...(worst ?? { verdict: "unknown", format: "sharded", globals: [], torchLoad: "no shard opened" }),
      format: "sharded",
    },
  );
}

/** Open a URL lazily with HTTP range requests (as `openUrl`, keeping the source for the safety report when loading fails). */
export async function openRemote(url: string): Promise<Summary[]> {
  const t0 = performance.now();
  const source = await HttpSource.open(url);
  const name = decodeURIComponent(new URL(url, location.href).pathname.split("/").pop() || url);
  const s = await summarize(name, source, openChecked(source), {
    ...(source.note ? { note: source.note } : {}),
  });
  return [{ ...s, bytesFetched: source.stats.bytesFetched, openMs: performance.now() - t0 }];
}

export function closeDoc(id: number): void {
  const d = docs.get(id);
  docs.delete(id);
  void d?.cp?.close();
}

/** The name a document was opened under. */
export function docName(id: number): string {
  return docOf(id).name;
}

function docOf(id: number): Doc {
  const d = docs.get(id);
  if (!d) throw new Error(`no open document ${id}`);
  return d;
}

/**
 * The document's listing in `pt inspect --json`'s schema, from `@pt/serialization`'s `listing`
 * (the builder `pt inspect` uses): every tensor of the object, not only those the tree shows.
 */
export function docListing(id: number): ListingJson {
  const cp = docOf(id).cp;
  if (!cp) throw new Error("nothing to list: the file did not load");
  const { tensors, totals } = listing(cp.value, (s) => cp.storageKeys.get(s));
  return {
    format: cp.format,
    tensors,
    totals,
    ...(cp.records ? { records: cp.records.map((r) => ({ name: r.name, size: r.size })) } : {}),
  };
}

/** Numbers from little-endian element bytes of `dt` (the dtype table's element encoding decides how). */
function decode(raw: Uint8Array, dt: DType): ArrayLike<number> {
  const v = numberView(raw, dt);
  if (v === null) throw new Error(`statistics are not computed for ${dt.name} tensors`);
  return v;
}

/** Where a zip storage's bytes lie in the file, when they can be streamed straight from the source. */
async function directRange(doc: Doc, t: Tensor): Promise<number | null> {
  const cp = doc.cp;
  const s = t.storage;
  if (cp?.zip?.byteorder !== "little" || s.base || s.isLoaded || !s.isLazy || !t.isContiguous()) return null;
  const key = cp.storageKeys.get(s);
  if (key === undefined) return null;
  const rec = cp.records?.find((r) => r.name === `data/${key}`);
  if (rec?.method !== 0) return null;
  doc.zip ??= ZipReader.open(doc.source);
  const range = await (await doc.zip).dataRange(`data/${key}`);
  return range.offset;
}

/**
 * The tensor's elements in logical (row-major) order, `CHUNK` at a time. Contiguous tensors of
 * stored zip records stream from the file; others load their storage (one at a time) and gather.
 */
async function* elements(doc: Doc, t: Tensor): AsyncGenerator<ArrayLike<number>> {
  const item = t.dtype.itemSize;
  if (t.dtype.isComplex || t instanceof QuantizedTensor)
    throw new Error(`statistics are not computed for ${t.dtype.name} tensors`);
  const base = await directRange(doc, t);
  if (base !== null) {
    const start = base + t.storageOffset * item;
    for (let i = 0; i < t.numel; i += CHUNK) {
      const n = Math.min(CHUNK, t.numel - i);
      yield decode(await doc.source.read(start + i * item, n * item), t.dtype);
    }
    return;
  }
  const s = t.storage;
  const wasLoaded = s.isLoaded;
  if (!wasLoaded) await s.load();
  try {
    const raw = s.typedAs(t.dtype);
    const ctor = raw.constructor as new (n: number) => typeof raw;
    const shape = t.shape;
    const stride = t.stride;
    const nd = shape.length;
    const idx = new Array<number>(nd).fill(0);
    let pos = t.storageOffset;
    let i = 0;
    while (i < t.numel) {
      const n = Math.min(CHUNK, t.numel - i);
      const out = new ctor(n) as unknown as { [k: number]: unknown; buffer: ArrayBuffer; byteLength: number };
      for (let k = 0; k < n; k++) {
        out[k] = (raw as unknown as { [k: number]: unknown })[pos];
        // odometer over the logical index
        for (let d = nd - 1; d >= 0; d--) {
          idx[d] = (idx[d] as number) + 1;
          pos += stride[d] as number;
          if ((idx[d] as number) < (shape[d] as number)) break;
          pos -= (shape[d] as number) * (stride[d] as number);
          idx[d] = 0;
        }
      }
      i += n;
      yield decode(new Uint8Array(out.buffer, 0, out.byteLength), t.dtype);
    }
  } finally {
    if (!wasLoaded) s.unload();
  }
}

/** min/max/mean/std, NaN/Inf counts, zeros, a histogram and (2-D) a heat-map, in two streamed passes. */
export async function tensorStats(docId: number, index: number, tick: Tick): Promise<Stats> {
  const t0 = performance.now();
  const doc = docOf(docId);
  const t = doc.tensors[index];
  if (!t) throw new Error(`no tensor ${index}`);
  const total = 2 * t.numel;
  let count = 0;
  let finite = 0;
  let nan = 0;
  let posInf = 0;
  let negInf = 0;
  let zeros = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let mean = 0;
  let m2 = 0;
  for await (const a of elements(doc, t)) {
    // one pass per chunk: sums shifted by the chunk's first finite value (numerically stable
    // enough for a summary), combined across chunks with Chan et al.'s formula
    let cn = 0;
    let k = Number.NaN;
    let s1 = 0;
    let s2 = 0;
    for (let i = 0; i < a.length; i++) {
      const v = a[i] as number;
      if (v === 0) zeros++;
      if (v - v === 0) {
        if (cn === 0) k = v;
        cn++;
        const d = v - k;
        s1 += d;
        s2 += d * d;
        if (v < min) min = v;
        if (v > max) max = v;
      } else if (Number.isNaN(v)) nan++;
      else if (v > 0) posInf++;
      else negInf++;
    }
    if (cn > 0) {
      const cm = k + s1 / cn;
      const cm2 = Math.max(0, s2 - (s1 * s1) / cn);
      const n = finite + cn;
      const delta = cm - mean;
      mean += (delta * cn) / n;
      m2 += cm2 + (delta * delta * finite * cn) / n;
      finite = n;
    }
    count += a.length;
    await tick(count, total, "summary");
  }
  const lo = finite ? min : 0;
  const hi = finite ? max : 0;
  const counts = new Float64Array(BINS);
  const width = (hi - lo) / BINS;
  const two = t.shape.length === 2 && t.numel > 0;
  const rows = two ? (t.shape[0] as number) : 0;
  const cols = two ? (t.shape[1] as number) : 0;
  const gh = Math.min(GRID, rows);
  const gw = Math.min(GRID, cols);
  const cellSum = two ? new Float64Array(gh * gw) : null;
  const cellN = two ? new Float64Array(gh * gw) : null;
  // heat-map cells: the column's cell precomputed, the row's updated as rows go by
  const colCell = new Int32Array(cols);
  for (let c = 0; c < cols; c++) colCell[c] = Math.floor((c * gw) / cols);
  let r = 0;
  let c = 0;
  let rowBase = 0;
  let at = 0;
  for await (const a of elements(doc, t)) {
    for (let i = 0; i < a.length; i++) {
      const v = a[i] as number;
      if (v - v === 0) {
        const b = width > 0 ? Math.min(BINS - 1, Math.floor((v - lo) / width)) : 0;
        counts[b] = (counts[b] as number) + 1;
        if (cellSum && cellN) {
          const cell = rowBase + (colCell[c] as number);
          cellSum[cell] = (cellSum[cell] as number) + v;
          cellN[cell] = (cellN[cell] as number) + 1;
        }
      }
      if (two && ++c === cols) {
        c = 0;
        r++;
        rowBase = Math.floor((r * gh) / rows) * gw;
      }
    }
    at += a.length;
    await tick(t.numel + at, total, "histogram");
  }
  return {
    count,
    finite,
    min: lo,
    max: hi,
    mean: finite ? mean : Number.NaN,
    std: finite > 1 ? Math.sqrt(m2 / (finite - 1)) : Number.NaN,
    nan,
    posInf,
    negInf,
    zeros,
    histogram: { lo, hi, counts: Array.from(counts) },
    ...(cellSum && cellN
      ? {
          heatmap: {
            rows: gh,
            cols: gw,
            values: Array.from(cellSum, (s, i) =>
              (cellN[i] as number) > 0 ? s / (cellN[i] as number) : Number.NaN,
            ),
          },
        }
      : {}),
    ms: performance.now() - t0,
  };
}

/** Tensors of two documents matched by path: added, removed, changed dtype/shape, largest absolute difference. */
export async function diffDocs(a: number, b: number, tick: Tick): Promise<DiffRow[]> {
  const A = docOf(a);
  const B = docOf(b);
  const byPath = (d: Doc) => new Map(d.infos.map((i) => [i.path, i]));
  const pa = byPath(A);
  const pb = byPath(B);
  const rows: DiffRow[] = [];
  const sig = (i: TensorInfo) => `${i.dtype} [${i.shape.join(", ")}]`;
  let k = 0;
  for (const [path, ia] of pa) {
    const ib = pb.get(path);
    if (!ib) {
      rows.push({ path, status: "removed", a: sig(ia) });
      continue;
    }
    if (sig(ia) !== sig(ib)) {
      rows.push({ path, status: "dtype/shape", a: sig(ia), b: sig(ib) });
      continue;
    }
    let max = 0;
    try {
      const ga = elements(A, A.tensors[ia.index] as Tensor);
      const gb = elements(B, B.tensors[ib.index] as Tensor);
      for (;;) {
        const [x, y] = await Promise.all([ga.next(), gb.next()]);
        if (x.done || y.done) break;
        for (let i = 0; i < x.value.length; i++) {
          const u = x.value[i] as number;
          const v = y.value[i] as number;
          if (u === v || (Number.isNaN(u) && Number.isNaN(v))) continue;
          const d = Math.abs(u - v);
          if (!(d <= max)) max = d;
        }
      }
    } catch (e) {
      if (e instanceof Cancelled) throw e;
      max = Number.NaN;
    }
    rows.push({ path, status: max === 0 ? "equal" : "changed", a: sig(ia), b: sig(ib), maxAbsDiff: max });
    await tick(++k, pa.size, "diff");
  }
  for (const [path, ib] of pb) if (!pa.has(path)) rows.push({ path, status: "added", b: sig(ib) });
  return rows;
}

/** Where a conversion's bytes go, chunk by chunk (`write` is awaited before the next chunk). */
export interface OutputSink {
  write(chunk: Uint8Array): void | Promise<void>;
}

/**
 * Convert a document, streaming the new file to `sink` with the library's writers
 * (`@pt/serialization`'s `saveTo`, `@pt/safetensors`' `writeSafetensors`): storages that are not
 * in memory are read from the source chunk by chunk and never loaded whole, so memory stays
 * bounded by the chunk size, not the file size. Returns the bytes written.
 */
export async function convertDoc(
  docId: number,
  format: Format,
  sink: OutputSink,
  tick: Tick,
): Promise<number> {
  const doc = docOf(docId);
  if (!doc.cp) throw new Error("nothing to convert: the file did not load");
  let written = 0;
  const estimate = doc.storages.reduce((n, s) => n + s.nbytes, 0);
  const counted = (total: () => number): OutputSink => ({
    write: async (c: Uint8Array) => {
      await sink.write(c);
      written += c.byteLength;
      await tick(written, Math.max(written, total()), format);
    },
  });
  if (format === "safetensors") {
    const named: Array<[string, Tensor]> = doc.infos.map((i) => [i.path, doc.tensors[i.index] as Tensor]);
    let total = estimate;
    await writeSafetensors(
      named,
      counted(() => total),
      {
        metadata: { format: "pt" },
        chunkSize: CHUNK_BYTES,
        onProgress: (_, t) => {
          total = t;
        },
      },
    );
    return written;
  }
  const stem = doc.name.replace(/\.[^.]*$/, "") || "checkpoint";
  // the pickle and the zip directory are a little over the storages' bytes
  await saveTo(
    doc.cp.value,
    counted(() => estimate + (64 << 10)),
    { format, ...(format === "zip" ? { prefix: stem.replace(/[^A-Za-z0-9_-]/g, "_") || "archive" } : {}) },
  );
  return written;
}
