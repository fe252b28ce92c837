/**
 * Sharded checkpoints as the Hugging Face libraries write them: `pytorch_model.bin.index.json`
 * (`{"metadata": {"total_size"}, "weight_map": {name: shard file}}`) next to
 * `pytorch_model-00001-of-0000N.bin` files, opened as one checkpoint; and the reverse split by a
 * size limit. Shard formats other than torch files (`model.safetensors.index.json`) plug in through
 * {@link registerShardOpener}.
 */
import { readSafetensors } from "@pt/safetensors";
import type { ByteSource, Storage } from "@pt/storage";
import { Tensor } from "@pt/tensor";
import { archivePrefix } from "@pt/zip-format";
import type { FileTree } from "./dcp/read.js";
import type { DirectoryWriter } from "./dcp/write.js";
import { SerializationError } from "./errors.js";
import { type LoadOptions, open } from "./load.js";
import { type Sink, saveTo } from "./save.js";
import { settleAll } from "./settle.js";

/** Shards opened at a time. */
const SHARD_OPEN_CONCURRENCY = 8;

/** One opened shard: its state dict (a `Map` of name → tensor) and how to release it. */
export interface OpenedShard {
  readonly value: unknown;
  readonly storageKeys?: ReadonlyMap<Storage, string>;
  close(): Promise<void>;
}

/** Opens one shard file of a given kind. */
export type ShardOpener = (source: ByteSource, options: LoadOptions) => Promise<OpenedShard>;

const openers = new Map<string, ShardOpener>();

/**
 * Register how shards whose file name ends with `suffix` are opened. Torch files (`.bin`, `.pt`,
 * `.pth`) and safetensors files (`model.safetensors.index.json` shards) are built in.
 */
export function registerShardOpener(suffix: string, opener: ShardOpener): void {
  openers.set(suffix, opener);
}

const torchOpener: ShardOpener = async (source, options) => {
  const cp = await open(source, options);
  return { value: cp.value, storageKeys: cp.storageKeys, close: () => cp.close() };
};
for (const s of [".bin", ".pt", ".pth"]) openers.set(s, torchOpener);
// `model.safetensors.index.json` shards: the header only, tensors read lazily (no pickle at all)
openers.set(".safetensors", async (source) => {
  const f = await readSafetensors(source);
  return { value: f.tensors, close: async () => source.close?.() };
});

function openerFor(file: string): ShardOpener {
  for (const [suffix, o] of openers) if (file.endsWith(suffix)) return o;
  throw new SerializationError(
    "FormatUnsupported",
    `sharded: no reader for shard ${JSON.stringify(file)} (torch files are built in; register others with registerShardOpener)`,
    { record: file },
  );
}

/** A parsed `*.index.json`. */
export interface ShardIndex {
  readonly totalSize: number | null;
  /** Tensor name → shard file, in the index's order. */
  readonly weightMap: ReadonlyMap<string, string>;
  /** The shard files, sorted by name (the order `transformers` loads them in). */
  readonly files: readonly string[];
  /** The index's `metadata` object as written. */
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** A shard file name: relative, inside the index's folder (subfolders allowed, never `..`). */
function checkShardName(f: string): string {
  const parts = f.split("/");
  if (
    f === "" ||
    f.startsWith("/") ||
    f.includes("\\") ||
    f.includes("\0") ||
    parts.some((p) => p === ".." || p === "" || p === ".")
  )
    throw new SerializationError(
      "FormatUnsupported",
      `sharded: shard file ${JSON.stringify(f)} is not a relative path inside the index's folder`,
      { record: f },
    );
  return f;
}

/** Parse an index's JSON text. */
export function parseShardIndex(text: string, name = "index.json"): ShardIndex {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new SerializationError(
      "FormatUnsupported",
      `sharded: ${name} is not JSON: ${(e as Error).message}`,
      { record: name, cause: e },
    );
  }
  const obj = j as { metadata?: unknown; weight_map?: unknown };
  if (
    !obj ||
    typeof obj !== "object" ||
    !obj.weight_map ||
    typeof obj.weight_map !== "object" ||
    Array.isArray(obj.weight_map)
  )
    throw new SerializationError("FormatUnsupported", `sharded: ${name} has no "weight_map" object`, {
      record: name,
    });
  const weightMap = new Map<string, string>();
  const files: string[] = [];
  for (const [k, v] of Object.entries(obj.weight_map as Record<string, unknown>)) {
    if (typeof v !== "string")
      throw new SerializationError(
        "FormatUnsupported",
        `sharded: ${name}: weight_map[${JSON.stringify(k)}] is not a file name`,
        { record: name },
      );
    weightMap.set(k, checkShardName(v));
    if (!files.includes(v)) files.push(v);
  }
  const metadata =
    obj.metadata && typeof obj.metadata === "object" ? (obj.metadata as Record<string, unknown>) : {};
  const ts = metadata.total_size;
  files.sort();
  return { totalSize: typeof ts === "number" ? ts : null, weightMap, files, metadata };
}

