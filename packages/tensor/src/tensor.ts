import {
  bfloat16ArrayToFloat32,
  bfloat16ToFloat,
  type DType,
  dtypes,
  float8ArrayToFloat32,
  float8ToFloat,
  floatToBFloat16,
  floatToHalf,
  halfArrayToFloat32,
  halfToFloat,
  isFloat8Encoding,
  Storage,
  type TypedArray,
} from "@pt/storage";
import { TensorError } from "./errors.js";
import {
  computeStride,
  contiguousStrides,
  fmtSizes,
  forEachIndex,
  inferDenseStrides,
  inferSize,
  isContiguousGeometry,
  isNonOverlappingAndDense,
  numelOf,
  wrapDim,
} from "./geometry.js";

/** A complex element: `{ re, im }` (set also accepts `[re, im]` or a plain number). */
export interface Complex {
  re: number;
  im: number;
}

/**
 * One element as JavaScript sees it:
 * - floating dtypes (float64/32/16, bfloat16, float8 variants): `number` (16/8-bit converted exactly);
 * - int8/16/32, uint8/16/32 and quantized dtypes (their integer representation): `number`;
 * - int64 and uint64: always `bigint` (exact; `set` also accepts integral numbers);
 * - bool: `boolean`;
 * - complex128/64/32: `Complex` (`{ re, im }`).
 */
export type Scalar = number | bigint | boolean | Complex;

/** Nested arrays of scalars, as `toArray()` returns them. */
export type NestedArray = Scalar | NestedArray[];

/**
 * Read element `e` (in units of `dtype` elements) of a storage typed array (`storage.typedAs(dtype)`).
 * Switches on the dtype's element encoding (`DType.element`), not its name: a new dtype with a
 * known encoding needs nothing here.
 */
export function readElement(arr: TypedArray, dtype: DType, e: number): Scalar {
  const enc = dtype.element;
  switch (enc) {
    case "native":
      return arr[e] as number | bigint;
    case "half-bits":
      return halfToFloat(arr[e] as number);
    case "bfloat16-bits":
      return bfloat16ToFloat(arr[e] as number);
    case "bool-byte":
      return arr[e] !== 0;
    case "complex":
      return { re: arr[2 * e] as number, im: arr[2 * e + 1] as number };
    case "complex-half":
      return { re: halfToFloat(arr[2 * e] as number), im: halfToFloat(arr[2 * e + 1] as number) };
    case "uint4x2":
      return ((arr[e >> 1] as number) >> ((e & 1) * 4)) & 0xf;
    case "uint2x4":
      return ((arr[e >> 2] as number) >> ((e & 3) * 2)) & 0x3;
    default:
      return float8ToFloat(arr[e] as number, enc);
  }
}

function toReal(v: Scalar, dtype: DType): number {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "boolean") return v ? 1 : 0;
  throw new TensorError("TypeError", `cannot store a complex value in a ${dtype.name} tensor`, {
    dtype: dtype.name,
  });
}

function toComplex(v: Scalar | readonly [number, number]): Complex {
  if (Array.isArray(v)) return { re: Number(v[0]), im: Number(v[1]) };
  if (typeof v === "object" && v !== null) return v as Complex;
  return { re: toReal(v as Scalar, dtypes.complex64), im: 0 };
}

