/** Node adapters for checkpoints that are folders: DCP directories and sharded indexes. */
import { closeSync, openSync, statSync } from "node:fs";
import { access, open as fsOpen, mkdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { ByteSource } from "@pt/storage";
import { FileSource } from "@pt/storage/node";
import { nodeCrc32 } from "@pt/zip-format/node";
import { type DcpCheckpoint, type DcpOpenOptions, type FileTree, openDcp } from "../dcp/read.js";
import { type DcpSaveOptions, type DcpSaveResult, type DirectoryWriter, saveDcp } from "../dcp/write.js";
import { SerializationError } from "../errors.js";
import type { Checkpoint, LoadOptions } from "../load.js";
import {
  openSharded,
  type ShardedCheckpoint,
  type ShardedSaveOptions,
  type ShardedSaveResult,
  saveSharded,
} from "../sharded.js";

/** A {@link FileTree} over a local folder (names are relative to it; files open read-only). */
export function dirTree(path: string): FileTree & { openSync(name: string): ByteSource } {
  const tree: FileTree & { openSync(name: string): ByteSource } = {
    label: path,
    openSync: (name) => {
      let fd: number;
      try {
        fd = openSync(join(path, name), "r");
      } catch (e) {
        const code = (e as { code?: string }).code;
        throw new SerializationError(
          "InvalidSource",
          `cannot open ${join(path, name)}${code === "ENOENT" ? ": no such file" : `: ${(e as Error).message}`}`,
          code === "ENOENT" ? { record: name } : { record: name, cause: e },
        );
      }
      try {
        return new FileSource(fd);
      } catch (e) {
        closeSync(fd);
        throw e;
      }
    },
    open: async (name) => tree.openSync(name),
    exists: async (name) =>
      access(join(path, name)).then(
        () => true,
        () => false,
      ),
  };
  return tree;
}

/** Open the DCP checkpoint in folder `path` (its `.metadata` and `.distcp` files); call `close()` when done. */
export function openDcpDir(path: string, options: DcpOpenOptions = {}): Promise<DcpCheckpoint> {
  return openDcp(dirTree(path), { crc32: nodeCrc32, ...options });
}

/**
 * A {@link DirectoryWriter} into folder `path` (created if missing): each file is written under a
 * temporary name and renamed when closed, in 1 MiB writes.
 */
export function dirWriter(path: string): DirectoryWriter {
  return {
    create: async (name) => {
      await mkdir(path, { recursive: true });
      const final = join(path, name);
      const tmp = join(path, `.${name}.${process.pid}.tmp`);
      const fh = await fsOpen(tmp, "w");
      let buf = new Uint8Array(1 << 20);
      let used = 0;
      const flush = async () => {
        let done = 0;
        while (done < used) done += (await fh.write(buf, done, used - done)).bytesWritten;
        used = 0;
      };
      let failed = false;
      let closed = false;
      return {
        write: async (chunk: Uint8Array) => {
          try {
            if (used + chunk.length > buf.length) await flush();
            if (chunk.length > buf.length) {
              let done = 0;
              while (done < chunk.length)
                done += (await fh.write(chunk, done, chunk.length - done)).bytesWritten;
            } else {
              buf.set(chunk, used);
              used += chunk.length;
            }
          } catch (e) {
            failed = true;
            throw e;
          }
        },
        close: async () => {
          if (closed) return;
          closed = true;
          try {
            if (!failed) await flush();
          } finally {
            await fh.close();
            buf = new Uint8Array(0);
          }
          if (failed) await rm(tmp, { force: true });
          else await rename(tmp, final);
        },
      };
    },
  };
}

/** Save a state dict as a DCP checkpoint in folder `path` (`torch_save_to_dcp`'s layout). */
export function saveDcpDir(
  value: unknown,
  path: string,
  options: DcpSaveOptions = {},
): Promise<DcpSaveResult> {
  return saveDcp(value, dirWriter(path), { checkpointId: path, ...options });
}

/** Open a sharded checkpoint from its index file (`pytorch_model.bin.index.json`); shards are found next to it. */
export function openShardedFile(indexPath: string, options: LoadOptions = {}): Promise<ShardedCheckpoint> {
  return openSharded(dirTree(dirname(indexPath)), basename(indexPath), options);
}

/** Write a state dict as shards of at most `maxShardSize` bytes plus their index into folder `path`. */
export function saveShardedDir(
  value: unknown,
  path: string,
  options: ShardedSaveOptions = {},
): Promise<ShardedSaveResult> {
  return saveSharded(value, dirWriter(path), options);
}

/** Index files of sharded checkpoints, looked for in a folder given as the checkpoint. */
export const SHARD_INDEX_NAMES: readonly string[] = [
  "pytorch_model.bin.index.json",
  "model.safetensors.index.json",
];

/**
 * Open whatever `path` is: a DCP folder (it holds `.metadata`), a sharded checkpoint (its
 * `*.index.json`, or a folder holding `pytorch_model.bin.index.json` / `model.safetensors.index.json`),
 * or a checkpoint file (`openFile`). Every result has `format`, `value`, `storageKeys` and `close()`.
 */
export async function openPath(
  path: string,
  options: LoadOptions = {},
): Promise<Checkpoint | DcpCheckpoint | ShardedCheckpoint> {
  if (path.endsWith(".index.json")) return openShardedFile(path, options);
  if (!statSync(path, { throwIfNoEntry: false })?.isDirectory())
    return (await import("../node.js")).openFile(path, options);
  if (statSync(join(path, ".metadata"), { throwIfNoEntry: false })?.isFile())
    return openDcpDir(path, options);
  const index = SHARD_INDEX_NAMES.map((n) => join(path, n)).find((p) =>
    statSync(p, { throwIfNoEntry: false })?.isFile(),
  );
  if (index === undefined)
    throw new SerializationError(
      "UnknownFormat",
      `${path} is a folder, but neither a DCP checkpoint (.metadata) nor a sharded one (${SHARD_INDEX_NAMES.join(", ")})`,
    );
  return openShardedFile(index, options);
}
