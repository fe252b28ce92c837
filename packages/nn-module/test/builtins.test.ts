/**
 * Modules constructed in TypeScript have the `__dict__` torch 1.13's constructors build: with the
 * fixture's values loaded, they pickle to the fixture's bytes.
 */
import { GLOBAL_NAME, loads, NEW, PyGlobal, PyObject, tuple } from "@pt/pickle";
import type { Storage } from "@pt/storage";
import { type Tensor, tensor, torchGlobals } from "@pt/tensor";
import { describe, expect, it } from "vitest";
import * as nn from "../src/index.js";
import { dumpTorch, loadFixture, normalizeStrings } from "./helpers.js";

class Net extends nn.Module {
  static override readonly pyModule = "models";
  static override readonly pyName = "Net";
  constructor() {
    super();
    this.setAttr("fc1", new nn.Linear(4, 3));
    this.setAttr("act", new nn.ReLU());
    this.setAttr("fc2", new nn.Linear(3, 2, { bias: false }));
    this.registerBuffer("scale", tensor([0.5, 2.0]));
    this.registerBuffer("scratch", tensor([0, 0]), { persistent: false });
  }
}

class TiedLM extends nn.Module {
  static override readonly pyModule = "models";
  static override readonly pyName = "TiedLM";
  constructor() {
    super();
    this.setAttr("embed", new nn.Embedding(11, 6));
    this.setAttr("norm", new nn.LayerNorm(6));
    this.setAttr("out", new nn.Linear(6, 11, { bias: false }));
    this.getSubmodule("out").setAttr("weight", this.getSubmodule("embed").getAttr("weight"));
  }
}

class SmallCNN extends nn.Module {
  static override readonly pyModule = "models";
  static override readonly pyName = "SmallCNN";
  constructor() {
    super();
    this.setAttr("conv", new nn.Conv2d(1, 4, 3, { padding: 1 }));
    this.setAttr("bn", new nn.BatchNorm2d(4));
    this.setAttr("pool", new nn.AdaptiveAvgPool2d(1));
    this.setAttr("flatten", new nn.Flatten());
    this.setAttr("head", new nn.Linear(4, 3));
  }
}

const builders: Record<string, { build: () => nn.Module; bytes: boolean }> = {
  mlp: {
    build: () =>
      new nn.Sequential(
        new nn.Linear(5, 8),
        new nn.ReLU(),
        new nn.Linear(8, 8),
        new nn.Tanh(),
        new nn.Linear(8, 2),
      ),
    bytes: true,
  },
  cnn_bn: {
    build: () =>
      new nn.Sequential(
        new nn.Conv2d(1, 3, 3),
        new nn.BatchNorm2d(3),
        new nn.ReLU(),
        new nn.Flatten(),
        new nn.Linear(27, 2),
      ),
    bytes: true,
  },
  lstm: { build: () => new nn.LSTM(4, 5, { numLayers: 2, batchFirst: true }), bytes: false },
  transformer_layer: {
    build: () => new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0, batchFirst: true }),
    bytes: true,
  },
  user_net: { build: () => new Net(), bytes: true },
  tied_embedding: { build: () => new TiedLM(), bytes: true },
  user_cnn: { build: () => new SmallCNN().eval(), bytes: true },
};

describe.each(Object.keys(builders))("TS-built %s", (m) => {
  it("pickles like torch's whole-model fixture once the fixture's values are loaded", () => {
    const { build, bytes } = builders[m]!;
    const model = loadFixture(`nn_${m}_model`);
    const ours = build();
    ours.loadStateDict((model.value as nn.Module).stateDict());
    // non-persistent buffers are not in the state dict: copy them too
    for (const [k, b] of (model.value as nn.Module).namedBuffers()) {
      const mine = [...ours.namedBuffers()].find(([n]) => n === k)![1];
      nn.copyInto(mine, b);
    }
    const { pkl } = dumpTorch(ours);
    expect(normalizeStrings(pkl)).toEqual(normalizeStrings(model.dataPkl));
    expect(Buffer.from(pkl).equals(Buffer.from(model.dataPkl))).toBe(bytes);
  });
});