/** Write element `e` of a storage typed array, converting `v` to `dtype` (see `Scalar`). */
export function writeElement(
  arr: TypedArray,
  dtype: DType,
  e: number,
  v: Scalar | readonly [number, number],
): void {
  switch (dtype.element) {
    case "half-bits":
      arr[e] = floatToHalf(toReal(v as Scalar, dtype));
      return;
    case "bfloat16-bits":
      arr[e] = floatToBFloat16(toReal(v as Scalar, dtype));
      return;
    case "bool-byte":
      arr[e] = (typeof v === "object" ? toComplex(v).re !== 0 || toComplex(v).im !== 0 : Boolean(v)) ? 1 : 0;
      return;
    case "complex": {
      const c = toComplex(v);
      arr[2 * e] = c.re;
      arr[2 * e + 1] = c.im;
      return;
    }
    case "complex-half": {
      const c = toComplex(v);
      arr[2 * e] = floatToHalf(c.re);
      arr[2 * e + 1] = floatToHalf(c.im);
      return;
    }
    case "native":
      break;
    default: // packed quantized values, float8
      throw new TensorError("Unsupported", `writing ${dtype.name} elements is not supported`, {
        dtype: dtype.name,
      });
  }
  if (dtype.isBigInt) {
    let b: bigint;
    if (typeof v === "bigint") b = v;
    else {
      const n = toReal(v as Scalar, dtype);
      if (!Number.isFinite(n)) {
        throw new TensorError("TypeError", `cannot convert ${n} to ${dtype.name}`, { value: n });
      }
      b = BigInt(Math.trunc(n));
    }
    arr[e] = dtype.isSigned ? BigInt.asIntN(64, b) : BigInt.asUintN(64, b);
  } else {
    arr[e] = toReal(v as Scalar, dtype);
  }
}

/** Options of the Tensor constructor. */
export interface TensorOptions {
  /** Element type; default the storage's dtype. A different dtype is allowed over untyped storages. */
  readonly dtype?: DType;
  readonly requiresGrad?: boolean;
}

function checkGeometry(
  storage: Storage,
  dtype: DType,
  offset: number,
  shape: readonly number[],
  stride: readonly number[],
): void {
  if (shape.length !== stride.length) {
    throw new TensorError(
      "ShapeError",
      `shape ${fmtSizes(shape)} and stride ${fmtSizes(stride)} have different lengths`,
      { shape, stride },
    );
  }
  for (let i = 0; i < shape.length; i++) {
    const s = shape[i]!;
    const t = stride[i]!;
    if (!Number.isSafeInteger(s) || s < 0 || !Number.isSafeInteger(t) || t < 0) {
      throw new TensorError("ShapeError", `invalid size ${s} or stride ${t} at dimension ${i}`, {
        shape,
        stride,
      });
    }
  }
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new TensorError("ShapeError", `invalid storage offset ${offset}`, { offset });
  }
  if (storage.untyped === false && storage.dtype !== dtype && storage.dtype.itemSize !== dtype.itemSize) {
    throw new TensorError(
      "TypeError",
      `a ${dtype.name} tensor cannot view a ${storage.dtype.name} storage (element sizes differ)`,
      { dtype: dtype.name, storageDtype: storage.dtype.name },
    );
  }
  if (numelOf(shape) === 0) return;
  let maxIndex = offset;
  for (let i = 0; i < shape.length; i++) maxIndex += (shape[i]! - 1) * stride[i]!;
  const packing = dtype.valuesPerItem;
  const needed = Math.ceil(((maxIndex + 1) * dtype.itemSize) / packing);
  if (needed > storage.nbytes) {
    throw new TensorError(
      "OutOfBounds",
      `setStorage: sizes ${fmtSizes(shape)}, strides ${fmtSizes(stride)}, storage offset ${offset}, and itemsize ${dtype.itemSize} requiring a storage size of ${needed} are out of bounds for storage of size ${storage.nbytes}`,
      { shape, stride, offset, needed, nbytes: storage.nbytes },
    );
  }
}

/**
 * A strided view of a Storage, with torch's semantics: `shape`, `stride` (in elements) and
 * `storageOffset` locate the elements; view ops return new Tensors over the same Storage object,
 * so writes through one view are visible through every other.
 */
export class Tensor {
  readonly storage: Storage;
  readonly storageOffset: number;
  readonly shape: readonly number[];
  readonly stride: readonly number[];
  readonly dtype: DType;
  requiresGrad: boolean;
  /**
   * Python attributes carried by the pickle (`_rebuild_from_type_v2` state, BUILD state,
   * `_rebuild_parameter_with_state`), else null. Not copied to views.
   */
  pyAttributes: Map<string, unknown> | null = null;
  /** The Python class of a tensor subclass (`_rebuild_from_type_v2`'s `new_type`), else null. */
  pySubclass: unknown = null;

