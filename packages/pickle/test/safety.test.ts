import { describe, expect, it } from "vitest";
import {
  CALL,
  dumps,
  GlobalRegistry,
  isPickleError,
  isTuple,
  LimitError,
  loads,
  loadsWithOffset,
  NEW,
  PickleError,
  PyGlobal,
  PyObject,
  PyOrderedDict,
  SETSTATE,
  tuple,
  Unpickler,
  UnsafeGlobalError,
} from "../src/index.js";

/** Build a pickle from parts: strings are latin-1 bytes, numbers are single bytes. */
function p(...parts: Array<string | number | Uint8Array>): Uint8Array {
  const out: number[] = [];
  for (const x of parts) {
    if (typeof x === "number") out.push(x);
    else if (typeof x === "string") for (const c of x) out.push(c.charCodeAt(0));
    else out.push(...x);
  }
  return Uint8Array.from(out);
}
const u32 = (n: number) => Uint8Array.of(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24);

function thrown(f: () => unknown): PickleError {
  try {
    f();
  } catch (e) {
    if (e instanceof PickleError) return e;
    throw new Error(`expected a PickleError, got ${String(e)}`);
  }
  throw new Error("expected an error");
}

describe("globals policy", () => {
  const osSystem = p(0x80, 2, "cos\nsystem\n", "X", u32(2), "ls", 0x85, "R.");
  it("refuses os.system by name and offset, even under opaque policy", () => {
    for (const policy of ["reject", "opaque"] as const) {
      const e = thrown(() => loads(osSystem, { policy }));
      expect(e).toBeInstanceOf(UnsafeGlobalError);
      expect(e.code).toBe("UnsafeGlobal");
      expect(e.offset).toBe(2);
      expect(e.opcode).toBe("GLOBAL");
      expect(e.message).toMatch(/^pickle: dangerous global os\.system/);
      expect((e as UnsafeGlobalError).globals).toEqual([
        { module: "os", name: "system", offset: 2, opcode: "GLOBAL", dangerous: true },
      ]);
    }
  });
  it("refuses dangerous names even when registered", () => {
    const globals = new GlobalRegistry([["os", "system", { [CALL]: () => "pwned" }]]);
    expect(
      isPickleError(
        thrown(() => loads(osSystem, { globals })),
        "UnsafeGlobal",
      ),
    ).toBe(true);
  });
  it("refuses builtins.eval/getattr/__import__, posix, subprocess via STACK_GLOBAL, INST and OBJ", () => {
    const cases = [
      p(0x80, 4, 0x8c, 8, "builtins", 0x8c, 4, "eval", 0x93, "."),
      p(0x80, 4, 0x8c, 11, "__builtin__", 0x8c, 7, "getattr", 0x93, "."),
      p("(S'ls'\nisubprocess\ncall\n."),
      p("(cposix\nsystem\nS'ls'\no."),
      p(0x80, 2, "cbuiltins\n__import__\n."),
    ];
    for (const c of cases) {
      const e = thrown(() => loads(c, { encoding: "latin1" }));
      expect(e.code).toBe("UnsafeGlobal");
    }
  });
  it("rejects unknown globals by default and names them", () => {
    const data = p(0x80, 2, "cargparse\nNamespace\n)R.");
    const e = thrown(() => loads(data));
    expect(e.message).toContain("argparse.Namespace");
    expect(e.offset).toBe(2);
  });
  it("opaque policy records REDUCE/NEWOBJ/BUILD/APPENDS/SETITEMS and pickles back byte-identically", () => {
    const src = p(0x80, 2, "cmod\nCls\nq\x00K\x01\x85q\x01Rq\x02}q\x03X\x01\x00\x00\x00aq\x04K\x02sb.");
    const v = loads(src, { policy: "opaque" });
    expect(v).toBeInstanceOf(PyObject);
    const o = v as PyObject;
    expect(o.cls.qualifiedName).toBe("mod.Cls");
    expect(Array.from(o.args)).toEqual([1]);
    expect(o.origin).toBe("reduce");
    expect(o.state).toEqual(new Map([["a", 2]]));
    expect(Buffer.from(dumps(o))).toEqual(Buffer.from(src));
    const withItems = p(0x80, 2, "cmod\nL\nq\x00)\x81q\x01(K\x01K\x02eX\x01\x00\x00\x00kq\x02K\x03s.");
    const w = loads(withItems, { policy: "opaque" }) as PyObject;
    expect(w.origin).toBe("newobj");
    expect(w.listItems).toEqual([1, 2]);
    expect(w.dictItems).toEqual([["k", 3]]);
    expect(Buffer.from(dumps(w))).toEqual(Buffer.from(withItems));
  });
  it("copyreg._reconstructor only rebuilds an allowlisted type from itself", () => {
    const ok = p("ccopy_reg\n_reconstructor\n(c__builtin__\nset\np0\ng0\n(lp1\nI1\naI2\natR.");
    expect(loads(ok)).toEqual(new Set([1, 2]));
    const bad = p("ccopy_reg\n_reconstructor\n(c__builtin__\nset\nc__builtin__\nfrozenset\n(ltR.");
    expect(thrown(() => loads(bad))).toMatchObject({ code: "InvalidValue", opcode: "REDUCE" });
  });
  it("onGlobal sees every global reference with its offset", () => {
    const seen: string[] = [];
    loads(p(0x80, 2, "c__builtin__\nset\n]\x85R."), {
      onGlobal: (m, n, off) => seen.push(`${m}.${n}@${off}`),
    });
    expect(seen).toEqual(["__builtin__.set@2"]);
  });
  it("registry values implement CALL / NEW / SETSTATE", () => {
    class Point {
      x = 0;
      y = 0;
    }
    const globals = new GlobalRegistry([
      ["geo", "point", { [CALL]: (a: unknown[]) => Object.assign(new Point(), { x: a[0], y: a[1] }) }],
      [
        "geo",
        "Point",
        {
          [NEW]: () =>
            Object.assign(new Point(), {
              [SETSTATE]: (s: Map<string, number>) =>
                Object.assign(new Point(), { x: s.get("x"), y: s.get("y") }),
            }),
        },
      ],
    ]);
    const a = loads(p(0x80, 2, "cgeo\npoint\nK\x01K\x02\x86R."), { globals }) as Point;
    expect([a.x, a.y]).toEqual([1, 2]);
    const b = loads(p(0x80, 2, "cgeo\nPoint\n)\x81}(X\x01\x00\x00\x00xK\x03X\x01\x00\x00\x00yK\x04ub."), {
      globals,
    }) as Point;
    expect([b.x, b.y]).toEqual([3, 4]);
  });
  it("BUILD / APPEND / SETITEM on unsuitable values name the opcode and offset", () => {
    expect(thrown(() => loads(p(0x80, 2, "K\x01}b."))).message).toMatch(/BUILD at offset 5/);
    expect(thrown(() => loads(p(0x80, 2, "}K\x01a."))).message).toMatch(/APPEND at offset 5/);
    expect(thrown(() => loads(p(0x80, 2, "]K\x01K\x02s."))).message).toMatch(/SETITEM at offset 7/);
    expect(thrown(() => loads(p(0x80, 2, "K\x01)R."))).code).toBe("InvalidValue");
    expect(thrown(() => loads(p(0x80, 2, "K\x01K\x02R."))).code).toBe("Stack");
  });
  it("BUILD on an OrderedDict sets attributes", () => {
    const v = loads(p(0x80, 2, "ccollections\nOrderedDict\n)R}X\x01\x00\x00\x00aK\x01sb.")) as PyOrderedDict;
    expect(v).toBeInstanceOf(PyOrderedDict);
    expect(v.attributes).toEqual(new Map([["a", 1]]));
  });
  it("persistent ids go through persistentLoad, and are refused without it", () => {
    const data = p(0x80, 2, "X\x07\x00\x00\x00storageK\x05\x86Q.");
    const v = loads(data, { persistentLoad: (pid) => ({ pid }) }) as { pid: unknown };
    expect(isTuple(v.pid)).toBe(true);
    expect(Array.from(v.pid as unknown[])).toEqual(["storage", 5]);
    expect(thrown(() => loads(data)).code).toBe("Unsupported");
    expect(loads(p("Pabc\n."), { persistentLoad: (pid) => `<${String(pid)}>` })).toBe("<abc>");
    const out = dumps([1, "x"], { persistentId: (v) => (v === "x" ? tuple(["storage", 1]) : undefined) });
    const back = loads(out, { persistentLoad: (pid) => pid }) as unknown[];
    expect(back[0]).toBe(1);
    expect(Array.from(back[1] as unknown[])).toEqual(["storage", 1]);
  });
  it("extension registry serves EXT1/EXT2/EXT4 both ways", () => {
    const extensionRegistry = new Map([
      [7, ["collections", "OrderedDict"] as const],
      [0x1234, ["builtins", "set"] as const],
    ]);
    expect(loads(p(0x80, 2, 0x82, 7, ")R."), { extensionRegistry })).toBeInstanceOf(PyOrderedDict);
    expect(loads(p(0x80, 2, 0x83, 0x34, 0x12, ")R."), { extensionRegistry })).toEqual(new Set());
    expect(loads(p(0x80, 2, 0x84, 0x34, 0x12, 0, 0, ")R."), { extensionRegistry })).toEqual(new Set());
    expect(thrown(() => loads(p(0x80, 2, 0x82, 9, "."))).code).toBe("Unsupported");
    const out = dumps(new PyGlobal("collections", "OrderedDict"), { extensionRegistry });
    expect(Array.from(out)).toEqual([0x80, 2, 0x82, 7, 0x2e]);
  });
  it("out-of-band buffers (protocol 5)", () => {
    const b = Uint8Array.of(1, 2, 3);
    expect(loads(p(0x80, 5, 0x97, 0x98, "."), { buffers: [b] })).toBe(b);
    expect(thrown(() => loads(p(0x80, 5, 0x97, "."))).code).toBe("Unsupported");
  });
});

