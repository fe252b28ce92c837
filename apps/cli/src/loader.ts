/**
 * The one place the CLI opens checkpoints through @pt/serialization, so that every command loads
 * the same way: lazily over a file descriptor, unknown classes as inert placeholders (nothing is
 * ever executed; `pt scan` says which globals a file uses).
 */
import { type Checkpoint, type LoadOptions, openFile } from "@pt/serialization/node";
import { dtypeFromStorageClass, type Storage } from "@pt/storage";
import { pickleSections } from "./containers.js";
import { fsReason, openSource } from "./files.js";
import { CliError } from "./io.js";
import { pickleStrings, type StoragePidInfo, storagePids } from "./keys.js";

/** An opened checkpoint with storage keys resolved. */
export interface Opened {
  readonly format: string;
  readonly value: unknown;
  /** The record key of a storage (`data/<key>` in zip files; the legacy key), if known. */
  storageKey(s: Storage): string | undefined;
  readonly checkpoint: Checkpoint;
  close(): Promise<void>;
}

/**
 * Load options every command uses: never executes anything; user classes are placeholders and
 * TorchScript archives give their `data.pkl` object (the code is never run).
 */
export const CLI_LOAD_OPTIONS: LoadOptions = { unsafe: "opaque", lazy: true, torchscript: "tensors" };

/** The dtype name of a legacy storage class (`FloatStorage` → `float32`), or null when unknown. */
function findDTypeOfStorageClass(cls: string): string | null {
  try {
    return dtypeFromStorageClass(cls).name;
  } catch {
    return null;
  }
}

/**
 * Storage keys: the object pickle's persistent ids give each storage's key, element count and
 * class (read here without unpickling); `Checkpoint.storages` lists the storages in order of
 * first use (zip) or in the order of the legacy key list. A pairing is kept only when the counts,
 * every element count and every dtype agree; otherwise keys stay unknown.
 */
function storageKeyMap(path: string, storages: readonly Storage[]): Map<Storage, string> {
  const keys = new Map<Storage, string>();
  const src = openSource(path);
  try {
    const p = pickleSections(src);
    const obj = p.sections.find((s) => s.name === (p.kind === "zip" ? "data.pkl" : "object"));
    if (!obj || p.kind === "tar") return keys;
    const pids = storagePids(obj.data, obj.start);
    // Candidate orders of `storages`: the legacy stream's storage-key list (the order of the
    // storage data in the file), then first use in the object pickle (zip).
    const orders: StoragePidInfo[][] = [pids];
    const keyList = p.kind === "legacy" ? p.sections.find((x) => x.name === "storage_keys") : undefined;
    if (keyList) {
      const byKey = new Map(pids.map((pid) => [pid.key, pid]));
      const listed = pickleStrings(keyList.data, keyList.start).map((k) => byKey.get(k));
      if (listed.every((x) => x !== undefined)) orders.unshift(listed as StoragePidInfo[]);
    }
    const mismatch = (pid: StoragePidInfo, s: Storage | undefined): boolean => {
      if (!s) return true;
      if (pid.numel !== null && pid.numel !== s.numel) return true;
      const cls = pid.storageClass?.slice(pid.storageClass.lastIndexOf(".") + 1);
      if (!cls || cls === "UntypedStorage") return false;
      return findDTypeOfStorageClass(cls) !== s.dtype.name;
    };
    const order = orders.find(
      (o) => o.length === storages.length && !o.some((pid, i) => mismatch(pid, storages[i])),
    );
    order?.forEach((pid, i) => {
      keys.set(storages[i] as Storage, pid.key);
    });
  } catch {
    // keys stay unknown; the load itself reports real errors
  } finally {
    src.close();
  }
  return keys;
}

/** Open `path` lazily. File-system errors become one-line CLI errors; format errors keep their message. */
export async function openCheckpoint(path: string, options: LoadOptions = CLI_LOAD_OPTIONS): Promise<Opened> {
  let cp: Checkpoint;
  try {
    cp = await openFile(path, options);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === "ENOENT" || code === "EISDIR" || code === "EACCES" || code === "EPERM")
      throw new CliError(`cannot open ${path}: ${fsReason(e)}`);
    throw e;
  }
  const keys = storageKeyMap(path, cp.storages);
  return {
    format: cp.format,
    value: cp.value,
    checkpoint: cp,
    storageKey: (s) => keys.get(s) ?? (s.base ? keys.get(s.base) : undefined),
    close: () => cp.close(),
  };
}
