/**
 * `pt convert … out.safetensors`: the tensors of a loaded object, flattened to the dotted names
 * safetensors files use (modules by their `stateDict()` names: `conv.weight`), written by
 * `@pt/safetensors`' streaming writer (one tensor in memory at a time).
 */
import { safetensorsCode, writeSafetensors } from "@pt/safetensors";
import { type PathElem, pathText, shortRepr, tensorChildren } from "@pt/serialization";
import { QuantizedTensor, SparseTensor, Tensor } from "@pt/tensor";
import { CliError } from "./io.js";
import type { Progress } from "./progress.js";
import { lazyRootsOf, writeAtomic } from "./sink.js";

/** What {@link convertToSafetensors} wrote and left out. */
export interface SafetensorsReport {
  /** Tensor names in file order. */
  readonly names: string[];
  /** Groups of tensor names that shared one storage in the input (written as separate copies). */
  readonly shared: string[][];
  /** Non-tensor values left out (path text and short value). */
  readonly skipped: string[];
  /** Size of the file written. */
  readonly bytes: number;
}

/** The dotted name of a path (`model.conv.weight`, `layers.0`). */
export function dottedName(path: readonly PathElem[]): string {
  return path.map(String).join(".");
}

/** Collect the tensors of `root` under dotted names; refuse what safetensors cannot represent. */
export function collectTensors(root: unknown): { entries: Array<[string, Tensor]>; skipped: string[] } {
  const entries: Array<[string, Tensor]> = [];
  const skipped: string[] = [];
  const names = new Map<string, string>();
  const seen = new Set<object>();
  const visit = (v: unknown, path: PathElem[]) => {
    if (v instanceof Tensor) {
      const name = dottedName(path);
      if (path.length === 0)
        throw new CliError("safetensors: the object is a single tensor with no name; wrap it in a dict");
      if (v instanceof QuantizedTensor)
        throw new CliError(`safetensors cannot represent ${name}: quantized dtype ${v.dtype.name}`);
      if (!safetensorsCode(v.dtype))
        throw new CliError(
          `safetensors cannot represent ${name}: dtype ${v.dtype.name} has no safetensors code`,
        );
      const prev = names.get(name);
      if (prev !== undefined)
        throw new CliError(
          `safetensors: ${pathText(path)} and ${prev} both flatten to the name ${JSON.stringify(name)}`,
        );
      names.set(name, pathText(path));
      entries.push([name, v]);
      return;
    }
    if (v instanceof SparseTensor)
      throw new CliError(
        `safetensors cannot represent ${dottedName(path)}: ${v.layout} tensors are not dense`,
      );
    if (typeof v === "object" && v !== null) {
      if (seen.has(v)) return;
      const kids = tensorChildren(v);
      if (kids) {
        seen.add(v);
        for (const [k, x] of kids) visit(x, [...path, k]);
        return;
      }
    }
    skipped.push(`${path.length ? dottedName(path) : "<root>"} = ${shortRepr(v, 40)}`);
  };
  visit(root, []);
  return { entries, skipped };
}

/**
 * Write the tensors of `value` (a tensor dict, a state dict, nested containers, a module) to
 * `path` as a safetensors file, streaming (storages shared by several tensors are written once
 * per tensor, listed in `shared` and in `__metadata__.shared_storages`).
 */
export async function convertToSafetensors(
  value: unknown,
  path: string,
  metadata: Readonly<Record<string, string>>,
  progress: Progress | null,
): Promise<SafetensorsReport> {
  const { entries, skipped } = collectTensors(value);
  const byStorage = new Map<object, string[]>();
  for (const [name, t] of entries) {
    const s = t.storage.base ?? t.storage;
    const g = byStorage.get(s) ?? [];
    g.push(name);
    byStorage.set(s, g);
  }
  const shared = [...byStorage.values()].filter((g) => g.length > 1);
  const meta: Record<string, string> = { format: "pt", ...metadata };
  if (shared.length) meta.shared_storages = JSON.stringify(shared);
  const roots = lazyRootsOf(entries.map(([, t]) => t.storage));
  let total = 0;
  for (const [, t] of entries) total += t.numel * t.dtype.itemSize;
  progress?.setTotal(total);
  const bytes = await writeAtomic(path, progress, roots, (sink) =>
    writeSafetensors(entries, sink, { metadata: meta }).then(() => undefined),
  );
  return { names: entries.map(([n]) => n), shared, skipped, bytes };
}
