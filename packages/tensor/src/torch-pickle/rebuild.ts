/** The rebuild table: what each `torch._utils._rebuild_*` (and `torch._tensor._rebuild_from_type*`) global does when loading. */
import { CALL, type Callable, callable, type HookContext, isTuple, PyFloat, type PyTuple } from "@pt/pickle";
import type { DType, Storage } from "@pt/storage";
import { tensor as makeTensor } from "../create.js";
import { type QParams, QuantizedTensor } from "../quantized.js";
import { MetaTensor, SparseTensor } from "../sparse.js";
import { Parameter, Tensor } from "../tensor.js";
import {
  args,
  asDType,
  asStorage,
  asTensor,
  bool,
  describe,
  float,
  int,
  ints,
  msg,
  stateToAttributes,
  TorchPickleError,
  where,
} from "./args.js";
import {
  NestedTensor,
  PARAMETER_CLASS,
  TENSOR_CLASS,
  TorchDevice,
  TorchLayout,
  TorchQScheme,
  VALUE_GLOBALS,
} from "./values.js";

function rebuildStrided(
  storage: Storage,
  offset: unknown,
  size: unknown,
  stride: unknown,
  dtype: DType | undefined,
  fn: string,
  requiresGrad = false,
): Tensor {
  try {
    return new Tensor(
      storage,
      int(offset, fn, " storage_offset"),
      Object.freeze(ints(size, fn, " size")),
      Object.freeze(ints(stride, fn, " stride")),
      { dtype: dtype ?? storage.dtype, requiresGrad },
    );
  } catch (e) {
    if (e instanceof TorchPickleError) throw e;
    throw new TorchPickleError(`${fn}: ${msg(e)}`, {}, { cause: e });
  }
}

