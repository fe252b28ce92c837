/**
 * Inputs CPython refuses (checked with /usr/bin/python3: `pickle._loads` and the C unpickler on
 * a file both raise) are typed errors here too, naming the opcode and offset.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { GlobalRegistry, InvalidValueError, loads, PickleError, PyGlobal } from "../src/index.js";
import { type Desc, describe as describeValue } from "./describe.js";

const b = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

// [name, pickle, CPython's error, our opcode, our offset]
const CASES: Array<[string, string, string, string, number]> = [
  ["unquoted STRING (trailing blank)", "S' ' \n.", "the STRING opcode argument must be quoted", "STRING", 0],
  [
    "STRING with a CR before the newline",
    "S'a'\r\n.",
    "the STRING opcode argument must be quoted",
    "STRING",
    0,
  ],
  ["negative PUT index", "Np-1\n.", "negative PUT argument", "PUT", 1],
  ["negative zero PUT index", "Np-0\n.", "negative PUT argument", "PUT", 1],
  ["a dict used as its own key", "}q\x00h\x00Ns.", "unhashable type: 'dict'", "SETITEM", 6],
  ["a list as a dict key", "}]Ns.", "unhashable type: 'list'", "SETITEM", 3],
  ["a tuple holding a list as a dict key", "}]\x85Ns.", "unhashable type: 'list'", "SETITEM", 4],
  [
    "a bytearray as a dict key",
    "}\x96\x00\x00\x00\x00\x00\x00\x00\x00Ns.",
    "unhashable type: 'bytearray'",
    "SETITEM",
    11,
  ],
  ["a list key in DICT", "(]Nd.", "unhashable type: 'list'", "DICT", 3],
  ["a list key in SETITEMS", "}(]Nu.", "unhashable type: 'list'", "SETITEMS", 4],
  ["a set containing itself", "\x8f\x94(h\x00\x90.", "unhashable type: 'set'", "ADDITEMS", 5],
  ["a list in a set", "\x8f(]\x90.", "unhashable type: 'list'", "ADDITEMS", 3],
  ["a list in a frozenset", "(]\x91.", "unhashable type: 'list'", "FROZENSET", 2],
  ["a list in set()", "c__builtin__\nset\n]]a\x85R.", "unhashable type: 'list'", "REDUCE", 21],
  ["an empty module name", "\x8c\x00\x8c\x01x\x93.", "Empty module name", "STACK_GLOBAL", 5],
];

describe("CPython strictness", () => {
  for (const [name, data, cpython, opcode, offset] of CASES) {
    it(`${name}: refused like CPython (${cpython})`, () => {
      let err: unknown;
      try {
        loads(b(data), { policy: "opaque" });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PickleError);
      expect(err).toBeInstanceOf(InvalidValueError);
      const e = err as PickleError;
      expect(e.message).toContain(cpython);
      expect(e.opcode).toBe(opcode);
      expect(e.offset).toBe(offset);
    });
  }
  it("hashable keys still load (tuple, frozenset, str, int, None)", () => {
    const v = loads(b("}(K\x01K\x02\x86K\x01(K\x03\x91K\x02NK\x03u.")) as Map<unknown, unknown>;
    expect(v.size).toBe(3);
  });
});

describe("CPython's pickletester vectors (bad stack, bad mark, truncated data, bad strings, EXT, REDUCE, NEWOBJ, globals; and the good ones)", () => {
  const path = new URL("../fixtures/cpython-bad-pickles.json", import.meta.url);
  const { good, ...groups } = JSON.parse(readFileSync(path, "utf8")) as Record<
    string,
    Array<{ hex: string; python: string | null; c: string | null }>
  > & { good: Array<{ hex: string; value: Desc }> };
  const NOT_A_CLASS = new Set([
    Buffer.from("cbuiltins\nlen\n)\x81.", "latin1").toString("hex"),
    Buffer.from("cbuiltins\nlen\n)}\x92.", "latin1").toString("hex"),
  ]);
  // bounded: a vector that declares 4 GiB must be refused before anything that size is allocated
  const limits = { maxTotalAllocation: 64 << 20, maxBytesLength: 16 << 20, maxStringLength: 16 << 20 };
  for (const [group, cases] of Object.entries(groups)) {
    it(`${group}: every one CPython refuses (${cases.length}) is a typed error here`, () => {
      const missed: string[] = [];
      for (const c of cases) {
        expect(c.python !== null && c.c !== null).toBe(true);
        const data = Uint8Array.from(Buffer.from(c.hex, "hex"));
        // registered so that the failure is about the stack or the data, not the global
        // (builtins.len stays unregistered: only CPython's type check knows it is not a class)
        const globals = new GlobalRegistry([
          ["builtins", "list", new PyGlobal("builtins", "list")],
          ["builtins", "ValueError", new PyGlobal("builtins", "ValueError")],
          ["builtins", "int", new PyGlobal("builtins", "int")],
          ["math", "log", new PyGlobal("math", "log")],
        ]);
        for (const policy of ["reject", "opaque"] as const) {
          // only CPython's type check knows builtins.len is not a class: refused as an unknown
          // global by default; an opaque load makes it an inert placeholder (nothing runs)
          if (policy === "opaque" && NOT_A_CLASS.has(c.hex)) continue;
          try {
            loads(data, { globals, policy, ...limits });
            missed.push(`${c.hex} (${policy})`);
          } catch (e) {
            if (!(e instanceof PickleError)) missed.push(`${c.hex} (${policy}): ${String(e)}`);
          }
        }
      }
      expect(missed).toEqual([]);
    });
  }
  it(`the good vectors (${good.length}) load to what CPython loads`, () => {
    for (const g of good) {
      const data = Uint8Array.from(Buffer.from(g.hex, "hex"));
      expect(describeValue(loads(data, { ...limits })), g.hex).toEqual(g.value);
    }
  });
});
