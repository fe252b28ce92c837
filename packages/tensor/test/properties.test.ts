import { dtypes } from "@pt/storage";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { arange, contiguousStrides, isTensorError, type Tensor } from "../src/index.js";

/** A random strided view: a shape, then a permutation and slices of an arange. */
const viewArb = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }).chain((shape) =>
  fc.record({
    shape: fc.constant(shape),
    perm: fc.shuffledSubarray(
      shape.map((_, i) => i),
      { minLength: shape.length, maxLength: shape.length },
    ),
    starts: fc.tuple(...shape.map((s) => fc.integer({ min: 0, max: s - 1 }))),
    steps: fc.tuple(...shape.map(() => fc.integer({ min: 1, max: 2 }))),
  }),
);

function build(v: { shape: number[]; perm: number[]; starts: number[]; steps: number[] }): Tensor {
  const n = v.shape.reduce((a, b) => a * b, 1);
  let t = arange(n, undefined, 1, { dtype: dtypes.float32 }).view(v.shape).permute(v.perm);
  for (let d = 0; d < v.shape.length; d++)
    t = t.slice(d, Math.min(v.starts[d]!, t.shape[d]! - 1), null, v.steps[d]!);
  return t;
}

describe("properties of view ops", () => {
  it("reshape / flatten / contiguous / clone keep the row-major values", () => {
    fc.assert(
      fc.property(viewArb, (v) => {
        const t = build(v);
        const vals = t.values();
        expect(t.contiguous().values()).toEqual(vals);
        expect(t.clone().values()).toEqual(vals);
        expect(t.flatten().values()).toEqual(vals);
        expect(t.reshape(-1).values()).toEqual(vals);
        if (!t.isContiguous()) expect(t.contiguous().stride).toEqual(contiguousStrides(t.shape));
        else expect(t.contiguous()).toBe(t);
      }),
      { numRuns: 300 },
    );
  });
  it("view succeeds exactly when it is zero-copy and agrees with reshape", () => {
    fc.assert(
      fc.property(viewArb, (v) => {
        const t = build(v);
        const r = t.reshape(-1);
        try {
          const w = t.view(-1);
          expect(w.storage).toBe(t.storage);
          expect(w.values()).toEqual(r.values());
        } catch (e) {
          expect(isTensorError(e, "ShapeError")).toBe(true);
          expect(r.storage).not.toBe(t.storage);
        }
      }),
      { numRuns: 300 },
    );
  });
  it("writes through a view are seen by the base and by a permuted view", () => {
    fc.assert(
      fc.property(viewArb, fc.double({ noNaN: true, min: -1e6, max: 1e6 }), (v, x) => {
        const t = build(v);
        const idx = t.shape.map(() => 0);
        t.set(idx, x);
        const e = t.storageOffset;
        const base = arange(t.storage.numel, undefined, 1, { dtype: dtypes.float32 });
        expect(new Float32Array(t.storage.bytes.buffer, t.storage.bytes.byteOffset)[e]).toBe(Math.fround(x));
        expect(t.transpose(0, -1).get(idx)).toBe(Math.fround(x));
        expect(base.storage).not.toBe(t.storage);
      }),
      { numRuns: 100 },
    );
  });
});
