export {
  isZipTorchError,
  TorchScriptArchiveError,
  ZipTorchError,
  type ZipTorchErrorCode,
} from "./torch/errors.js";
export {
  loadZip,
  loadZipSync,
  type PickleLimits,
  torchScriptMarkers,
  type ZipFormatInfo,
  type ZipLoadOptions,
  type ZipLoadResult,
  type ZipLoadSource,
} from "./torch/load.js";
export { type ModelJsonTensor, TorchScriptV1Model } from "./torch/model-json.js";
export { isPt2Archive, loadPt2, type Pt2Archive, type Pt2Tensor } from "./torch/pt2.js";
export {
  MULTIPLE_DTYPES_MESSAGE,
  pickleForZip,
  saveZip,
  type ZipFlavor,
  type ZipSaveOptions,
  type ZipSaveResult,
  zipSaveOptionsLike,
} from "./torch/save.js";
export { looksLikePickles, ZIP_ROLES, type ZipSectionOptions, zipPickleSections } from "./torch/sections.js";
export * from "./zip/index.js";
