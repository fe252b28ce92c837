import { readFileSync } from "node:fs";
import {
  CALL,
  dumps,
  GLOBAL_NAME,
  type GlobalNamed,
  type HookContext,
  loads,
  PyOrderedDict,
  PyTuple,
  REDUCE,
  type Reducible,
  tuple,
} from "@pt/pickle";
import { ALL_DTYPES, dtypes, Storage } from "@pt/storage";
import { describe, expect, it } from "vitest";
import {
  arange,
  BackwardHooks,
  torchRebuildFunctions as G,
  isTensorError,
  type MetaTensor,
  type NestedTensor,
  Parameter,
  parseStoragePid,
  type QuantizedTensor,
  SparseTensor,
  savedStorage,
  storageClassFor,
  storagePersistentId,
  Tensor,
  TorchClassRef,
  TorchDevice,
  TorchLayout,
  TorchQScheme,
  TorchSize,
  tensor,
  torchGlobals,
  torchReduce,
  torchReducers,
  torchTensorTypes,
  UNTYPED_STORAGE,
  zeros,
} from "../src/index.js";

const ctx: HookContext = { offset: 0, opcode: "REDUCE" };
const call = (fn: unknown, ...args: unknown[]) =>
  (fn as { [CALL]: (a: PyTuple, c: HookContext) => unknown })[CALL](tuple(args), ctx);
const reg = torchGlobals();
const get = (m: string, n: string) => reg.get(m, n);

describe("registry", () => {
  it("registers every rebuild function, storage class, dtype and helper global", () => {
    for (const n of [
      "_rebuild_tensor",
      "_rebuild_tensor_v2",
      "_rebuild_tensor_v3",
      "_rebuild_parameter",
      "_rebuild_parameter_with_state",
      "_rebuild_qtensor",
      "_rebuild_sparse_tensor",
      "_rebuild_sparse_csr_tensor",
      "_rebuild_nested_tensor",
      "_rebuild_meta_tensor_no_storage",
      "_rebuild_wrapper_subclass",
      "_rebuild_device_tensor_from_numpy",
      "_rebuild_xla_tensor",
    ]) {
      expect(reg.has("torch._utils", n), n).toBe(true);
    }
    expect(reg.has("torch._tensor", "_rebuild_from_type_v2")).toBe(true);
    for (const s of [
      "Double",
      "Float",
      "Half",
      "Long",
      "Int",
      "Short",
      "Char",
      "Byte",
      "Bool",
      "BFloat16",
      "ComplexDouble",
      "ComplexFloat",
      "QInt8",
      "QInt32",
      "QUInt8",
      "QUInt4x2",
      "QUInt2x4",
    ]) {
      expect(reg.has("torch", `${s}Storage`), s).toBe(true);
    }
    expect(get("torch.storage", "UntypedStorage")).toBe(UNTYPED_STORAGE);
    expect(get("torch", "float32")).toBe(dtypes.float32);
    expect(get("torch", "float8_e5m2")).toBe(dtypes.float8_e5m2);
    for (const n of ["Size", "device", "Tensor", "per_tensor_affine", "sparse_coo"])
      expect(reg.has("torch", n), n).toBe(true);
    expect(reg.has("torch.serialization", "_get_layout")).toBe(true);
    expect(reg.has("torch.nn.parameter", "Parameter")).toBe(true);
  });

  it("registers each rebuild function once, as the table's entry", () => {
    const seen = new Map<string, unknown>();
    for (const [m, n, v] of reg.entries()) {
      const k = `${m}.${n}`;
      expect(seen.has(k), k).toBe(false);
      seen.set(k, v);
    }
    expect(seen.get("torch._utils._rebuild_xla_tensor")).toBe(G.rebuildXlaTensor);
  });

  it("lists the legacy tensor type classes for tar files, apart from torchGlobals()", () => {
    const types = torchTensorTypes();
    expect(types).toBe(torchTensorTypes());
    const withType = ALL_DTYPES.filter((d) => d.tensorTypeName !== null);
    expect([...types.entries()]).toHaveLength(withType.length * 2);
    const f = types.get("torch.cuda", "FloatTensor");
    expect(f).toBeInstanceOf(TorchClassRef);
    expect((f as TorchClassRef).module).toBe("torch.cuda");
    expect(types.has("torch", "QUInt8Tensor")).toBe(true);
    expect(reg.has("torch", "FloatTensor")).toBe(false);
  });
});

