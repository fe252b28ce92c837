import { readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { PyObject, PyOrderedDict, PyTuple } from "@pt/pickle";
import {
  childrenOf,
  type FoundTensor,
  fmtBytes,
  isModuleLike,
  type ListedTensor,
  type ListingTotals,
  listing,
  type PathElem,
  shortRepr,
} from "@pt/serialization";
import { type Storage, Storage as StorageClass } from "@pt/storage";
import { Parameter, QuantizedTensor, SparseTensor, Tensor } from "@pt/tensor";
import { expectPositionals, parseArgs } from "./args.js";
import { fsReason } from "./files.js";
import { tensorSha256 } from "./hash.js";
import { openInput } from "./input.js";
import { CliError, type Io, UsageError } from "./io.js";
import { containerLine, type Opened } from "./loader.js";
import { Progress } from "./progress.js";

export const INSPECT_HELP = `usage: pt inspect FILE|URL [--json] [--hash] [--all] [--key PATH]

FILE is a torch checkpoint (zip, legacy, tar, TorchScript), a safetensors file, a plain
pickle (.pkl), a DCP folder or a sharded index (*.index.json, or its folder). URL is any of
these over http(s), read lazily with range requests (a folder URL ends with /). Show what it
holds without loading its tensor data: the format and records, a tree of the object (dicts,
lists, modules…) with every tensor's dtype, shape, stride, storage offset, storage key and
size, and requires_grad; then totals (tensors, elements, bytes, shared storages). User
classes are shown as placeholders; nothing is executed.

options:
  --json   print {"format", "tensors": [{"path", "class", "dtype", "shape", "stride",
           "storage_offset", "storage": {"key", "dtype", "numel", "device"},
           "requires_grad", "sha256"?}], "totals", "records"?}; path lists the dict keys and
           list/tuple indices from the root to the tensor
  --hash   also read the data and give each tensor's SHA-256 over its logical values
           (row-major, contiguous, little-endian; bool 1 byte, float16/bfloat16 2 bytes,
           complex as real then imaginary); storages are read one at a time and released
  --all    show every item of large containers (default: the first 100 of each)
  --key PATH  show only this part of the object (a dotted path: model, state_dict,
           model.encoder; keys holding dots are matched whole)
`;

/** The JSON of one tensor (`pt inspect --json`): the shared listing's record, with `--hash` its SHA-256. */
export interface TensorJson extends ListedTensor {
  sha256?: string;
}

/** Totals over the distinct tensors and storages. */
export type Totals = ListingTotals;

function rootStorage(s: Storage): Storage {
  return s.base ?? s;
}

/**
 * Tensor JSON records and totals of an opened checkpoint (`@pt/serialization`'s `listing`, the
 * one the web page downloads); hashes read the data, with a progress bar.
 */
export async function tensorReport(
  opened: Opened,
  hash: boolean,
  io: Io,
): Promise<{ tensors: TensorJson[]; totals: Totals; shared: Set<Storage>; found: FoundTensor[] }> {
  const { tensors, totals, shared, found } = listing(opened.value, (s) => opened.storageKey(s));
  if (hash) {
    const bar = new Progress(
      io,
      "hashing",
      found.reduce((n, f) => n + f.tensor.numel * f.tensor.dtype.itemSize, 0),
    );
    let done = 0;
    for (const [i, f] of found.entries()) {
      const t = f.tensor;
      (tensors[i] as TensorJson).sha256 = await tensorSha256(t);
      done += t.numel * t.dtype.itemSize;
      bar.update(done);
    }
    bar.finish();
  }
  return { tensors, totals, shared, found };
}

function fmtDims(d: readonly number[]): string {
  return `[${d.join(", ")}]`;
}

/** The columns describing a tensor (text mode). */
function tensorCells(t: Tensor, opened: Opened, shared: ReadonlySet<Storage>, sha?: string): string[] {
  const s = t.storage;
  const cls = t instanceof Parameter ? "Parameter" : t instanceof QuantizedTensor ? "QTensor" : "Tensor";
  const key = opened.storageKey(s);
  const parts = [
    cls,
    t.dtype.name,
    fmtDims(t.shape),
    `stride ${fmtDims(t.stride)}`,
    `offset ${t.storageOffset}`,
    `storage ${key === undefined ? "" : `${JSON.stringify(key)} `}${s.dtype.name}[${s.numel}] ${s.device} ${fmtBytes(s.nbytes)}`,
  ];
  const flags: string[] = [];
  if (t.requiresGrad) flags.push("requires_grad");
  if (shared.has(rootStorage(s))) flags.push("shared");
  if (!t.isContiguous()) flags.push("non-contiguous");
  if (t.storageOffset !== 0 || s.numel !== t.numel) flags.push("view");
  parts.push(flags.join(","));
  if (sha) parts.push(`sha256 ${sha.slice(0, 16)}…`);
  return parts;
}

function keyLabel(k: PathElem, parent: unknown): string {
  if (typeof k === "number" && Array.isArray(parent)) return `[${k}]`;
  return typeof k === "string" ? k : String(k);
}

/** A tuple that `shortRepr` prints whole (`(3, 3)`): not expanded in the tree. */
function isShortTuple(v: unknown): boolean {
  return v instanceof PyTuple && v.length <= 8 && v.every((x) => typeof x !== "object" || x === null);
}

const MODULE_GROUPS = ["_parameters", "_buffers", "_modules"];

/**
 * A module's children for the tree: its parameters, buffers and submodules by name, then the
 * other attributes, leaving out `training` and empty hook dicts (`--json` paths keep the real
 * `__dict__` layout).
 */
function moduleChildren(dict: Map<string, unknown>): Array<[PathElem, unknown]> {
  const out: Array<[PathElem, unknown]> = [];
  for (const g of MODULE_GROUPS) {
    const m = dict.get(g);
    if (m instanceof Map) for (const [k, x] of m) out.push([String(k), x]);
  }
  for (const [k, x] of dict) {
    if (MODULE_GROUPS.includes(k) || k === "training") continue;
    if (k.startsWith("_") && (x === null || ((x instanceof Map || x instanceof Set) && x.size === 0)))
      continue;
    out.push([k, x]);
  }
  return out;
}

/** The object tree, as lines. */
function treeLines(
  root: unknown,
  opened: Opened,
  shared: ReadonlySet<Storage>,
  hashes: ReadonlyMap<Tensor, string>,
  limit: number,
): string[] {
  const lines: string[] = [];
  const seen = new Map<object, string>();
  const label = (v: unknown): string => {
    if (v instanceof Tensor) return tensorCells(v, opened, shared, hashes.get(v)).join("  ").trimEnd();
    if (v instanceof StorageClass) {
      const key = opened.storageKey(v);
      return `Storage ${key === undefined ? "" : `${JSON.stringify(key)} `}${v.dtype.name}[${v.numel}] ${v.device} ${fmtBytes(v.nbytes)}${shared.has(rootStorage(v)) ? "  shared" : ""}`;
    }
    if (v instanceof SparseTensor) return `SparseTensor ${v.layout} ${v.dtype.name} ${fmtDims(v.shape)}`;
    if (v instanceof PyOrderedDict) {
      const meta = v.attributes?.get("_metadata");
      return `OrderedDict[${v.size}]${meta instanceof Map ? ` (_metadata for ${meta.size} modules)` : ""}`;
    }
    if (v instanceof PyObject) return `${v.cls.qualifiedName} (placeholder: class not loaded) [!]`;
    if (isModuleLike(v)) return `${v.className} (nn.Module)`;
    return shortRepr(v);
  };
  const walk = (v: unknown, prefix: string, path: string) => {
    const kids =
      v instanceof Tensor || isShortTuple(v)
        ? null
        : isModuleLike(v)
          ? moduleChildren(v.dict)
          : childrenOf(v);
    if (!kids) return;
    const shown = kids.length > limit ? kids.slice(0, limit) : kids;
    const width = Math.min(40, Math.max(0, ...shown.map(([k]) => keyLabel(k, v).length)));
    // Tensor siblings get aligned columns.
    const cells = new Map<Tensor, string[]>();
    const colWidths: number[] = [];
    for (const [, x] of shown) {
      if (!(x instanceof Tensor) || cells.has(x)) continue;
      const c = tensorCells(x, opened, shared, hashes.get(x));
      cells.set(x, c);
      c.forEach((cell, i) => {
        colWidths[i] = Math.max(colWidths[i] ?? 0, cell.length);
      });
    }
    const tensorText = (t: Tensor) =>
      (cells.get(t) ?? [])
        .map((c, i) => c.padEnd(colWidths[i] ?? 0))
        .join("  ")
        .trimEnd();
    shown.forEach(([k, x], i) => {
      const last = i === shown.length - 1 && shown.length === kids.length;
      const branch = last ? "└─ " : "├─ ";
      const kl = keyLabel(k, v).padEnd(width);
      const childPath = `${path}/${String(k)}`;
      if (typeof x === "object" && x !== null && seen.has(x)) {
        lines.push(`${prefix}${branch}${kl}  → same object as ${seen.get(x)}`);
        return;
      }
      if (typeof x === "object" && x !== null) seen.set(x, childPath || "<root>");
      lines.push(`${prefix}${branch}${kl}  ${x instanceof Tensor ? tensorText(x) : label(x)}`);
      walk(x, `${prefix}${last ? "   " : "│  "}`, childPath);
    });
    if (shown.length < kids.length)
      lines.push(`${prefix}└─ … ${kids.length - shown.length} more (--all shows them)`);
  };
  if (typeof root === "object" && root !== null) seen.set(root, "<root>");
  lines.push(label(root));
  walk(root, "", "");
  return lines;
}

function fileSize(path: string): number {
  try {
    const st = statSync(path);
    // a DCP or sharded checkpoint's folder: the size of its files
    if (st.isDirectory()) return readdirSync(path).reduce((n, f) => n + statSync(join(path, f)).size, 0);
    return st.size;
  } catch (e) {
    throw new CliError(`cannot open ${path}: ${fsReason(e)}`, 2, { code: "Io" });
  }
}

/** A sharded checkpoint given by its index file: the index's size plus its shards' (as for its folder or URL). */
function withShards(file: string, size: number, opened: Opened): number {
  const index = (opened.checkpoint as unknown as { index?: { files?: readonly string[] } }).index;
  if (opened.format !== "sharded" || !index?.files || !statSync(file).isFile()) return size;
  return index.files.reduce((n, f) => n + fileSize(join(dirname(file), f)), size);
}

/** The lines before the tree: file, format details, records. */
function headerLines(file: string, size: number, opened: Opened): string[] {
  const cp = opened.checkpoint;
  const z = cp.zip;
  const details: string[] = [];
  if (z) {
    if (z.flavor)
      details.push(
        `torch ${z.flavor === "1.13" ? "1.6-2.0" : z.flavor === "2.1" ? "2.1-2.6" : "≥2.7"} layout`,
      );
    details.push(`version ${z.version}`, `${z.byteorder}-endian`);
  }
  if (cp.pt2)
    details.push(
      `models ${cp.pt2.models.join(", ")}`,
      `${cp.pt2.weights.length} weights, ${cp.pt2.constants.length} constants; the exported program is not run`,
    );
  const lines = [
    `${file}: ${opened.format === "safetensors" ? "safetensors file" : opened.format === "pickle" ? "plain pickle" : cp.format === "pt2" ? "torch.export archive (.pt2)" : `${cp.format} checkpoint`}${details.length ? ` (${details.join(", ")})` : ""}, ${fmtBytes(size)}`,
  ];
  const pieces = containerLine(cp);
  if (pieces) lines.push(pieces);
  if (opened.format === "safetensors" && cp.records) {
    lines.push(
      `${cp.records.length} tensors; data section ${fmtBytes(cp.records.reduce((n, r) => n + r.size, 0))}`,
    );
  } else if (cp.records) {
    const data = cp.records.filter((r) => r.name.startsWith("data/"));
    const other = cp.records.filter((r) => !r.name.startsWith("data/"));
    lines.push(
      `records${z ? ` under ${z.prefix}/` : ""}: ${other.map((r) => `${r.name} (${fmtBytes(r.size)})`).join(", ")}; ${data.length} storage record${data.length === 1 ? "" : "s"} in data/ (${fmtBytes(data.reduce((n, r) => n + r.size, 0))})`,
    );
  }
  return lines;
}

/** `pt inspect FILE`. */
export async function inspectCommand(argv: readonly string[], io: Io): Promise<number> {
  const args = parseArgs(argv, [
    { name: "json" },
    { name: "hash" },
    { name: "all" },
    { name: "key", value: true },
  ]);
  if (args.options.has("help")) {
    io.out(INSPECT_HELP);
    return 0;
  }
  const [file] = expectPositionals(args, ["FILE"]) as [string];
  if (args.options.has("json") && args.options.has("all"))
    throw new UsageError("--all only applies to the tree (not --json)");
  const remote = /^https?:\/\//i.test(file);
  const size = remote ? 0 : fileSize(file);
  const opened = await openInput(file, args.options.get("key") as string | undefined);
  try {
    const hash = args.options.has("hash");
    const { tensors, totals, shared, found } = await tensorReport(opened, hash, io);
    if (args.options.has("json")) {
      const out: Record<string, unknown> = { format: opened.format, tensors, totals };
      const records = opened.checkpoint.records;
      if (records) out.records = records.map((r) => ({ name: r.name, size: r.size }));
      io.out(`${JSON.stringify(out, null, 2)}\n`);
      return 0;
    }
    const hashes = new Map<Tensor, string>();
    found.forEach((f, i) => {
      const h = tensors[i]?.sha256;
      if (h) hashes.set(f.tensor, h);
    });
    for (const l of headerLines(file, opened.remoteSize ?? withShards(file, size, opened), opened))
      io.out(`${l}\n`);
    io.out("\n");
    for (const l of treeLines(
      opened.value,
      opened,
      shared,
      hashes,
      args.options.has("all") ? Number.POSITIVE_INFINITY : 100,
    ))
      io.out(`${l}\n`);
    io.out("\n");
    io.out(
      `totals: ${totals.tensors} tensor${totals.tensors === 1 ? "" : "s"}, ${totals.parameters.toLocaleString("en-US")} element${totals.parameters === 1 ? "" : "s"}, ${fmtBytes(totals.bytes)} in ${totals.storages} storage${totals.storages === 1 ? "" : "s"} (${totals.shared_storages} shared)\n`,
    );
    if (opened.http) {
      // what reading the URL cost: the metadata and pickles (and, with --hash, the data)
      const { requests, bytesFetched } = opened.http.stats;
      const n = opened.http.files.size;
      io.out(
        `fetched: ${bytesFetched.toLocaleString("en-US")} bytes in ${requests} request${requests === 1 ? "" : "s"} from ${n} file${n === 1 ? "" : "s"} of ${fmtBytes(opened.http.totalSize)}\n`,
      );
    }
    if (opened.refused.length)
      io.out(
        `warning: torch.load(weights_only=True) would refuse ${file}: ${opened.refused.join(", ")} (loaded as inert placeholders [!] or modules; nothing was executed)\n`,
      );
    return 0;
  } finally {
    await opened.close();
  }
}