  constructor(
    storage: Storage,
    storageOffset: number,
    shape: readonly number[],
    stride?: readonly number[],
    options: TensorOptions = {},
  ) {
    const dtype = options.dtype ?? storage.dtype;
    const st = stride ?? contiguousStrides(shape);
    checkGeometry(storage, dtype, storageOffset, shape, st);
    this.storage = storage;
    this.storageOffset = storageOffset;
    // a frozen array cannot change under us: kept as is (rebuilds and views pass frozen ones)
    this.shape = Object.isFrozen(shape) ? shape : Object.freeze(shape.slice());
    this.stride = Object.isFrozen(st) ? st : Object.freeze(st.slice());
    this.dtype = dtype;
    this.requiresGrad = options.requiresGrad ?? false;
  }

  /** Device string of the storage (`cpu`, `cuda:0`…). */
  get device(): string {
    return this.storage.device;
  }
  /** Number of elements. */
  get numel(): number {
    return numelOf(this.shape);
  }
  /** Number of dimensions. */
  dim(): number {
    return this.shape.length;
  }
  /** Always `strided` (sparse tensors are `SparseTensor`). */
  get layout(): "strided" {
    return "strided";
  }
  /** torch's `is_contiguous()`. */
  isContiguous(): boolean {
    return isContiguousGeometry(this.shape, this.stride);
  }

  /**
   * Make a tensor of this kind over `storage` (subclasses override to keep their extra state).
   * Views of a Parameter are plain Tensors, as in torch.
   */
  protected make(
    storage: Storage,
    offset: number,
    shape: readonly number[],
    stride: readonly number[],
  ): Tensor {
    return new Tensor(storage, offset, shape, stride, { dtype: this.dtype, requiresGrad: this.requiresGrad });
  }

  // ---- view ops -------------------------------------------------------------------------

  /** `select(dim, index)`: drop `dim`, taking element `index` (negative counts from the end). */
  select(dim: number, index: number): Tensor {
    if (this.shape.length === 0) {
      throw new TensorError("IndexError", "select() cannot be applied to a 0-dim tensor.");
    }
    const d = wrapDim(dim, this.shape.length);
    const size = this.shape[d]!;
    if (!Number.isInteger(index) || index < -size || index >= size) {
      throw new TensorError(
        "IndexError",
        `select(): index ${index} out of range for tensor of size ${fmtSizes(this.shape)} at dimension ${d}`,
        { dim: d, index, size },
      );
    }
    const i = index < 0 ? index + size : index;
    const shape = this.shape.slice();
    const stride = this.stride.slice();
    const off = this.storageOffset + i * stride[d]!;
    shape.splice(d, 1);
    stride.splice(d, 1);
    return this.make(this.storage, off, shape, stride);
  }

  /** `t[i][j]…`: select along dimension 0 repeatedly. */
  index(...indices: number[]): Tensor {
    let t: Tensor = this;
    for (const i of indices) t = t.select(0, i);
    return t;
  }

  /**
   * `aten::slice(dim, start, end, step)`: Python slice semantics (`null`/`undefined` = open end,
   * negatives count from the end, clamped), step ≥ 1.
   */
  slice(dim: number, start?: number | null, end?: number | null, step = 1): Tensor {
    if (this.shape.length === 0) {
      throw new TensorError("IndexError", "slice() cannot be applied to a 0-dim tensor.");
    }
    const d = wrapDim(dim, this.shape.length);
    if (!Number.isInteger(step) || step <= 0) {
      throw new TensorError("InvalidArgument", "slice step must be positive", { step });
    }
    const size = this.shape[d]!;
    let s = start ?? 0;
    let e = end ?? Number.MAX_SAFE_INTEGER;
    if (s < 0) s += size;
    if (e < 0) e += size;
    if (s < 0) s = 0;
    else if (s >= size) s = size;
    if (e < s) e = s;
    else if (e >= size) e = size;
    const shape = this.shape.slice();
    const stride = this.stride.slice();
    shape[d] = Math.floor((e - s + step - 1) / step);
    const off = this.storageOffset + s * stride[d]!;
    stride[d] = stride[d]! * step;
    return this.make(this.storage, off, shape, stride);
  }

