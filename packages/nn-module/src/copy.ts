/**
 * `Tensor.copy_` as `load_state_dict` uses it: elementwise, converting dtype as torch does
 * (float → int truncates toward zero, bool is `x != 0`, complex → real keeps the real part),
 * writing through `dst`'s storage so every view and tied parameter sees the new values.
 */
import { type Complex, readElement, type Scalar, type Tensor, writeElement } from "@pt/tensor";
import { NnError } from "./errors.js";

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

/** Storage element indices of `t` in row-major order. */
function storageIndices(t: Tensor): Int32Array | Float64Array {
  const n = t.numel;
  const out = n < 2 ** 31 ? new Int32Array(n) : new Float64Array(n);
  const nd = t.shape.length;
  const idx = new Array<number>(nd).fill(0);
  let off = t.storageOffset;
  for (let i = 0; i < n; i++) {
    out[i] = off;
    for (let d = nd - 1; d >= 0; d--) {
      idx[d]!++;
      off += t.stride[d]!;
      if (idx[d]! < t.shape[d]!) break;
      off -= idx[d]! * t.stride[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

function convert(v: Scalar, src: Tensor, dst: Tensor): Scalar {
  if (typeof v === "object" && !dst.dtype.isComplex) return (v as Complex).re;
  if (dst.dtype.isBigInt && typeof v === "number") {
    if (!Number.isFinite(v)) return 0n;
    return BigInt(Math.trunc(v));
  }
  if (!dst.dtype.isBigInt && typeof v === "bigint") {
    return dst.dtype.isFloatingPoint || dst.dtype.isComplex ? Number(v) : Number(BigInt.asIntN(64, v));
  }
  if (src.dtype.isFloatingPoint && !dst.dtype.isFloatingPoint && !dst.dtype.isComplex) {
    if (dst.dtype.kind === "bool") return v;
    const x = v as number;
    return Number.isFinite(x) ? Math.trunc(x) : 0;
  }
  return v;
}

/**
 * Copy `src` into `dst` (same shape; dtype converted). The storage of `dst` is written in place.
 * Throws an `NnError` ("Copy") when the shapes differ.
 */
export function copyInto(dst: Tensor, src: Tensor): void {
  if (!sameShape(dst.shape, src.shape)) {
    throw new NnError(
      "Copy",
      `The size of tensor a (${dst.shape.join(", ")}) must match the size of tensor b (${src.shape.join(", ")})`,
      { dst: dst.shape, src: src.shape },
    );
  }
  const n = dst.numel;
  if (n === 0) return;
  if (dst.dtype === src.dtype && dst.isContiguous() && src.isContiguous() && dst.dtype.valuesPerItem === 1) {
    const size = dst.dtype.itemSize;
    const from = src.storage.bytes.subarray(src.storageOffset * size, (src.storageOffset + n) * size);
    // copy first: src and dst may overlap (same storage)
    dst.storage.bytes.set(from.slice(), dst.storageOffset * size);
    return;
  }
  const srcArr = src.storage.typedAs(src.dtype);
  const dstArr = dst.storage.typedAs(dst.dtype);
  const si = storageIndices(src);
  const values: Scalar[] = new Array(n);
  for (let i = 0; i < n; i++) values[i] = readElement(srcArr, src.dtype, si[i]!);
  const di = storageIndices(dst);
  for (let i = 0; i < n; i++) writeElement(dstArr, dst.dtype, di[i]!, convert(values[i]!, src, dst));
}
