/** Save reductions: how tensors and torch values reduce to exactly what torch writes. */
import {
  asTuple,
  GLOBAL_NAME,
  isTuple,
  PyFloat,
  PyGlobal,
  REDUCE,
  type Reduction,
  SETSTATE,
  tuple,
} from "@pt/pickle";
import { type DType, dtypes } from "@pt/storage";
import { tensor as makeTensor } from "../create.js";
import { QuantizedTensor } from "../quantized.js";
import { MetaTensor, SparseTensor } from "../sparse.js";
import { Parameter, Tensor } from "../tensor.js";
import { describe, stateToAttributes, TorchPickleError } from "./args.js";
import { storageView } from "./persistent-ids.js";
import { torchRebuildFunctions as G } from "./rebuild.js";
import { TENSOR_CLASS, TorchDevice, TorchLayout, TorchQScheme, TorchSize, torchSize } from "./values.js";

/** Which torch's pickles to reproduce: 1.13 (`_rebuild_sparse_csr_tensor`), or 2.x. */
export type TorchFlavor = "1.13" | "2.x";

function storageArg(t: Tensor): unknown {
  if (!t.dtype.storageClass) {
    return t.storage.untyped ? t.storage : storageView(t.storage, dtypes.uint8, true);
  }
  return t.storage.dtype === t.dtype && !t.storage.untyped
    ? t.storage
    : storageView(t.storage, t.dtype, false);
}
const pyFloat = (x: number): number | PyFloat => (Number.isInteger(x) ? new PyFloat(x) : x);

function attributesState(v: Tensor): Map<string, unknown> | null {
  if (!v.pyAttributes) return null;
  const m = new Map([...v.pyAttributes].filter(([k]) => k !== "__metadata__"));
  return m.size ? m : null;
}

const ORDERED_DICT = new PyGlobal("collections", "OrderedDict");
const NO_ARGS = tuple();

/**
 * The empty `OrderedDict()` torch passes to every rebuild as its backward hooks: pickled exactly as
 * an empty `PyOrderedDict` (`collections.OrderedDict`, `()`, REDUCE, memoized), but one small object
 * per saved tensor rather than a Map, since the pickler keeps every one alive until it is done.
 */
export class BackwardHooks {
  [REDUCE](): Reduction {
    return { func: ORDERED_DICT, args: NO_ARGS };
  }
}
const hooks = (): BackwardHooks => new BackwardHooks();

/**
 * The reduction torch writes for a torch value (Tensor, Parameter, quantized, sparse, meta, Size,
 * device, layout). Tensor subclasses (`pySubclass`) become `_rebuild_from_type_v2(func, cls, args,
 * state)` in both flavours; with `"2.x"`, plain tensors carrying `pyAttributes` do too (1.13 drops
 * them, as torch 1.13 does), and Parameters with attributes use `_rebuild_parameter_with_state`.
 */
export function torchReduce(v: unknown, flavor: TorchFlavor = "1.13"): Reduction {
  if (v instanceof Parameter) {
    const data = v.asTensor();
    const state = flavor === "2.x" ? attributesState(v) : null;
    if (state) return { func: G.rebuildParameterWithState, args: [data, v.requiresGrad, hooks(), state] };
    return { func: G.rebuildParameter, args: [data, v.requiresGrad, hooks()] };
  }
  if (v instanceof Tensor && !(v instanceof QuantizedTensor)) {
    const state = attributesState(v);
    if (v.pySubclass !== null || (flavor === "2.x" && state)) {
      const inner = torchReduceInternal(v);
      return {
        func: G.rebuildFromTypeV2,
        args: [inner.func, v.pySubclass ?? TENSOR_CLASS, tuple(inner.args), state ?? new Map()],
      };
    }
  }
  return torchReduceInternal(v, flavor);
}

