import { describe, expect, it } from "vitest";
import {
  dumps,
  GLOBAL_NAME,
  isPickleError,
  loads,
  Pickler,
  PyFloat,
  PyGlobal,
  PyObject,
  PyStr,
  REDUCE,
  type Reduction,
  tuple,
  UnpicklableError,
} from "../src/index.js";

const latin1 = (b: Uint8Array) => Buffer.from(b).toString("latin1");
// Expected bytes below were printed by CPython 3.11's pickle.dumps for the equivalent Python objects.

class C {
  constructor(readonly a: number) {}
  [REDUCE](): Reduction {
    return { func: new PyGlobal("__main__", "C"), args: [], kind: "newobj", state: new Map([["a", this.a]]) };
  }
}

describe("Pickler: hooks", () => {
  it("a value with [REDUCE] is written like CPython's save_reduce (NEWOBJ + BUILD, memoized)", () => {
    const c = new C(1);
    expect(latin1(dumps([c, c]))).toBe(
      "\x80\x02]q\x00(c__main__\nC\nq\x01)\x81q\x02}q\x03X\x01\x00\x00\x00aq\x04K\x01sbh\x02e.",
    );
    expect(latin1(dumps(c, { protocol: 4 }))).toBe(
      "\x80\x04\x95\x1f\x00\x00\x00\x00\x00\x00\x00\x8c\x08__main__\x94\x8c\x01C\x94\x93\x94)\x81\x94}\x94\x8c\x01a\x94K\x01sb.",
    );
  });
  it("reducers by constructor, and values with GLOBAL_NAME", () => {
    class P {
      constructor(readonly x: number) {}
    }
    const reducers = new Map([[P, (p: P): Reduction => ({ func: new PyGlobal("geo", "P"), args: [p.x] })]]);
    const out = dumps(new P(3), { reducers });
    expect(latin1(out)).toBe("\x80\x02cgeo\nP\nq\x00K\x03\x85q\x01Rq\x02.");
    const cls = { [GLOBAL_NAME]: { module: "__main__", name: "C" } };
    expect(latin1(dumps(cls))).toBe("\x80\x02c__main__\nC\nq\x00.");
    const back = loads(out, { policy: "opaque" }) as PyObject;
    expect(back.cls.qualifiedName).toBe("geo.P");
    expect(latin1(dumps(back))).toBe(latin1(out));
  });
  it("set at protocol 0 is a reduce with MARK/TUPLE and text memo", () => {
    expect(latin1(dumps(new Set([1, 2]), { protocol: 0 }))).toBe(
      "c__builtin__\nset\np0\n((lp1\nI1\naI2\natp2\nRp3\n.",
    );
  });
  it("ints pick BININT1/BININT2/BININT/LONG1/LONG4 like CPython", () => {
    const cases: Array<[number | bigint, string]> = [
      [0, "K\x00"],
      [255, "K\xff"],
      [256, "M\x00\x01"],
      [65535, "M\xff\xff"],
      [65536, "J\x00\x00\x01\x00"],
      [-1, "J\xff\xff\xff\xff"],
      [2 ** 31 - 1, "J\xff\xff\xff\x7f"],
      [2 ** 31, "\x8a\x05\x00\x00\x00\x80\x00"],
      [-(2 ** 31) - 1, "\x8a\x05\xff\xff\xff\x7f\xff"],
      [-(2n ** 63n), "\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80"],
      [2n ** 63n, "\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x80\x00"],
    ];
    for (const [v, ops] of cases) expect(latin1(dumps(v))).toBe(`\x80\x02${ops}.`);
    const big = 2n ** 2100n;
    const out = dumps(big);
    expect(out[2]).toBe(0x8b);
    expect(loads(out)).toBe(big);
  });
  it("floats: integral numbers are ints unless wrapped in PyFloat", () => {
    expect(latin1(dumps(1))).toBe("\x80\x02K\x01.");
    expect(latin1(dumps(new PyFloat(1)))).toBe("\x80\x02G?\xf0\x00\x00\x00\x00\x00\x00.");
    expect(latin1(dumps(new PyFloat(-0), { protocol: 0 }))).toBe("F-0.0\n.");
    expect(latin1(dumps(1e-5, { protocol: 0 }))).toBe("F1e-05\n.");
  });
  it("a Pickler instance can be reused; each dump has a fresh memo", () => {
    const p = new Pickler({ protocol: 2 });
    const a = p.dump(["x", "x"]);
    expect(p.dump(["x", "x"])).toEqual(a);
  });
  it("unpicklable values are typed errors", () => {
    for (const v of [undefined, () => 1, Symbol("s"), new Date(0), { plain: 1 }]) {
      let err: unknown;
      try {
        dumps(v);
      } catch (e) {
        err = e;
      }
      expect(isPickleError(err, "Unpicklable")).toBe(true);
    }
    expect(() => dumps(1, { protocol: 6 })).toThrow(/unsupported protocol 6/);
  });
  it("opaque objects from INST/OBJ/NEWOBJ_EX pickle back to the same opcodes", () => {
    const ex = new PyObject(new PyGlobal("m", "K"), tuple([1]), "newobj_ex", new Map([["k", 2]]));
    const out = dumps(ex, { protocol: 4 });
    const back = loads(out, { policy: "opaque" }) as PyObject;
    expect(back.origin).toBe("newobj_ex");
    expect(back.kwargs).toEqual(new Map([["k", 2]]));
    expect(dumps(back, { protocol: 4 })).toEqual(out);
    for (const origin of ["inst", "obj"] as const) {
      const o = new PyObject(new PyGlobal("m", "K"), tuple([1, "a"]), origin);
      o.state = new Map([["z", 1]]);
      const bytes = dumps(o, { protocol: 1 });
      const r = loads(bytes, { policy: "opaque" }) as PyObject;
      expect(r.origin).toBe(origin);
      expect(dumps(r, { protocol: 1 })).toEqual(bytes);
    }
  });
});