describe("hostile input", () => {
  it("a huge LONG_BINPUT index allocates nothing", () => {
    const v = loads(p(0x80, 2, "K\x07r", u32(0xffffffff), "j", u32(0xffffffff), 0x86, "."));
    expect(Array.from(v as unknown[])).toEqual([7, 7]);
  });
  it("maxMemoEntries is enforced", () => {
    const e = thrown(() => loads(p(0x80, 2, "K\x01q\x00q\x01q\x02."), { maxMemoEntries: 2 }));
    expect(e).toBeInstanceOf(LimitError);
    expect((e as LimitError).limit).toBe("maxMemoEntries");
  });
  it("declared lengths are checked against the remaining input before allocating", () => {
    for (const op of ["X", "B", "T"]) {
      const e = thrown(() => loads(p(0x80, 3, op, u32(0x10000000), "abc"), { encoding: "latin1" }));
      expect(e.code).toBe("Truncated");
    }
    expect(thrown(() => loads(p(0x80, 4, 0x8d, u32(0xffffffff), u32(0x1fffff), "."))).code).toMatch(
      /Truncated|Limit/,
    );
    expect(thrown(() => loads(p(0x80, 3, "X", u32(5), "abcde."), { maxStringLength: 4 })).code).toBe("Limit");
    expect(thrown(() => loads(p(0x80, 3, "C\x05abcde."), { maxBytesLength: 4 })).code).toBe("Limit");
  });
  it("billion laughs: memo re-use shares identity, nothing expands", () => {
    // l0 = [1]*10; l(i+1) = [l(i)]*10, 40 levels: 10^40 leaves if expanded.
    const parts: Array<string | number | Uint8Array> = [0x80, 2, "](", ..."K\x01".repeat(10), "eq\x00"];
    for (let i = 1; i <= 40; i++)
      parts.push("](", ...`h${String.fromCharCode(i - 1)}`.repeat(10), `eq${String.fromCharCode(i)}`);
    parts.push(".");
    // Work is bounded by identity (the memo is shared, never expanded) and by the re-pickled size.
    const v = loads(p(...parts)) as unknown[][];
    expect(v.length).toBe(10);
    expect(v[0]).toBe(v[9]);
    const again = dumps(v);
    expect(again.length).toBeLessThan(2000);
  });
  it("maxDepth bounds MARK nesting and pickler recursion", () => {
    expect(thrown(() => loads(p("(".repeat(50), "."), { maxDepth: 10 })).code).toBe("Limit");
    let deep: unknown[] = [];
    for (let i = 0; i < 5000; i++) deep = [deep];
    expect(thrown(() => dumps(deep)).code).toBe("Limit");
  });
  it("maxTotalAllocation bounds the payload total", () => {
    const data = p(0x80, 3, "(", ..."C\x10aaaaaaaaaaaaaaaa".repeat(10), "l.");
    expect(thrown(() => loads(data, { maxTotalAllocation: 100 })).code).toBe("Limit");
    expect((loads(data) as unknown[]).length).toBe(10);
  });
  it("__proto__ keys never pollute prototypes", () => {
    const v = loads(dumps(new Map([["__proto__", new Map([["polluted", 1]])]]))) as Map<string, unknown>;
    expect(v.get("__proto__")).toEqual(new Map([["polluted", 1]]));
    expect(({} as { polluted?: number }).polluted).toBeUndefined();
  });
  it("stack and memo misuse are typed errors", () => {
    expect(thrown(() => loads(p(".")))).toMatchObject({ code: "Stack", offset: 0, opcode: "STOP" });
    expect(thrown(() => loads(p("e.")))).toMatchObject({ code: "Stack" });
    expect(thrown(() => loads(p("(.")))).toMatchObject({ code: "Stack" });
    expect(thrown(() => loads(p("h\x05.")))).toMatchObject({ code: "Memo", offset: 0, opcode: "BINGET" });
    expect(thrown(() => loads(p(0xff)))).toMatchObject({ code: "InvalidOpcode", offset: 0 });
    expect(thrown(() => loads(p(0x80, 9, "N.")))).toMatchObject({ code: "InvalidValue", opcode: "PROTO" });
    expect(thrown(() => loads(p("X\x02\x00\x00\x00\xff\xfe.")))).toMatchObject({ code: "InvalidValue" });
    expect(thrown(() => loads(p("Iabc\n.")))).toMatchObject({ code: "InvalidValue" });
    expect(thrown(() => loads(new Uint8Array(0)))).toMatchObject({ code: "Truncated" });
  });
  it("every truncation of a real pickle is a typed error", () => {
    const full = dumps(
      new Map<unknown, unknown>([
        ["a", [1, 2.5, "x", new Uint8Array(3), 2n ** 80n]],
        [tuple([1]), null],
      ]),
      { protocol: 4 },
    );
    for (let n = 0; n < full.length; n++) {
      const e = thrown(() => loads(full.subarray(0, n)));
      expect(e.code).toMatch(/Truncated|Stack/);
    }
  });
  it("a failed load leaves the Unpickler usable and its position unchanged", () => {
    const good = dumps([1, 2]);
    const data = new Uint8Array([...good, 0x80, 2, 0xff, ...good]);
    const u = new Unpickler(data);
    expect(u.load()).toEqual([1, 2]);
    expect(u.position).toBe(good.length);
    expect(() => u.load()).toThrow(PickleError);
    expect(u.position).toBe(good.length);
    u.position += 3;
    expect(u.load()).toEqual([1, 2]);
    expect(u.atEnd).toBe(true);
  });
});