describe("rebuild callables with hand-built args", () => {
  const storage = Storage.fromBytes(dtypes.float32, new Float32Array([0, 1, 2, 3, 4, 5]).buffer);
  it("_rebuild_tensor_v2 / v3 / _rebuild_tensor / _rebuild_parameter", () => {
    const t = call(
      G.rebuildTensorV2,
      storage,
      1,
      tuple([2, 2]),
      tuple([1, 2]),
      true,
      new PyOrderedDict(),
    ) as Tensor;
    expect(t.storage).toBe(storage);
    expect([t.shape, t.stride, t.storageOffset, t.requiresGrad]).toEqual([[2, 2], [1, 2], 1, true]);
    expect(t.toArray()).toEqual([
      [1, 3],
      [2, 4],
    ]);
    const old = call(G.rebuildTensor, storage, 0n, tuple([6]), tuple([1])) as Tensor;
    expect(old.numel).toBe(6);
    const u = Storage.untypedFromBytes(new Uint8Array([0x38, 0x7e, 0x01]));
    const f8 = call(
      G.rebuildTensorV3,
      u,
      0,
      tuple([3]),
      tuple([1]),
      false,
      new PyOrderedDict(),
      dtypes.float8_e4m3fn,
    ) as Tensor;
    expect(f8.dtype).toBe(dtypes.float8_e4m3fn);
    expect(f8.toArray()).toEqual([1, 448, 2 ** -9]);
    const p = call(G.rebuildParameter, t, true, new PyOrderedDict());
    expect(p).toBeInstanceOf(Parameter);
    expect((p as Parameter).storage).toBe(storage);
    const ps = call(
      G.rebuildParameterWithState,
      t,
      false,
      new PyOrderedDict(),
      new Map([["foo", 1]]),
    ) as Parameter;
    expect(ps.requiresGrad).toBe(false);
    expect(ps.pyAttributes?.get("foo")).toBe(1);
  });
  it("bad arguments are TorchPickleErrors with the function name", () => {
    expect(() => call(G.rebuildTensorV2, "nope", 0, tuple([1]), tuple([1]), false, null)).toThrow(
      "tensor: _rebuild_tensor_v2: expected a storage (from persistent_load), got string nope",
    );
    expect(() => call(G.rebuildTensorV2, storage, 0, tuple([7]), tuple([1]), false, null)).toThrow(
      /out of bounds for storage of size 24/,
    );
    expect(() => call(G.rebuildTensorV2, storage, 0)).toThrow(
      "tensor: _rebuild_tensor_v2 takes 6 to 7 arguments, got 2 (REDUCE at offset 0)",
    );
    expect(() => call(G.rebuildTensorV3, storage, 0, tuple([1]), tuple([1]), false, null, "float32")).toThrow(
      /dtype must be a dtype/,
    );
  });
  it("_rebuild_qtensor per tensor and per channel", () => {
    const s = Storage.fromBytes(dtypes.quint8, new Uint8Array([8, 10, 11, 14]));
    const q = call(
      G.rebuildQTensor,
      s,
      0,
      tuple([4]),
      tuple([1]),
      tuple([TorchQScheme.of("per_tensor_affine"), 0.5, 10]),
      false,
      new PyOrderedDict(),
    ) as QuantizedTensor;
    expect(q.dequantize().toArray()).toEqual([-1, 0, 0.5, 2]);
    const s8 = Storage.fromBytes(dtypes.qint8, new Int8Array([2, 9, 6, 17]).buffer);
    const qc = call(
      G.rebuildQTensor,
      s8,
      0,
      tuple([2, 2]),
      tuple([2, 1]),
      tuple([
        TorchQScheme.of("per_channel_affine"),
        tensor([0.5, 0.25], { dtype: dtypes.float64 }),
        tensor([0n, 1n]),
        1,
      ]),
      false,
      new PyOrderedDict(),
    ) as QuantizedTensor;
    expect(qc.dequantize().toArray()).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });
  it("_rebuild_sparse_tensor, _rebuild_sparse_csr_tensor, meta, nested, wrapper subclass, from_type_v2", () => {
    let err: unknown;
    try {
      call(
        G.rebuildSparseTensor,
        TorchLayout.of("torch.sparse_coo"),
        tuple([
          tensor([
            [0n, 1n],
            [2n, 0n],
          ]),
          tensor([3, 4]),
          new TorchSize(),
        ]),
      );
    } catch (e) {
      err = e;
    }
    expect(isTensorError(err, "Pickle")).toBe(true);
    expect((err as Error).message).toBe(
      "tensor: _rebuild_sparse_tensor: number of dimensions must be sparse_dim (2) + dense_dim (0), but got 0",
    );
    expect(() => call(G.rebuildSparseTensor, TorchLayout.of("strided"), tuple([]))).toThrow(/layout/);
    const sz = call(G.Size, tuple([2, 3])) as TorchSize;
    const coo2 = call(
      G.rebuildSparseTensor,
      TorchLayout.of("torch.sparse_coo"),
      tuple([
        tensor([
          [0n, 1n],
          [2n, 0n],
        ]),
        tensor([3, 4]),
        sz,
      ]),
    ) as SparseTensor;
    expect(coo2.toDense().toArray()).toEqual([
      [0, 0, 3],
      [4, 0, 0],
    ]);
    const m = call(G.rebuildMeta, dtypes.float16, tuple([2, 3]), tuple([3, 1]), true) as MetaTensor;
    expect([m.shape, m.stride, m.requiresGrad, m.device]).toEqual([[2, 3], [3, 1], true, "meta"]);
    const w = call(
      G.rebuildWrapperSubclass,
      "Cls",
      dtypes.float32,
      tuple([2]),
      tuple([1]),
      0,
      TorchLayout.of("strided"),
      new TorchDevice("cuda", 0),
      false,
    ) as MetaTensor;
    expect([w.device, w.subclass]).toEqual(["cuda:0", "Cls"]);
    const nested = call(
      G.rebuildNestedTensor,
      arange(5, undefined, 1, { dtype: dtypes.float32 }),
      tensor([[2n], [3n]]),
      tensor([[1n], [1n]]),
      tensor([0n, 2n]),
    ) as NestedTensor;
    expect(nested.unbind().map((t) => t.toArray())).toEqual([
      [0, 1],
      [2, 3, 4],
    ]);
    const base = arange(2, undefined, 1, { dtype: dtypes.float32 });
    const sub = call(
      G.rebuildFromTypeV2,
      G.rebuildTensorV2,
      "MySubclass",
      tuple([base.storage, 0, tuple([2]), tuple([1]), false, new PyOrderedDict()]),
      new Map([["tag", "x"]]),
    ) as Tensor;
    expect([sub.pySubclass, sub.pyAttributes?.get("tag")]).toEqual(["MySubclass", "x"]);
  });
  it("torch.device, torch.Size, _get_layout", () => {
    expect(String(call(G.device, "cuda", 1))).toBe("cuda:1");
    expect(String(call(G.device, "cuda:2"))).toBe("cuda:2");
    expect(call(G.Size, tuple([2, 3]))).toBeInstanceOf(PyTuple);
    expect(call(G.getLayout, "torch.sparse_csr")).toBe(TorchLayout.of("sparse_csr"));
    expect(() => call(G.getLayout, "torch.bogus")).toThrow(/unknown layout/);
  });
});

