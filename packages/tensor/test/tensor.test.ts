import { dtypes, Storage } from "@pt/storage";
import { describe, expect, it } from "vitest";
import {
  arange,
  computeStride,
  empty,
  fromNdarray,
  fromOnnx,
  fromTypedArray,
  full,
  isTensorError,
  MetaTensor,
  ones,
  Parameter,
  QuantizedTensor,
  SparseTensor,
  Tensor,
  tensor,
  toNdarray,
  toOnnx,
  zeros,
} from "../src/index.js";

describe("sharing", () => {
  it("two slices of one 1e6-element storage see each other's writes", () => {
    const big = zeros([1_000_000]);
    const a = big.slice(0, 0, 10);
    const b = big.narrow(0, 0, 500);
    a.set([0], 42);
    expect(b.get([0])).toBe(42);
    expect(a.storage).toBe(b.storage);
    expect(a.storage.numel).toBe(1_000_000);
  });
  it("zeros(4).expand(4,4) keeps strides (0,1) and a 4-element storage", () => {
    const e = zeros([4]).expand(4, 4);
    expect(e.shape).toEqual([4, 4]);
    expect(e.stride).toEqual([0, 1]);
    expect(e.storage.numel).toBe(4);
    e.set([2, 1], 5);
    expect(e.get([0, 1])).toBe(5);
  });
  it("clone breaks sharing; contiguous returns the same object when contiguous", () => {
    const t = arange(6, undefined, 1, { dtype: dtypes.float32 }).view(2, 3);
    const c = t.clone();
    c.set([0, 0], 9);
    expect(t.get([0, 0])).toBe(0);
    expect(c.storage).not.toBe(t.storage);
    expect(t.contiguous()).toBe(t);
    const tt = t.t();
    expect(tt.contiguous()).not.toBe(tt);
    expect(tt.clone().stride).toEqual([1, 3]); // preserve_format keeps dense strides
    expect(tt.contiguous().stride).toEqual([2, 1]);
  });
  it("reshape copies only when view fails", () => {
    const t = arange(6, undefined, 1, { dtype: dtypes.float32 }).view(2, 3);
    expect(t.reshape(3, 2).storage).toBe(t.storage);
    expect(t.t().reshape(6).storage).not.toBe(t.storage);
    expect(() => t.t().view(6)).toThrow(/view size is not compatible/);
    expect(computeStride([2, 3], [1, 2], [6])).toBeNull();
    expect(computeStride([2, 3], [3, 1], [3, 2])).toEqual([2, 1]);
  });
});