const U = "torch._utils";
const G = {
  rebuildTensor: callable(U, "_rebuild_tensor", (a, ctx) => {
    const [s, o, sz, st] = args(a, 4, 4, "_rebuild_tensor", ctx);
    return rebuildStrided(asStorage(s, "_rebuild_tensor"), o, sz, st, undefined, "_rebuild_tensor");
  }),
  rebuildTensorV2: callable(U, "_rebuild_tensor_v2", (a, ctx) => {
    // indexed, not destructured: destructuring a tuple goes through its iterator (hot: per tensor)
    const v = args(a, 6, 7, "_rebuild_tensor_v2", ctx);
    const s = v[0];
    const o = v[1];
    const sz = v[2];
    const st = v[3];
    const rg = v[4];
    const meta = v[6];
    const t = rebuildStrided(
      asStorage(s, "_rebuild_tensor_v2"),
      o,
      sz,
      st,
      undefined,
      "_rebuild_tensor_v2",
      bool(rg),
    );
    if (meta instanceof Map && meta.size) t.pyAttributes = new Map([["__metadata__", meta]]);
    return t;
  }),
  rebuildTensorV3: callable(U, "_rebuild_tensor_v3", (a, ctx) => {
    const [s, o, sz, st, rg, , dt, meta] = args(a, 7, 8, "_rebuild_tensor_v3", ctx);
    const t = rebuildStrided(
      asStorage(s, "_rebuild_tensor_v3"),
      o,
      sz,
      st,
      asDType(dt, "dtype"),
      "_rebuild_tensor_v3",
    );
    t.requiresGrad = bool(rg);
    if (meta instanceof Map && meta.size) t.pyAttributes = new Map([["__metadata__", meta]]);
    return t;
  }),
  rebuildParameter: callable(U, "_rebuild_parameter", (a, ctx) => {
    const v = args(a, 3, 3, "_rebuild_parameter", ctx);
    const d = v[0];
    const rg = v[1];
    return new Parameter(asTensor(d, "_rebuild_parameter data"), bool(rg));
  }),
  rebuildParameterWithState: callable(U, "_rebuild_parameter_with_state", (a, ctx) => {
    const [d, rg, , state] = args(a, 4, 4, "_rebuild_parameter_with_state", ctx);
    const p = new Parameter(asTensor(d, "_rebuild_parameter_with_state data"), bool(rg));
    p.pyAttributes = stateToAttributes(state);
    return p;
  }),
  rebuildQTensor: callable(U, "_rebuild_qtensor", (a, ctx) => {
    const [s, o, sz, st, qp, rg] = args(a, 7, 7, "_rebuild_qtensor", ctx);
    const storage = asStorage(s, "_rebuild_qtensor");
    if (!Array.isArray(qp) || !(qp[0] instanceof TorchQScheme)) {
      throw new TorchPickleError(`_rebuild_qtensor: invalid quantizer params ${describe(qp)}`);
    }
    const scheme = qp[0].name;
    let qparams: QParams;
    if (scheme === "per_tensor_affine") {
      qparams = { qscheme: scheme, scale: float(qp[1], "scale"), zeroPoint: int(qp[2], "zero_point") };
    } else if (scheme === "per_channel_affine" || scheme === "per_channel_affine_float_qparams") {
      const vec = (v: unknown, what: string) =>
        Float64Array.from(
          v instanceof Tensor ? v.toFloat64Array() : Array.isArray(v) ? v.map((x) => float(x, what)) : [],
        );
      // torch writes per_channel_affine for both; floating zero points mean float qparams
      const zp = qp[2];
      const floatZp =
        scheme === "per_channel_affine_float_qparams" ||
        (zp instanceof Tensor && zp.dtype.isFloatingPoint) ||
        (Array.isArray(zp) &&
          zp.some((z) => z instanceof PyFloat || (typeof z === "number" && !Number.isInteger(z))));
      qparams = {
        qscheme: floatZp ? "per_channel_affine_float_qparams" : "per_channel_affine",
        scales: vec(qp[1], "scales"),
        zeroPoints: vec(qp[2], "zero_points"),
        axis: int(qp[3], "axis"),
        ...(qp[1] instanceof Tensor && qp[2] instanceof Tensor
          ? { tensors: { scales: qp[1], zeroPoints: qp[2] } }
          : {}),
      };
    } else {
      throw new TorchPickleError(`Can't deserialize quantized tensor with qscheme torch.${scheme}`);
    }
    try {
      return new QuantizedTensor(
        storage,
        int(o, "storage_offset"),
        ints(sz, "size"),
        ints(st, "stride"),
        qparams,
        {
          requiresGrad: bool(rg),
        },
      );
    } catch (e) {
      throw new TorchPickleError(`_rebuild_qtensor: ${msg(e)}`, {}, { cause: e });
    }
  }),
  rebuildSparseTensor: callable(U, "_rebuild_sparse_tensor", (a, ctx) =>
    rebuildSparse(a, "_rebuild_sparse_tensor", ctx),
  ),
  rebuildSparseCsrTensor: callable(U, "_rebuild_sparse_csr_tensor", (a, ctx) =>
    rebuildSparse(a, "_rebuild_sparse_csr_tensor", ctx),
  ),
  rebuildNestedTensor: callable(U, "_rebuild_nested_tensor", (a, ctx) => {
    const [b, sz, st, off] = args(a, 4, 4, "_rebuild_nested_tensor", ctx);
    return new NestedTensor(
      asTensor(b, "buffer"),
      asTensor(sz, "sizes"),
      asTensor(st, "strides"),
      asTensor(off, "offsets"),
    );
  }),
  rebuildMeta: callable(U, "_rebuild_meta_tensor_no_storage", (a, ctx) => {
    const [dt, sz, st, rg] = args(a, 4, 4, "_rebuild_meta_tensor_no_storage", ctx);
    return new MetaTensor(asDType(dt, "dtype"), ints(sz, "size"), ints(st, "stride"), bool(rg));
  }),
  rebuildWrapperSubclass: callable(U, "_rebuild_wrapper_subclass", (a, ctx) => {
    const [cls, dt, sz, st, off, , dev, rg] = args(a, 8, 8, "_rebuild_wrapper_subclass", ctx);
    const m = new MetaTensor(
      asDType(dt, "dtype"),
      ints(sz, "size"),
      ints(st, "stride"),
      bool(rg),
      int(off, "storage_offset"),
      dev instanceof TorchDevice ? dev.toString() : String(dev),
    );
    m.subclass = cls;
    return m;
  }),
  rebuildDeviceTensorFromNumpy: callable(U, "_rebuild_device_tensor_from_numpy", (a, ctx) =>
    rebuildFromNumpy(a, "_rebuild_device_tensor_from_numpy", ctx),
  ),
  rebuildXlaTensor: callable(U, "_rebuild_xla_tensor", (a, ctx) =>
    rebuildFromNumpy(a, "_rebuild_xla_tensor", ctx),
  ),
  rebuildFromTypeV2: callable("torch._tensor", "_rebuild_from_type_v2", (a, ctx) => {
    const [func, newType, fargs, state] = args(a, 4, 4, "_rebuild_from_type_v2", ctx);
    return rebuildFromType(func, newType, fargs, state, ctx);
  }),
  rebuildFromType: callable("torch._tensor", "_rebuild_from_type", (a, ctx) => {
    const [func, newType, fargs, state] = args(a, 4, 4, "_rebuild_from_type", ctx);
    return rebuildFromType(func, newType, fargs, state, ctx);
  }),
  ...VALUE_GLOBALS,
};

