import { TensorError } from "./errors.js";

/** `[2, 3]` as torch prints sizes. */
export function fmtSizes(s: readonly number[]): string {
  return `[${s.join(", ")}]`;
}

/** Product of sizes (1 for a 0-dim shape). */
export function numelOf(shape: readonly number[]): number {
  let n = 1;
  // indexed: shapes are frozen arrays, which for-of iterates with an iterator object per element
  for (let i = 0; i < shape.length; i++) n *= shape[i] as number;
  return n;
}

/** Row-major strides of `shape` (torch's contiguous strides: size-0/1 dims count as 1). */
export function contiguousStrides(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= Math.max(shape[i]!, 1);
  }
  return st;
}

/** torch's `maybe_wrap_dim`: a 0-dim tensor accepts dims in [-1, 0]. */
export function wrapDim(dim: number, ndim: number): number {
  const n = Math.max(ndim, 1);
  if (!Number.isInteger(dim) || dim < -n || dim > n - 1) {
    throw new TensorError(
      "DimensionError",
      `Dimension out of range (expected to be in range of [${-n}, ${n - 1}], but got ${dim})`,
      { dim, ndim },
    );
  }
  return dim < 0 ? dim + n : dim;
}

/** torch's `infer_size`: resolve one `-1` and check the element count. */
export function inferSize(shape: readonly number[], numel: number): number[] {
  let infer = -1;
  let prod = 1;
  const out = shape.slice();
  for (let i = 0; i < shape.length; i++) {
    const s = shape[i]!;
    if (s === -1) {
      if (infer >= 0) throw new TensorError("ShapeError", "only one dimension can be inferred", { shape });
      infer = i;
    } else if (Number.isInteger(s) && s >= 0) {
      prod *= s;
    } else {
      throw new TensorError("ShapeError", `invalid shape dimension ${s}`, { shape });
    }
  }
  if (numel === prod || (infer >= 0 && prod > 0 && numel % prod === 0)) {
    if (infer >= 0) {
      if (prod === 0) {
        throw new TensorError(
          "ShapeError",
          `cannot reshape tensor of 0 elements into shape ${fmtSizes(shape)} because the unspecified dimension size -1 can be any value and is ambiguous`,
          { shape },
        );
      }
      out[infer] = numel / prod;
    }
    return out;
  }
  throw new TensorError("ShapeError", `shape '${fmtSizes(shape)}' is invalid for input of size ${numel}`, {
    shape,
    numel,
  });
}

/**
 * torch's `computeStride`: strides for viewing a tensor of `oldShape`/`oldStride` as `newShape`
 * without copying, or null where torch's `view` fails.
 */
export function computeStride(
  oldShape: readonly number[],
  oldStride: readonly number[],
  newShape: readonly number[],
): number[] | null {
  if (oldShape.length === 0) return newShape.map(() => 1);
  const numel = numelOf(oldShape);
  if (numel === 0 && oldShape.length === newShape.length && oldShape.every((s, i) => s === newShape[i])) {
    return oldStride.slice();
  }
  const newStride = new Array<number>(newShape.length);
  if (numel === 0) {
    for (let d = newShape.length - 1; d >= 0; d--) {
      newStride[d] = d === newShape.length - 1 ? 1 : Math.max(newShape[d + 1]!, 1) * newStride[d + 1]!;
    }
    return newStride;
  }
  let viewD = newShape.length - 1;
  let chunkBaseStride = oldStride[oldStride.length - 1]!;
  let tensorNumel = 1;
  let viewNumel = 1;
  for (let tensorD = oldShape.length - 1; tensorD >= 0; tensorD--) {
    tensorNumel *= oldShape[tensorD]!;
    if (
      tensorD === 0 ||
      (oldShape[tensorD - 1] !== 1 && oldStride[tensorD - 1] !== tensorNumel * chunkBaseStride)
    ) {
      while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] === 1)) {
        newStride[viewD] = viewNumel * chunkBaseStride;
        viewNumel *= newShape[viewD]!;
        viewD--;
      }
      if (viewNumel !== tensorNumel) return null;
      if (tensorD > 0) {
        chunkBaseStride = oldStride[tensorD - 1]!;
        tensorNumel = 1;
        viewNumel = 1;
      }
    }
  }
  if (viewD !== -1) return null;
  return newStride;
}

/** torch's `is_contiguous`: size-1 dims are ignored; empty tensors are contiguous. */
export function isContiguousGeometry(shape: readonly number[], stride: readonly number[]): boolean {
  if (numelOf(shape) === 0) return true;
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const s = shape[i]!;
    if (s === 1) continue;
    if (stride[i] !== expected) return false;
    expected *= s;
  }
  return true;
}

/** torch's `is_non_overlapping_and_dense`: some permutation of the dims is contiguous. */
export function isNonOverlappingAndDense(shape: readonly number[], stride: readonly number[]): boolean {
  if (isContiguousGeometry(shape, stride)) return true;
  const perm = shape.map((_, i) => i);
  const key = (d: number) => (shape[d]! < 2 ? Number.POSITIVE_INFINITY : stride[d]!);
  perm.sort((a, b) => key(a) - key(b) || a - b);
  let expected = 1;
  for (const d of perm) {
    const s = shape[d]!;
    if (s === 1) continue;
    if (stride[d] !== expected) return false;
    expected *= s;
  }
  return true;
}

/** Call `fn(storageIndex, linearIndex)` for every element in row-major logical order. */
export function forEachIndex(
  shape: readonly number[],
  stride: readonly number[],
  offset: number,
  fn: (storageIndex: number, linear: number) => void,
): void {
  const n = numelOf(shape);
  if (n === 0) return;
  const nd = shape.length;
  if (nd === 0) {
    fn(offset, 0);
    return;
  }
  const idx = new Array<number>(nd).fill(0);
  let pos = offset;
  const last = nd - 1;
  const lastSize = shape[last]!;
  const lastStride = stride[last]!;
  for (let linear = 0; linear < n; ) {
    for (let j = 0; j < lastSize; j++) fn(pos + j * lastStride, linear++);
    // carry
    let d = last - 1;
    while (d >= 0) {
      idx[d]!++;
      pos += stride[d]!;
      if (idx[d]! < shape[d]!) break;
      pos -= stride[d]! * shape[d]!;
      idx[d] = 0;
      d--;
    }
    if (d < 0) break;
  }
}

/**
 * torch's `infer_dense_strides`: dense strides that keep the order of `stride` (what
 * `empty_like(preserve_format)` gives a tensor that is not non-overlapping-and-dense).
 */
export function inferDenseStrides(shape: readonly number[], stride: readonly number[]): number[] {
  const nd = shape.length;
  const perm = shape.map((_, i) => nd - 1 - i);
  const shouldSwap = (a: number, b: number): number => {
    const sa = stride[a]!;
    const sb = stride[b]!;
    if (sa === 0 || sb === 0) return 0;
    if (sa < sb) return -1;
    if (sa > sb) return 1;
    return shape[a]! > shape[b]! ? 1 : 0;
  };
  for (let i = 1; i < nd; i++) {
    let d1 = i;
    for (let d0 = i - 1; d0 >= 0; d0--) {
      const c = shouldSwap(perm[d0]!, perm[d1]!);
      if (c > 0) {
        [perm[d0], perm[d1]] = [perm[d1]!, perm[d0]!];
        d1 = d0;
      } else if (c < 0) break;
    }
  }
  const out = new Array<number>(nd);
  let cur = 1;
  for (const d of perm) {
    out[d] = cur;
    if (shape[d]! > 1) cur *= shape[d]!;
  }
  return out;
}
