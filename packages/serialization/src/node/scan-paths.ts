/** Node: turning paths (files and folders) into `scanMany` inputs, walking folders. */
import { closeSync, lstatSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { openFileSource } from "@pt/storage/node";
import { looksLikePickles } from "@pt/zip-format";
import { detectScanFormat } from "../scan.js";
import { looksLikeSafetensors, type ScanInput } from "../scan-many.js";
import { parseShardIndex } from "../sharded.js";
import { dirTree } from "./dir.js";

/** A path given to or met by the walk that is not scanned, and why. */
export interface SkippedPath {
  readonly path: string;
  readonly reason: string;
}

/** Extensions of files that may be protocol 0/1 pickles (no magic number to tell them by). */
const PICKLE_EXTENSIONS = /\.(pt|pth|pkl|pickle|bin|ckpt|joblib|dat|data|npy|npz|tar|model)$/i;

/** A scan input over a local file (read lazily, only what the scan asks for). */
export function fileScanInput(path: string): ScanInput {
  return { path, open: () => openFileSource(path) };
}

/** The scan input for a local path: a DCP folder, a sharded index, or a file. */
export function pathScanInput(path: string): ScanInput {
  if (path.endsWith(".index.json"))
    return { path, kind: "sharded", tree: dirTree(dirname(path)), index: basename(path) };
  if (isDir(path)) return { path, kind: "dcp", tree: dirTree(path) };
  return fileScanInput(path);
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function head(path: string, n: number): Uint8Array {
  const fd = openSync(path, "r");
  try {
    const b = new Uint8Array(n);
    return b.subarray(0, readSync(fd, b, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

/** Whether a file met in a folder is something to scan: a torch, pickle, NumPy or safetensors file. */
export function looksScannable(path: string, size: number): boolean {
  if (size === 0) return false;
  const h = head(path, 512);
  if (looksLikeSafetensors(h, size)) return true;
  const { format, unsupported } = detectScanFormat(h);
  if (unsupported !== null) return false;
  if (format !== "unknown" && format !== "pickle") return true;
  if (h[0] === 0x80) return true;
  return PICKLE_EXTENSIONS.test(path) && looksLikePickles(h);
}

/**
 * Expand paths into scan inputs: a file as given (always scanned); a folder holding `.metadata`
 * as one DCP checkpoint; a `*.index.json` as one sharded checkpoint (its shards not scanned
 * again alone); any other folder walked recursively, in name order, without following symlinks
 * (each a skipped entry), keeping only the files `looksScannable` accepts.
 */
export function collectScanInputs(paths: readonly string[]): { inputs: ScanInput[]; skipped: SkippedPath[] } {
  const inputs: ScanInput[] = [];
  const skipped: SkippedPath[] = [];
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (e) {
      skipped.push({ path: dir, reason: `cannot list: ${(e as Error).message}` });
      return;
    }
    if (names.includes(".metadata")) {
      inputs.push({ path: dir, kind: "dcp", tree: dirTree(dir) });
      return;
    }
    const shards = new Set<string>();
    for (const n of names.filter((x) => x.endsWith(".index.json"))) {
      try {
        for (const f of parseShardIndex(readFileSync(join(dir, n), "utf8"), n).files) shards.add(f);
        inputs.push(pathScanInput(join(dir, n)));
      } catch (e) {
        skipped.push({ path: join(dir, n), reason: `not a shard index: ${(e as Error).message}` });
      }
    }
    for (const n of names) {
      if (n.endsWith(".index.json") || shards.has(n)) continue;
      const p = join(dir, n);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) skipped.push({ path: p, reason: "symbolic link (not followed)" });
      else if (st.isDirectory()) walk(p);
      else if (!st.isFile()) skipped.push({ path: p, reason: "not a regular file" });
      else if (looksScannable(p, st.size)) inputs.push(fileScanInput(p));
      else skipped.push({ path: p, reason: "not a checkpoint, pickle, NumPy or safetensors file" });
    }
  };
  for (const p of paths) {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(p);
    } catch {
      // scanned anyway: the scan ends in a typed error naming the path
      inputs.push(fileScanInput(p));
      continue;
    }
    if (st.isDirectory()) walk(p);
    else inputs.push(pathScanInput(p));
  }
  return { inputs, skipped };
}
