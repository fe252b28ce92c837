/**
 * `@pt/legacy-format`: PyTorch's legacy stream (read and write, as `torch.save(...,
 * _use_new_zipfile_serialization=False)`) and the tar format of torch < 0.1.10 (read).
 *
 * - `loadLegacy` / `loadLegacySync`: the five pickles and the storage records; storage views
 *   (`view_metadata`) share memory with their root; `lazy` reads only headers.
 * - `saveLegacy` / `saveLegacySync` / `planLegacySave`: torch 1.13's exact bytes; loaded storages
 *   keep their keys, so load → save of a torch-1.13 legacy file is byte-identical.
 * - `loadTar` / `loadTarSync`: the tar format, with storage views and shared tensors.
 * - `isLegacy` / `isTar`: format detection from the first bytes.
 */
export { isLegacy, isTar, MAGIC_NUMBER, PROTOCOL_VERSION } from "./detect.js";
export * from "./errors.js";
export type { LegacySource } from "./io.js";
export { legacyModuleSource, legacyStorageKey } from "./keys.js";
export {
  type LegacyLimits,
  type LegacyLoadOptions,
  type LegacyLoadResult,
  type LegacyStorageRecord,
  loadLegacy,
  loadLegacyOp,
  loadLegacySync,
  type ModuleSource,
} from "./legacy.js";
export {
  type LegacySaveOptions,
  type LegacySavePlan,
  type LegacySink,
  planLegacySave,
  saveLegacy,
  saveLegacySync,
} from "./save.js";
export { LEGACY_ROLES, legacyPickleSections, legacyPickleSectionsAsync } from "./sections.js";
export { DEFAULT_SYS_INFO, type SysInfo } from "./sys-info.js";
export {
  loadTar,
  loadTarOp,
  loadTarSync,
  type TarLoadOptions,
  type TarLoadResult,
  type TarMember,
} from "./tar.js";