describe("persistent ids", () => {
  it("parseStoragePid", () => {
    expect(parseStoragePid(tuple(["storage", storageClassFor(dtypes.float16), "3", "cuda:0", 10]))).toEqual({
      dtype: dtypes.float16,
      untyped: false,
      key: "3",
      location: "cuda:0",
      numel: 10,
      nbytes: 20,
      viewMetadata: null,
    });
    const v = parseStoragePid(
      tuple(["storage", storageClassFor(dtypes.float32), "140", "cpu", 8n, tuple(["141", 2, 4])]),
    );
    expect(v.viewMetadata).toEqual({ viewKey: "141", offset: 2, size: 4 });
    const u = parseStoragePid(tuple(["storage", UNTYPED_STORAGE, "0", "cpu", 7]));
    expect([u.untyped, u.dtype, u.nbytes]).toEqual([true, dtypes.uint8, 7]);
    expect(() => parseStoragePid(tuple(["module", null, null, null]))).toThrow(/unsupported persistent id/);
    expect(() => parseStoragePid(tuple(["storage", "x", "0", "cpu", 1]))).toThrow(/storage class/);
    expect(() => parseStoragePid(tuple(["storage", UNTYPED_STORAGE, "0", "cpu", -1]))).toThrow(/negative/);
  });
  it("savedStorage and storagePersistentId", () => {
    const s = Storage.allocate(dtypes.float32, 3);
    expect(storagePersistentId(s, "0")).toEqual(
      tuple(["storage", storageClassFor(dtypes.float32), "0", "cpu", 3]),
    );
    const f8 = Storage.allocate(dtypes.float8_e5m2, 5);
    expect(savedStorage(f8)).toMatchObject({ untyped: true, numel: 5, storageClass: UNTYPED_STORAGE });
    expect(savedStorage({})).toBeNull();
  });
});

