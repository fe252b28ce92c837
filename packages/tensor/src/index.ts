export * from "./create.js";
export * from "./errors.js";
export * from "./flavor-names.js";
export {
  computeStride,
  contiguousStrides,
  inferDenseStrides,
  inferSize,
  isContiguousGeometry,
  isNonOverlappingAndDense,
  numelOf,
} from "./geometry.js";
export * from "./interop.js";
export * from "./memory-format.js";
export * from "./quantized.js";
export * from "./sparse.js";
export * from "./tensor.js";
export * from "./torch-pickle.js";
