import { type DType, Storage } from "@pt/storage";
import { TensorError } from "./errors.js";
import { contiguousStrides, fmtSizes, numelOf } from "./geometry.js";
import { readElement, type Scalar, Tensor, writeElement } from "./tensor.js";

/** torch's sparse layouts. */
export type SparseLayout = "sparse_coo" | "sparse_csr" | "sparse_csc" | "sparse_bsr" | "sparse_bsc";

function idx(t: Tensor, i: number[]): number {
  const v = t.get(i);
  return typeof v === "bigint" ? Number(v) : (v as number);
}

function add(a: Scalar, b: Scalar): Scalar {
  if (typeof a === "boolean" || typeof b === "boolean") return Boolean(a) || Boolean(b);
  if (typeof a === "bigint" || typeof b === "bigint") return BigInt(a as bigint) + BigInt(b as bigint);
  if (typeof a === "object" || typeof b === "object") {
    const x = typeof a === "object" ? a : { re: a, im: 0 };
    const y = typeof b === "object" ? b : { re: b, im: 0 };
    return { re: x.re + y.re, im: x.im + y.im };
  }
  return a + b;
}

/**
 * A sparse tensor, as torch pickles it: index tensors plus a values tensor.
 * - COO: `indices` `[sparseDims, nnz]` (int64), `values` `[nnz, ...denseDims]`.
 * - CSR/CSC: `compressedIndices` (crow/ccol), `plainIndices` (col/row), `values` `[nnz, ...]`.
 * - BSR/BSC: as CSR/CSC over blocks, `values` `[nnz, blockRows, blockCols, ...]`.
 */
export class SparseTensor {
  requiresGrad = false;
  private constructor(
    readonly layout: SparseLayout,
    readonly shape: readonly number[],
    readonly values: Tensor,
    readonly indices: Tensor | null,
    readonly compressedIndices: Tensor | null,
    readonly plainIndices: Tensor | null,
    /** COO only: whether indices are known sorted and unique. */
    readonly isCoalesced: boolean,
  ) {}

  /** A COO tensor (torch's `_sparse_coo_tensor_unsafe`: indices are checked against `shape`). */
  static coo(indices: Tensor, values: Tensor, shape: readonly number[], isCoalesced = false): SparseTensor {
    if (indices.dim() !== 2) {
      throw new TensorError(
        "ShapeError",
        `indices must be sparse_dim x nnz, but got: ${fmtSizes(indices.shape)}`,
      );
    }
    const [sparseDim, nnz] = indices.shape as [number, number];
    if (values.shape[0] !== nnz) {
      throw new TensorError(
        "ShapeError",
        `number of values (${values.shape[0]}) must match number of indices (${nnz})`,
      );
    }
    if (sparseDim + values.dim() - 1 !== shape.length) {
      throw new TensorError(
        "ShapeError",
        `number of dimensions must be sparse_dim (${sparseDim}) + dense_dim (${values.dim() - 1}), but got ${shape.length}`,
      );
    }
    for (let k = 0; k < nnz; k++) {
      for (let d = 0; d < sparseDim; d++) {
        const i = idx(indices, [d, k]);
        if (i < 0 || i >= shape[d]!) {
          throw new TensorError(
            "OutOfBounds",
            `sparse index ${i} at dim ${d} is out of bounds for size ${shape[d]}`,
          );
        }
      }
    }
    return new SparseTensor("sparse_coo", shape.slice(), values, indices, null, null, isCoalesced);
  }

  /** A compressed tensor (CSR, CSC, BSR, BSC). Unbatched only. */
  static compressed(
    layout: Exclude<SparseLayout, "sparse_coo">,
    compressedIndices: Tensor,
    plainIndices: Tensor,
    values: Tensor,
    shape: readonly number[],
  ): SparseTensor {
    if (compressedIndices.dim() !== 1 || plainIndices.dim() !== 1) {
      throw new TensorError("Unsupported", `batched ${layout} tensors are not supported`);
    }
    const nnz = plainIndices.shape[0]!;
    if (values.shape[0] !== nnz) {
      throw new TensorError("ShapeError", `${layout}: ${values.shape[0]} values for ${nnz} indices`);
    }
    const block = layout === "sparse_bsr" || layout === "sparse_bsc";
    if (shape.length !== 2 + values.dim() - (block ? 3 : 1)) {
      throw new TensorError(
        "ShapeError",
        `${layout}: size ${fmtSizes(shape)} does not fit values ${fmtSizes(values.shape)}`,
      );
    }
    return new SparseTensor(layout, shape.slice(), values, null, compressedIndices, plainIndices, false);
  }

