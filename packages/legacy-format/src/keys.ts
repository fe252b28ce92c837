import type { Storage } from "@pt/storage";
import type { ModuleSource } from "./legacy.js";

const keys = new WeakMap<Storage, string>();

/** @internal Remember the key a storage had in the legacy file it was loaded from. */
export function rememberKey(storage: Storage, key: string): void {
  if (!keys.has(storage)) keys.set(storage, key);
}

/**
 * The storage key a storage had in the legacy (or tar) file it was loaded from, if any.
 * `saveLegacy` writes such a storage under the same key, so a load → save round trip of a
 * torch 1.13 legacy file gives the same bytes.
 */
export function legacyStorageKey(storage: Storage): string | undefined {
  return keys.get(storage);
}

/** @internal Views this package created: their root and byte offset (Storage keeps it private). */
export const viewOffsets = new WeakMap<Storage, { root: Storage; offset: number }>();

const moduleSources = new WeakMap<object, ModuleSource>();

/**
 * @internal Remember the source file and text a module class had in the legacy file it was loaded
 * from. The latest load wins: class objects are shared between loads, and files of torch 1.13 and
 * torch 2.x carry different sources for the same `torch.nn` class.
 */
export function rememberModuleSource(cls: object, source: ModuleSource): void {
  moduleSources.set(cls, source);
}

/**
 * The `('module', cls, file, source)` persistent id a module class had in a legacy file it was
 * loaded from, if any. `saveLegacy` writes that id again for the class (as torch writes one for
 * every `nn.Module` subclass), so a load → save round trip of a whole-model file is exact.
 */
export function legacyModuleSource(cls: unknown): ModuleSource | undefined {
  return (typeof cls === "object" && cls !== null) || typeof cls === "function"
    ? moduleSources.get(cls)
    : undefined;
}
