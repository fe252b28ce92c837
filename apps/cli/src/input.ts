/**
 * Opening an input file for `inspect`, `convert` and `diff`: torch checkpoints through the
 * loader, safetensors files through `@pt/safetensors` (lazily), plain pickles (`.pkl`) as their
 * value, then `--key PATH` picks one part of the object.
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { loads } from "@pt/pickle";
import { readSafetensors } from "@pt/safetensors";
import {
  type Checkpoint,
  isSerializationError,
  type LoadOptions,
  selectKey,
  weightsOnlyRegistry,
} from "@pt/serialization";
import type { Storage } from "@pt/storage";
import { openFileSource } from "@pt/storage/node";
import { ZipReader } from "@pt/zip-format";
import { fsReason } from "./files.js";
import { CliError } from "./io.js";
import { CLI_LOAD_OPTIONS, type Opened, openCheckpoint, weightsOnlyRefusals } from "./loader.js";

/** An opened input, with where its storages' bytes lie in the file. */
export interface Input extends Opened {
  /** The file. */
  readonly path: string;
  /**
   * The file offset of a root storage's bytes when they are stored as is (little-endian, not
   * compressed: zip records of method 0, safetensors tensors), else null. Readers may then read
   * them in chunks straight from the file instead of loading the storage.
   */
  rawOffset(storage: Storage): number | null;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false; // a missing path: the open below names it
  }
}

/** Plain pickles are read whole: refuse ones larger than this. */
const MAX_PLAIN_PICKLE = 1 << 30;

function head(path: string, n: number): { bytes: Uint8Array; size: number } {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw new CliError(`cannot open ${path}: ${fsReason(e)}`, 2, { code: "Io" });
  }
  try {
    const size = statSync(path).size;
    const bytes = new Uint8Array(Math.min(n, size));
    readSync(fd, bytes, 0, bytes.length, 0);
    return { bytes, size };
  } finally {
    closeSync(fd);
  }
}

/**
 * Whether a file is a safetensors file: a `.safetensors` name, or an 8-byte little-endian
 * length that fits the file followed by `{` (a zip starts `PK`, a legacy checkpoint `\x80`).
 */
export function looksLikeSafetensors(path: string, bytes: Uint8Array, size: number): boolean {
  if (path.endsWith(".safetensors")) return true;
  if (bytes.length < 9 || bytes[8] !== 0x7b) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  return n >= 2n && n <= BigInt(size - 8);
}

async function openSafetensorsFile(path: string): Promise<Input> {
  const src = openFileSource(path);
  try {
    const f = await readSafetensors(src);
    const value = f.tensors;
    const records = f.entries.map((e) => ({
      name: e.name,
      size: e.end - e.begin,
      compressedSize: e.end - e.begin,
      method: 0,
    }));
    const checkpoint = {
      format: "safetensors",
      value,
      records,
      storages: [...value.values()].map((t) => t.storage),
      storageKeys: new Map(),
      close: async () => src.close(),
    } as unknown as Checkpoint;
    const offsets = new Map<Storage, number>();
    for (const e of f.entries) {
      const t = value.get(e.name);
      if (t) offsets.set(t.storage, f.dataOffset + e.begin);
    }
    return {
      format: "safetensors",
      path,
      refused: [], // a safetensors file holds no pickle
      value,
      storageKey: () => undefined,
      rawOffset: (s) => offsets.get(s) ?? null,
      checkpoint,
      close: checkpoint.close,
    };
  } catch (e) {
    src.close();
    throw e;
  }
}

function openPlainPickle(path: string, size: number, options: LoadOptions): Input {
  if (size > MAX_PLAIN_PICKLE)
    throw new CliError(`${path}: a plain pickle of ${size} bytes is too large to read`);
  // the same verdicts as `pt scan` (and as the loader's policy for checkpoints)
  const refused = weightsOnlyRefusals(path);
  if (refused.length && options.unsafe !== "opaque")
    throw new CliError(
      `${path}: refused ${refused.length} global${refused.length === 1 ? "" : "s"} outside torch's weights_only allowlist: ${refused.join(", ")} (pass --unsafe opaque to carry them over as placeholders)`,
    );
  const { bytes } = head(path, size);
  const value = loads(bytes, { globals: weightsOnlyRegistry(), policy: "opaque" });
  const checkpoint = {
    format: "pickle",
    value,
    storages: [],
    storageKeys: new Map(),
    close: async () => undefined,
  } as unknown as Checkpoint;
  return {
    format: "pickle",
    path,
    refused,
    value,
    storageKey: () => undefined,
    rawOffset: () => null,
    checkpoint,
    close: checkpoint.close,
  };
}

/** Raw offsets of a zip checkpoint's stored, little-endian storage records (a second, small parse of the central directory). */
async function withZipOffsets(path: string, opened: Opened): Promise<Input> {
  const zip = opened.checkpoint.zip;
  if (zip?.byteorder !== "little") return { ...opened, path, rawOffset: () => null };
  const src = openFileSource(path);
  let reader: ZipReader;
  try {
    reader = await ZipReader.open(src);
  } catch {
    src.close();
    return { ...opened, path, rawOffset: () => null };
  }
  const cache = new Map<Storage, number | null>();
  return {
    ...opened,
    path,
    rawOffset: (s) => {
      let off = cache.get(s);
      if (off !== undefined) return off;
      off = null;
      const key = opened.storageKey(s);
      const e = key === undefined ? undefined : reader.records.get(`data/${key}`);
      if (e && e.method === 0 && e.compressedSize === s.nbytes) {
        try {
          off = reader.dataRangeSync(`data/${key}`).offset;
        } catch {
          off = null;
        }
      }
      cache.set(s, off);
      return off;
    },
    close: async () => {
      src.close();
      await opened.close();
    },
  };
}

/**
 * Open `path` (any input `pt` reads) and, with `key`, narrow its value to that part (a dotted
 * path of dict keys, list indices and module state-dict names).
 */
export async function openInput(
  path: string,
  key?: string,
  options: LoadOptions = CLI_LOAD_OPTIONS,
): Promise<Input> {
  let opened: Input;
  if (/^https?:\/\//i.test(path) || path.endsWith(".index.json") || isDirectory(path)) {
    // a URL (range requests), a DCP folder or a sharded index: opened by the loader; no raw file offsets
    opened = { ...(await openCheckpoint(path, options)), path, rawOffset: () => null };
  } else {
    const { bytes, size } = head(path, 16);
    opened = await openLocal(path, bytes, size, options);
  }
  if (key === undefined) return opened;
  try {
    return { ...opened, value: selectKey(opened.value, key) };
  } catch (e) {
    await opened.close();
    throw new CliError(e instanceof Error ? e.message : String(e));
  }
}

async function openLocal(
  path: string,
  bytes: Uint8Array,
  size: number,
  options: LoadOptions,
): Promise<Input> {
  let opened: Input;
  if (looksLikeSafetensors(path, bytes, size)) opened = await openSafetensorsFile(path);
  else {
    try {
      opened = await withZipOffsets(path, await openCheckpoint(path, options));
    } catch (e) {
      // not a checkpoint, but a pickle (protocol 2+ starts with PROTO; `.pkl` of any protocol)
      if (
        isSerializationError(e) &&
        e.code === "UnknownFormat" &&
        (bytes[0] === 0x80 || path.endsWith(".pkl"))
      )
        opened = openPlainPickle(path, size, options);
      else throw e;
    }
  }
  return opened;
}