  /** `narrow(dim, start, length)`. */
  narrow(dim: number, start: number, length: number): Tensor {
    if (this.shape.length === 0) {
      throw new TensorError("IndexError", "narrow() cannot be applied to a 0-dim tensor.");
    }
    const d = wrapDim(dim, this.shape.length);
    const size = this.shape[d]!;
    if (start !== size) start = wrapDim(start, size);
    if (!(length >= 0 && start <= size - length)) {
      throw new TensorError(
        "IndexError",
        `start (${start}) + length (${length}) exceeds dimension size (${size}).`,
        { start, length, size },
      );
    }
    return this.slice(d, start, start + length, 1);
  }

  /** `expand(*sizes)`: size-1 dims broadcast with stride 0; `-1` keeps a size; new leading dims allowed. */
  expand(...sizes: number[] | [readonly number[]]): Tensor {
    const target = flatSizes(sizes);
    const nd = target.length;
    const td = this.shape.length;
    if (nd < td) {
      throw new TensorError(
        "ShapeError",
        `expand(${this.dtype.tensorTypeName ?? this.dtype.qualifiedName}{${fmtSizes(this.shape)}}, size=${fmtSizes(target)}): the number of sizes provided (${nd}) must be greater or equal to the number of dimensions in the tensor (${td})`,
        { sizes: target, shape: this.shape },
      );
    }
    const outShape = new Array<number>(nd);
    const outStride = new Array<number>(nd);
    for (let i = nd - 1; i >= 0; i--) {
      const offset = nd - 1 - i;
      const dim = td - 1 - offset;
      let size = dim >= 0 ? this.shape[dim]! : 1;
      let stride = dim >= 0 ? this.stride[dim]! : i + 1 < nd ? outShape[i + 1]! * outStride[i + 1]! : 1;
      let t = target[i]!;
      if (t === -1) {
        if (dim < 0) {
          throw new TensorError(
            "ShapeError",
            `The expanded size of the tensor (-1) isn't allowed in a leading, non-existing dimension ${i}`,
            { dim: i },
          );
        }
        t = size;
      }
      if (size !== t) {
        if (size !== 1) {
          throw new TensorError(
            "ShapeError",
            `The expanded size of the tensor (${t}) must match the existing size (${size}) at non-singleton dimension ${i}.  Target sizes: ${fmtSizes(target)}.  Tensor sizes: ${fmtSizes(this.shape)}`,
            { dim: i, target: t, size },
          );
        }
        size = t;
        stride = 0;
      }
      if (!Number.isInteger(size) || size < 0) {
        throw new TensorError(
          "ShapeError",
          `Trying to create tensor with negative dimension ${size}: ${fmtSizes(target)}`,
          {
            sizes: target,
          },
        );
      }
      outShape[i] = size;
      outStride[i] = stride;
    }
    return this.make(this.storage, this.storageOffset, outShape, outStride);
  }

  /** Swap two dimensions. */
  transpose(dim0: number, dim1: number): Tensor {
    const n = this.shape.length;
    const a = wrapDim(dim0, n);
    const b = wrapDim(dim1, n);
    const shape = this.shape.slice();
    const stride = this.stride.slice();
    if (n > 0) {
      [shape[a], shape[b]] = [shape[b]!, shape[a]!];
      [stride[a], stride[b]] = [stride[b]!, stride[a]!];
    }
    return this.make(this.storage, this.storageOffset, shape, stride);
  }