describe("concatenated pickles and identity", () => {
  it("reads five pickles in a row (legacy torch layout)", () => {
    const parts = [
      dumps(0x1950a86a20f9469cfc6cn),
      dumps(1001),
      dumps(new Map([["little_endian", true]])),
      dumps(["k"]),
      dumps([]),
    ];
    const all = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
    let off = 0;
    for (const x of parts) {
      all.set(x, off);
      off += x.length;
    }
    const u = new Unpickler(all);
    const got: unknown[] = [];
    while (!u.atEnd) got.push(u.load());
    expect(got.length).toBe(5);
    expect(got[0]).toBe(0x1950a86a20f9469cfc6cn);
    const r = loadsWithOffset(all, { offset: parts[0]?.length ?? 0 });
    expect(r.value).toBe(1001);
    expect(r.end).toBe((parts[0]?.length ?? 0) + (parts[1]?.length ?? 0));
  });
  it("the same memoized object is the same JS object; self-referencing lists work", () => {
    const v = loads(p(0x80, 2, "]q\x00(h\x00h\x00e.")) as unknown[];
    expect(v[0]).toBe(v);
    expect(v[1]).toBe(v);
  });
  it("protocol 0 text forms: INT bools, LONG with L, FLOAT, STRING escapes, UNICODE escapes, PUT/GET, POP_MARK, DUP", () => {
    const v = loads(
      p(
        "(I01\nI00\nI-5\nL12345678901234567890L\nF-0.0\nFinf\nS'a\\'b\\n'\nVx\\u20acy\\U0001f600\np0\ng0\nN2(I1\n1l.",
      ),
      { encoding: "latin1" },
    ) as unknown[];
    expect(v.slice(0, 4)).toEqual([true, false, -5, 12345678901234567890n]);
    expect(String(v[4])).toBe("-0.0");
    expect(v[5]).toBe(Number.POSITIVE_INFINITY);
    expect(v.slice(6)).toEqual(["a'b\n", "x€y😀", "x€y😀", null, null]);
  });
  it("floats: 'number' mode gives plain numbers", () => {
    expect(loads(dumps([1.5, 2.0]))).toEqual([1.5, 2]);
    expect(loads(p(0x80, 2, "G?\xf0\x00\x00\x00\x00\x00\x00."), { floats: "number" })).toBe(1);
  });
});

