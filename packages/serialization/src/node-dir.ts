/** Node adapters for checkpoints that are folders: DCP directories and sharded indexes. */
import { closeSync, openSync } from "node:fs";
import { access } from "node:fs/promises";
import { join } from "node:path";
import { FileSource } from "@pt/storage/node";
import { type DcpCheckpoint, type DcpOpenOptions, type FileTree, openDcp } from "./dcp/read.js";

/** A {@link FileTree} over a local folder (names are relative to it; files open read-only). */
export function dirTree(path: string): FileTree {
  return {
    label: path,
    open: async (name) => {
      const fd = openSync(join(path, name), "r");
      try {
        return new FileSource(fd);
      } catch (e) {
        closeSync(fd);
        throw e;
      }
    },
    exists: async (name) =>
      access(join(path, name)).then(
        () => true,
        () => false,
      ),
  };
}

/** Open the DCP checkpoint in folder `path` (its `.metadata` and `.distcp` files); call `close()` when done. */
export function openDcpDir(path: string, options: DcpOpenOptions = {}): Promise<DcpCheckpoint> {
  return openDcp(dirTree(path), options);
}
