/** Storage persistent ids: parsing what a format's `persistentLoad` receives, and what its `persistentId` writes. */
import { asTuple, isTuple, PyGlobal, type PyStr, type PyTuple } from "@pt/pickle";
import { ALL_DTYPES, type DType, dtypes, Storage } from "@pt/storage";
import { describe, int, TorchPickleError } from "./args.js";
import { StorageClassRef, storageClassFor, TorchDevice, UNTYPED_STORAGE } from "./values.js";

/** A parsed `('storage', storage_class, key, location, numel[, view_metadata])` persistent id. */
export interface StoragePid {
  /** Element dtype of the storage (`uint8` for untyped). */
  readonly dtype: DType;
  readonly untyped: boolean;
  /** Record key (`data/<key>` in zip files; the storage key in legacy files). */
  readonly key: string;
  /** Location tag (`cpu`, `cuda:0`…). */
  readonly location: string;
  /** Element count (bytes for untyped storages). */
  readonly numel: number;
  /** Byte size (`numel * dtype.itemSize`). */
  readonly nbytes: number;
  /** Legacy views: `{ viewKey, offset, size }` in elements, or null. */
  readonly viewMetadata: { readonly viewKey: string; readonly offset: number; readonly size: number } | null;
}

/**
 * Parse a storage persistent id, as both container formats receive it in `persistentLoad`.
 * The format then returns a `Storage` (shared per key) that the rebuild functions wrap.
 */
export function parseStoragePid(pid: unknown): StoragePid {
  if (!isTuple(pid) || pid.length < 5 || pid.length > 6 || pid[0] !== "storage") {
    throw new TorchPickleError(
      `unsupported persistent id ${describe(pid)}: expected ('storage', class, key, location, numel[, view])`,
      {},
    );
  }
  const cls = pid[1];
  let dtype: DType;
  let untyped: boolean;
  if (cls instanceof StorageClassRef) {
    dtype = cls.dtype;
    untyped = cls.untyped;
  } else if (ALL_DTYPES.includes(cls as DType)) {
    dtype = cls as DType; // some writers put a dtype in the class slot
    untyped = false;
  } else if (cls instanceof PyGlobal) {
    throw new TorchPickleError(`unknown storage class ${cls.qualifiedName}`, {
      storageClass: cls.qualifiedName,
    });
  } else {
    throw new TorchPickleError(`persistent id storage class must be a storage class, got ${describe(cls)}`);
  }
  const key =
    typeof pid[2] === "string"
      ? pid[2]
      : typeof pid[2] === "number" || typeof pid[2] === "bigint"
        ? String(pid[2])
        : null;
  if (key === null) throw new TorchPickleError(`persistent id key must be a string, got ${describe(pid[2])}`);
  const loc = pid[3];
  const location = loc instanceof TorchDevice ? loc.toString() : typeof loc === "string" ? loc : null;
  if (location === null)
    throw new TorchPickleError(`persistent id location must be a string, got ${describe(loc)}`);
  const numel = int(pid[4], "persistent id numel");
  if (numel < 0) throw new TorchPickleError(`persistent id numel ${numel} is negative`, { numel });
  let viewMetadata: StoragePid["viewMetadata"] = null;
  const vm = pid[5];
  if (vm !== undefined && vm !== null) {
    if (!Array.isArray(vm) || vm.length !== 3) {
      throw new TorchPickleError(`view metadata must be (view_key, offset, size), got ${describe(vm)}`);
    }
    viewMetadata = {
      viewKey: String(vm[0]),
      offset: int(vm[1], "view offset"),
      size: int(vm[2], "view size"),
    };
  }
  return { dtype, untyped, key, location, numel, nbytes: numel * dtype.itemSize, viewMetadata };
}

/**
 * What a saver writes for a storage argument: torch pickles a storage *as seen with a dtype*.
 * A Tensor's reduction passes the Storage itself when that is what torch would write, else a
 * `StorageView` (cached, so the same pair is the same object).
 */
export class StorageView {
  constructor(
    readonly storage: Storage,
    readonly dtype: DType,
    readonly untyped: boolean,
  ) {}
}
const viewCache = new WeakMap<Storage, Map<string, StorageView>>();
/** @internal The one StorageView per storage, dtype and untypedness. */
export function storageView(storage: Storage, dtype: DType, untyped: boolean): StorageView {
  let m = viewCache.get(storage);
  if (!m) {
    m = new Map();
    viewCache.set(storage, m);
  }
  const k = `${dtype.name}:${untyped}`;
  let v = m.get(k);
  if (!v) {
    v = new StorageView(storage, dtype, untyped);
    m.set(k, v);
  }
  return v;
}

/** What a format's `persistentId` needs to know about a storage argument, or null if `obj` is not one. */
export interface SavedStorage {
  /** The storage whose bytes are written (key storages by this object). */
  readonly storage: Storage;
  /** The dtype torch records (the storage class's dtype, `uint8` when untyped). */
  readonly dtype: DType;
  readonly untyped: boolean;
  readonly storageClass: StorageClassRef;
  /** Count for the persistent id (bytes when untyped). */
  readonly numel: number;
}

/** Recognise a storage argument in a reduction (a `Storage` or a `StorageView`). */
export function savedStorage(obj: unknown): SavedStorage | null {
  let storage: Storage;
  let dtype: DType;
  let untyped: boolean;
  if (obj instanceof Storage) {
    storage = obj;
    untyped = obj.untyped || obj.dtype.storageClass === null;
    dtype = untyped ? dtypes.uint8 : obj.dtype;
  } else if (obj instanceof StorageView) {
    storage = obj.storage;
    untyped = obj.untyped;
    dtype = obj.dtype;
  } else return null;
  const storageClass = untyped ? UNTYPED_STORAGE : storageClassFor(dtype);
  return { storage, dtype, untyped, storageClass, numel: storage.nbytes / dtype.itemSize };
}

/** The persistent id torch writes for a storage argument with record key `key`. */
export function storagePersistentId(obj: unknown, key: string | PyStr): PyTuple {
  const s = savedStorage(obj);
  if (!s) throw new TorchPickleError(`not a storage: ${describe(obj)}`);
  return asTuple(["storage", s.storageClass, key, s.storage.device, s.numel]);
}