describe("reductions", () => {
  it("a Tensor reduces to _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, OrderedDict())", () => {
    const t = arange(6, undefined, 1, { dtype: dtypes.float32 }).view(2, 3).slice(1, 1);
    const r = (t as unknown as Reducible)[REDUCE]();
    expect((r.func as GlobalNamed)[GLOBAL_NAME]).toEqual({
      module: "torch._utils",
      name: "_rebuild_tensor_v2",
    });
    expect(r.args[0]).toBe(t.storage);
    expect(r.args.slice(1, 5)).toEqual([1, tuple([2, 2]), tuple([3, 1]), false]);
    // the backward hooks: a small placeholder that pickles exactly as an empty OrderedDict
    expect(r.args[5]).toBeInstanceOf(BackwardHooks);
    expect(dumps(r.args[5])).toEqual(dumps(new PyOrderedDict()));
    const d = new PyOrderedDict();
    expect(dumps(tuple([r.args[5], r.args[5]]))).toEqual(dumps(tuple([d, d]))); // memoized alike
    expect(r.args.length).toBe(6);
  });
  it("dtypes without a storage class use _rebuild_tensor_v3 with an untyped storage", () => {
    const t = new Tensor(Storage.allocate(dtypes.uint16, 2), 0, [2]);
    const r = torchReduce(t);
    expect((r.func as GlobalNamed)[GLOBAL_NAME].name).toBe("_rebuild_tensor_v3");
    expect(savedStorage(r.args[0])).toMatchObject({ untyped: true, numel: 4 });
    expect(r.args[6]).toBe(dtypes.uint16);
  });
  it("Parameter reduces to _rebuild_parameter(plain tensor, requires_grad, OrderedDict())", () => {
    const p = new Parameter(zeros([2]));
    const r = torchReduce(p);
    expect((r.func as GlobalNamed)[GLOBAL_NAME].name).toBe("_rebuild_parameter");
    expect(r.args[0]).toBeInstanceOf(Tensor);
    expect(r.args[0]).not.toBeInstanceOf(Parameter);
    expect(r.args[1]).toBe(true);
  });
  it("dtype, storage class and qscheme are globals", () => {
    expect((dtypes.bfloat16 as unknown as GlobalNamed)[GLOBAL_NAME]).toEqual({
      module: "torch",
      name: "bfloat16",
    });
    expect(storageClassFor(dtypes.int8)[GLOBAL_NAME]).toEqual({ module: "torch", name: "CharStorage" });
    expect(TorchQScheme.of("per_channel_affine")[GLOBAL_NAME]).toEqual({
      module: "torch",
      name: "per_channel_affine",
    });
  });
});