describe("element access and values", () => {
  it("get/set with negative indices; errors are typed", () => {
    const t = arange(12, undefined, 1, { dtype: dtypes.float32 }).view(3, 4);
    expect(t.get([-1, -1])).toBe(11);
    t.set([1, -2], 100);
    expect(t.index(1).toArray()).toEqual([4, 5, 100, 7]);
    expect(() => t.get([3, 0])).toThrow("tensor: index 3 is out of bounds for dimension 0 with size 3");
    expect(() => t.get([0])).toThrow(/expected 2 indices/);
    try {
      t.get([9, 9]);
    } catch (e) {
      expect(isTensorError(e, "IndexError")).toBe(true);
    }
  });
  it("int64 reads as bigint; float16/bfloat16 as numbers; bool as boolean; complex as {re, im}", () => {
    const i = arange(3);
    expect(i.dtype).toBe(dtypes.int64);
    expect(i.toArray()).toEqual([0n, 1n, 2n]);
    i.set([0], 2 ** 53 + 2);
    i.set([1], -5n);
    expect(i.get([0])).toBe(9007199254740994n);
    expect(i.get([1])).toBe(-5n);
    const h = tensor([1.5, 65504, 1e-8, 70000], { dtype: dtypes.float16 });
    expect(h.toArray()).toEqual([1.5, 65504, 0, Number.POSITIVE_INFINITY]);
    expect([...(h.data() as Uint16Array)]).toEqual([0x3e00, 0x7bff, 0, 0x7c00]);
    const bf = tensor([1, Math.PI], { dtype: dtypes.bfloat16 });
    expect(bf.get([1])).toBe(3.140625);
    expect(tensor([true, false]).toArray()).toEqual([true, false]);
    const c = tensor(
      [
        [1, 2],
        [3, -4],
      ],
      { dtype: dtypes.complex64 },
    );
    expect(c.shape).toEqual([2]);
    expect(c.get([1])).toEqual({ re: 3, im: -4 });
    c.set([0], { re: 0.5, im: 0.25 });
    expect([...(c.data() as Float32Array)]).toEqual([0.5, 0.25, 3, -4]);
    expect(tensor([{ re: 1, im: 1 }]).dtype).toBe(dtypes.complex64);
  });
  it("data() is zero-copy when contiguous, a copy otherwise", () => {
    const t = arange(6, undefined, 1, { dtype: dtypes.float32 }).view(2, 3);
    const d = t.select(0, 1).data() as Float32Array;
    d[0] = -1;
    expect(t.get([1, 0])).toBe(-1);
    const copy = t.t().data() as Float32Array;
    expect([...copy]).toEqual([0, -1, 1, 4, 2, 5]);
    copy[0] = 77;
    expect(t.get([0, 0])).toBe(0);
  });
  it("constructors", () => {
    expect(
      tensor([
        [1, 2, 3],
        [4, 5, 6],
      ]).shape,
    ).toEqual([2, 3]);
    expect(() =>
      tensor([
        [1, 2, 3],
        [4, 5],
      ]),
    ).toThrow("tensor: expected sequence of length 3 at dim 1 (got 2)");
    expect(tensor([1n, 2n]).dtype).toBe(dtypes.int64);
    expect(tensor(5).shape).toEqual([]);
    expect(tensor(5).item()).toBe(5);
    expect(ones([2], { dtype: dtypes.int32 }).toArray()).toEqual([1, 1]);
    expect(full([2], 7, { dtype: dtypes.uint8 }).toArray()).toEqual([7, 7]);
    expect(empty([0, 3]).numel).toBe(0);
    expect(arange(0, 1, 0.25).toArray()).toEqual([0, 0.25, 0.5, 0.75]);
    expect(arange(1, 10, 3).toArray()).toEqual([1n, 4n, 7n]);
    const f = new Float32Array([1, 2, 3, 4]);
    const ft = fromTypedArray(f, { shape: [2, 2] });
    ft.set([1, 1], 9);
    expect(f[3]).toBe(9);
    const copied = tensor(f, { shape: [4] });
    copied.set([0], 0);
    expect(f[0]).toBe(1);
    expect(tensor(new Int32Array([1, 2]), { dtype: dtypes.float64 }).toArray()).toEqual([1, 2]);
    expect(() => zeros([-1])).toThrow(/negative dimension -1/);
  });
  it("equal and allclose", () => {
    const a = tensor([1, 2, 3]);
    expect(a.equal(tensor([1, 2, 3]))).toBe(true);
    expect(a.equal(tensor([1, 2, 4]))).toBe(false);
    expect(a.equal(tensor([[1, 2, 3]]))).toBe(false);
    expect(tensor([Number.NaN]).equal(tensor([Number.NaN]))).toBe(false);
    expect(a.allclose(tensor([1, 2, 3.00001]))).toBe(true);
    expect(a.allclose(tensor([1, 2, 3.01]))).toBe(false);
    expect(tensor([Number.NaN]).allclose(tensor([Number.NaN]), { equalNan: true })).toBe(true);
    expect(arange(3).equal(tensor([0n, 1n, 2n]))).toBe(true);
  });
  it("geometry is checked against the storage", () => {
    const s = Storage.allocate(dtypes.float32, 4);
    expect(() => new Tensor(s, 0, [2, 3])).toThrow(
      "tensor: setStorage: sizes [2, 3], strides [3, 1], storage offset 0, and itemsize 4 requiring a storage size of 24 are out of bounds for storage of size 16",
    );
    expect(() => new Tensor(s, 0, [2], [1, 1])).toThrow(/different lengths/);
    expect(new Tensor(s, 4, [0]).numel).toBe(0);
    const u = Storage.untypedFromBytes(new Uint8Array(8));
    const f = new Tensor(u, 1, [1], [1], { dtype: dtypes.float32 });
    f.set([0], 2);
    expect(new Tensor(u, 1, [1], [1], { dtype: dtypes.float32 }).get([0])).toBe(2);
  });
  it("Parameter is a distinct subclass, requiresGrad defaults to true, views are plain tensors", () => {
    const t = zeros([2, 2]);
    const p = new Parameter(t);
    expect(p).toBeInstanceOf(Tensor);
    expect(p.requiresGrad).toBe(true);
    expect(p.storage).toBe(t.storage);
    expect(new Parameter(t, false).requiresGrad).toBe(false);
    expect(p.select(0, 0)).not.toBeInstanceOf(Parameter);
  });
});