/** A sharded checkpoint opened as one: the merged state dict. */
export interface ShardedCheckpoint {
  readonly format: "sharded";
  readonly index: ShardIndex;
  /** Name → tensor over all shards, in the index's `weight_map` order. */
  readonly value: Map<string, unknown>;
  /** The shard file each storage comes from, with its key there (`pytorch_model-00001-of-00002.bin:data/3`). */
  readonly storageKeys: ReadonlyMap<Storage, string>;
  close(): Promise<void>;
}

/**
 * Open the sharded checkpoint whose index is `indexName` in `tree`: every shard is opened (lazily:
 * only its pickle is read) and the tensors are merged in `weight_map` order. A tensor the index
 * names but its shard lacks is an error; a shard's extra entries are kept after the indexed ones.
 */
export async function openSharded(
  tree: FileTree,
  indexName: string,
  options: LoadOptions = {},
): Promise<ShardedCheckpoint> {
  const src = await tree.open(indexName);
  let index: ShardIndex;
  try {
    if (src.byteLength > 64 << 20)
      throw new SerializationError(
        "FormatUnsupported",
        `sharded: ${indexName} is ${src.byteLength} bytes, more than an index has`,
        { record: indexName },
      );
    index = parseShardIndex(new TextDecoder().decode(await src.read(0, src.byteLength)), indexName);
  } finally {
    await src.close?.();
  }
  const dir = indexName.includes("/") ? indexName.slice(0, indexName.lastIndexOf("/") + 1) : "";
  const shards = new Map<string, OpenedShard>();
  const closeAll = async () => {
    for (const s of shards.values()) await s.close();
  };
  try {
    // shards open in parallel (a few at a time: remote ones cost round trips), kept in index order
    const opened = await settleAll(
      index.files,
      SHARD_OPEN_CONCURRENCY,
      async (f) => {
        const s = await openerFor(f)(await tree.open(dir + f), options);
        if (!(s.value instanceof Map)) {
          await s.close();
          throw new SerializationError(
            "FormatUnsupported",
            `sharded: shard ${f} does not hold a state dict`,
            {
              record: f,
            },
          );
        }
        return s;
      },
      async (made) => {
        for (const s of made) await s.close();
      },
    );
    index.files.forEach((f, i) => {
      shards.set(f, opened[i] as OpenedShard);
    });
    const value = new Map<string, unknown>();
    for (const [name, f] of index.weightMap) {
      const sd = (shards.get(f) as OpenedShard).value as Map<unknown, unknown>;
      if (!sd.has(name))
        throw new SerializationError(
          "FormatUnsupported",
          `sharded: the index puts ${name} in ${f}, which does not hold it`,
          { record: f },
        );
      value.set(name, sd.get(name));
    }
    for (const [f, s] of shards)
      for (const [k, v] of s.value as Map<unknown, unknown>)
        if (!value.has(String(k)) && index.weightMap.get(String(k)) !== f) value.set(String(k), v);
    const storageKeys = new Map<Storage, string>();
    for (const [f, s] of shards)
      s.storageKeys?.forEach((k, st) => {
        storageKeys.set(st, `${f}:${k}`);
      });
    return { format: "sharded", index, value, storageKeys, close: closeAll };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

/** Options of {@link saveSharded}. */
export interface ShardedSaveOptions {
  /** Largest shard, in bytes of tensor data (default 5 GB, `transformers`' `max_shard_size="5GB"`). */
  readonly maxShardSize?: number;
  /** File name stem (default `pytorch_model`: `pytorch_model-00001-of-00002.bin`). */
  readonly prefix?: string;
  /** File extension (default `.bin`). */
  readonly extension?: string;
}

/** Parse a size as `transformers` takes it: a number of bytes, or `"5GB"`, `"200MB"`, `"10GiB"`, `"1KB"`. */
export function parseSize(s: string | number): number {
  if (typeof s === "number") return s;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B?)\s*$/i.exec(s);
  if (!m)
    throw new SerializationError(
      "InvalidOption",
      `not a size: ${JSON.stringify(s)} (e.g. 5GB, 200MB, 10GiB)`,
    );
  const u = (m[2] as string).toUpperCase();
  const k = u.includes("I") ? 1024 : 1000;
  const pow = u.startsWith("K")
    ? 1
    : u.startsWith("M")
      ? 2
      : u.startsWith("G")
        ? 3
        : u.startsWith("T")
          ? 4
          : 0;
  return Math.floor(Number(m[1]) * k ** pow);
}

/** What `saveSharded` wrote. */
export interface ShardedSaveResult {
  readonly files: readonly string[];
  /** The index file name, or null when everything fit in one file (written without index, as `transformers` does). */
  readonly index: string | null;
  readonly totalSize: number;
}

/**
 * Split a state dict of tensors into shards of at most `maxShardSize` bytes (a bigger tensor gets a
 * shard of its own; tensors sharing a storage stay together and count once) and write them with
 * their index, as `transformers`' `save_pretrained` does: `weight_map` sorted by name, JSON
 * indented by 2 with a final newline. One shard is written as `pytorch_model.bin`, without index.
 */
export async function saveSharded(
  value: unknown,
  dir: DirectoryWriter,
  options: ShardedSaveOptions = {},
): Promise<ShardedSaveResult> {
  if (!(value instanceof Map))
    throw new SerializationError(
      "InvalidOption",
      "sharded: a sharded checkpoint holds a state dict (name → tensor)",
    );
  const max = options.maxShardSize ?? 5_000_000_000;
  if (!Number.isSafeInteger(max) || max <= 0)
    throw new SerializationError("InvalidOption", `sharded: invalid shard size ${max}`);
  const prefix = options.prefix ?? "pytorch_model";
  const ext = options.extension ?? ".bin";
  const shards: Array<Map<unknown, unknown>> = [];
  const storageShard = new Map<Storage, Map<unknown, unknown>>();
  let cur = new Map<unknown, unknown>();
  let curSize = 0;
  let total = 0;
  for (const [k, v] of value) {
    if (!(v instanceof Tensor))
      throw new SerializationError(
        "InvalidOption",
        `sharded: ${String(k)} is not a tensor (a sharded checkpoint holds tensors only)`,
      );
    const root = v.storage.base ?? v.storage;
    const tied = storageShard.get(root);
    if (tied !== undefined) {
      // a tensor sharing a storage goes where that storage went, counted once
      tied.set(k, v);
      continue;
    }
    const size = root.nbytes;
    total += size;
    if (size > max) {
      // huggingface_hub: a tensor bigger than the limit is a shard of its own, placed at once
      const own = new Map<unknown, unknown>([[k, v]]);
      storageShard.set(root, own);
      shards.push(own);
      continue;
    }
    if (curSize + size > max && cur.size > 0) {
      shards.push(cur);
      cur = new Map();
      curSize = 0;
    }
    storageShard.set(root, cur);
    cur.set(k, v);
    curSize += size;
  }
  if (cur.size > 0 || shards.length === 0) {
    shards.push(cur);
  }
  const n = shards.length;
  const pad = (i: number) => String(i).padStart(5, "0");
  const names =
    n === 1 ? [`${prefix}${ext}`] : shards.map((_, i) => `${prefix}-${pad(i + 1)}-of-${pad(n)}${ext}`);
  for (let i = 0; i < n; i++) {
    const name = names[i] as string;
    const sink = await dir.create(name);
    try {
      await saveTo(shards[i], sink as Sink, { prefix: archivePrefix(name) });
    } finally {
      await sink.close();
    }
  }
  if (n === 1) return { files: names, index: null, totalSize: total };
  const weightMap: Record<string, string> = {};
  const entries: Array<[string, string]> = [];
  shards.forEach((s, i) => {
    for (const k of s.keys()) entries.push([String(k), names[i] as string]);
  });
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [k, f] of entries) weightMap[k] = f;
  const indexName = `${prefix}${ext}.index.json`;
  // Python's json.dumps(indent=2, sort_keys=True) escapes non-ASCII characters
  const text = `${JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  )}\n`;
  const sink = await dir.create(indexName);
  try {
    await sink.write(new TextEncoder().encode(text));
  } finally {
    await sink.close();
  }
  return { files: [...names, indexName], index: indexName, totalSize: total };
}
