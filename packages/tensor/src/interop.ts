import { ALL_DTYPES, type DTYPE_TABLE, type DType, type DTypeName, type TypedArray } from "@pt/storage";
import { fromTypedArray } from "./create.js";
import { TensorError } from "./errors.js";
import { fmtSizes } from "./geometry.js";
import { Tensor } from "./tensor.js";

/** onnxruntime-web tensor type strings this adapter maps (the dtype table's `onnx` column). */
export type OnnxType = NonNullable<(typeof DTYPE_TABLE)[DTypeName]["onnx"]>;

/** The `{ type, data, dims }` shape onnxruntime-web's `Tensor` constructor takes (no dependency on it). */
export interface OnnxTensorLike {
  readonly type: OnnxType | string;
  readonly data: TypedArray;
  readonly dims: readonly number[];
}

const byOnnxType = new Map<string, DType>();
for (const d of ALL_DTYPES) if (d.onnxType !== null) byOnnxType.set(d.onnxType, d);

/**
 * To `{ type, data, dims }` (onnxruntime-web layout: float16 as Uint16Array bits, bool as
 * Uint8Array, int64 as BigInt64Array). Zero-copy when the tensor is contiguous.
 */
export function toOnnx(t: Tensor): OnnxTensorLike {
  const type = t.dtype.onnxType;
  if (!type) {
    throw new TensorError("Unsupported", `onnxruntime has no tensor type for ${t.dtype.name}`, {
      dtype: t.dtype.name,
    });
  }
  return { type, data: t.data(), dims: t.shape.slice() };
}

/** From `{ type, data, dims }`, without copying. */
export function fromOnnx(o: OnnxTensorLike): Tensor {
  const dtype = byOnnxType.get(o.type);
  if (!dtype) {
    throw new TensorError("Unsupported", `unsupported onnxruntime tensor type '${o.type}'`, { type: o.type });
  }
  return fromTypedArray(o.data, { dtype, shape: o.dims });
}

/** ndarray-style description: flat `data`, `shape`, `stride` and `offset`, in elements. */
export interface NdarrayLike {
  readonly data: TypedArray;
  readonly shape: number[];
  readonly stride: number[];
  readonly offset: number;
}

/**
 * To ndarray style (`ndarray(data, shape, stride, offset)`), sharing memory: `data` is the whole
 * storage as a typed array (raw bits for float16/bfloat16). Complex dtypes are refused (two lanes
 * per element do not fit ndarray's model).
 */
export function toNdarray(t: Tensor): NdarrayLike {
  if (t.dtype.isComplex) throw new TensorError("Unsupported", `ndarray cannot hold ${t.dtype.name} elements`);
  return {
    data: t.storage.typedAs(t.dtype),
    shape: t.shape.slice(),
    stride: t.stride.slice(),
    offset: t.storageOffset,
  };
}

/** From ndarray style, sharing `data`'s memory. `dtype` defaults to the array's natural dtype. */
export function fromNdarray(
  data: TypedArray,
  shape: readonly number[],
  stride: readonly number[],
  offset = 0,
  dtype?: DType,
): Tensor {
  const base = fromTypedArray(data, dtype === undefined ? {} : { dtype });
  if (shape.length !== stride.length) {
    throw new TensorError(
      "ShapeError",
      `shape ${fmtSizes(shape)} and stride ${fmtSizes(stride)} differ in length`,
    );
  }
  return new Tensor(base.storage, offset, shape, stride, { dtype: base.dtype });
}
