/**
 * The built-in allowlist: pure-data Python constructs that `loads` resolves with no options (the
 * dangerous names, never resolved whatever the options, are in `names.ts`).
 */

import { InvalidValueError } from "./errors.js";
import { CALL, GLOBAL_NAME, GlobalRegistry, type HookContext, NEW } from "./hooks.js";
import { py3Name } from "./names.js";
import { encodeUtf8 } from "./text.js";
import {
  PyByteArray,
  PyComplex,
  PyFloat,
  PyFrozenSet,
  PyGlobal,
  PyObject,
  PyOrderedDict,
  PySlice,
  type PyTuple,
  tuple,
  unhashableType,
} from "./values.js";

type Fn = (args: PyTuple, ctx: HookContext) => unknown;

function builtin(module: string, name: string, fn: Fn): object {
  return {
    [CALL]: fn,
    [NEW]: (args: PyTuple, _kw: unknown, ctx: HookContext) => fn(args, ctx),
    [GLOBAL_NAME]: { module, name },
  };
}

function bad(what: string, ctx: HookContext): never {
  throw new InvalidValueError(what, { offset: ctx.offset, opcode: ctx.opcode });
}

function iter(v: unknown, what: string, ctx: HookContext): Iterable<unknown> {
  if (v instanceof Map) return v.keys();
  if (Array.isArray(v) || v instanceof Set) return v;
  if (typeof v === "string") return v;
  if (v instanceof Uint8Array) return Array.from(v);
  return bad(`${what} argument is not iterable`, ctx);
}

function num(v: unknown, what: string, ctx: HookContext): number {
  if (typeof v === "number") return v;
  if (v instanceof PyFloat) return v.value;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "boolean") return v ? 1 : 0;
  return bad(`${what} needs a number`, ctx);
}

/** Encode `s` with a Python codec name, as `_codecs.encode`/`bytearray(str, enc)` do (latin-1, ascii, utf-8 only). */
function encodeStr(s: unknown, enc: unknown, ctx: HookContext): Uint8Array {
  if (typeof s !== "string") return bad("encode needs a str", ctx);
  const e = typeof enc === "string" ? enc.toLowerCase().replace(/[-_ ]/g, "") : "utf8";
  if (e === "latin1" || e === "iso88591" || e === "l1" || e === "ascii" || e === "usascii") {
    const limit = e.startsWith("ascii") || e === "usascii" ? 0x80 : 0x100;
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= limit) bad(`cannot encode character U+${c.toString(16)} with ${String(enc)}`, ctx);
      out[i] = c;
    }
    return out;
  }
  if (e === "utf8") return encodeUtf8(s);
  return bad(`unsupported encoding ${String(enc)}`, ctx);
}

/** The members of a set built by `set(x)`/`frozenset(x)`, each hashable as CPython requires. */
function members(args: PyTuple, what: string, ctx: HookContext): Iterable<unknown> {
  if (!args.length) return [];
  const items = [...iter(args[0], what, ctx)];
  for (const x of items) {
    const t = unhashableType(x);
    if (t !== null) bad(`unhashable type: '${t}' in ${what}()`, ctx);
  }
  return items;
}
function makeSet(args: PyTuple, ctx: HookContext): Set<unknown> {
  return new Set(members(args, "set", ctx));
}
function makeFrozenSet(args: PyTuple, ctx: HookContext): PyFrozenSet {
  return new PyFrozenSet(members(args, "frozenset", ctx));
}
function makeByteArray(args: PyTuple, ctx: HookContext): PyByteArray {
  if (args.length === 0) return new PyByteArray(0);
  const a = args[0];
  if (typeof a === "string") return new PyByteArray(encodeStr(a, args[1], ctx));
  if (a instanceof Uint8Array) return new PyByteArray(a);
  if (typeof a === "number" && Number.isSafeInteger(a) && a >= 0 && a <= 1 << 20) return new PyByteArray(a);
  if (Array.isArray(a)) return new PyByteArray(a.map((x) => num(x, "bytearray", ctx) & 0xff));
  return bad("bytearray argument not supported", ctx);
}
function makeBytes(args: PyTuple, ctx: HookContext): Uint8Array {
  if (args.length === 0) return new Uint8Array(0);
  const a = args[0];
  if (typeof a === "string") return encodeStr(a, args[1], ctx);
  if (a instanceof Uint8Array) return new Uint8Array(a);
  if (Array.isArray(a)) return Uint8Array.from(a.map((x) => num(x, "bytes", ctx) & 0xff));
  return bad("bytes argument not supported", ctx);
}
function makeComplex(args: PyTuple, ctx: HookContext): PyComplex {
  const a = args[0];
  if (a instanceof PyComplex && args.length === 1) return new PyComplex(a.re, a.im);
  return new PyComplex(
    args.length > 0 ? num(a, "complex", ctx) : 0,
    args.length > 1 ? num(args[1], "complex", ctx) : 0,
  );
}
function makeSlice(args: PyTuple, ctx: HookContext): PySlice {
  if (args.length === 1) return new PySlice(null, args[0], null);
  if (args.length === 2) return new PySlice(args[0], args[1], null);
  if (args.length === 3) return new PySlice(args[0], args[1], args[2]);
  return bad(`slice expected 1 to 3 arguments, got ${args.length}`, ctx);
}
function makeOrderedDict(args: PyTuple, ctx: HookContext): PyOrderedDict {
  const d = new PyOrderedDict();
  if (args.length === 0) return d;
  const a = args[0];
  if (a instanceof Map) {
    for (const [k, v] of a) d.set(k, v);
    return d;
  }
  for (const item of iter(a, "OrderedDict", ctx)) {
    if (!Array.isArray(item) || item.length !== 2) bad("OrderedDict items must be pairs", ctx);
    d.set(item[0], item[1]);
  }
  return d;
}
function codecsEncode(args: PyTuple, ctx: HookContext): Uint8Array {
  return encodeStr(args[0], args.length > 1 ? args[1] : "utf-8", ctx);
}

