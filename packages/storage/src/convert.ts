import { StorageRangeError } from "./errors.js";

/**
 * Exact conversions between float32 and the 16-bit and 8-bit float formats.
 *
 * - float16/bfloat16 → float32 are exact (every value is representable); NaN payloads are kept
 *   (with the quiet bit set, as torch's conversion does). Bulk conversions use 65536-entry lookup tables built on first use.
 * - float32 → float16/bfloat16 round to nearest, ties to even, as torch does; NaN stays NaN
 *   (float16: sign kept, payload canonical `0x7e00`; bfloat16: `0x7fc0`, as torch's
 *   `round_to_nearest_even`; torch's vectorised CPU path writes 0xffff instead — also NaN). Overflow gives ±inf.
 * - JS numbers are float64: the `…FromNumber` functions first round to float32 (`Math.fround`),
 *   i.e. they convert the float32 value nearest to the number, as torch converts a float32 tensor.
 * - float8 variants → float32 follow the OCP 8-bit floating point spec (e4m3fn, e5m2, e8m0fnu) and
 *   the FNUZ variants (e4m3fnuz, e5m2fnuz: one NaN at 0x80, no negative zero, no infinity).
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Bits of a float16 → bits of the float32 with the same value. */
export function halfBitsToFloatBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  // NaN: payload kept, quiet bit set (as torch's conversion does)
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant === 0 ? 0 : 0x400000 | (mant << 13))) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  // subnormal: normalise
  let e = 113;
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

/** Bits of a float32 → bits of the nearest float16 (ties to even). */
export function floatBitsToHalfBits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return mant !== 0 ? sign | 0x7e00 : sign | 0x7c00;
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal → ±0 (exactly half rounds to even 0)
    const m = mant | 0x800000;
    const shift = 14 - e; // 14..24
    const half = 1 << (shift - 1);
    let r = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    if (rem > half || (rem === half && (r & 1) === 1)) r++;
    return sign | r;
  }
  let r = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1) === 1)) r++; // may carry into exponent → inf: correct
  return sign | r;
}

/** Bits of a float32 → bits of the nearest bfloat16 (ties to even; NaN → 0x7fc0). */
export function floatBitsToBFloat16Bits(x: number): number {
  if ((x & 0x7fffffff) >>> 0 > 0x7f800000) return 0x7fc0;
  const lsb = (x >>> 16) & 1;
  return ((x + 0x7fff + lsb) >>> 16) & 0xffff;
}

/** float16 bits → number. */
export function halfToFloat(h: number): number {
  u32[0] = halfBitsToFloatBits(h & 0xffff);
  return f32[0]!;
}

/** number → float16 bits (rounded to float32 first, then to nearest even float16). */
export function floatToHalf(v: number): number {
  f32[0] = v;
  return floatBitsToHalfBits(u32[0]!);
}

/** bfloat16 bits → number. */
export function bfloat16ToFloat(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0]!;
}

/** number → bfloat16 bits (rounded to float32 first, then to nearest even bfloat16). */
export function floatToBFloat16(v: number): number {
  f32[0] = v;
  return floatBitsToBFloat16Bits(u32[0]!);
}

let halfTable: Uint32Array | null = null;

/** The 65536-entry float16 → float32 bits table (built on first use). */
export function halfTableBits(): Uint32Array {
  if (!halfTable) {
    const t = new Uint32Array(65536);
    for (let i = 0; i < 65536; i++) t[i] = halfBitsToFloatBits(i);
    halfTable = t;
  }
  return halfTable;
}

function outArray(n: number, out: Float32Array | undefined): Float32Array {
  if (out === undefined) return new Float32Array(n);
  if (out.length < n)
    throw new StorageRangeError(`output has ${out.length} elements, need ${n}`, {
      length: out.length,
      needed: n,
    });
  return out;
}

