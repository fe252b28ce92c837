/**
 * Opening an input file for `inspect`, `convert` and `diff`: torch checkpoints through the
 * loader, safetensors files through `@pt/safetensors` (lazily), plain pickles (`.pkl`) as their
 * value, then `--key PATH` picks one part of the object.
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { loads } from "@pt/pickle";
import { readSafetensors } from "@pt/safetensors";
import { type Checkpoint, isSerializationError, weightsOnlyRegistry } from "@pt/serialization";
import { openFileSource } from "@pt/storage/node";
import { fsReason } from "./files.js";
import { CliError } from "./io.js";
import { type Opened, openCheckpoint } from "./loader.js";
import { selectKey } from "./walk.js";

/** Plain pickles are read whole: refuse ones larger than this. */
const MAX_PLAIN_PICKLE = 1 << 30;

function head(path: string, n: number): { bytes: Uint8Array; size: number } {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw new CliError(`cannot open ${path}: ${fsReason(e)}`);
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

async function openSafetensorsFile(path: string): Promise<Opened> {
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
    return { format: "safetensors", value, storageKey: () => undefined, checkpoint, close: checkpoint.close };
  } catch (e) {
    src.close();
    throw e;
  }
}

function openPlainPickle(path: string, size: number): Opened {
  if (size > MAX_PLAIN_PICKLE)
    throw new CliError(`${path}: a plain pickle of ${size} bytes is too large to read`);
  const { bytes } = head(path, size);
  const value = loads(bytes, { globals: weightsOnlyRegistry(), policy: "opaque" });
  const checkpoint = {
    format: "pickle",
    value,
    storages: [],
    storageKeys: new Map(),
    close: async () => undefined,
  } as unknown as Checkpoint;
  return { format: "pickle", value, storageKey: () => undefined, checkpoint, close: checkpoint.close };
}

/**
 * Open `path` (any input `pt` reads) and, with `key`, narrow its value to that part (a dotted
 * path of dict keys, list indices and module state-dict names).
 */
export async function openInput(path: string, key?: string): Promise<Opened> {
  const { bytes, size } = head(path, 16);
  let opened: Opened;
  if (looksLikeSafetensors(path, bytes, size)) opened = await openSafetensorsFile(path);
  else {
    try {
      opened = await openCheckpoint(path);
    } catch (e) {
      // not a checkpoint, but a pickle (protocol 2+ starts with PROTO; `.pkl` of any protocol)
      if (
        isSerializationError(e) &&
        e.code === "UNKNOWN_FORMAT" &&
        (bytes[0] === 0x80 || path.endsWith(".pkl"))
      )
        opened = openPlainPickle(path, size);
      else throw e;
    }
  }
  if (key === undefined) return opened;
  try {
    return { ...opened, value: selectKey(opened.value, key) };
  } catch (e) {
    await opened.close();
    throw new CliError(e instanceof Error ? e.message : String(e));
  }
}