function torchReduceInternal(v: unknown, flavor: TorchFlavor = "1.13"): Reduction {
  if (v instanceof QuantizedTensor) {
    const q = v.qparams;
    const qp =
      q.qscheme === "per_tensor_affine"
        ? tuple([TorchQScheme.of("per_tensor_affine"), pyFloat(q.scale), q.zeroPoint])
        : tuple([
            TorchQScheme.of("per_channel_affine"),
            ...(q.tensors
              ? [q.tensors.scales, q.tensors.zeroPoints]
              : q.qscheme === "per_channel_affine_float_qparams"
                ? [
                    makeTensor(Array.from(q.scales), { dtype: dtypes.float32 }),
                    makeTensor(Array.from(q.zeroPoints), { dtype: dtypes.float32 }),
                  ]
                : [
                    makeTensor(Array.from(q.scales), { dtype: dtypes.float64 }),
                    makeTensor(
                      Array.from(q.zeroPoints, (z) => BigInt(Math.round(z))),
                      { dtype: dtypes.int64 },
                    ),
                  ]),
            q.axis,
          ]);
    return {
      func: G.rebuildQTensor,
      args: [
        storageView(v.storage, v.dtype, false),
        v.storageOffset,
        tuple(v.shape),
        tuple(v.stride),
        qp,
        v.requiresGrad,
        hooks(),
      ],
    };
  }
  if (v instanceof Tensor) {
    // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks); v3 adds the dtype
    const a: unknown[] = [
      storageArg(v),
      v.storageOffset,
      tuple(v.shape),
      tuple(v.stride),
      v.requiresGrad,
      hooks(),
    ];
    if (v.dtype.storageClass) return { func: G.rebuildTensorV2, args: asTuple(a) };
    a.push(v.dtype);
    return { func: G.rebuildTensorV3, args: a };
  }
  if (v instanceof SparseTensor) {
    const layout = TorchLayout.of(v.layout);
    if (v.layout === "sparse_coo") {
      const data = [v.indices!, v.values, torchSize(v.shape)];
      if (flavor === "2.x") data.push(v.isCoalesced as never);
      return { func: G.rebuildSparseTensor, args: [layout, tuple(data)] };
    }
    const data = tuple([v.compressedIndices!, v.plainIndices!, v.values, torchSize(v.shape)]);
    if (flavor === "1.13" && v.layout !== "sparse_csr") {
      throw new TorchPickleError(`torch 1.13 cannot pickle ${v.layout} tensors`);
    }
    return {
      func: flavor === "1.13" ? G.rebuildSparseCsrTensor : G.rebuildSparseTensor,
      args: [layout, data],
    };
  }
  if (v instanceof MetaTensor) {
    return { func: G.rebuildMeta, args: [v.dtype, tuple(v.shape), tuple(v.stride), v.requiresGrad] };
  }
  if (v instanceof TorchSize || v instanceof TorchDevice || v instanceof TorchLayout) return v[REDUCE]();
  throw new TorchPickleError(`no torch reduction for ${describe(v)}`);
}

/**
 * Reducers by constructor for `dumps({ reducers })`, producing the given flavour's reductions
 * (the `REDUCE` methods installed on the classes produce torch 1.13's).
 */
export function torchReducers(flavor: TorchFlavor = "1.13"): Map<unknown, (value: never) => Reduction> {
  installTorchPickleProtocols(); // dtypes (pickled as globals) need theirs too
  const m = new Map<unknown, (value: never) => Reduction>();
  for (const cls of [
    Tensor,
    Parameter,
    QuantizedTensor,
    SparseTensor,
    MetaTensor,
    TorchSize,
    TorchDevice,
    TorchLayout,
  ]) {
    m.set(cls, (value: never) => torchReduce(value, flavor));
  }
  return m;
}

let installed = false;
/**
 * Give torch values their pickle protocols: `REDUCE` on Tensor/Parameter/QuantizedTensor/
 * SparseTensor/MetaTensor (torch 1.13 reductions; v3 for dtypes without a storage class),
 * `GLOBAL_NAME` on DType and storage classes, `SETSTATE` on Tensor. Idempotent. Importing the
 * package does not run it (it is free of side effects): `torchGlobals()`, `torchReducers()` and the
 * format packages' savers call it; call it yourself before pickling torch values with `dumps`
 * without `reducers: torchReducers()`.
 */
export function installTorchPickleProtocols(): void {
  if (installed) return;
  installed = true;
  for (const cls of [Tensor, SparseTensor, MetaTensor]) {
    Object.defineProperty(cls.prototype, REDUCE, {
      value(this: unknown) {
        return torchReduce(this);
      },
      configurable: true,
    });
  }
  Object.defineProperty(Tensor.prototype, SETSTATE, {
    value(this: Tensor, state: unknown) {
      const attrs = stateToAttributes(isTuple(state) && state.length !== 2 ? null : state);
      if (attrs) this.pyAttributes = new Map([...(this.pyAttributes ?? []), ...attrs]);
      return undefined;
    },
    configurable: true,
  });
  const dtypeProto = Object.getPrototypeOf(dtypes.float32) as object;
  Object.defineProperty(dtypeProto, GLOBAL_NAME, {
    get(this: DType) {
      return { module: "torch", name: this.name };
    },
    configurable: true,
  });
}