/** Bulk float16 bits → Float32Array (bit-exact, NaN payloads kept). */
export function halfArrayToFloat32(src: Uint16Array, out?: Float32Array): Float32Array {
  const dst = outArray(src.length, out);
  const bits = new Uint32Array(dst.buffer, dst.byteOffset, src.length);
  const t = halfTableBits();
  for (let i = 0; i < src.length; i++) bits[i] = t[src[i]!]!;
  return dst;
}

/** Bulk bfloat16 bits → Float32Array (bit-exact). */
export function bfloat16ArrayToFloat32(src: Uint16Array, out?: Float32Array): Float32Array {
  const dst = outArray(src.length, out);
  const bits = new Uint32Array(dst.buffer, dst.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
  return dst;
}

/** Bulk Float32Array → float16 bits (nearest even). */
export function float32ArrayToHalf(src: Float32Array, out?: Uint16Array): Uint16Array {
  const dst = out ?? new Uint16Array(src.length);
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) dst[i] = floatBitsToHalfBits(bits[i]!);
  return dst;
}

/** Bulk Float32Array → bfloat16 bits (nearest even). */
export function float32ArrayToBFloat16(src: Float32Array, out?: Uint16Array): Uint16Array {
  const dst = out ?? new Uint16Array(src.length);
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) dst[i] = floatBitsToBFloat16Bits(bits[i]!);
  return dst;
}

/** The 8-bit float formats torch has. */
export type Float8Format = "e4m3fn" | "e5m2" | "e4m3fnuz" | "e5m2fnuz" | "e8m0fnu";

function decodeFloat8(b: number, format: Float8Format): number {
  b &= 0xff;
  switch (format) {
    case "e4m3fn": {
      const s = b & 0x80 ? -1 : 1;
      const e = (b >>> 3) & 0xf;
      const m = b & 7;
      if (e === 0xf && m === 7) return Number.NaN;
      if (e === 0) return s * (m / 8) * 2 ** -6;
      return s * (1 + m / 8) * 2 ** (e - 7);
    }
    case "e5m2": {
      const s = b & 0x80 ? -1 : 1;
      const e = (b >>> 2) & 0x1f;
      const m = b & 3;
      if (e === 0x1f) return m === 0 ? s * Number.POSITIVE_INFINITY : Number.NaN;
      if (e === 0) return s * (m / 4) * 2 ** -14;
      return s * (1 + m / 4) * 2 ** (e - 15);
    }
    case "e4m3fnuz": {
      if (b === 0x80) return Number.NaN;
      const s = b & 0x80 ? -1 : 1;
      const e = (b >>> 3) & 0xf;
      const m = b & 7;
      if (e === 0) return s * (m / 8) * 2 ** -7;
      return s * (1 + m / 8) * 2 ** (e - 8);
    }
    case "e5m2fnuz": {
      if (b === 0x80) return Number.NaN;
      const s = b & 0x80 ? -1 : 1;
      const e = (b >>> 2) & 0x1f;
      const m = b & 3;
      if (e === 0) return s * (m / 4) * 2 ** -15;
      return s * (1 + m / 4) * 2 ** (e - 16);
    }
    case "e8m0fnu":
      return b === 0xff ? Number.NaN : 2 ** (b - 127);
  }
}

const float8Tables = new Map<Float8Format, Float32Array>();

/** The 256-entry float8 → float32 table of a format. */
export function float8Table(format: Float8Format): Float32Array {
  let t = float8Tables.get(format);
  if (!t) {
    t = new Float32Array(256);
    for (let i = 0; i < 256; i++) t[i] = decodeFloat8(i, format);
    float8Tables.set(format, t);
  }
  return t;
}

/** One float8 byte → number (exact). */
export function float8ToFloat(byte: number, format: Float8Format): number {
  return float8Table(format)[byte & 0xff]!;
}

/** Bulk float8 bytes → Float32Array. */
export function float8ArrayToFloat32(
  src: Uint8Array,
  format: Float8Format,
  out?: Float32Array,
): Float32Array {
  const dst = outArray(src.length, out);
  const t = float8Table(format);
  for (let i = 0; i < src.length; i++) dst[i] = t[src[i]!]!;
  return dst;
}