  get dtype(): DType {
    return this.values.dtype;
  }
  get device(): string {
    return this.values.device;
  }
  dim(): number {
    return this.shape.length;
  }
  /** Number of stored values. */
  get nnz(): number {
    return this.values.shape[0]!;
  }

  /** A dense strided tensor (duplicates in an uncoalesced COO tensor are summed, as torch does). */
  toDense(): Tensor {
    const storage = Storage.allocate(this.dtype, numelOf(this.shape), { device: this.device });
    const out = new Tensor(storage, 0, this.shape, contiguousStrides(this.shape), { dtype: this.dtype });
    const arr = storage.typed();
    const st = out.stride;
    const accumulate = (base: number, v: Tensor) => {
      // v: values block to add at dense offset `base` with trailing dims of the output
      const vals = v.values();
      const trailing = v.shape;
      const tStride = st.slice(st.length - trailing.length);
      const pos = new Array<number>(trailing.length).fill(0);
      for (let i = 0; i < vals.length; i++) {
        let e = base;
        for (let d = 0; d < pos.length; d++) e += pos[d]! * tStride[d]!;
        writeElement(arr, this.dtype, e, add(readElement(arr, this.dtype, e), vals[i]!));
        for (let d = pos.length - 1; d >= 0; d--) {
          if (++pos[d]! < trailing[d]!) break;
          pos[d] = 0;
        }
      }
    };
    if (this.layout === "sparse_coo") {
      const ind = this.indices!;
      const sparseDim = ind.shape[0]!;
      for (let k = 0; k < this.nnz; k++) {
        let base = 0;
        for (let d = 0; d < sparseDim; d++) base += idx(ind, [d, k]) * st[d]!;
        accumulate(base, this.values.select(0, k));
      }
      return out;
    }
    const comp = this.compressedIndices!;
    const plain = this.plainIndices!;
    const rowMajor = this.layout === "sparse_csr" || this.layout === "sparse_bsr";
    const block = this.layout === "sparse_bsr" || this.layout === "sparse_bsc";
    const bR = block ? this.values.shape[1]! : 1;
    const bC = block ? this.values.shape[2]! : 1;
    const nComp = comp.shape[0]! - 1;
    for (let c = 0; c < nComp; c++) {
      const lo = idx(comp, [c]);
      const hi = idx(comp, [c + 1]);
      if (lo < 0 || hi < lo || hi > this.nnz) {
        throw new TensorError(
          "OutOfBounds",
          `${this.layout}: compressed indices ${lo}..${hi} are invalid for nnz ${this.nnz}`,
        );
      }
      for (let k = lo; k < hi; k++) {
        const p = idx(plain, [k]);
        const row = rowMajor ? c : p;
        const col = rowMajor ? p : c;
        if (row * bR >= this.shape[0]! || col * bC >= this.shape[1]! || row < 0 || col < 0) {
          throw new TensorError(
            "OutOfBounds",
            `${this.layout}: index (${row}, ${col}) is out of bounds for size ${fmtSizes(this.shape)}`,
          );
        }
        const v = this.values.select(0, k);
        if (!block) accumulate(row * st[0]! + col * st[1]!, v);
        else {
          for (let i = 0; i < bR; i++) {
            for (let j = 0; j < bC; j++) {
              accumulate((row * bR + i) * st[0]! + (col * bC + j) * st[1]!, v.select(0, i).select(0, j));
            }
          }
        }
      }
    }
    return out;
  }
}

/**
 * A tensor without storage: shape, stride and dtype only. Meta tensors
 * (`_rebuild_meta_tensor_no_storage`, device `meta`), and wrapper subclasses
 * (`_rebuild_wrapper_subclass`, any device, `subclass` names the Python class).
 */
export class MetaTensor {
  /** Python class of a wrapper subclass (e.g. `PyGlobal`), else null. */
  subclass: unknown = null;
  constructor(
    readonly dtype: DType,
    readonly shape: readonly number[],
    readonly stride: readonly number[] = contiguousStrides(shape),
    public requiresGrad = false,
    readonly storageOffset = 0,
    readonly device = "meta",
  ) {
    if (shape.length !== stride.length) {
      throw new TensorError(
        "ShapeError",
        `shape ${fmtSizes(shape)} and stride ${fmtSizes(stride)} differ in length`,
      );
    }
  }
  get numel(): number {
    return numelOf(this.shape);
  }
  dim(): number {
    return this.shape.length;
  }
}