describe("globals written by dumps", () => {
  it("protocol < 3 uses Python 2 names like CPython's fix_imports", () => {
    const v = [
      new PyGlobal("builtins", "range"),
      new PyGlobal("builtins", "str"),
      new PyGlobal("builtins", "int"),
      new PyGlobal("builtins", "zip"),
    ];
    const expected =
      "\x80\x02]q\x00(c__builtin__\nxrange\nq\x01c__builtin__\nunicode\nq\x02c__builtin__\nlong\nq\x03citertools\nizip\nq\x04e.";
    expect(Buffer.from(dumps(v)).toString("latin1")).toBe(expected);
    expect(Buffer.from(dumps(new PyGlobal("builtins", "range"), { protocol: 1 })).toString("latin1")).toBe(
      "c__builtin__\nxrange\nq\x00.",
    );
    const back = loads(dumps(v), { policy: "opaque" }) as PyGlobal[];
    expect(back.map((g) => g.qualifiedName)).toEqual([
      "__builtin__.xrange",
      "__builtin__.unicode",
      "__builtin__.long",
      "itertools.izip",
    ]);
  });
  it("a Python 2 name that maps to a dangerous one is refused", () => {
    expect(thrown(() => loads(p("c__builtin__\nintern\n.")))).toMatchObject({ code: "UnsafeGlobal" });
  });
  it("the same global twice is memoized (BINGET), at protocol 4 through STACK_GLOBAL", () => {
    const s = new PyGlobal("collections", "OrderedDict");
    expect(Buffer.from(dumps([s, new PyGlobal("collections", "OrderedDict")])).toString("latin1")).toBe(
      "\x80\x02]q\x00(ccollections\nOrderedDict\nq\x01h\x01e.",
    );
    expect(Buffer.from(dumps(s, { protocol: 4 })).toString("latin1")).toBe(
      "\x80\x04\x95\x1f\x00\x00\x00\x00\x00\x00\x00\x8c\x0bcollections\x94\x8c\x0bOrderedDict\x94\x93\x94.",
    );
  });
});

describe("allocation by allowlisted constructors", () => {
  it("charges what bytearray(n) builds against maxTotalAllocation", () => {
    // [bytearray(2**20) for _ in range(40)], the global fetched once and reused through the memo
    const head = [0x80, 0x02, ...Buffer.from("c__builtin__\nbytearray\nq\x00", "latin1"), 0x30, 0x5d, 0x28];
    const call = [0x68, 0x00, 0x4a, 0x00, 0x00, 0x10, 0x00, 0x85, 0x52];
    const body: number[] = [];
    for (let i = 0; i < 40; i++) body.push(...call);
    const bytes = Uint8Array.from([...head, ...body, 0x65, 0x2e]);
    expect(() => loads(bytes, { maxTotalAllocation: 8 * 2 ** 20 })).toThrowError(/maxTotalAllocation/);
    const whole = loads(bytes) as Uint8Array[];
    expect(whole).toHaveLength(40);
    expect(whole[0]).toHaveLength(2 ** 20);
  });
});
