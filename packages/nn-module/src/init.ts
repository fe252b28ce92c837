/**
 * Parameter initialisation for modules constructed in TypeScript: torch's distributions and
 * bounds (kaiming-uniform with a=√5 for Linear/Conv, uniform ±1/√hidden for RNNs, N(0,1) for
 * Embedding, xavier-uniform for attention), drawn from a small seeded generator — the values are
 * not torch's random stream, the shapes, dtypes and ranges are.
 */
import { dtypes } from "@pt/storage";
import { fromTypedArray, Parameter, type Tensor, zeros } from "@pt/tensor";

let state = 0x2545f491;

/** Seed the generator used by module constructors (like `torch.manual_seed`, not the same stream). */
export function manualSeed(seed: number): void {
  state = seed >>> 0;
}

function next(): number {
  // mulberry32
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A float32 tensor of U(-bound, bound) values. */
export function uniform(shape: readonly number[], bound: number): Tensor {
  const a = new Float32Array(numel(shape));
  for (let i = 0; i < a.length; i++) a[i] = (next() * 2 - 1) * bound;
  return fromTypedArray(a, { shape });
}

/** A float32 tensor of N(mean, std) values. */
export function normal(shape: readonly number[], mean = 0, std = 1): Tensor {
  const a = new Float32Array(numel(shape));
  for (let i = 0; i < a.length; i++) {
    const u = 1 - next();
    const v = next();
    a[i] = mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return fromTypedArray(a, { shape });
}

/** A float32 tensor filled with `value`. */
export function filled(shape: readonly number[], value: number): Tensor {
  const a = new Float32Array(numel(shape)).fill(value);
  return fromTypedArray(a, { shape });
}

/** A Parameter (requires_grad) over `t`. */
export function param(t: Tensor): Parameter {
  return new Parameter(t, true);
}

/** `torch.tensor(0, dtype=torch.long)`. */
export function longZero(): Tensor {
  return zeros([], { dtype: dtypes.int64 });
}