interface PickleCase {
  name: string;
  pkl: string;
  storages: Record<string, string>;
}
const fx = JSON.parse(readFileSync(new URL("../fixtures/pickles.json", import.meta.url), "utf8")) as {
  cases: PickleCase[];
};
const hex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (h) => Number.parseInt(h, 16));

function load(c: PickleCase): unknown {
  const byKey = new Map<string, Storage>();
  return loads(hex(c.pkl), {
    globals: torchGlobals(),
    persistentLoad: (pid) => {
      const p = parseStoragePid(pid);
      let s = byKey.get(p.key);
      if (!s) {
        const bytes = hex(c.storages[p.key] ?? "");
        s = Storage.fromBytes(p.dtype, bytes, { untyped: p.untyped, device: p.location });
        byKey.set(p.key, s);
      }
      return s;
    },
  });
}
function save(v: unknown): Uint8Array {
  const keys = new Map<Storage, string>();
  return dumps(v, {
    protocol: 2,
    persistentId: (obj) => {
      const s = savedStorage(obj);
      if (!s) return null;
      let k = keys.get(s.storage);
      if (k === undefined) {
        k = String(keys.size);
        keys.set(s.storage, k);
      }
      return storagePersistentId(obj, k);
    },
  });
}
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

describe(`end to end against torch 1.13's data.pkl (${fx.cases.length} cases)`, () => {
  for (const c of fx.cases) {
    it(`${c.name}: loads, then dumps to the same bytes`, () => {
      const v = load(c);
      expect(toHex(save(v))).toBe(c.pkl);
    });
  }
  it("loaded values and sharing", () => {
    const by = Object.fromEntries(fx.cases.map((c) => [c.name, load(c)]));
    expect((by.tensor as Tensor).toArray()).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    const shared = by.shared as Map<string, Tensor>;
    expect(shared).toBeInstanceOf(PyOrderedDict);
    const a = shared.get("a")!;
    const b = shared.get("b")!;
    const cc = shared.get("c")!;
    expect(a.storage).toBe(b.storage);
    expect([b.storageOffset, cc.stride]).toEqual([3, [1, 3]]);
    a.set([1, 0], 99);
    expect(b.get([0, 0])).toBe(99);
    expect(by.parameter).toBeInstanceOf(Parameter);
    const [i64, bl, f16, bf, c64, u8] = by.dtypes as Tensor[];
    expect([
      i64!.toArray(),
      bl!.toArray(),
      f16!.toArray(),
      bf!.toArray(),
      c64!.toArray(),
      u8!.toArray(),
    ]).toEqual([[1n, -2n], [true, false], [1.5, -0.25], [3], [{ re: 1, im: 2 }], [7]]);
    const e = by.expanded as Tensor;
    expect([e.stride, e.storage.numel]).toEqual([[0, 1], 4]);
    expect((by.requires_grad as Tensor).requiresGrad).toBe(true);
    expect((by.qtensor as QuantizedTensor).dequantize().toArray()).toEqual([-1, 0, 0.5, 2]);
    expect((by.qtensor_channel as QuantizedTensor).dequantize().toArray()).toEqual([
      [1, 2],
      [3, 4],
    ]);
    const qf = by.qtensor_channel_float as QuantizedTensor;
    expect(qf.qscheme).toBe("per_channel_affine_float_qparams");
    expect(qf.toArray()).toEqual([
      [3, 10],
      [7, 18],
    ]);
    expect(qf.dequantize().toArray()).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect((by.sparse_coo as SparseTensor).toDense().toArray()).toEqual([
      [0, 0, 3],
      [4, 0, 0],
    ]);
    expect((by.sparse_csr as SparseTensor).toDense().toArray()).toEqual([
      [1, 0, 2],
      [0, 0, 3],
    ]);
    expect((by.meta as MetaTensor).shape).toEqual([2, 3]);
    const [size, cuda, cpu, f32, i64d] = by.misc as unknown[];
    expect(size).toEqual(tuple([2, 3]));
    expect([String(cuda), String(cpu), f32, i64d]).toEqual(["cuda:1", "cpu", dtypes.float32, dtypes.int64]);
  });
  it("objects built from scratch pickle exactly as torch does", () => {
    const t = arange(6, undefined, 1, { dtype: dtypes.float32 }).view(2, 3);
    expect(toHex(save(t))).toBe(fx.cases.find((c) => c.name === "tensor")!.pkl);
    const od = new PyOrderedDict<string, Tensor>([
      ["a", t],
      ["b", t.slice(0, 1)],
      ["c", t.t()],
    ]);
    expect(toHex(save(od))).toBe(fx.cases.find((c) => c.name === "shared")!.pkl);
    expect(toHex(save(new Parameter(tensor([1, -2]))))).toBe(
      fx.cases.find((c) => c.name === "parameter")!.pkl,
    );
    expect(toHex(save(zeros([4]).expand(4, 4)))).toBe(fx.cases.find((c) => c.name === "expanded")!.pkl);
  });
});