const builtinFns: Array<[string, Fn]> = [
  ["set", makeSet],
  ["frozenset", makeFrozenSet],
  ["bytearray", makeByteArray],
  ["bytes", makeBytes],
  ["complex", makeComplex],
  ["slice", makeSlice],
];

function reconstructor(registry: () => GlobalRegistry): Fn {
  // copyreg._reconstructor(cls, base, state): allowed only when cls is base and base is allowlisted.
  return (args, ctx) => {
    const [cls, base, state] = args;
    // Protocol 0/1 pickles of plain instances: `_reconstructor(C, object, None)`. With C an inert
    // placeholder (policy "opaque"), the result is an inert placeholder instance of C.
    if (
      args.length === 3 &&
      cls instanceof PyGlobal &&
      base instanceof PyGlobal &&
      py3Name(base.module, base.name).join(".") === "builtins.object" &&
      state === null
    )
      return new PyObject(cls, tuple([]), "reduce", null);
    const values = new Set(Array.from(registry().entries(), ([, , v]) => v));
    if (
      args.length !== 3 ||
      cls !== base ||
      !values.has(cls) ||
      typeof cls !== "object" ||
      cls === null ||
      !(CALL in cls)
    )
      return bad("copyreg._reconstructor only rebuilds allowlisted types from themselves", ctx);
    return (cls as { [CALL]: Fn })[CALL](tuple([state]), ctx);
  };
}

/** A new registry holding the built-in pure-data allowlist (both `builtins` and `__builtin__` names). */
export function defaultGlobals(): GlobalRegistry {
  const r = new GlobalRegistry();
  for (const [name, fn] of builtinFns) {
    r.register("builtins", name, builtin("builtins", name, fn));
    r.register("__builtin__", name, builtin("__builtin__", name, fn));
  }
  r.register("collections", "OrderedDict", builtin("collections", "OrderedDict", makeOrderedDict));
  r.register("_codecs", "encode", builtin("_codecs", "encode", codecsEncode));
  const rec = reconstructor(() => r);
  r.register("copyreg", "_reconstructor", builtin("copyreg", "_reconstructor", rec));
  r.register("copy_reg", "_reconstructor", builtin("copy_reg", "_reconstructor", rec));
  return r;
}

/** Python 3 → Python 2 module names used by the pickler for protocols < 3. */
export const PY3_TO_PY2_MODULES: ReadonlyMap<string, string> = new Map([
  ["builtins", "__builtin__"],
  ["copyreg", "copy_reg"],
  ["queue", "Queue"],
  ["_pickle", "pickle"],
]);

/** Python 3 `(module, name)` → Python 2, used by the pickler below protocol 3 before the module mapping. */
export const PY3_TO_PY2_NAMES: ReadonlyMap<string, readonly [string, string]> = new Map([
  ["builtins\nrange", ["__builtin__", "xrange"]],
  ["functools\nreduce", ["__builtin__", "reduce"]],
  ["builtins\nchr", ["__builtin__", "unichr"]],
  ["builtins\nstr", ["__builtin__", "unicode"]],
  ["builtins\nint", ["__builtin__", "long"]],
  ["builtins\nzip", ["itertools", "izip"]],
  ["builtins\nmap", ["itertools", "imap"]],
  ["builtins\nfilter", ["itertools", "ifilter"]],
]);
