/**
 * Where a converted file is written, in the worker, chunk by chunk:
 *
 * - `"file"`: a file the person chose with the File System Access API (`showSaveFilePicker` on
 *   the page; the handle is passed here and written with `createWritable`): straight to disk;
 * - `"opfs"`: the origin private file system (`navigator.storage.getDirectory()`), written with a
 *   sync access handle (or `createWritable` where there is none); the finished file is a
 *   disk-backed `File` the page hands to the browser as a download;
 * - `"memory"`: a `Blob` built from the chunks, only where neither exists (the page says so).
 *
 * Only the first two keep memory bounded by the chunk size.
 */
import type { Destination } from "./protocol.js";

/** An output being written. */
export interface Output {
  readonly destination: Destination;
  write(chunk: Uint8Array): void | Promise<void>;
  /** Flush and close; the file to download (`opfs`, `memory`), or null when it is already saved. */
  finish(): Promise<Blob | null>;
  /** Stop and remove what was written (the chosen file is left as the browser's abort leaves it). */
  abort(): Promise<void>;
}

/** The OPFS folder converted files are written to (emptied before each conversion). */
const OPFS_DIR = "pt-web-converted";

interface SyncHandle {
  write(b: Uint8Array, o: { at: number }): number;
  flush(): void;
  close(): void;
  truncate(n: number): void;
}
interface WritableFile {
  write(b: Uint8Array<ArrayBuffer>): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}
/** The parts of `FileSystemFileHandle` used here (each may be missing in some browser). */
interface FileHandle {
  getFile(): Promise<File>;
  createSyncAccessHandle?(): Promise<SyncHandle>;
  createWritable?(): Promise<WritableFile>;
}

/** Whether this worker can write to the origin private file system. */
export function hasOpfs(): boolean {
  return typeof navigator !== "undefined" && typeof navigator.storage?.getDirectory === "function";
}

function toWritable(
  w: WritableFile,
  destination: Destination,
  done: () => Promise<Blob | null>,
  cleanup: () => Promise<void>,
): Output {
  return {
    destination,
    write: (c) => w.write(c as Uint8Array<ArrayBuffer>),
    finish: async () => {
      await w.close();
      return done();
    },
    abort: async () => {
      await w.abort().catch(() => undefined);
      await cleanup();
    },
  };
}

/** A file the person chose (a `FileSystemFileHandle` from the page's `showSaveFilePicker`). */
export async function chosenFile(handle: FileSystemFileHandle): Promise<Output> {
  const h = handle as unknown as FileHandle;
  if (!h.createWritable) throw new Error("this browser cannot write to the chosen file");
  return toWritable(
    await h.createWritable(),
    "file",
    async () => null,
    async () => undefined,
  );
}

/** A new file in the origin private file system (earlier conversions there are removed first). */
export async function opfsFile(name: string): Promise<Output> {
  const root = await navigator.storage.getDirectory();
  // a folder per conversion run: earlier outputs (already downloaded) are removed first
  await root.removeEntry(OPFS_DIR, { recursive: true }).catch(() => undefined);
  const dir = await root.getDirectoryHandle(OPFS_DIR, { create: true });
  const h = (await dir.getFileHandle(name, { create: true })) as unknown as FileHandle;
  const remove = () => dir.removeEntry(name).catch(() => undefined);
  if (h.createSyncAccessHandle) {
    const sync = await h.createSyncAccessHandle();
    let at = 0;
    let open = true;
    const close = () => {
      if (open) {
        open = false;
        sync.close();
      }
    };
    return {
      destination: "opfs",
      write: (c) => {
        let done = 0;
        while (done < c.byteLength) done += sync.write(c.subarray(done), { at: at + done });
        at += c.byteLength;
      },
      finish: async () => {
        sync.flush();
        close();
        return h.getFile();
      },
      abort: async () => {
        close();
        await remove();
      },
    };
  }
  if (h.createWritable) return toWritable(await h.createWritable(), "opfs", () => h.getFile(), remove);
  throw new Error("this browser cannot write to its private file system");
}

/** The chunks kept in memory as a `Blob` (where the browser offers no file system to write to). */
export function memoryBlob(): Output {
  let parts: BlobPart[] = [];
  return {
    destination: "memory",
    write: (c) => {
      parts.push(c.slice() as Uint8Array<ArrayBuffer>);
    },
    finish: async () => {
      const b = new Blob(parts, { type: "application/octet-stream" });
      parts = [];
      return b;
    },
    abort: async () => {
      parts = [];
    },
  };
}