  /** Reorder dimensions. */
  permute(...dims: number[] | [readonly number[]]): Tensor {
    const ds = flatSizes(dims);
    const n = this.shape.length;
    if (ds.length !== n) {
      throw new TensorError(
        "DimensionError",
        `permute(sparse_coo): number of dimensions in the tensor input does not match the length of the desired ordering of dimensions i.e. input.dim() = ${n} is not equal to len(dims) = ${ds.length}`,
        { ndim: n, dims: ds },
      );
    }
    const seen = new Set<number>();
    const shape: number[] = [];
    const stride: number[] = [];
    for (const d0 of ds) {
      const d = wrapDim(d0, n);
      if (seen.has(d))
        throw new TensorError("DimensionError", "permute(): duplicate dims are not allowed.", { dims: ds });
      seen.add(d);
      if (n > 0) {
        shape.push(this.shape[d]!);
        stride.push(this.stride[d]!);
      }
    }
    return this.make(this.storage, this.storageOffset, shape, stride);
  }

  /** `view(*shape)`: fails exactly where torch's `view` fails (torch's `computeStride`). */
  view(...shape: number[] | [readonly number[]]): Tensor {
    const target = inferSize(flatSizes(shape), this.numel);
    const st = computeStride(this.shape, this.stride, target);
    if (!st) {
      throw new TensorError(
        "ShapeError",
        "view size is not compatible with input tensor's size and stride (at least one dimension spans across two contiguous subspaces). Use .reshape(...) instead.",
        { shape: target },
      );
    }
    return this.make(this.storage, this.storageOffset, target, st);
  }

  /** `reshape(*shape)`: a view when possible, else a contiguous copy (new storage). */
  reshape(...shape: number[] | [readonly number[]]): Tensor {
    const target = inferSize(flatSizes(shape), this.numel);
    const st = computeStride(this.shape, this.stride, target);
    if (st) return this.make(this.storage, this.storageOffset, target, st);
    return this.cloneWith(false).view(target);
  }

  /** Remove size-1 dims (all, or only `dim`). */
  squeeze(dim?: number): Tensor {
    const shape: number[] = [];
    const stride: number[] = [];
    const d = dim === undefined ? -1 : wrapDim(dim, this.shape.length);
    for (let i = 0; i < this.shape.length; i++) {
      const remove = this.shape[i] === 1 && (dim === undefined || i === d);
      if (!remove) {
        shape.push(this.shape[i]!);
        stride.push(this.stride[i]!);
      }
    }
    return this.make(this.storage, this.storageOffset, shape, stride);
  }

  /** Insert a size-1 dim at `dim` (in [-ndim-1, ndim]). */
  unsqueeze(dim: number): Tensor {
    const n = this.shape.length;
    const d = wrapDim(dim, n + 1);
    const shape = this.shape.slice();
    const stride = this.stride.slice();
    const st = d >= n ? 1 : shape[d]! * stride[d]!;
    shape.splice(d, 0, 1);
    stride.splice(d, 0, st);
    return this.make(this.storage, this.storageOffset, shape, stride);
  }

  /** Merge dims `startDim..endDim` (a view when possible, as `reshape`). */
  flatten(startDim = 0, endDim = -1): Tensor {
    const n = this.shape.length;
    const s = wrapDim(startDim, n);
    const e = wrapDim(endDim, n);
    if (s > e) {
      throw new TensorError(
        "DimensionError",
        "flatten() has invalid args: start_dim cannot come after end_dim",
        {
          startDim,
          endDim,
        },
      );
    }
    if (n === 0) return this.reshape([1]);
    if (s === e) return this;
    let m = 1;
    for (let i = s; i <= e; i++) m *= this.shape[i]!;
    const shape = [...this.shape.slice(0, s), m, ...this.shape.slice(e + 1)];
    return this.reshape(shape);
  }

  /** Transpose of a ≤2-d tensor. */
  t(): Tensor {
    const n = this.shape.length;
    if (n > 2)
      throw new TensorError("DimensionError", `t() expects a tensor with <= 2 dimensions, but self is ${n}D`);
    return n < 2
      ? this.make(this.storage, this.storageOffset, this.shape, this.stride)
      : this.transpose(0, 1);
  }

  /** This tensor when already contiguous, else a contiguous copy. */
  contiguous(): Tensor {
    return this.isContiguous() ? this : this.cloneWith(false);
  }

  /**
   * A copy over a new storage (breaks sharing). Like torch's `clone()` (preserve_format): a
   * non-overlapping dense tensor keeps its strides, anything else becomes contiguous.
   */
  clone(): Tensor {
    return this.cloneWith(true);
  }

