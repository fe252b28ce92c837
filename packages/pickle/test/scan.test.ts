/**
 * The global scanner (symbolic stack and memo), name normalization and the dangerous list.
 * Pickles written by /usr/bin/python3 are spelled as bytes here.
 */
import { describe, expect, it } from "vitest";
import {
  DangerousList,
  dumps,
  GlobalRegistry,
  isDangerousGlobal,
  loads,
  normalizeGlobal,
  PyObject,
  scanPickle,
  UnsafeGlobalError,
} from "../src/index.js";

const b = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

describe("normalizeGlobal", () => {
  const cases: Array<[string, string, string, string]> = [
    ["_operator", "attrgetter", "operator", "attrgetter"],
    ["_io", "open", "builtins", "open"],
    ["io", "open", "builtins", "open"],
    ["__builtin__", "eval", "builtins", "eval"],
    ["posix", "system", "os", "system"],
    ["nt", "system", "os", "system"],
    ["posixpath", "join", "os.path", "join"],
    ["_codecs", "encode", "codecs", "encode"],
    ["_pickle", "loads", "pickle", "loads"],
    ["pathlib", "os.system", "os", "system"],
    ["shutil", "os.sys.modules", "sys", "modules"],
    ["builtins", "eval.__call__", "builtins", "eval.__call__"],
    ["__builtin__", "xrange", "builtins", "range"],
    ["torch._utils", "_rebuild_tensor_v2", "torch._utils", "_rebuild_tensor_v2"],
  ];
  for (const [m, n, wm, wn] of cases)
    it(`${m}.${n} → ${wm}.${wn}`, () => expect(normalizeGlobal(m, n)).toEqual({ module: wm, name: wn }));
});

describe("isDangerousGlobal", () => {
  const dangerous = [
    "os.system",
    "posix.system",
    "nt.system",
    "_operator.attrgetter",
    "operator.methodcaller",
    "_io.open",
    "io.open",
    "io.FileIO",
    "builtins.eval",
    "__builtin__.getattr",
    "builtins.eval.__call__",
    "builtins.print",
    "builtins.object.__subclasses__",
    "pathlib.os.system",
    "subprocess.Popen",
    "_posixsubprocess.fork_exec",
    "pty.spawn",
    "marshal.loads",
    "types.FunctionType",
    "functools.partial",
    "runpy._run_code",
    "pickle.loads",
    "_pickle.loads",
    "webbrowser.open",
    "ctypes.CDLL",
    "socket.create_connection",
    "pkgutil.resolve_name",
    "cloudpickle.cloudpickle._make_function",
    "numpy.f2py.crackfortran.getlincoef",
    "timeit.timeit",
    "logging.FileHandler",
    "mymod.submod.__globals__",
    "numpy.__builtins__",
  ];
  const notDangerous = [
    "builtins.object",
    "builtins.set",
    "collections.OrderedDict",
    "_codecs.encode",
    "torch._utils._rebuild_tensor_v2",
    "torch.nn.modules.linear.Linear",
    "numpy.core.multiarray._reconstruct",
    "__main__.Net",
    "copyreg._reconstructor",
    "mylib.test_utils.Config",
    "copyreg.__newobj__",
  ];
  const split = (g: string): [string, string] => {
    const known = [
      "cloudpickle.cloudpickle",
      "numpy.f2py.crackfortran",
      "torch._utils",
      "torch.nn.modules.linear",
    ];
    const m = known.find((k) => g.startsWith(`${k}.`)) ?? g.slice(0, g.indexOf("."));
    return [m, g.slice(m.length + 1)];
  };
  for (const g of dangerous) it(`${g} is dangerous`, () => expect(isDangerousGlobal(...split(g))).toBe(true));
  for (const g of notDangerous)
    it(`${g} is not dangerous`, () => expect(isDangerousGlobal(...split(g))).toBe(false));
  it("a library adds its own names (with their aliases and attribute paths)", () => {
    const extra = new DangerousList([["torch", "load"]]);
    expect(isDangerousGlobal("torch", "load", extra)).toBe(true);
    expect(isDangerousGlobal("torch", "load.__call__", extra)).toBe(true);
    expect(isDangerousGlobal("torch", "save", extra)).toBe(false);
  });
  it("the unpickler refuses registry-refused names under both policies", () => {
    const g = new GlobalRegistry().refuse("torch", "load");
    for (const policy of ["reject", "opaque"] as const) {
      let err: unknown;
      try {
        loads(b("ctorch\nload\n."), { globals: g, policy });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UnsafeGlobalError);
      expect((err as UnsafeGlobalError).globals.map((g) => [g.module, g.name, g.dangerous])).toEqual([
        ["torch", "load", true],
      ]);
    }
  });
});

