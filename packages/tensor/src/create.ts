import { type DType, dtypes, Storage, type TypedArray } from "@pt/storage";
import { TensorError } from "./errors.js";
import { contiguousStrides, fmtSizes, numelOf } from "./geometry.js";
import { type NestedArray, type Scalar, Tensor, writeElement } from "./tensor.js";

/** Options of the constructors. */
export interface CreateOptions {
  /** Element type (defaults: see each function). */
  readonly dtype?: DType;
  /** Shape; default the nested arrays' shape, or `[length]` for a flat typed array. */
  readonly shape?: readonly number[];
  readonly device?: string;
  readonly requiresGrad?: boolean;
}

const kindDefaults: Array<[new (...a: never[]) => TypedArray, DType]> = [
  [Float32Array, dtypes.float32],
  [Float64Array, dtypes.float64],
  [Int32Array, dtypes.int32],
  [Int16Array, dtypes.int16],
  [Int8Array, dtypes.int8],
  [Uint8Array, dtypes.uint8],
  [Uint16Array, dtypes.uint16],
  [Uint32Array, dtypes.uint32],
  [BigInt64Array, dtypes.int64],
  [BigUint64Array, dtypes.uint64],
];

/** The dtype a typed array maps to by default (Float32Array → float32, BigInt64Array → int64…). */
export function dtypeOfTypedArray(a: TypedArray): DType {
  for (const [c, d] of kindDefaults) if (a instanceof c) return d;
  throw new TensorError("TypeError", `unsupported array type ${Object.prototype.toString.call(a)}`);
}

function checkShape(shape: readonly number[]): void {
  for (const s of shape) {
    if (!Number.isSafeInteger(s) || s < 0) {
      throw new TensorError(
        "ShapeError",
        `Trying to create tensor with negative dimension ${s}: ${fmtSizes(shape)}`,
        {
          shape,
        },
      );
    }
  }
}

/**
 * A tensor over a typed array's memory, without copying (like `torch.from_numpy`). The array's
 * kind must match `dtype.arrayKind` (default: the array's natural dtype; pass `float16` or
 * `bfloat16` with a Uint16Array of bit patterns).
 */
export function fromTypedArray(data: TypedArray, options: CreateOptions = {}): Tensor {
  const dtype = options.dtype ?? dtypeOfTypedArray(data);
  if (data.constructor.name !== dtype.arrayKind) {
    throw new TensorError(
      "TypeError",
      `a ${data.constructor.name} cannot hold ${dtype.name} (needs ${dtype.arrayKind})`,
      {
        dtype: dtype.name,
      },
    );
  }
  const n = data.length / dtype.lanes;
  const shape = options.shape ?? [n];
  checkShape(shape);
  if (numelOf(shape) !== n) {
    throw new TensorError("ShapeError", `shape '${fmtSizes(shape)}' is invalid for input of size ${n}`, {
      shape,
    });
  }
  const storage = Storage.fromTypedArray(
    dtype,
    data,
    options.device === undefined ? {} : { device: options.device },
  );
  return new Tensor(storage, 0, shape, contiguousStrides(shape), {
    dtype,
    requiresGrad: options.requiresGrad ?? false,
  });
}

function inferNested(data: NestedArray): { shape: number[]; flat: Scalar[] } {
  const shape: number[] = [];
  let probe: unknown = data;
  while (Array.isArray(probe) && !isPair(probe)) {
    shape.push(probe.length);
    probe = probe[0];
  }
  const flat: Scalar[] = [];
  const walk = (v: unknown, d: number): void => {
    if (d === shape.length) {
      if (Array.isArray(v) && !isPair(v)) {
        throw new TensorError("ShapeError", `expected a scalar at dim ${d}, got a sequence`, { dim: d });
      }
      flat.push(v as Scalar);
      return;
    }
    if (!Array.isArray(v) || isPair(v)) {
      throw new TensorError(
        "ShapeError",
        `expected sequence of length ${shape[d]} at dim ${d} (got a scalar)`,
        {
          dim: d,
        },
      );
    }
    const arr = v as unknown[];
    if (arr.length !== shape[d]) {
      throw new TensorError(
        "ShapeError",
        `expected sequence of length ${shape[d]} at dim ${d} (got ${arr.length})`,
        {
          dim: d,
        },
      );
    }
    for (const x of arr) walk(x, d + 1);
  };
  walk(data, 0);
  return { shape, flat };
}

// a complex given as [re, im] is only recognised with a complex dtype; see tensor()
let pairMode = false;
function isPair(v: unknown[]): boolean {
  return pairMode && v.length === 2 && typeof v[0] === "number" && typeof v[1] === "number";
}

