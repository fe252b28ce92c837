/** Module core semantics: registration, iteration, state_dict and load_state_dict rules. */

import { loads, PyFloat, PyGlobal, PyObject, PyOrderedDict, SETSTATE, tuple } from "@pt/pickle";
import { dtypes, Storage } from "@pt/storage";
import { Parameter, parseStoragePid, Tensor, tensor, torchGlobals, zeros } from "@pt/tensor";
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BatchNorm1d,
  Conv2d,
  copyInto,
  detach,
  formatSize,
  GenericModule,
  isNnError,
  Linear,
  LoadStateDictError,
  Module,
  NnError,
  nnGlobals,
  ReLU,
  Sequential,
} from "../src/index.js";
import { dumpTorch } from "./helpers.js";

describe("registration and __setattr__ rules", () => {
  it("setAttr routes Parameters, Modules and buffers like Module.__setattr__", () => {
    const m = new Module();
    const p = new Parameter(tensor([1, 2]));
    m.setAttr("w", p);
    m.setAttr("child", new Linear(2, 1));
    m.registerBuffer("b", tensor([3]));
    m.setAttr("b", tensor([4]));
    m.setAttr("x", 5);
    expect(m.parametersDict.get("w")).toBe(p);
    expect(m.modulesDict.get("child")).toBeInstanceOf(Linear);
    expect((m.buffersDict.get("b") as Tensor).get([0])).toBe(4);
    expect(m.dict.get("x")).toBe(5);
    expect(m.getAttr("w")).toBe(p);
    expect(() => m.setAttr("w", tensor([1]))).toThrow(/cannot assign .* as parameter 'w'/);
    expect(() => m.setAttr("child", 3)).toThrow(/child module 'child'/);
    expect(() => m.setAttr("b", 3)).toThrow(/buffer 'b'/);
    m.setAttr("w", null);
    expect(m.parametersDict.get("w")).toBeNull();
  });

  it("names are checked", () => {
    const m = new Module();
    expect(() => m.registerParameter("a.b", null)).toThrow(/can't contain "."/);
    expect(() => m.registerBuffer("", null)).toThrow(/empty string/);
    m.setAttr("plain", 1);
    expect(() => m.registerBuffer("plain", null)).toThrow(/already exists/);
    m.addModule("sub", new Module());
    expect(() => m.registerBuffer("sub", null)).toThrow(/already exists/);
    expect(() => m.addModule("plain", new Module())).toThrow(NnError);
    try {
      m.registerParameter("x.y", null);
    } catch (e) {
      expect(isNnError(e, "InvalidName")).toBe(true);
      expect((e as NnError).message.startsWith("nn: ")).toBe(true);
    }
  });

  it("dict order of a fresh module is torch 1.13's", () => {
    expect([...new Module().dict.keys()]).toEqual([
      "training",
      "_parameters",
      "_buffers",
      "_non_persistent_buffers_set",
      "_backward_hooks",
      "_is_full_backward_hook",
      "_forward_hooks",
      "_forward_pre_hooks",
      "_state_dict_hooks",
      "_load_state_dict_pre_hooks",
      "_load_state_dict_post_hooks",
      "_modules",
    ]);
  });
});

function tiedModel(): Sequential {
  const a = new Linear(3, 2);
  const b = new Linear(3, 2);
  b.setAttr("weight", a.weight);
  const s = new Sequential(a, b);
  s.registerBuffer("steps", zeros([], { dtype: dtypes.int64 }));
  s.registerBuffer("tmp", zeros([2]), { persistent: false });
  s.registerBuffer("none", null);
  return s;
}

describe("iteration", () => {
  it("named parameters skip duplicates and None; named modules skip duplicates", () => {
    const s = tiedModel();
    expect([...s.namedParameters()].map(([k]) => k)).toEqual(["0.weight", "0.bias", "1.bias"]);
    expect([...s.namedBuffers()].map(([k]) => k)).toEqual(["steps", "tmp"]);
    expect([...s.namedParameters({ recurse: false })]).toEqual([]);
    expect([...s.namedParameters({ prefix: "m" })].map(([k]) => k)[0]).toBe("m.0.weight");
    s.addModule("again", s.modulesDict.get("0")!);
    expect([...s.namedModules()].map(([k]) => k)).toEqual(["", "0", "1"]);
    expect([...s.namedModules({ removeDuplicate: false })].map(([k]) => k)).toEqual(["", "0", "1", "again"]);
    expect([...s.children()].length).toBe(2);
    expect(s.getSubmodule("1")).toBe(s.modulesDict.get("1"));
    expect(() => s.getSubmodule("1.nope")).toThrow(/has no attribute `nope`/);
  });
});

describe("stateDict", () => {
  it("tied parameters appear under every name; non-persistent and None buffers do not", () => {
    const s = tiedModel();
    const sd = s.stateDict();
    expect([...sd.keys()]).toEqual(["steps", "0.weight", "0.bias", "1.weight", "1.bias"]);
    expect(sd.get("0.weight")).not.toBe(sd.get("1.weight"));
    expect(sd.get("0.weight")!.storage).toBe(sd.get("1.weight")!.storage);
    const md = sd.attributes!.get("_metadata") as Map<string, Map<string, unknown>>;
    expect([...md.keys()]).toEqual(["", "0", "1"]);
  });

  it("prefix and keepVars", () => {
    const l = new Linear(2, 2);
    const sd = l.stateDict({ prefix: "enc.", keepVars: true });
    expect([...sd.keys()]).toEqual(["enc.weight", "enc.bias"]);
    expect(sd.get("enc.weight")).toBe(l.weight);
    const md = sd.attributes!.get("_metadata") as Map<string, unknown>;
    expect([...md.keys()]).toEqual(["enc"]);
  });

  it("detach keeps geometry and storage, drops requires_grad and the Parameter class", () => {
    const p = new Parameter(
      tensor([
        [1, 2, 3],
        [4, 5, 6],
      ]).transpose(0, 1),
    );
    const d = detach(p);
    expect(d.constructor).toBe(Tensor);
    expect(d.requiresGrad).toBe(false);
    expect([d.shape, d.stride, d.storage]).toEqual([p.shape, p.stride, p.storage]);
  });
});

describe("loadStateDict", () => {
  it("copies into existing storage with dtype conversion, keeping ties and views", () => {
    const s = tiedModel();
    const w0 = s.getSubmodule("0").getAttr("weight") as Parameter;
    const sd = new Map<string, unknown>([
      ["steps", tensor([7.9])], // 1-d into 0-d: torch takes element 0 (then float → int64 truncates)
      [
        "0.weight",
        tensor(
          [
            [1, 2, 3],
            [4, 5, 6],
          ],
          { dtype: dtypes.float64 },
        ),
      ],
      ["0.bias", tensor([true, false])],
      [
        "1.weight",
        tensor([
          [1, 2, 3],
          [4, 5, 6],
        ]),
      ],
      ["1.bias", tensor([-1.5, 2.5]).slice(0, 0, 2)],
    ]);
    expect(s.loadStateDict(sd)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(s.getSubmodule("0").getAttr("weight")).toBe(w0);
    expect(w0.values()).toEqual([1, 2, 3, 4, 5, 6]);
    expect((s.getSubmodule("0").getAttr("bias") as Tensor).values()).toEqual([1, 0]);
    expect((s.buffersDict.get("steps") as Tensor).item()).toBe(7n);
  });

  it("strict errors list missing, unexpected, then the rest, in torch's words", () => {
    const l = new Linear(2, 2);
    const sd = new Map<string, unknown>([
      ["bias", 3],
      ["extra", tensor([1])],
      ["sub.x", tensor([1])],
    ]);
    let err: LoadStateDictError | undefined;
    try {
      l.loadStateDict(sd);
    } catch (e) {
      err = e as LoadStateDictError;
    }
    expect(err).toBeInstanceOf(LoadStateDictError);
    expect(err!.torchMessage).toBe(
      'Error(s) in loading state_dict for Linear:\n\tMissing key(s) in state_dict: "weight". \n\tUnexpected key(s) in state_dict: "extra", "sub.x". \n\tWhile copying the parameter named "bias", expected torch.Tensor or Tensor-like object from checkpoint but received <class \'int\'>',
    );
    expect(err!.missingKeys).toEqual(["weight"]);
    expect(err!.unexpectedKeys).toEqual(["extra", "sub.x"]);
    expect(err!.code).toBe("LoadStateDict");
  });

  it("non-strict returns the key lists; a None child keeps its keys expected", () => {
    const s = new Sequential(new Linear(1, 1));
    s.addModule("gone", null);
    const r = s.loadStateDict(new Map([["gone.w", tensor([1])]]), { strict: false });
    expect(r).toEqual({ missingKeys: ["0.weight", "0.bias"], unexpectedKeys: [] });
    expect(() => s.loadStateDict(new Map([["gone.w", tensor([1])]]))).toThrow(/Missing key\(s\)/);
  });

  it("rejects a non-mapping", () => {
    expect(() => new Linear(1, 1).loadStateDict([] as never)).toThrow(
      "nn: Expected state_dict to be dict-like, got <class 'list'>.",
    );
  });

  it("formats sizes as torch.Size", () => {
    expect(formatSize([])).toBe("torch.Size([])");
    expect(formatSize([2, 3])).toBe("torch.Size([2, 3])");
  });
});

describe("copyInto", () => {
  it("handles non-contiguous destinations, overlap and int64", () => {
    const base = zeros([2, 3]);
    copyInto(
      base.transpose(0, 1),
      tensor([
        [1, 2],
        [3, 4],
        [5, 6],
      ]),
    );
    expect(base.values()).toEqual([1, 3, 5, 2, 4, 6]);
    const big = zeros([2], { dtype: dtypes.int64 });
    copyInto(big, tensor([-2.7, 3.9]));
    expect(big.values()).toEqual([-2n, 3n]);
    const f = zeros([1]);
    copyInto(f, tensor([5n] as never, { dtype: dtypes.int64 }));
    expect(f.values()).toEqual([5]);
    expect(() => copyInto(zeros([2]), zeros([3]))).toThrow(NnError);
  });
});

describe("pickle protocols", () => {
  it("setstate fills hook dicts missing from old checkpoints", () => {
    const g = new GenericModule(
      { module: "__main__", name: "Old" },
      new Map<unknown, unknown>([
        ["training", true],
        ["_parameters", new PyOrderedDict()],
        ["_buffers", new PyOrderedDict()],
        ["_backward_hooks", new PyOrderedDict()],
        ["_forward_hooks", new PyOrderedDict()],
        ["_modules", new PyOrderedDict()],
        ["eps", new PyFloat(1)],
      ]),
    );
    expect([...g.dict.keys()]).toEqual([
      "training",
      "_parameters",
      "_buffers",
      "_backward_hooks",
      "_forward_hooks",
      "_modules",
      "eps",
      "_forward_pre_hooks",
      "_state_dict_hooks",
      "_load_state_dict_pre_hooks",
      "_load_state_dict_post_hooks",
      "_non_persistent_buffers_set",
      "_is_full_backward_hook",
    ]);
    expect(() => new GenericModule({ module: "m", name: "X" }, new Map([["training", true]]))).toThrow(
      /no _parameters dict/,
    );
  });
});

describe("bad pickled state gives typed errors", () => {
  it("a non-tensor parameter, an unrevived PyObject child, a cycle", () => {
    const m = new Module();
    m.parametersDict.set("w", "oops" as never);
    expect(() => m.stateDict()).toThrow(/_parameters\['w'\] is <class 'str'>, not a tensor/);
    expect(() => [...m.namedParameters()]).toThrow(NnError);
    expect(() => m.loadStateDict(new Map())).toThrow(NnError);

    const p = new Module();
    p.modulesDict.set("c", new PyObject(new PyGlobal("__main__", "C"), tuple(), "newobj") as never);
    expect(() => p.stateDict()).toThrow(/call reviveModules/);

    const a = new Module();
    const b = new Module();
    a.addModule("b", b);
    b.addModule("a", a);
    expect(() => a.stateDict()).toThrow(/cycle/);
    expect(() => a.loadStateDict(new Map())).toThrow(/cycle/);
    expect([...a.namedModules()].map(([k]) => k)).toEqual(["", "b"]);
    expect(() => [...a.namedModules({ removeDuplicate: false })]).toThrow(/cycle/);
  });

  it("a non-string key or missing dicts in BUILD state", () => {
    const blank = Module.blank(Linear);
    expect(() => blank[SETSTATE](tuple([1, 2]), { offset: 3, opcode: "BUILD" })).toThrow(/offset 3/);
    expect(() => blank.applyState(new Map<unknown, unknown>([[1, 2]]))).toThrow(/non-string key/);
    const bad = new Map<unknown, unknown>(new Module().dict);
    bad.set("_non_persistent_buffers_set", []);
    expect(() => Module.blank(Linear).applyState(bad)).toThrow(/not a set/);
  });
});

describe("round trips (property)", () => {
  const leaf = fc.oneof(
    fc
      .record({ i: fc.integer({ min: 1, max: 4 }), o: fc.integer({ min: 1, max: 4 }), b: fc.boolean() })
      .map(({ i, o, b }) => new Linear(i, o, { bias: b }) as Module),
    fc.integer({ min: 1, max: 3 }).map((n) => new BatchNorm1d(n) as Module),
    fc.constant(null).map(() => new ReLU() as Module),
    fc.integer({ min: 1, max: 3 }).map((n) => new Conv2d(n, 2, 1) as Module),
  );
  const tree: fc.Arbitrary<Module> = fc.letrec<{ node: Module }>((tie) => ({
    node: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      leaf,
      fc.array(tie("node"), { maxLength: 3 }).map((ms) => new Sequential(...ms) as Module),
    ),
  })).node;

  it("pickle → load → pickle is the identity, and stateDict survives", () => {
    fc.assert(
      fc.property(tree, fc.boolean(), (model, training) => {
        model.train(training);
        const { pkl, storages } = dumpTorch(model);
        const back = loads(pkl, {
          globals: torchGlobals().merge(nnGlobals()),
          persistentLoad: (pid) =>
            Storage.fromBytes(
              parseStoragePid(pid).dtype,
              storages[Number((pid as unknown[])[2])]!.bytes.slice(),
            ),
        }) as Module;
        expect(dumpTorch(back).pkl).toEqual(pkl);
        const a = model.stateDict();
        const b = back.stateDict();
        expect([...b.keys()]).toEqual([...a.keys()]);
        for (const [k, t] of a) expect(b.get(k)!.equal(t)).toBe(true);
        expect([...back.modules()].every((m) => m.training === training)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });
});