describe("scanPickle", () => {
  it("names a STACK_GLOBAL whose strings come through the memo and reports each use", () => {
    // "os" BINPUT 0, "system" STACK_GLOBAL, then BINGET 0 … called with ("id",)
    const p = b(
      "\x80\x04\x8c\x02os\x94\x8c\x06system\x93\x8c\x02id\x85R\x8c\x01xh\x00\x8c\x06getcwd\x93\x85b.",
    );
    const r = scanPickle(p);
    expect(r.error).toBeNull();
    expect(r.globals.map((g) => g.global)).toEqual(["os.system", "os.getcwd"]);
    expect(r.globals[0]?.opcode).toBe("STACK_GLOBAL");
    expect(r.globals[0]?.offset).toBe(15);
    expect(r.globals[0]?.uses).toEqual([{ kind: "called", opcode: "REDUCE", offset: 21 }]);
    expect(r.globals[1]?.offset).toBe(35);
    expect(r.globals[1]?.uses.map((u) => u.kind)).toEqual(["state"]);
    expect(r.globals.every((g) => g.dangerous)).toBe(true);
  });
  it("names INST, OBJ and NEWOBJ calls and BUILD targets", () => {
    const p = b("(ipty\nspawn\nS'id'\n\x80\x02c__main__\nC\n)\x81}b.");
    const r = scanPickle(p, { untilEof: true });
    expect(r.globals.map((g) => [g.global, g.uses.map((u) => `${u.kind}:${u.opcode}`)])).toEqual([
      ["pty.spawn", ["called:INST"]],
      ["__main__.C", ["called:NEWOBJ", "built:BUILD"]],
    ]);
    expect(r.pickles.length).toBe(1);
  });
  it("scans every pickle until EOF when asked", () => {
    const one = dumps(1, { protocol: 2 });
    const evil = b("cos\nsystem\n.");
    const data = new Uint8Array([...one, ...one, ...evil]);
    expect(scanPickle(data).globals).toEqual([]);
    const all = scanPickle(data, { untilEof: true });
    expect(all.pickles.length).toBe(3);
    expect(all.globals.map((g) => [g.global, g.pickle, g.offset])).toEqual([
      ["os.system", 2, 2 * one.length],
    ]);
  });
  it("an unresolvable STACK_GLOBAL is a dangerous finding", () => {
    const r = scanPickle(b("\x80\x04K\x01K\x02\x93."));
    expect(r.globals[0]?.global).toBe("<unresolved STACK_GLOBAL>");
    expect(r.globals[0]?.dangerous).toBe(true);
  });
  it("returns the error and the globals before it on malformed input", () => {
    const r = scanPickle(b("cos\nsystem\n\xff"));
    expect(r.globals.map((g) => g.global)).toEqual(["os.system"]);
    expect(r.error?.offset).toBe(11);
  });
});

describe("copyreg._reconstructor of plain instances", () => {
  // Protocol 0 pickle of a plain instance: copy_reg._reconstructor(C, object, None), then BUILD.
  const p0 = b(
    "ccopy_reg\n_reconstructor\np0\n(c__main__\nC\np1\nc__builtin__\nobject\np2\nNtp3\nRp4\n(dp5\nVa\np6\nI1\nsb.",
  );
  it("loads as an inert placeholder under opaque", () => {
    const v = loads(p0, { policy: "opaque" }) as PyObject;
    expect(v).toBeInstanceOf(PyObject);
    expect(v.cls.qualifiedName).toBe("__main__.C");
    expect(v.state).toEqual(new Map([["a", 1]]));
  });
  it("is refused under reject (naming __main__.C)", () => {
    expect(() => loads(p0)).toThrow(/__main__\.C/);
  });
});