describe("constructors", () => {
  it("Linear: attributes, shapes, init bounds, no bias", () => {
    nn.manualSeed(1);
    const l = new nn.Linear(4, 3);
    expect([l.inFeatures, l.outFeatures]).toEqual([4, 3]);
    expect(l.weight!.shape).toEqual([3, 4]);
    expect(l.weight!.requiresGrad).toBe(true);
    expect(l.weight!.values().every((v) => Math.abs(v as number) <= 0.5)).toBe(true);
    expect([...l.dict.keys()]).toEqual([...nn.MODULE_BASE_KEYS, "in_features", "out_features"]);
    expect(new nn.Linear(2, 2, { bias: false }).bias).toBeNull();
  });

  it("Conv2d: tuples, padding and the reversed padding", () => {
    const c = new nn.Conv2d(2, 6, [3, 5], { padding: [1, 2], groups: 2 });
    expect(c.kernelSize).toEqual([3, 5]);
    expect(c.padding).toEqual([1, 2]);
    expect(c.weight!.shape).toEqual([6, 1, 3, 5]);
    expect([...(c.dict.get("_reversed_padding_repeated_twice") as number[])]).toEqual([2, 2, 1, 1]);
    const same = new nn.Conv1d(1, 1, 4, { padding: "same" });
    expect(same.padding).toBe("same");
    expect([...(same.dict.get("_reversed_padding_repeated_twice") as number[])]).toEqual([1, 2]);
    expect(new nn.ConvTranspose2d(4, 6, 3, { groups: 2 }).weight!.shape).toEqual([4, 3, 3, 3]);
    expect(() => new nn.Conv2d(3, 4, 3, { groups: 2 })).toThrow(nn.NnError);
  });

  it("BatchNorm: version 2, buffers, num_batches_tracked int64", () => {
    const bn = new nn.BatchNorm1d(3, { momentum: null });
    expect(bn.version).toBe(2);
    expect(bn.momentum).toBeNull();
    expect(bn.numBatchesTracked!.dtype.name).toBe("int64");
    expect([...bn.stateDict().keys()]).toEqual([
      "weight",
      "bias",
      "running_mean",
      "running_var",
      "num_batches_tracked",
    ]);
    const noTrack = new nn.BatchNorm2d(3, { trackRunningStats: false, affine: false });
    expect([...noTrack.stateDict().keys()]).toEqual([]);
  });

  it("BatchNorm loading a version-1 state dict without num_batches_tracked is not an error", () => {
    const bn = new nn.BatchNorm2d(2);
    const sd = bn.stateDict();
    sd.delete("num_batches_tracked");
    (sd.attributes!.get("_metadata") as Map<string, Map<string, number>>).set("", new Map([["version", 1]]));
    expect(bn.loadStateDict(sd)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    sd.attributes = null;
    expect(bn.loadStateDict(sd)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    (sd as Map<string, unknown>).set("x", 1);
    const meta = bn.stateDict();
    meta.delete("num_batches_tracked");
    expect(() => bn.loadStateDict(meta)).toThrow('Missing key(s) in state_dict: "num_batches_tracked".');
  });

  it("RNNs: flat weights, projections, bidirectional names, nonlinearity first", () => {
    const lstm = new nn.LSTM(3, 4, { projSize: 2, bidirectional: true, numLayers: 2 });
    expect(lstm.allWeights[1]).toEqual([
      "weight_ih_l0_reverse",
      "weight_hh_l0_reverse",
      "bias_ih_l0_reverse",
      "bias_hh_l0_reverse",
      "weight_hr_l0_reverse",
    ]);
    expect(lstm.parametersDict.get("weight_ih_l1")!.shape).toEqual([16, 4]);
    expect(lstm.parametersDict.get("weight_hh_l0")!.shape).toEqual([16, 2]);
    expect(lstm.flatWeights.every((p, i) => p === (lstm.dict.get("_flat_weights") as unknown[])[i])).toBe(
      true,
    );
    const rnn = new nn.RNN(3, 4, { nonlinearity: "relu" });
    expect([...rnn.dict.keys()][0]).toBe("nonlinearity");
    expect(rnn.mode).toBe("RNN_RELU");
    expect(new nn.GRU(3, 4).parametersDict.get("weight_ih_l0")!.shape).toEqual([12, 3]);
  });

  it("MultiheadAttention with kdim/vdim registers separate projections and bias_k/bias_v", () => {
    const mha = new nn.MultiheadAttention(8, 2, { kdim: 4, vdim: 4, addBiasKv: true });
    expect([...mha.parametersDict.keys()]).toEqual([
      "q_proj_weight",
      "k_proj_weight",
      "v_proj_weight",
      "in_proj_weight",
      "in_proj_bias",
      "bias_k",
      "bias_v",
    ]);
    expect(mha.dict.has("bias_k")).toBe(false);
    expect(mha.qkvSameEmbedDim).toBe(false);
  });

  it("TransformerEncoder deep-copies the layer", () => {
    const layer = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16 });
    const enc = new nn.TransformerEncoder(layer, 2);
    const keys = [...enc.stateDict().keys()];
    expect(keys.filter((k) => k.endsWith("in_proj_weight"))).toEqual([
      "layers.0.self_attn.in_proj_weight",
      "layers.1.self_attn.in_proj_weight",
    ]);
    const a = enc.getSubmodule("layers.0.linear1").getAttr("weight") as Tensor;
    const b = enc.getSubmodule("layers.1.linear1").getAttr("weight") as Tensor;
    expect(a.storage).not.toBe(b.storage);
    expect(a.equal(b)).toBe(true);
    expect(enc.getSubmodule("layers.0").getAttr("activation")).toBe(nn.F_RELU);
  });

  it("getters read attributes of activations, pooling, reshaping", () => {
    expect(new nn.Softmax(1).dim).toBe(1);
    expect(new nn.LeakyReLU(0.2).negativeSlope).toBe(0.2);
    expect(new nn.ReLU6().maxVal).toBe(6);
    expect(new nn.MaxPool2d(2).stride).toBe(2);
    expect(new nn.AvgPool1d(3).kernelSize).toEqual([3]);
    expect(new nn.AdaptiveAvgPool2d([null, 3]).outputSize).toEqual([null, 3]);
    expect(new nn.Unflatten(1, [2, 3]).unflattenedSize).toEqual([2, 3]);
    expect(new nn.Dropout(0.25).p).toBe(0.25);
    expect(new nn.GELU({ approximate: "tanh" }).approximate).toBe("tanh");
    expect(new nn.Embedding(5, 2, { paddingIdx: -1 }).paddingIdx).toBe(4);
    expect(new nn.EmbeddingBag(5, 2, { mode: "sum" }).mode).toBe("sum");
    expect(new nn.Bilinear(2, 3, 4).in2Features).toBe(3);
    expect(new nn.GroupNorm(2, 4).numGroups).toBe(2);
    expect(new nn.PReLU(3).numParameters).toBe(3);
  });
});

