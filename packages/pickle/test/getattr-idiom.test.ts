import { describe, expect, it } from "vitest";
import { dumps, GLOBAL_NAME, GlobalRegistry, loads, PyGlobal, UnsafeGlobalError } from "../src/index.js";

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const latin1 = (b: Uint8Array) => Buffer.from(b).toString("latin1");

// CPython 3.14: pickle.dumps([torch.channels_last, torch.channels_last_3d, torch.channels_last,
// "channels_last"], protocol=p) (torch's memory formats are the dotted names torch._utils / torch.<name>)
const CPYTHON: ReadonlyArray<readonly [number, string]> = [
  [
    0,
    "(lp0\nc__builtin__\ngetattr\np1\n(ctorch._utils\ntorch\nVchannels_last\np2\ntRp3\nag1\n(ctorch._utils\ntorch\nVchannels_last_3d\np4\ntRp5\nag3\naVchannels_last\np6\na.",
  ],
  [
    2,
    "\x80\x02]q\x00(c__builtin__\ngetattr\nq\x01ctorch._utils\ntorch\nX\r\x00\x00\x00channels_lastq\x02\x86Rq\x03h\x01ctorch._utils\ntorch\nX\x10\x00\x00\x00channels_last_3dq\x04\x86Rq\x05h\x03X\r\x00\x00\x00channels_lastq\x06e.",
  ],
  [
    3,
    "\x80\x03]q\x00(cbuiltins\ngetattr\nq\x01ctorch._utils\ntorch\nX\r\x00\x00\x00channels_lastq\x02\x86Rq\x03h\x01ctorch._utils\ntorch\nX\x10\x00\x00\x00channels_last_3dq\x04\x86Rq\x05h\x03X\r\x00\x00\x00channels_lastq\x06e.",
  ],
];

function refusal(f: () => unknown): UnsafeGlobalError {
  try {
    f();
  } catch (e) {
    if (e instanceof UnsafeGlobalError) return e;
    throw e;
  }
  throw new Error("not refused");
}

describe("the getattr idiom: getattr(module.first, 'attr') is the global module + first.attr", () => {
  it.each(CPYTHON)(
    "protocol %i: read as the dotted globals (opaque), written back byte for byte",
    (protocol, text) => {
      const v = loads(bytes(text), { policy: "opaque" }) as unknown[];
      expect(v[0]).toBeInstanceOf(PyGlobal);
      expect(v[0]).toMatchObject({ module: "torch._utils", name: "torch.channels_last" });
      expect(v[1]).toMatchObject({ module: "torch._utils", name: "torch.channels_last_3d" });
      expect(v[2]).toBe(v[0]); // the memo GET of the first result
      expect(v[3]).toBe("channels_last");
      expect(latin1(dumps(v, { protocol }))).toBe(text);
    },
  );

  it("a registered dotted name resolves to its value under the reject policy; an unregistered one is refused by that name", () => {
    const fmt = { [GLOBAL_NAME]: { module: "torch._utils", name: "torch.channels_last" } };
    const globals = new GlobalRegistry().register("torch._utils", "torch.channels_last", fmt);
    const text = CPYTHON[1]?.[1] as string;
    const e = refusal(() => loads(bytes(text)));
    expect([e.module, e.qualname, e.dangerous]).toEqual(["torch._utils", "torch.channels_last", false]);
    const allBoth = new GlobalRegistry()
      .register("torch._utils", "torch.channels_last", fmt)
      .register("torch._utils", "torch.channels_last_3d", fmt);
    expect((loads(bytes(text), { globals: allBoth }) as unknown[])[0]).toBe(fmt);
    expect(() => loads(bytes(text), { globals })).toThrow(/torch\._utils\.torch\.channels_last_3d/);
  });

  it("nested names: getattr(getattr(m.a, 'b'), 'c') is m + a.b.c (CPython 3.14's bytes for a nested class)", () => {
    // pickle.dumps(Outer.Inner.Leaf, protocol=2) for classes of a module pkgmod, CPython 3.14
    const text =
      "\x80\x02c__builtin__\ngetattr\nq\x00h\x00cpkgmod\nOuter\nX\x05\x00\x00\x00Innerq\x01\x86RX\x04\x00\x00\x00Leafq\x02\x86Rq\x03.";
    const v = loads(bytes(text), { policy: "opaque" });
    expect(v).toMatchObject({ module: "pkgmod", name: "Outer.Inner.Leaf" });
    expect(latin1(dumps(v, { protocol: 2 }))).toBe(text);
  });

  it("anything else is builtins.getattr, refused as dangerous under both policies", () => {
    const cases = [
      // getattr("x", "upper"): not a global as the first argument
      "\x80\x02cbuiltins\ngetattr\n(X\x01\x00\x00\x00xX\x05\x00\x00\x00uppertR.",
      // getattr alone
      "\x80\x02cbuiltins\ngetattr\n.",
      // getattr stored in a list
      "\x80\x02]cbuiltins\ngetattr\na.",
      // the first argument stored in a list instead of being passed to getattr
      "\x80\x02cbuiltins\ngetattr\n]ccollections\nOrderedDict\naX\x01\x00\x00\x00a\x86R.",
      // getattr called with NEWOBJ, or with three arguments
      "\x80\x02cbuiltins\ngetattr\nccollections\nOrderedDict\nX\x01\x00\x00\x00a\x86\x81.",
      "\x80\x02cbuiltins\ngetattr\nccollections\nOrderedDict\nX\x01\x00\x00\x00aN\x87R.",
    ];
    for (const c of cases)
      for (const policy of ["reject", "opaque"] as const) {
        const e = refusal(() => loads(bytes(c), { policy }));
        expect([e.module, e.qualname, e.dangerous], JSON.stringify(c)).toEqual(["builtins", "getattr", true]);
      }
  });

  it("the idiom's argument tuple reused: its global is consumed once", () => {
    const reused =
      "\x80\x02cbuiltins\ngetattr\nq\x00ccollections\nOrderedDict\nX\x03\x00\x00\x00fooq\x01\x86q\x02Rh\x00h\x02R\x86.";
    const e = refusal(() => loads(bytes(reused), { policy: "opaque" }));
    expect([e.module, e.qualname, e.dangerous]).toEqual(["builtins", "getattr", true]);
  });

  it("the combined name is checked like any global: dunders and dangerous modules stay refused", () => {
    const dunder = "\x80\x02cbuiltins\ngetattr\nccollections\nOrderedDict\nX\x08\x00\x00\x00__init__\x86R.";
    expect(refusal(() => loads(bytes(dunder), { policy: "opaque" })).dangerous).toBe(true);
    const os = "\x80\x02cbuiltins\ngetattr\ncos\npath\nX\x04\x00\x00\x00join\x86R.";
    const e = refusal(() => loads(bytes(os), { policy: "opaque" }));
    expect([e.module, e.dangerous]).toEqual(["os", true]);
  });
});
