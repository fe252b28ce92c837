/**
 * `@pt/serialization`: `torch.load` / `torch.save` for TypeScript. Detects zip, legacy and tar
 * checkpoints, loads them safely (torch's `weights_only` allowlist by default, nothing ever
 * executed) and saves byte-identical zip files. Node file adapters live in `@pt/serialization/node`.
 * Errors of every layer meet one contract: `isPtError(e, { layer?, code? })` (from `@pt/storage`).
 */

export { isPtError, type PtError, ptErrorLayer } from "@pt/storage";
export {
  checkRelativePath,
  DCP_METADATA_CLASSES,
  type DcpBytesEntry,
  type DcpChunk,
  type DcpEntry,
  type DcpMetadata,
  type DcpStorageInfo,
  type DcpTensorEntry,
  dcpMetadataRegistry,
  parseDcpMetadata,
} from "./dcp/metadata.js";
export {
  blobTree,
  type DcpCheckpoint,
  type DcpOpenOptions,
  type FileTree,
  openDcp,
  readDcpMetadata,
  SliceSource,
} from "./dcp/read.js";
export { type DcpSaveOptions, type DcpSaveResult, type DirectoryWriter, saveDcp } from "./dcp/write.js";
export { detectFormat, type Format } from "./detect.js";
export {
  isSerializationError,
  type RefusedGlobal,
  SerializationError,
  type SerializationErrorCode,
  UnsafeGlobalError,
} from "./errors.js";
export { type ListedTensor, type Listing, type ListingTotals, listing } from "./listing.js";
export {
  type Checkpoint,
  type CheckpointRecord,
  type Limits,
  type LoadOptions,
  load,
  loadSync,
  open,
  refusedBy,
  type Source,
  scan,
} from "./load.js";
export {
  isAllowed,
  isDangerous,
  parseAllowed,
  TORCH_DANGEROUS,
  type Verdict,
  verdictOf,
  weightsOnlyRegistry,
} from "./policy.js";
export { py } from "./py.js";
export { type SaveOptions, type Sink, save, saveTo } from "./save.js";
export type { ScanResult } from "./scan.js";
export {
  detectScanFormat,
  type FileSections,
  fetchPickleSections,
  type PickleSectionsOptions,
  pickleSections,
  ROLES,
  type ScanFormat,
  type ScannedGlobal,
  type ScanPolicyOptions,
  type ScanProblem,
  scanSections,
  scanSource,
} from "./scan.js";
export {
  type FileVerdict,
  looksLikeSafetensors,
  type ScanFileResult,
  type ScanInput,
  type ScanManyOptions,
  scanMany,
  scanOne,
} from "./scan-many.js";
export {
  type OpenedShard,
  openSharded,
  parseShardIndex,
  parseSize,
  registerShardOpener,
  type ShardedCheckpoint,
  type ShardedSaveOptions,
  type ShardedSaveResult,
  type ShardIndex,
  type ShardOpener,
  saveSharded,
} from "./sharded.js";
export {
  HttpFiles,
  httpTree,
  type OpenUrlOptions,
  openUrl,
  resolveInFolder,
  type UrlCheckpoint,
  type UrlInfo,
} from "./url.js";
export {
  childrenOf,
  displayChildren,
  type FoundTensor,
  findBareStorages,
  findStateTensors,
  findTensors,
  fmtBytes,
  isModuleLike,
  keyText,
  type ModuleLike,
  type PathElem,
  pathText,
  selectKey,
  shortRepr,
  tensorChildren,
} from "./walk.js";