/**
 * A new tensor with a copy of `data` (like `torch.tensor`): nested arrays or a typed array.
 * Default dtype: the typed array's natural dtype; for nested arrays `bool` if all booleans,
 * `int64` if any bigint, `complex64` if any `{re, im}`, else `float32` (JS cannot tell 1.0 from 1).
 * With a complex dtype, `[re, im]` pairs are complex elements.
 */
export function tensor(data: NestedArray | TypedArray, options: CreateOptions = {}): Tensor {
  if (ArrayBuffer.isView(data)) {
    const dtype = options.dtype ?? dtypeOfTypedArray(data as TypedArray);
    const copy = (data as TypedArray).slice() as TypedArray;
    if (copy.constructor.name === dtype.arrayKind) return fromTypedArray(copy, { ...options, dtype });
    const flat = Array.from(copy as ArrayLike<number | bigint>);
    return fromFlat(flat, options.shape ?? [flat.length], dtype, options);
  }
  pairMode = options.dtype?.isComplex ?? false;
  let shape: number[];
  let flat: Scalar[];
  try {
    ({ shape, flat } = inferNested(data));
  } finally {
    pairMode = false;
  }
  let dtype = options.dtype;
  if (!dtype) {
    if (flat.length > 0 && flat.every((v) => typeof v === "boolean")) dtype = dtypes.bool;
    else if (flat.some((v) => typeof v === "bigint")) dtype = dtypes.int64;
    else if (flat.some((v) => typeof v === "object")) dtype = dtypes.complex64;
    else dtype = dtypes.float32;
  }
  return fromFlat(flat, options.shape ?? shape, dtype, options);
}

function fromFlat(
  flat: ReadonlyArray<Scalar | readonly [number, number]>,
  shape: readonly number[],
  dtype: DType,
  options: CreateOptions,
): Tensor {
  checkShape(shape);
  if (numelOf(shape) !== flat.length) {
    throw new TensorError(
      "ShapeError",
      `shape '${fmtSizes(shape)}' is invalid for input of size ${flat.length}`,
      {
        shape,
      },
    );
  }
  const t = empty(shape, { ...options, dtype });
  const arr = t.storage.typed();
  for (let i = 0; i < flat.length; i++) writeElement(arr, dtype, i, flat[i]!);
  return t;
}

/** An uninitialised (zero-filled) contiguous tensor. Default dtype float32. */
export function empty(shape: readonly number[], options: Omit<CreateOptions, "shape"> = {}): Tensor {
  checkShape(shape);
  const dtype = options.dtype ?? dtypes.float32;
  const storage = Storage.allocate(
    dtype,
    numelOf(shape),
    options.device === undefined ? {} : { device: options.device },
  );
  return new Tensor(storage, 0, shape, contiguousStrides(shape), {
    dtype,
    requiresGrad: options.requiresGrad ?? false,
  });
}

/** Zeros. Default dtype float32. */
export function zeros(shape: readonly number[], options: Omit<CreateOptions, "shape"> = {}): Tensor {
  return empty(shape, options);
}

/** A tensor filled with `value`. Default dtype float32. */
export function full(
  shape: readonly number[],
  value: Scalar,
  options: Omit<CreateOptions, "shape"> = {},
): Tensor {
  const t = empty(shape, options);
  const arr = t.storage.typed();
  for (let i = 0; i < t.numel; i++) writeElement(arr, t.dtype, i, value);
  return t;
}

/** Ones. Default dtype float32. */
export function ones(shape: readonly number[], options: Omit<CreateOptions, "shape"> = {}): Tensor {
  return full(shape, 1, options);
}

/**
 * `arange(end)` / `arange(start, end, step)`: like torch, int64 when every argument is an
 * integer and no dtype is given, else float32. Length `ceil((end - start) / step)`.
 */
export function arange(
  start: number,
  end?: number,
  step = 1,
  options: Omit<CreateOptions, "shape"> = {},
): Tensor {
  if (end === undefined) {
    end = start;
    start = 0;
  }
  if (step === 0 || !Number.isFinite(step)) throw new TensorError("InvalidArgument", "step must be nonzero");
  if ((end - start) / step < 0) {
    throw new TensorError("InvalidArgument", "upper bound and larger bound inconsistent with step sign");
  }
  const n = Math.ceil((end - start) / step);
  const dtype =
    options.dtype ??
    (Number.isInteger(start) && Number.isInteger(end) && Number.isInteger(step)
      ? dtypes.int64
      : dtypes.float32);
  const t = empty([n], { ...options, dtype });
  const arr = t.storage.typed();
  for (let i = 0; i < n; i++) writeElement(arr, dtype, i, start + i * step);
  return t;
}