  /** Refuse to materialise more than 2^31 elements (e.g. a hostile `expand` to 10^18 elements). */
  private checkMaterializable(): void {
    const n = this.numel;
    if (n > 2 ** 31) {
      throw new TensorError("OutOfBounds", `a tensor of ${n} elements is too large to materialize`, {
        numel: n,
      });
    }
  }

  private cloneWith(preserve: boolean): Tensor {
    this.checkMaterializable();
    if (this.dtype.valuesPerItem !== 1) {
      throw new TensorError("Unsupported", `copying ${this.dtype.name} tensors is not supported`);
    }
    const n = this.numel;
    const stride = !preserve
      ? contiguousStrides(this.shape)
      : isNonOverlappingAndDense(this.shape, this.stride)
        ? this.stride.slice()
        : inferDenseStrides(this.shape, this.stride);
    const storage = Storage.allocate(this.dtype, n, { device: this.device });
    const dst = storage.typed();
    const src = this.storage.typedAs(this.dtype);
    const lanes = this.dtype.lanes;
    let dstIndex: Float64Array | null = null;
    if (!isContiguousGeometry(this.shape, stride)) {
      const di = new Float64Array(n);
      forEachIndex(this.shape, stride, 0, (e, li) => {
        di[li] = e;
      });
      dstIndex = di;
    }
    forEachIndex(this.shape, this.stride, this.storageOffset, (si, li) => {
      const d = dstIndex ? dstIndex[li]! : li;
      for (let l = 0; l < lanes; l++) dst[d * lanes + l] = src[si * lanes + l]!;
    });
    return this.make(storage, 0, this.shape, stride);
  }

  // ---- element access -------------------------------------------------------------------

  private storageIndex(idx: readonly number[]): number {
    if (idx.length !== this.shape.length) {
      throw new TensorError(
        "IndexError",
        `expected ${this.shape.length} indices for a tensor of size ${fmtSizes(this.shape)}, got ${idx.length}`,
        { shape: this.shape, index: idx },
      );
    }
    let e = this.storageOffset;
    for (let d = 0; d < idx.length; d++) {
      const size = this.shape[d]!;
      let i = idx[d]!;
      if (!Number.isInteger(i) || i < -size || i >= size) {
        throw new TensorError(
          "IndexError",
          `index ${i} is out of bounds for dimension ${d} with size ${size}`,
          {
            dim: d,
            index: i,
            size,
          },
        );
      }
      if (i < 0) i += size;
      e += i * this.stride[d]!;
    }
    return e;
  }

  /** Element at `idx` (one index per dim, negatives count from the end). See `Scalar` for value types. */
  get(idx: readonly number[] = []): Scalar {
    return readElement(this.storage.typedAs(this.dtype), this.dtype, this.storageIndex(idx));
  }

  /** Write the element at `idx` (visible through every view of the storage). */
  set(idx: readonly number[], value: Scalar | readonly [number, number]): void {
    writeElement(this.storage.typedAs(this.dtype), this.dtype, this.storageIndex(idx), value);
  }

  /** The value of a one-element tensor. */
  item(): Scalar {
    if (this.numel !== 1) {
      throw new TensorError(
        "ShapeError",
        `a Tensor with ${this.numel} elements cannot be converted to Scalar`,
      );
    }
    const e = this.storageOffset;
    return readElement(this.storage.typedAs(this.dtype), this.dtype, e);
  }

  /** All elements in row-major order. */
  values(): Scalar[] {
    this.checkMaterializable();
    const arr = this.storage.typedAs(this.dtype);
    const out = new Array<Scalar>(this.numel);
    forEachIndex(this.shape, this.stride, this.storageOffset, (si, li) => {
      out[li] = readElement(arr, this.dtype, si);
    });
    return out;
  }