describe("PyStr: strings with identity", () => {
  it("memoizes one PyStr by identity and writes distinct equal PyStrs separately", () => {
    const key = new PyStr("10");
    // CPython 3.11: a = str(10); b = str(10) (two objects); pickle.dumps([a, a, b, "10", "10"], 2)
    const out = dumps([key, key, new PyStr("10"), "10", "10"], { protocol: 2 });
    expect(Buffer.from(out).toString("hex")).toBe(
      "80025d71002858020000003130710168015802000000313071025802000000313071036803652e",
    );
    expect(loads(out)).toEqual(["10", "10", "10", "10", "10"]);
  });
});

describe("Pickler: renameGlobal", () => {
  const numpy1 = (m: string, n: string): [string, string] | undefined =>
    m === "numpy._core" || m.startsWith("numpy._core.")
      ? [`numpy.core${m.slice("numpy._core".length)}`, n]
      : undefined;

  it("writes the returned name instead, at every protocol (GLOBAL and STACK_GLOBAL)", () => {
    for (const protocol of [0, 2, 4]) {
      const renamed = dumps(new PyGlobal("numpy._core.multiarray", "_reconstruct"), {
        protocol,
        renameGlobal: numpy1,
      });
      const direct = dumps(new PyGlobal("numpy.core.multiarray", "_reconstruct"), { protocol });
      expect(latin1(renamed)).toBe(latin1(direct));
      expect(latin1(renamed)).toContain("numpy.core.multiarray");
      expect(latin1(renamed)).not.toContain("numpy._core");
    }
    // names the hook leaves alone are written as given
    const kept = dumps(new PyGlobal("torch._utils", "_rebuild_tensor_v2"), { renameGlobal: numpy1 });
    expect(latin1(kept)).toBe(latin1(dumps(new PyGlobal("torch._utils", "_rebuild_tensor_v2"))));
  });

  it("applies to reduction functions and GLOBAL_NAME values, and memoizes by the written name", () => {
    const a = new PyObject(new PyGlobal("numpy._core.multiarray", "scalar"), tuple([1]));
    const b = new PyObject(new PyGlobal("numpy.core.multiarray", "scalar"), tuple([2]));
    const out = dumps([a, b], { renameGlobal: numpy1 });
    const text = latin1(out);
    // one GLOBAL opcode: the second reference (same written name) is a memo GET
    expect(text.split("cnumpy.core.multiarray\nscalar\n").length).toBe(2);
    expect(text).not.toContain("numpy._core");
    expect(latin1(out)).toBe(
      latin1(
        dumps([
          new PyObject(new PyGlobal("numpy.core.multiarray", "scalar"), tuple([1])),
          new PyObject(new PyGlobal("numpy.core.multiarray", "scalar"), tuple([2])),
        ]),
      ),
    );
  });

  it("runs before fixImports: a name renamed to builtins is written as __builtin__ below protocol 3", () => {
    const toSet = () => ["builtins", "set"] as const;
    expect(latin1(dumps(new PyGlobal("x", "y"), { protocol: 2, renameGlobal: toSet }))).toBe(
      "\x80\x02c__builtin__\nset\nq\x00.",
    );
  });

  it("a malformed result is a typed error naming the global", () => {
    let err: unknown;
    try {
      dumps(new PyGlobal("a", "b"), { renameGlobal: () => ["", "b"] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnpicklableError);
    expect(String(err)).toContain('renameGlobal("a", "b")');
  });
});

describe("Pickler: dotted global names below protocol 4", () => {
  // CPython 3.14's pickle.dumps([torch.channels_last, torch.channels_last_3d, torch.channels_last,
  // "channels_last"], protocol=p): torch's memory formats reduce to the name "torch.channels_last",
  // found in torch._utils.
  const fmt = (n: string) => ({ [GLOBAL_NAME]: { module: "torch._utils", name: `torch.${n}` } });
  const a = fmt("channels_last");
  const b = fmt("channels_last_3d");
  const value = [a, b, a, "channels_last"];
  it.each([
    [
      0,
      "(lp0\nc__builtin__\ngetattr\np1\n(ctorch._utils\ntorch\nVchannels_last\np2\ntRp3\nag1\n(ctorch._utils\ntorch\nVchannels_last_3d\np4\ntRp5\nag3\naVchannels_last\np6\na.",
    ],
    [
      1,
      "]q\x00(c__builtin__\ngetattr\nq\x01(ctorch._utils\ntorch\nX\r\x00\x00\x00channels_lastq\x02tRq\x03h\x01(ctorch._utils\ntorch\nX\x10\x00\x00\x00channels_last_3dq\x04tRq\x05h\x03X\r\x00\x00\x00channels_lastq\x06e.",
    ],
    [
      2,
      "\x80\x02]q\x00(c__builtin__\ngetattr\nq\x01ctorch._utils\ntorch\nX\r\x00\x00\x00channels_lastq\x02\x86Rq\x03h\x01ctorch._utils\ntorch\nX\x10\x00\x00\x00channels_last_3dq\x04\x86Rq\x05h\x03X\r\x00\x00\x00channels_lastq\x06e.",
    ],
    [
      3,
      "\x80\x03]q\x00(cbuiltins\ngetattr\nq\x01ctorch._utils\ntorch\nX\r\x00\x00\x00channels_lastq\x02\x86Rq\x03h\x01ctorch._utils\ntorch\nX\x10\x00\x00\x00channels_last_3dq\x04\x86Rq\x05h\x03X\r\x00\x00\x00channels_lastq\x06e.",
    ],
  ])("protocol %i: getattr(module.first, attr), as CPython 3.12+ writes it", (protocol, expected) => {
    expect(latin1(dumps(value, { protocol }))).toBe(expected);
  });
  it("protocol 4 writes STACK_GLOBAL with the dotted name", () => {
    // torch 1.13 and 2.14: torch.save({"mf": torch.channels_last}, f, pickle_protocol=4)'s data.pkl
    const mf = new Map([["mf", a]]);
    expect(latin1(dumps(mf, { protocol: 4 }))).toBe(
      "\x80\x04\x950\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x02mf\x94\x8c\x0ctorch._utils\x94\x8c\x13torch.channels_last\x94\x93\x94s.",
    );
  });
});
