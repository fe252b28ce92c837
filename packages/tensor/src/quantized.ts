import { dtypes, Storage } from "@pt/storage";
import { TensorError } from "./errors.js";
import { contiguousStrides, forEachIndex } from "./geometry.js";
import { readElement, Tensor, type TensorOptions } from "./tensor.js";

/** torch's quantization schemes. */
export type QScheme =
  | "per_tensor_affine"
  | "per_channel_affine"
  | "per_tensor_symmetric"
  | "per_channel_symmetric"
  | "per_channel_affine_float_qparams";

/** Quantization parameters of a quantized tensor. */
export type QParams =
  | { readonly qscheme: "per_tensor_affine"; readonly scale: number; readonly zeroPoint: number }
  | {
      readonly qscheme: "per_channel_affine" | "per_channel_affine_float_qparams";
      readonly scales: Float64Array;
      readonly zeroPoints: Float64Array;
      readonly axis: number;
      /**
       * The scale and zero-point tensors a loaded file held (torch shares one pair between the
       * tensors quantized together). Saving writes these same objects again, so the sharing and
       * the bytes survive a round trip; when absent, new tensors are made from `scales` and
       * `zeroPoints`.
       */
      readonly tensors?: { readonly scales: Tensor; readonly zeroPoints: Tensor };
    };

/**
 * A quantized tensor (qint8, quint8, qint32, quint4x2, quint2x4): elements read as their integer
 * representation (torch's `int_repr()`); `dequantize()` gives float32 values.
 * View ops keep the qparams for per-tensor quantization; per-channel tensors support no view ops.
 */
export class QuantizedTensor extends Tensor {
  readonly qparams: QParams;
  constructor(
    storage: Storage,
    storageOffset: number,
    shape: readonly number[],
    stride: readonly number[],
    qparams: QParams,
    options: TensorOptions = {},
  ) {
    super(storage, storageOffset, shape, stride, options);
    if (!this.dtype.isQuantized) {
      throw new TensorError(
        "TypeError",
        `a quantized tensor needs a quantized dtype, not ${this.dtype.name}`,
      );
    }
    if (qparams.qscheme !== "per_tensor_affine") {
      const n = shape[qparams.axis];
      if (n === undefined) {
        throw new TensorError(
          "DimensionError",
          `quantization axis ${qparams.axis} is out of range for ${shape.length} dims`,
        );
      }
      if (qparams.scales.length !== n || qparams.zeroPoints.length !== n) {
        throw new TensorError(
          "ShapeError",
          `per-channel quantization along axis ${qparams.axis} of size ${n} needs ${n} scales and zero points, got ${qparams.scales.length} and ${qparams.zeroPoints.length}`,
        );
      }
    }
    this.qparams = qparams;
  }

  get qscheme(): QScheme {
    return this.qparams.qscheme;
  }

  protected override make(
    storage: Storage,
    offset: number,
    shape: readonly number[],
    stride: readonly number[],
  ): Tensor {
    const sameGeometry = shape.length === this.shape.length && shape.every((s, i) => s === this.shape[i]);
    if (this.qparams.qscheme !== "per_tensor_affine" && !sameGeometry) {
      throw new TensorError("Unsupported", "view ops on per-channel quantized tensors are not supported");
    }
    return new QuantizedTensor(storage, offset, shape, stride, this.qparams, {
      dtype: this.dtype,
      requiresGrad: this.requiresGrad,
    });
  }

  /** `(q - zero_point) * scale` (also for float zero points, as torch) as a new contiguous float32 tensor. */
  dequantize(): Tensor {
    const out = Storage.allocate(dtypes.float32, this.numel, { device: this.device });
    const dst = out.typed() as Float32Array;
    const src = this.storage.typedAs(this.dtype);
    const qp = this.qparams;
    if (qp.qscheme === "per_tensor_affine") {
      forEachIndex(this.shape, this.stride, this.storageOffset, (si, li) => {
        dst[li] = ((readElement(src, this.dtype, si) as number) - qp.zeroPoint) * qp.scale;
      });
    } else {
      // channel of linear index li: (li / inner) % size along axis
      const inner = this.shape.slice(qp.axis + 1).reduce((a, b) => a * b, 1);
      const size = this.shape[qp.axis]!;
      forEachIndex(this.shape, this.stride, this.storageOffset, (si, li) => {
        const c = Math.floor(li / inner) % size;
        const q = readElement(src, this.dtype, si) as number;
        dst[li] = (q - qp.zeroPoints[c]!) * qp.scales[c]!;
      });
    }
    return new Tensor(out, 0, this.shape, contiguousStrides(this.shape));
  }
}