  /** Nested arrays (a scalar for a 0-dim tensor). */
  toArray(): NestedArray {
    const flat = this.values();
    if (this.shape.length === 0) return flat[0]!;
    let pos = 0;
    const build = (d: number): NestedArray[] => {
      const n = this.shape[d]!;
      const out: NestedArray[] = [];
      for (let i = 0; i < n; i++) out.push(d === this.shape.length - 1 ? flat[pos++]! : build(d + 1));
      return out;
    };
    return build(0);
  }

  /**
   * The elements as a typed array of `dtype.arrayKind` (raw bits for float16/bfloat16/float8,
   * two lanes per complex element). Zero-copy (a subarray of the storage, writes are shared)
   * when contiguous, otherwise a row-major copy.
   */
  data(): TypedArray {
    if (this.dtype.valuesPerItem !== 1) {
      throw new TensorError("Unsupported", `data() of packed ${this.dtype.name} tensors is not supported`);
    }
    const lanes = this.dtype.lanes;
    const src = this.storage.typedAs(this.dtype);
    if (this.isContiguous()) {
      return src.subarray(this.storageOffset * lanes, (this.storageOffset + this.numel) * lanes);
    }
    return this.cloneWith(false).data();
  }

  /**
   * The values as a new Float32Array in row-major order (real dtypes), using the bulk
   * float16/bfloat16/float8 conversions; int64 values beyond 2^24 lose precision as in torch's `.float()`.
   */
  toFloat32Array(): Float32Array {
    if (this.dtype.isComplex) throw new TensorError("TypeError", "toFloat32Array() of a complex tensor");
    const enc = this.dtype.element;
    if (enc === "half-bits") return halfArrayToFloat32(this.data() as Uint16Array);
    if (enc === "bfloat16-bits") return bfloat16ArrayToFloat32(this.data() as Uint16Array);
    if (isFloat8Encoding(enc)) return float8ArrayToFloat32(this.data() as Uint8Array, enc);
    return Float32Array.from(this.toFloat64Array());
  }

  /** Load the bytes of a lazy storage (needed before element access when its source has no `readSync`). */
  async load(): Promise<this> {
    await this.storage.load();
    return this;
  }

  /** The values as float64 numbers in a Float64Array (real dtypes; bool as 0/1, int64 via Number). */
  toFloat64Array(): Float64Array {
    if (this.dtype.isComplex) throw new TensorError("TypeError", "toFloat64Array() of a complex tensor");
    const arr = this.storage.typedAs(this.dtype);
    this.checkMaterializable();
    const out = new Float64Array(this.numel);
    forEachIndex(this.shape, this.stride, this.storageOffset, (si, li) => {
      out[li] = toReal(readElement(arr, this.dtype, si), this.dtype);
    });
    return out;
  }

  /** torch.equal: same shape and every element equal (NaN ≠ NaN). */
  equal(other: Tensor): boolean {
    if (this.shape.length !== other.shape.length || this.shape.some((s, i) => s !== other.shape[i]))
      return false;
    const a = this.values();
    const b = other.values();
    for (let i = 0; i < a.length; i++) if (!scalarEquals(a[i]!, b[i]!)) return false;
    return true;
  }

  /** torch.allclose: `|a - b| <= atol + rtol * |b|` elementwise (shapes must be equal). */
  allclose(other: Tensor, options: { rtol?: number; atol?: number; equalNan?: boolean } = {}): boolean {
    const { rtol = 1e-5, atol = 1e-8, equalNan = false } = options;
    if (this.shape.length !== other.shape.length || this.shape.some((s, i) => s !== other.shape[i]))
      return false;
    const a = this.values();
    const b = other.values();
    const close = (x: number, y: number): boolean => {
      if (Number.isNaN(x) || Number.isNaN(y)) return equalNan && Number.isNaN(x) && Number.isNaN(y);
      if (x === y) return true;
      return Math.abs(x - y) <= atol + rtol * Math.abs(y);
    };
    for (let i = 0; i < a.length; i++) {
      const x = a[i]!;
      const y = b[i]!;
      if (typeof x === "object" || typeof y === "object") {
        const cx = toComplex(x);
        const cy = toComplex(y);
        if (!close(cx.re, cy.re) || !close(cx.im, cy.im)) return false;
      } else if (!close(toReal(x, this.dtype), toReal(y, other.dtype))) return false;
    }
    return true;
  }

