/**
 * Torch's pickle bindings: what the globals in a torch pickle mean (loading), and how tensors,
 * storages, dtypes, devices and sizes reduce to exactly what torch writes (saving).
 *
 * Split by concern under `./torch-pickle/`: `values.ts` (the value classes torch globals stand
 * for), `rebuild.ts` (the rebuild table), `globals.ts` (`torchGlobals()`), `persistent-ids.ts`
 * (storage persistent ids) and `reduce.ts` (save reductions); `args.ts` holds the error and the
 * argument checks they share.
 */
export { TorchPickleError } from "./torch-pickle/args.js";
export { type TorchGlobalsOptions, torchGlobals, torchTensorTypes } from "./torch-pickle/globals.js";
export {
  parseStoragePid,
  type SavedStorage,
  type StoragePid,
  StorageView,
  savedStorage,
  storagePersistentId,
} from "./torch-pickle/persistent-ids.js";
export { torchRebuildFunctions } from "./torch-pickle/rebuild.js";
export {
  BackwardHooks,
  installTorchPickleProtocols,
  type TorchFlavor,
  torchReduce,
  torchReducers,
} from "./torch-pickle/reduce.js";
export {
  NestedTensor,
  PARAMETER_CLASS,
  StorageClassRef,
  storageClassFor,
  TENSOR_CLASS,
  TorchClassRef,
  TorchDevice,
  TorchLayout,
  TorchQScheme,
  TorchSize,
  torchSize,
  UNTYPED_STORAGE,
} from "./torch-pickle/values.js";
