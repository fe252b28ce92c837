/**
 * The listing of a loaded object's tensors, as `pt inspect --json` prints it and the web page
 * downloads it: every dense tensor {@link findTensors} finds (first path wins) with its dtype,
 * shape, strides, offset and storage, and totals over the distinct tensors and storages. One
 * builder, so the CLI and the page cannot drift apart.
 */
import type { Storage } from "@pt/storage";
import { type FoundTensor, findBareStorages, findTensors, type PathElem } from "./walk.js";

/** One tensor of a listing (`pt inspect --json`'s `tensors[i]`, without its optional `sha256`). */
export interface ListedTensor {
  /** Dict keys and list/tuple indices from the root to the tensor's first occurrence. */
  path: PathElem[];
  class: "Tensor" | "Parameter";
  dtype: string;
  shape: number[];
  stride: number[];
  storage_offset: number;
  storage: { key: string | null; dtype: string; numel: number; device: string };
  requires_grad: boolean;
}

/** Totals over the distinct tensors and storages of a listing. */
export interface ListingTotals {
  tensors: number;
  /** Elements over all tensors (views of one storage each counted). */
  parameters: number;
  /** Bytes of the distinct (root) storages. */
  bytes: number;
  storages: number;
  /** Storages used more than once (by several tensors, or a tensor and a bare storage value). */
  shared_storages: number;
}

/** What {@link listing} gives: the JSON-ready records and totals, and the objects they describe. */
export interface Listing {
  readonly tensors: ListedTensor[];
  readonly totals: ListingTotals;
  /** The tensors found, in `tensors`' order. */
  readonly found: FoundTensor[];
  /** The root storages used more than once. */
  readonly shared: Set<Storage>;
}

function rootStorage(s: Storage): Storage {
  return s.base ?? s;
}

/**
 * List the tensors of `value` (a loaded checkpoint's object or a part of it). `storageKey` names
 * a storage's record (a zip's `data/<key>`, a legacy key); a view's storage is looked up by its
 * base when it has no key of its own. Reads no tensor data.
 */
export function listing(
  value: unknown,
  storageKey: (s: Storage) => string | undefined = () => undefined,
): Listing {
  const found = findTensors(value);
  const uses = new Map<Storage, number>();
  for (const f of found) {
    const s = rootStorage(f.tensor.storage);
    uses.set(s, (uses.get(s) ?? 0) + 1);
  }
  // Storages saved as values count too (shared when a tensor also views them).
  for (const b of findBareStorages(value)) {
    const s = rootStorage(b);
    uses.set(s, (uses.get(s) ?? 0) + 1);
  }
  const keyOf = (s: Storage) => storageKey(s) ?? (s.base ? storageKey(s.base) : undefined) ?? null;
  const tensors = found.map((f): ListedTensor => {
    const t = f.tensor;
    const s = t.storage;
    return {
      path: f.path,
      class: f.cls,
      dtype: t.dtype.name,
      shape: [...t.shape],
      stride: [...t.stride],
      storage_offset: t.storageOffset,
      storage: { key: keyOf(s), dtype: s.dtype.name, numel: s.numel, device: s.device },
      requires_grad: t.requiresGrad,
    };
  });
  let bytes = 0;
  for (const s of uses.keys()) bytes += s.nbytes;
  const shared = new Set([...uses].filter(([, n]) => n > 1).map(([s]) => s));
  return {
    tensors,
    found,
    shared,
    totals: {
      tensors: found.length,
      parameters: found.reduce((n, f) => n + f.tensor.numel, 0),
      bytes,
      storages: uses.size,
      shared_storages: shared.size,
    },
  };
}