  /**
   * A torch-like printout for `console.log` / `util.inspect`: `tensor([0.5, 1, …], dtype=torch.float32,
   * shape=[2, 3])`, the first few values only (none of a lazy storage not yet loaded: it is not
   * read for printing), `requires_grad=True` when set; never the storage's raw bytes.
   * (The `Symbol.for` key keeps this free of `node:util`.)
   */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    const extra = `dtype=${this.dtype.qualifiedName}, shape=${fmtSizes(this.shape)}${this.device !== "cpu" ? `, device='${this.device}'` : ""}${this.requiresGrad ? ", requires_grad=True" : ""}`;
    const head = this instanceof Parameter ? "Parameter containing:\n" : "";
    return `${head}tensor(${this.previewValues()}, ${extra})`;
  }

  /** The first few values as text (`[1, 2.5, …]`), or why there are none. */
  private previewValues(): string {
    const PREVIEW = 6;
    if (!this.storage.isLoaded) return "<not loaded>";
    if (this.dtype.valuesPerItem !== 1) return "<packed>";
    try {
      const n = Math.min(this.numel, PREVIEW);
      const arr = this.storage.typedAs(this.dtype);
      const out: string[] = [];
      const idx = new Array<number>(this.shape.length).fill(0);
      for (let k = 0; k < n; k++) {
        let si = this.storageOffset;
        for (let d = 0; d < idx.length; d++) si += idx[d]! * this.stride[d]!;
        out.push(previewScalar(readElement(arr, this.dtype, si)));
        for (let d = idx.length - 1; d >= 0; d--) {
          idx[d]!++;
          if (idx[d]! < this.shape[d]!) break;
          idx[d] = 0;
        }
      }
      if (this.shape.length === 0) return out[0] ?? "";
      return `[${out.join(", ")}${this.numel > PREVIEW ? ", …" : ""}]`;
    } catch {
      return "<unreadable>";
    }
  }

  toString(): string {
    return `Tensor(shape=${fmtSizes(this.shape)}, stride=${fmtSizes(this.stride)}, offset=${this.storageOffset}, dtype=${this.dtype.qualifiedName}, device=${this.device})`;
  }
}

function previewScalar(v: Scalar): string {
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "bigint") return String(v);
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  const c = v as Complex;
  return `${Number(c.re.toPrecision(6))}${c.im < 0 ? "-" : "+"}${Math.abs(Number(c.im.toPrecision(6)))}j`;
}

function scalarEquals(a: Scalar, b: Scalar): boolean {
  if (typeof a === "object" || typeof b === "object") {
    const x = toComplex(a);
    const y = toComplex(b);
    return x.re === y.re && x.im === y.im;
  }
  if (typeof a === typeof b) return a === b;
  if (typeof a === "bigint" || typeof b === "bigint") {
    const n = typeof a === "bigint" ? b : a;
    const big = (typeof a === "bigint" ? a : b) as bigint;
    return typeof n === "number" && Number.isInteger(n) && BigInt(n) === big;
  }
  return Number(a) === Number(b);
}

function flatSizes(args: number[] | [readonly number[]]): number[] {
  if (args.length === 1 && Array.isArray(args[0])) return (args[0] as readonly number[]).slice();
  return (args as number[]).slice();
}

/**
 * `torch.nn.Parameter`: a Tensor over the same storage as `data`, `requiresGrad` true by default.
 * View ops on a Parameter return plain Tensors, as in torch.
 */
export class Parameter extends Tensor {
  constructor(data: Tensor, requiresGrad = true) {
    super(data.storage, data.storageOffset, data.shape, data.stride, { dtype: data.dtype, requiresGrad });
  }
  /** The underlying plain Tensor (torch's `param.data`), sharing the storage. */
  asTensor(): Tensor {
    return new Tensor(this.storage, this.storageOffset, this.shape, this.stride, { dtype: this.dtype });
  }
}
