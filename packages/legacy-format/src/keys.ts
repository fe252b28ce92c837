import type { Storage } from "@pt/storage";

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