describe("nnGlobals and reviveModules", () => {
  it("registers the built-in classes under torch's names", () => {
    const r = nn.nnGlobals();
    for (const cls of nn.BUILTIN_MODULE_CLASSES) {
      const ref = r.get(cls.pyModule, cls.pyName) as { [GLOBAL_NAME]: { module: string; name: string } };
      expect(ref[GLOBAL_NAME]).toEqual({ module: cls.pyModule, name: cls.pyName });
    }
    expect(r.has("torch.nn.modules.container", "Sequential")).toBe(true);
    expect(r.has("torch.nn.functional", "relu")).toBe(true);
    expect(nn.nnGlobals({ classes: [Net] }).has("models", "Net")).toBe(true);
  });

  it("a registered user class loads as that class", () => {
    const net = new Net();
    const { pkl, storages } = dumpTorch(net);
    const value = loads(pkl, {
      globals: torchGlobals().merge(nn.nnGlobals({ classes: [Net] })),
      persistentLoad: (pid) => storages[Number((pid as unknown[])[2])] as Storage,
    });
    expect(value).toBeInstanceOf(Net);
    expect(dumpTorch(value).pkl).toEqual(pkl);
  });

  it("refuses NEWOBJ arguments and a non-dict state", () => {
    const ref = nn.ModuleClassRef.of(nn.Linear);
    const ctx = { offset: 7, opcode: "NEWOBJ" };
    expect(() => ref[NEW](tuple([1]), null, ctx)).toThrow(/offset 7/);
    const blank = nn.Module.blank(nn.Linear);
    expect(() => blank.applyState(new Map([["training", true]]))).toThrow(nn.NnError);
  });

  it("revives opaque modules nested anywhere, keeping identity", () => {
    const state = new nn.Linear(2, 2).dict;
    const obj = new PyObject(new PyGlobal("__main__", "Block"), tuple(), "newobj");
    obj.state = new Map(state);
    const outer = new PyObject(new PyGlobal("__main__", "Outer"), tuple(), "newobj");
    const outerState = new nn.Module().dict;
    (outerState.get("_modules") as Map<string, unknown>).set("a", obj);
    (outerState.get("_modules") as Map<string, unknown>).set("b", obj);
    outer.state = outerState;
    const notModule = new PyObject(new PyGlobal("x", "Y"), tuple(), "newobj");
    notModule.state = new Map([["k", 1]]);
    const value = nn.reviveModules([outer, notModule]) as unknown[];
    const g = value[0] as nn.GenericModule;
    expect(g).toBeInstanceOf(nn.GenericModule);
    expect(g.className).toBe("Outer");
    expect(g.getSubmodule("a")).toBe(g.getSubmodule("b"));
    expect(value[1]).toBe(notModule);
    expect([...g.stateDict().keys()]).toEqual(["a.weight", "a.bias", "b.weight", "b.bias"]);
    expect([...g.namedModules()].map(([k]) => k)).toEqual(["", "a"]);
  });
});

describe("deepCopyModule", () => {
  it("copies generic modules with their class, and keeps ties inside the copy", () => {
    const tied = loadFixture("nn_tied_embedding_model").value as nn.GenericModule;
    const c = nn.deepCopyModule(tied);
    expect(c).toBeInstanceOf(nn.GenericModule);
    expect(c.pyClass).toEqual({ module: "models", name: "TiedLM" });
    const w = c.getSubmodule("embed").getAttr("weight") as Tensor;
    expect(c.getSubmodule("out").getAttr("weight")).toBe(w);
    expect(w).not.toBe(tied.getSubmodule("embed").getAttr("weight"));
    expect(w.storage).not.toBe((tied.getSubmodule("embed").getAttr("weight") as Tensor).storage);
    expect(dumpTorch(c).pkl).toEqual(dumpTorch(tied).pkl);
  });
});