describe("interop", () => {
  it("onnx {type, data, dims} both ways, zero-copy", () => {
    const t = arange(6, undefined, 1, { dtype: dtypes.float32 }).view(2, 3);
    const o = toOnnx(t);
    expect(o.type).toBe("float32");
    expect(o.dims).toEqual([2, 3]);
    expect(o.data.buffer).toBe(t.storage.bytes.buffer);
    const back = fromOnnx({ type: "int64", data: new BigInt64Array([1n, 2n]), dims: [2, 1] });
    expect(back.toArray()).toEqual([[1n], [2n]]);
    expect(() => toOnnx(zeros([1], { dtype: dtypes.bfloat16 }))).toThrow(/no tensor type for bfloat16/);
    expect(() => fromOnnx({ type: "string", data: new Uint8Array(1), dims: [1] })).toThrow(/'string'/);
  });
  it("ndarray (data, shape, stride, offset) both ways", () => {
    const t = arange(12, undefined, 1, { dtype: dtypes.float32 }).view(3, 4).slice(1, 1, 4, 2);
    const n = toNdarray(t);
    expect([n.shape, n.stride, n.offset]).toEqual([[3, 2], [4, 2], 1]);
    const back = fromNdarray(n.data as Float32Array, n.shape, n.stride, n.offset);
    expect(back.toArray()).toEqual(t.toArray());
  });
});

describe("quantized, sparse, meta", () => {
  it("per-tensor affine dequantize and views keep qparams", () => {
    const s = Storage.fromBytes(dtypes.quint8, new Uint8Array([0, 10, 20, 255]));
    const q = new QuantizedTensor(s, 0, [2, 2], [2, 1], {
      qscheme: "per_tensor_affine",
      scale: 0.5,
      zeroPoint: 10,
    });
    expect(q.dequantize().toArray()).toEqual([
      [-5, 0],
      [5, 122.5],
    ]);
    const row = q.select(0, 1);
    expect(row).toBeInstanceOf(QuantizedTensor);
    expect(row.toArray()).toEqual([20, 255]);
    expect((row as QuantizedTensor).dequantize().toArray()).toEqual([5, 122.5]);
  });
  it("per-channel affine dequantize uses the channel along axis", () => {
    const s = Storage.fromBytes(dtypes.qint8, new Int8Array([1, 2, 3, 4, 5, 6]).buffer);
    const q = new QuantizedTensor(s, 0, [2, 3], [3, 1], {
      qscheme: "per_channel_affine",
      scales: Float64Array.from([1, 0.5, 2]),
      zeroPoints: Float64Array.from([0, 1, 2]),
      axis: 1,
    });
    expect(q.dequantize().toArray()).toEqual([
      [1, 0.5, 2],
      [4, 2, 8],
    ]);
    expect(() => q.select(0, 0)).toThrow(/per-channel/);
    expect(
      () =>
        new QuantizedTensor(s, 0, [2, 3], [3, 1], {
          qscheme: "per_channel_affine",
          scales: Float64Array.from([1]),
          zeroPoints: Float64Array.from([0]),
          axis: 1,
        }),
    ).toThrow(/needs 3 scales/);
  });
  it("COO toDense sums duplicates; CSR/CSC/BSR toDense", () => {
    const ind = tensor([
      [0n, 1n, 1n],
      [2n, 0n, 0n],
    ]);
    const coo = SparseTensor.coo(ind, tensor([3, 4, 5]), [2, 3]);
    expect(coo.toDense().toArray()).toEqual([
      [0, 0, 3],
      [9, 0, 0],
    ]);
    expect(() => SparseTensor.coo(ind, tensor([3, 4, 5]), [1, 3])).toThrow(/out of bounds/);
    // [[1, 0, 2], [0, 0, 3]]
    const csr = SparseTensor.compressed(
      "sparse_csr",
      tensor([0n, 2n, 3n]),
      tensor([0n, 2n, 2n]),
      tensor([1, 2, 3]),
      [2, 3],
    );
    expect(csr.toDense().toArray()).toEqual([
      [1, 0, 2],
      [0, 0, 3],
    ]);
    const csc = SparseTensor.compressed(
      "sparse_csc",
      tensor([0n, 1n, 1n, 3n]),
      tensor([0n, 0n, 1n]),
      tensor([1, 2, 3]),
      [2, 3],
    );
    expect(csc.toDense().toArray()).toEqual([
      [1, 0, 2],
      [0, 0, 3],
    ]);
    const bsr = SparseTensor.compressed(
      "sparse_bsr",
      tensor([0n, 1n]),
      tensor([1n]),
      tensor([
        [
          [1, 2],
          [3, 4],
        ],
      ]),
      [2, 4],
    );
    expect(bsr.toDense().toArray()).toEqual([
      [0, 0, 1, 2],
      [0, 0, 3, 4],
    ]);
  });
  it("meta tensors have geometry only", () => {
    const m = new MetaTensor(dtypes.float16, [2, 3]);
    expect([m.stride, m.numel, m.device, m.dim()]).toEqual([[3, 1], 6, "meta", 2]);
  });
});