describe("flavours and reducers", () => {
  it("2.x: COO carries is_coalesced, CSC uses _rebuild_sparse_tensor; 1.13 refuses CSC", () => {
    const coo = SparseTensor.coo(tensor([[0n]]), tensor([1]), [2], true);
    expect(torchReduce(coo, "1.13").args[1]).toHaveLength(3);
    expect((torchReduce(coo, "2.x").args[1] as unknown[])[3]).toBe(true);
    const csc = SparseTensor.compressed("sparse_csc", tensor([0n, 1n]), tensor([0n]), tensor([5]), [1, 1]);
    expect((torchReduce(csc, "2.x").func as GlobalNamed)[GLOBAL_NAME].name).toBe("_rebuild_sparse_tensor");
    expect(() => torchReduce(csc, "1.13")).toThrow(/1.13 cannot pickle sparse_csc/);
  });
  it("subclasses and attributes go through _rebuild_from_type_v2", () => {
    const t = zeros([1]);
    t.pyAttributes = new Map([["tag", 1]]);
    expect((torchReduce(t, "1.13").func as GlobalNamed)[GLOBAL_NAME].name).toBe("_rebuild_tensor_v2");
    const r = torchReduce(t, "2.x");
    expect((r.func as GlobalNamed)[GLOBAL_NAME].name).toBe("_rebuild_from_type_v2");
    expect((r.args[0] as GlobalNamed)[GLOBAL_NAME].name).toBe("_rebuild_tensor_v2");
    expect(r.args[3]).toEqual(new Map([["tag", 1]]));
    // and it loads back with the attributes
    const back = call(G.rebuildFromTypeV2, ...r.args) as Tensor;
    expect(back.pyAttributes?.get("tag")).toBe(1);
    const p = new Parameter(zeros([1]));
    p.pyAttributes = new Map([["x", 2]]);
    expect((torchReduce(p, "2.x").func as GlobalNamed)[GLOBAL_NAME].name).toBe(
      "_rebuild_parameter_with_state",
    );
  });
  it("torchReducers plugs into dumps", () => {
    const coo = SparseTensor.coo(tensor([[0n]]), tensor([1]), [2], true);
    const keys = new Map<Storage, string>();
    const pid = (obj: unknown) => {
      const s = savedStorage(obj);
      if (!s) return null;
      if (!keys.has(s.storage)) keys.set(s.storage, String(keys.size));
      return storagePersistentId(obj, keys.get(s.storage)!);
    };
    const a = dumps(coo, { persistentId: pid, reducers: torchReducers("2.x") });
    keys.clear();
    const b = dumps(coo, { persistentId: pid });
    // (indices, values, size, True): MARK … TUPLE + NEWTRUE instead of TUPLE3
    expect(a.length).toBe(b.length + 2);
  });
});