function rebuildSparse(a: PyTuple, fn: string, ctx?: HookContext): SparseTensor {
  const [layout, data] = args(a, 2, 2, fn, ctx);
  if (!(layout instanceof TorchLayout) || layout.name === "strided" || layout.name === "_mkldnn") {
    throw new TorchPickleError(`${fn}: rebuilding sparse tensor for layout ${describe(layout)}`);
  }
  if (!Array.isArray(data)) throw new TorchPickleError(`${fn}: data must be a tuple, got ${describe(data)}`);
  try {
    if (layout.name === "sparse_coo") {
      const [ind, val, size, coalesced] = data;
      return SparseTensor.coo(
        asTensor(ind, "indices"),
        asTensor(val, "values"),
        ints(size, "size"),
        bool(coalesced),
      );
    }
    const [c, p, val, size] = data;
    return SparseTensor.compressed(
      layout.name,
      asTensor(c, "compressed indices"),
      asTensor(p, "plain indices"),
      asTensor(val, "values"),
      ints(size, "size"),
    );
  } catch (e) {
    if (e instanceof TorchPickleError) throw e;
    throw new TorchPickleError(`${fn}: ${msg(e)}`, {}, { cause: e });
  }
}

function rebuildFromNumpy(a: PyTuple, fn: string, ctx?: HookContext): Tensor {
  const [data, dt, dev, rg] = args(a, 4, 4, fn, ctx);
  if (!(data instanceof Tensor)) {
    throw new TorchPickleError(`${fn}: needs a numpy array decoded as a Tensor, got ${describe(data)}`, {
      fn,
    });
  }
  const dtype = asDType(dt, "dtype");
  const t = makeTensor(data.values(), {
    dtype,
    shape: data.shape,
    device: String(dev),
    requiresGrad: bool(rg),
  });
  return t;
}

function rebuildFromType(
  func: unknown,
  newType: unknown,
  fargs: unknown,
  state: unknown,
  ctx?: HookContext,
): unknown {
  if (!func || typeof (func as Partial<Callable>)[CALL] !== "function") {
    throw new TorchPickleError(`_rebuild_from_type_v2: ${describe(func)} is not callable${where(ctx)}`);
  }
  if (!isTuple(fargs)) throw new TorchPickleError(`_rebuild_from_type_v2: args must be a tuple${where(ctx)}`);
  const r = (func as Callable)[CALL](fargs, ctx ?? { offset: -1, opcode: "REDUCE" });
  if (r instanceof Tensor) {
    if (!(newType === TENSOR_CLASS || newType === PARAMETER_CLASS)) r.pySubclass = newType;
    const attrs = stateToAttributes(state);
    if (attrs) r.pyAttributes = attrs;
  }
  return r;
}

/** The module-level rebuild callables (each a `callable` with its GLOBAL_NAME). */
export const torchRebuildFunctions = G;