describe("nested-array validation", () => {
  it("ragged and mixed nesting are errors", () => {
    expect(() => tensor([[1, 2], 3] as never)).toThrow(
      "tensor: expected sequence of length 2 at dim 1 (got a scalar)",
    );
    expect(() => tensor([1, [2, 3]] as never)).toThrow("tensor: expected a scalar at dim 1, got a sequence");
  });
});

describe("bulk float conversion and lazy storages", () => {
  it("toFloat32Array converts 16-bit and 8-bit floats in bulk, also for non-contiguous views", () => {
    const h = tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { dtype: dtypes.float16 },
    );
    expect([...h.t().toFloat32Array()]).toEqual([1, 3, 2, 4]);
    const bf = tensor([0.5, -2], { dtype: dtypes.bfloat16 });
    expect([...bf.toFloat32Array()]).toEqual([0.5, -2]);
    const f8 = new Tensor(Storage.fromBytes(dtypes.float8_e5m2, new Uint8Array([0x3c, 0x7b])), 0, [2]);
    expect([...f8.toFloat32Array()]).toEqual([1, 57344]);
    expect([...arange(3).toFloat32Array()]).toEqual([0, 1, 2]);
  });
  it("a tensor over an async-only lazy storage needs load()", async () => {
    const bytes = new Uint8Array(new Float32Array([5, 6]).buffer);
    const src = { byteLength: 8, read: async (o: number, l: number) => bytes.slice(o, o + l) };
    const t = new Tensor(Storage.lazy(dtypes.float32, src, 0, 8), 0, [2]);
    expect(() => t.get([0])).toThrow(/not loaded/);
    await t.load();
    expect(t.toArray()).toEqual([5, 6]);
  });
});

describe("hostile sizes", () => {
  it("a 10^18-element expanded view is a valid view but is never materialised", () => {
    const e = zeros([1]).expand(1e9, 1e9);
    expect(e.numel).toBe(1e18);
    expect(e.get([5, 7])).toBe(0);
    expect(() => e.values()).toThrow(
      "tensor: a tensor of 1000000000000000000 elements is too large to materialize",
    );
    expect(() => e.clone()).toThrow(/too large/);
    expect(() => e.reshape(-1)).toThrow(/^tensor: invalid size 1000000000000000000/);
  });
  it("geometry beyond the storage is refused before anything is allocated", () => {
    expect(() => new Tensor(Storage.allocate(dtypes.float32, 1), 0, [2 ** 40], [1])).toThrow(/out of bounds/);
    expect(() => Storage.allocate(dtypes.float64, 2 ** 50)).toThrow(/cannot allocate/);
  });
});
