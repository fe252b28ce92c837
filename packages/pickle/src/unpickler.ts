/**
 * The unpickler: every opcode of protocols 0-5, never executing anything. Globals resolve only
 * through the allowlist and the caller's `GlobalRegistry`.
 */
import { defaultGlobals } from "./allowlist.js";
import {
  frameViolation,
  HookError,
  InvalidOpcodeError,
  InvalidValueError,
  LimitError,
  MemoError,
  PickleError,
  StackError,
  TruncatedError,
  UnsafeGlobalError,
  UnsupportedError,
} from "./errors.js";
import { CALL, EXTEND, type GlobalRegistry, type HookContext, NEW, SETITEM, SETSTATE } from "./hooks.js";
import { scanMemoReads } from "./memo-scan.js";
import { isDangerousGlobal, py3Name } from "./names.js";
import { opcodeName } from "./opcodes.js";
import { decodeRawUnicodeEscape, decodeUtf8, escapeDecode, latin1 } from "./text.js";
import {
  asTuple,
  isPyFloatValue,
  markFloatKey,
  PyByteArray,
  PyFloat,
  PyFrozenSet,
  PyGlobal,
  PyObject,
  type PyObjectOrigin,
  PyOrderedDict,
  PyTuple,
  unhashableType,
} from "./values.js";

/**
 * CPython 3.12+ writes a global with a dotted qualified name below protocol 4 as
 * `getattr(module.first, "a")` (nested: `getattr(getattr(module.first, "a"), "b")`). The unpickler
 * reads exactly that idiom as the one global `module` + `first.a`, resolved (or refused) like any
 * other global; `builtins.getattr` itself is never resolved. While the idiom is being read, its
 * parts are inert sentinels: `GETATTR` for the getattr global and a `PendingGlobal` for
 * `module.first`, each consumed once by the REDUCE that completes the idiom. A sentinel used any
 * other way (called otherwise, stored, left over at STOP) refuses the pickle as `builtins.getattr`.
 */
class GetattrSentinel {}
const isGetattrName = (module: string, name: string): boolean =>
  name === "getattr" && (module === "builtins" || module === "__builtin__");
const GETATTR: GetattrSentinel = Object.freeze(new GetattrSentinel());
class PendingGlobal {
  consumed = false;
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
}

/** Options of `loads` and `Unpickler`. Every field is optional; defaults are stated. */
export interface UnpicklerOptions {
  /** Extra globals, merged over the built-in pure-data allowlist (yours win). Default: none. */
  globals: GlobalRegistry;
  /**
   * What to do with a global that is neither allowlisted nor registered. `"reject"` (default):
   * throw `UnsafeGlobalError` naming `module.name` and the byte offset. `"opaque"`: push an inert
   * `PyGlobal`; calling it (REDUCE/NEWOBJ/NEWOBJ_EX/INST/OBJ) yields a `PyObject` record.
   * Dangerous globals (`isDangerousGlobal`) are refused under both policies, even if registered.
   */
  policy: "reject" | "opaque";
  /** Called for every global reference (GLOBAL, STACK_GLOBAL, INST, EXT*) before it is resolved. Default: none. */
  onGlobal: (module: string, name: string, offset: number) => void;
  /** Resolves PERSID/BINPERSID ids. Default: none (a persistent id is an `UnsupportedError`). */
  persistentLoad: (pid: unknown, ctx: HookContext) => unknown;
  /** EXT1/EXT2/EXT4 code → `[module, name]` (Python's `copyreg._inverted_registry`). Default: empty. */
  extensionRegistry: ReadonlyMap<number, readonly [string, string]>;
  /** Out-of-band buffers consumed in order by NEXT_BUFFER (protocol 5). Default: none. */
  buffers: Iterable<Uint8Array>;
  /** `"preserve"` (default): integral floats load as `PyFloat`. `"number"`: every float is a plain `number`. */
  floats: "preserve" | "number";
  /** How protocol-0/1 STRING/BINSTRING (Python 2 `str`) decode: `"ascii"` (default, like CPython), `"latin1"`, `"utf-8"` or `"bytes"`. */
  encoding: "ascii" | "latin1" | "utf-8" | "bytes";
  /** Byte offset where the pickle starts (for `loads`). Default 0. */
  offset: number;
  /**
   * Keep only the memo entries that some GET reads back (default `false`). A first pass over the
   * pickle finds them (≈ 5–10 ns per opcode); then an object CPython memoized but nothing fetches
   * again is not kept alive until STOP. Worth it when most memoized objects are otherwise garbage:
   * torch checkpoints (every persistent id and argument tuple), where it cuts peak memory and
   * garbage-collection time; a pure cost when the memoized objects are kept by the value anyway.
   * Anything the pass cannot follow turns it off for that pickle (everything is kept).
   */
  pruneMemo: boolean;
  /** Maximum MARK nesting depth. Default 10 000. */
  maxDepth: number;
  /** Maximum number of memo entries (the memo is sparse: huge keys allocate nothing). Default 10 000 000. */
  maxMemoEntries: number;
  /** Maximum length of one string in UTF-8 bytes. Default 1 GiB. Always also checked against the remaining input. */
  maxStringLength: number;
  /** Maximum length of one bytes/bytearray value. Default 2 GiB. Always also checked against the remaining input. */
  maxBytesLength: number;
  /** Maximum total of string/bytes payloads plus 8 bytes per container element. Default 4 GiB. */
  maxTotalAllocation: number;
}

/** The options object accepted by `loads` and `new Unpickler`. */
export type LoadOptions = Readonly<Partial<UnpicklerOptions>>;

/**
 * The unpickler's limits against hostile input (defaults: {@link DEFAULT_LIMITS}): the one limits
 * type the layers above take (`limits` of `loadZip`, `loadLegacy`, `load`) and pass down whole.
 */
export type PickleLimits = Readonly<Partial<Pick<UnpicklerOptions, keyof typeof DEFAULT_LIMITS>>>;

/** Default limits (exported so callers can scale them). */
export const DEFAULT_LIMITS = Object.freeze({
  maxDepth: 10_000,
  maxMemoEntries: 10_000_000,
  maxStringLength: 2 ** 30,
  maxBytesLength: 2 ** 31,
  maxTotalAllocation: 2 ** 32,
});

const LIMIT_KEYS = Object.keys(DEFAULT_LIMITS) as (keyof typeof DEFAULT_LIMITS)[];

/**
 * The pickle limits of `options` (any object that carries them, e.g. a layer's limits that add
 * their own), and nothing else: what a layer spreads into the unpickler's options. The keys are
 * {@link DEFAULT_LIMITS}'s, so a new limit reaches every layer without a change there.
 */
export function pickLimits(options: PickleLimits | undefined): PickleLimits {
  const out: { -readonly [K in keyof PickleLimits]: number } = {};
  if (options === undefined) return out;
  for (const k of LIMIT_KEYS) {
    const v = options[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/**
 * A streaming unpickler over one buffer. `load()` reads the pickle starting at `position` and
 * leaves `position` just after its STOP, so concatenated pickles are read by calling `load()`
 * again. Each `load()` starts with an empty memo (like a fresh CPython `Unpickler` per pickle).
 * A failed `load()` leaves `position` unchanged and no state behind.
 */
export class Unpickler {
  /** Offset of the next pickle to read. */
  position: number;
  private readonly data: Uint8Array;
  private readonly view: DataView;
  private readonly globals: GlobalRegistry;
  private readonly opaque: boolean;
  private readonly onGlobal: UnpicklerOptions["onGlobal"] | undefined;
  private readonly persistentLoad: UnpicklerOptions["persistentLoad"] | undefined;
  private readonly extensions: ReadonlyMap<number, readonly [string, string]> | undefined;
  private readonly buffers: Iterator<Uint8Array> | undefined;
  private readonly preserveFloats: boolean;
  private readonly pruneMemo: boolean;
  private readonly encoding: UnpicklerOptions["encoding"];
  private readonly maxDepth: number;
  private readonly maxMemo: number;
  private readonly maxStr: number;
  private readonly maxBytes: number;
  private readonly maxAlloc: number;
  private alloc = 0;
  /** Registered globals resolved during the current load(), by module then name. */
  private resolved = new Map<string, Map<string, unknown>>();

  constructor(data: Uint8Array, options: LoadOptions = {}) {
    this.data = data;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.position = options.offset ?? 0;
    const base = defaultGlobals();
    this.globals = options.globals ? base.merge(options.globals) : base;
    this.opaque = options.policy === "opaque";
    if (options.policy !== undefined && options.policy !== "opaque" && options.policy !== "reject")
      throw new InvalidValueError(`unknown policy ${String(options.policy)}`, {});
    this.onGlobal = options.onGlobal;
    this.persistentLoad = options.persistentLoad;
    this.extensions = options.extensionRegistry;
    this.buffers = options.buffers ? options.buffers[Symbol.iterator]() : undefined;
    this.preserveFloats = options.floats !== "number";
    this.pruneMemo = options.pruneMemo === true;
    this.encoding = options.encoding ?? "ascii";
    this.maxDepth = options.maxDepth ?? DEFAULT_LIMITS.maxDepth;
    this.maxMemo = options.maxMemoEntries ?? DEFAULT_LIMITS.maxMemoEntries;
    this.maxStr = options.maxStringLength ?? DEFAULT_LIMITS.maxStringLength;
    this.maxBytes = options.maxBytesLength ?? DEFAULT_LIMITS.maxBytesLength;
    this.maxAlloc = options.maxTotalAllocation ?? DEFAULT_LIMITS.maxTotalAllocation;
  }

  /** True when `position` is at (or past) the end of the buffer. */
  get atEnd(): boolean {
    return this.position >= this.data.length;
  }

  /** Read one pickle from `position`; returns its value and moves `position` past its STOP. */
  load(): unknown {
    const start = this.position;
    if (start < 0 || start > this.data.length || !Number.isInteger(start))
      throw new InvalidValueError(`start offset ${start} outside the input of ${this.data.length} bytes`, {});
    this.alloc = 0;
    this.resolved = new Map();
    const r = this.run(start);
    this.position = r.end;
    return r.value;
  }

  private trunc(what: string, at: number, needed: number, opPos: number, op: number): never {
    throw new TruncatedError(
      `truncated input: ${what} needs ${needed} bytes at offset ${at}, ${Math.max(0, this.data.length - at)} left`,
      needed,
      Math.max(0, this.data.length - at),
      { offset: opPos, opcode: opcodeName(op) },
    );
  }

  private account(n: number, opPos: number, op: number): void {
    this.alloc += n;
    if (this.alloc > this.maxAlloc)
      throw new LimitError("maxTotalAllocation", this.alloc, this.maxAlloc, {
        offset: opPos,
        opcode: opcodeName(op),
      });
  }

  /**
   * Charge what a called global built against `maxTotalAllocation`: a few bytes of pickle can ask
   * an allowlisted constructor (`bytearray(n)`, `set(list)`, `_codecs.encode(s)`) for far more.
   */
  private accountResult(v: unknown, opPos: number, op: number): unknown {
    let n = 0;
    if (v instanceof Uint8Array) n = v.byteLength;
    else if (v instanceof Set || v instanceof Map) n = v.size * 16;
    else if (Array.isArray(v)) n = v.length * 8;
    if (n > 0) this.account(n, opPos, op);
    return v;
  }

  private findGlobal(module: string, name: string, opPos: number, op: number): unknown {
    if (this.onGlobal) {
      try {
        this.onGlobal(module, name, opPos);
      } catch (e) {
        throw new HookError(`onGlobal threw for ${module}.${name}`, {
          offset: opPos,
          opcode: opcodeName(op),
          cause: e,
        });
      }
    }
    // A registered global resolves the same way every time within one load(): cached by name.
    const known = this.resolved.get(module)?.get(name);
    if (known !== undefined) return known;
    const fields = { offset: opPos, opcode: opcodeName(op) };
    if (module === "") throw new InvalidValueError("Empty module name", fields);
    if (isGetattrName(module, name)) return GETATTR;
    // CPython's getattr of "" (or of an empty part of a dotted name) fails: nothing to resolve
    if (name.split(".").includes(""))
      throw new InvalidValueError(
        `empty attribute name in ${JSON.stringify(name)} of module ${module}`,
        fields,
      );
    const g = this.globals;
    if (isDangerousGlobal(module, name, g.refused))
      throw new UnsafeGlobalError({ module, name, dangerous: true, offset: opPos, opcode: fields.opcode });
    // As written, else after pickle's Python 2 mapping (`fix_imports`), as torch's find_class.
    const [pm, pn] = py3Name(module, name);
    const mapped = pm !== module || pn !== name;
    let found: unknown;
    if (g.has(module, name)) found = g.get(module, name);
    else if (mapped && g.has(pm, pn)) found = g.get(pm, pn);
    if (found !== undefined) {
      let byName = this.resolved.get(module);
      if (byName === undefined) {
        byName = new Map();
        this.resolved.set(module, byName);
      }
      byName.set(name, found);
      return found;
    }
    if (g.has(module, name) || (mapped && g.has(pm, pn))) return undefined; // registered as undefined (not cached)
    if (this.opaque) return new PyGlobal(module, name);
    throw new UnsafeGlobalError({ module, name, dangerous: false, offset: opPos, opcode: fields.opcode });
  }

  /** `module.name` as the first argument of the getattr idiom: checked, not resolved yet. */
  private pendingGlobal(module: string, name: string, opPos: number, op: number): PendingGlobal {
    const fields = { offset: opPos, opcode: opcodeName(op) };
    if (module === "") throw new InvalidValueError("Empty module name", fields);
    if (isDangerousGlobal(module, name, this.globals.refused))
      throw new UnsafeGlobalError({ module, name, dangerous: true, ...fields });
    return new PendingGlobal(module, name);
  }

  /**
   * REDUCE of `GETATTR` with `args`: `(PendingGlobal, attribute)` becomes the global
   * `module.name.attribute` (another `PendingGlobal` when `outer`, a further getattr, waits for it).
   */
  private resolveGetattr(args: unknown, outer: boolean, opPos: number, op: number): unknown {
    const a = args as unknown[];
    const p = Array.isArray(a) && a.length === 2 ? a[0] : null;
    const attr = Array.isArray(a) ? a[1] : null;
    if (!(p instanceof PendingGlobal) || p.consumed || typeof attr !== "string" || attr === "")
      throw new UnsafeGlobalError({
        module: "builtins",
        name: "getattr",
        dangerous: true,
        ...errorFields(opPos, op),
      });
    p.consumed = true;
    const name = `${p.name}.${attr}`;
    if (outer) return this.pendingGlobal(p.module, name, opPos, op);
    return this.findGlobal(p.module, name, opPos, op);
  }

  private ctx(opPos: number, op: number): HookContext {
    return { offset: opPos, opcode: opcodeName(op) };
  }

  private hook<T>(what: string, opPos: number, op: number, f: () => T): T {
    try {
      return f();
    } catch (e) {
      this.hookFailed(what, opPos, op, e);
    }
  }

  /** What {@link hook} throws for a hook's error `e` (a pickle error passes through). */
  private hookFailed(what: string, opPos: number, op: number, e: unknown): never {
    if (e instanceof PickleError) throw e;
    throw new HookError(`${what} threw: ${e instanceof Error ? e.message : String(e)}`, {
      offset: opPos,
      opcode: opcodeName(op),
      cause: e,
    });
  }

  private call(
    func: unknown,
    args: unknown,
    origin: PyObjectOrigin,
    kwargs: unknown,
    opPos: number,
    op: number,
  ): unknown {
    if (!Array.isArray(args))
      throw new StackError(`${opcodeName(op)} arguments are not a tuple`, errorFields(opPos, op));
    const targs = args instanceof PyTuple ? args : toTuple(args);
    if (kwargs !== null && !(kwargs instanceof Map))
      throw new StackError("NEWOBJ_EX kwargs are not a dict", errorFields(opPos, op));
    const kw = kwargs as Map<string, unknown> | null;
    if (func instanceof PyGlobal) return new PyObject(func, targs, origin, kw);
    if (func === GETATTR || func instanceof PendingGlobal)
      throw new UnsafeGlobalError({
        module: "builtins",
        name: "getattr",
        dangerous: true,
        ...errorFields(opPos, op),
      });
    if (typeof func === "object" && func !== null) {
      // This runs for every REDUCE: no closure per call, the hook's label built only on error.
      const f = func as Record<symbol, unknown>;
      const useNew = origin === "newobj" || origin === "newobj_ex";
      const ctx = this.ctx(opPos, op);
      const newFn = f[NEW];
      if (useNew && typeof newFn === "function") return this.callNew(f, newFn, targs, kw, ctx, opPos, op);
      const callFn = f[CALL];
      if (typeof callFn === "function") {
        if (kw && kw.size > 0)
          throw new UnsupportedError("keyword arguments given to a CALL-only global", errorFields(opPos, op));
        let r: unknown;
        try {
          r = (callFn as (a: PyTuple, c: HookContext) => unknown).call(f, targs, ctx);
        } catch (e) {
          this.hookFailed(`${opcodeName(op)} hook`, opPos, op, e);
        }
        return this.accountResult(r, opPos, op);
      }
      if (typeof newFn === "function") return this.callNew(f, newFn, targs, kw, ctx, opPos, op);
    }
    throw new InvalidValueError(
      `${opcodeName(op)} on a value that is not callable (${describe(func)})`,
      errorFields(opPos, op),
    );
  }

  private callNew(
    f: Record<symbol, unknown>,
    newFn: unknown,
    targs: PyTuple,
    kw: Map<string, unknown> | null,
    ctx: HookContext,
    opPos: number,
    op: number,
  ): unknown {
    try {
      return (newFn as (a: PyTuple, k: unknown, c: HookContext) => unknown).call(f, targs, kw, ctx);
    } catch (e) {
      this.hookFailed(`${opcodeName(op)} hook`, opPos, op, e);
    }
  }

  private build(inst: unknown, state: unknown, opPos: number, op: number): unknown {
    const fields = { offset: opPos, opcode: "BUILD" };
    if (
      typeof inst === "object" &&
      inst !== null &&
      typeof (inst as Record<symbol, unknown>)[SETSTATE] === "function"
    ) {
      const ctx = this.ctx(opPos, op);
      const r = this.hook("SETSTATE hook", opPos, op, () =>
        (inst as { [SETSTATE]: (s: unknown, c: HookContext) => unknown })[SETSTATE](state, ctx),
      );
      return r === undefined ? inst : r;
    }
    if (inst instanceof PyObject) {
      inst.state = state;
      return inst;
    }
    if (inst instanceof PyOrderedDict) {
      let dictState = state;
      let slotState: unknown = null;
      if (state instanceof PyTuple && state.length === 2) {
        dictState = state[0];
        slotState = state[1];
      }
      for (const part of [dictState, slotState]) {
        if (part === null) continue;
        if (!(part instanceof Map))
          throw new InvalidValueError("BUILD state for an OrderedDict is not a dict", fields);
        for (const [k, v] of part) {
          if (typeof k !== "string") throw new InvalidValueError("BUILD attribute name is not a str", fields);
          if (inst.attributes === null) inst.attributes = new Map();
          inst.attributes.set(k, v);
        }
      }
      return inst;
    }
    throw new InvalidValueError(`BUILD on a value that takes no state (${describe(inst)})`, fields);
  }

  /**
   * The interpreter loop. It is long on purpose: one function holding the stack, the memo and
   * `pos` in locals, with the hot opcodes inline in one `switch` (the rare ones in `cold`), is what
   * keeps loading fast; splitting it into a method per opcode costs a call and a field load per
   * opcode. Keep new opcodes' work in helpers, and their cases short.
   */
  private run(start: number): { value: unknown; end: number } {
    const data = this.data;
    const view = this.view;
    const end = data.length;
    const stack: unknown[] = [];
    const marks: number[] = [];
    const memo: unknown[] = [];
    let sparse = null as Map<number, unknown> | null;
    const maxMemo = this.maxMemo;
    // With `pruneMemo`: the memo slots that some GET reads (null: keep every slot). Values stored in
    // other slots are replaced by DROPPED, so they die young instead of living until STOP.
    const used = this.pruneMemo ? scanMemoReads(data, start, Math.min(maxMemo, end - start + 1)) : null;
    const keep = (idx: number, v: unknown): unknown =>
      used === null || (idx < used.length && used[idx] === 1) ? v : DROPPED;
    const preserve = this.preserveFloats;
    let pos = start;
    // Position shared with the helper closures (cold paths); `pos` itself is never captured.
    let cur = start;
    let opPos = start;
    let op = 0;
    // The getattr idiom (see GETATTR): sentinels pushed and not yet consumed by its REDUCE.
    let idiomSeen = false;
    let idiomOpen = 0;
    const pushed = (v: unknown): unknown => {
      if (v === GETATTR || v instanceof PendingGlobal) idiomOpen++;
      return v;
    };
    // GLOBAL/STACK_GLOBAL/EXT: the getattr sentinel, the idiom's first argument, or the global.
    const pushGlobal = (module: string, name: string): void => {
      if (idiomSeen && stack[stack.length - 1] === GETATTR && !isGetattrName(module, name)) {
        stack.push(this.pendingGlobal(module, name, opPos, op));
        idiomOpen++;
        return;
      }
      const g = this.findGlobal(module, name, opPos, op);
      if (g === GETATTR) {
        idiomSeen = true;
        idiomOpen++;
      }
      stack.push(g);
    };
    // REDUCE of the getattr sentinel: completes (or continues) the idiom.
    const reduceGetattr = (args: unknown): unknown => {
      idiomOpen -= 2; // the sentinel and its PendingGlobal (resolveGetattr refuses anything else)
      const outer = stack[stack.length - 1] === GETATTR;
      const r = this.resolveGetattr(args, outer, opPos, op);
      if (outer) idiomOpen++;
      return r;
    };

    const popMark = (): number => {
      const m = marks.pop();
      if (m === undefined)
        throw new StackError("no MARK on the stack", { offset: opPos, opcode: opcodeName(op) });
      return m;
    };
    const pop = (): unknown => {
      const top = marks.length ? (marks[marks.length - 1] as number) : 0;
      if (stack.length <= top)
        throw new StackError(
          marks.length ? "stack underflow: only a MARK left" : "stack underflow: stack is empty",
          {
            offset: opPos,
            opcode: opcodeName(op),
          },
        );
      return stack.pop();
    };
    const peek = (): unknown => {
      const top = marks.length ? (marks[marks.length - 1] as number) : 0;
      if (stack.length <= top)
        throw new StackError("stack is empty", { offset: opPos, opcode: opcodeName(op) });
      return stack[stack.length - 1];
    };
    const memoPut = (idx: number, value: unknown): void => {
      const v = keep(idx, value);
      if (idx === memo.length) {
        if (sparse?.delete(idx)) {
          memo.push(v);
          return;
        }
        if (memo.length + (sparse === null ? 0 : sparse.size) >= maxMemo)
          throw new LimitError("maxMemoEntries", memo.length + (sparse?.size ?? 0) + 1, maxMemo, {
            offset: opPos,
            opcode: opcodeName(op),
          });
        memo.push(v);
      } else if (idx < memo.length) memo[idx] = v;
      else {
        if (sparse === null) sparse = new Map();
        if (!sparse.has(idx) && memo.length + sparse.size >= maxMemo)
          throw new LimitError("maxMemoEntries", memo.length + sparse.size + 1, maxMemo, {
            offset: opPos,
            opcode: opcodeName(op),
          });
        sparse.set(idx, v);
      }
    };
    const memoGet = (idx: number): unknown => {
      const v = idx < memo.length ? memo[idx] : sparse?.has(idx) ? sparse.get(idx) : MISSING;
      if (v === DROPPED)
        throw new MemoError(`memo key ${idx} was dropped by the pre-scan (internal error)`, idx, {
          offset: opPos,
          opcode: opcodeName(op),
        });
      if (v !== MISSING) return v;
      throw new MemoError(`memo key ${idx} was never stored`, idx, { offset: opPos, opcode: opcodeName(op) });
    };
    const readLine = (): number => {
      // Returns the index of the newline ending the line at `cur`.
      const nl = data.indexOf(10, cur);
      if (nl < 0) this.trunc("a newline-terminated argument", cur, end - cur + 1, opPos, op);
      return nl;
    };
    const needBytes = (n: number, what: "string" | "bytes"): void => {
      const max = what === "string" ? this.maxStr : this.maxBytes;
      if (n > max)
        throw new LimitError(what === "string" ? "maxStringLength" : "maxBytesLength", n, max, {
          offset: opPos,
          opcode: opcodeName(op),
        });
      if (cur + n > end) this.trunc(`a ${what} of ${n} bytes`, cur, n, opPos, op);
      this.account(n, opPos, op);
    };
    const str = (n: number): string => {
      needBytes(n, "string");
      const s = decodeUtf8(data, cur, cur + n);
      if (s === null)
        throw new InvalidValueError(`invalid UTF-8 in a string of ${n} bytes`, {
          offset: opPos,
          opcode: opcodeName(op),
        });
      cur += n;
      return s;
    };
    const bytes = (n: number): Uint8Array => {
      needBytes(n, "bytes");
      const b = data.slice(cur, cur + n);
      cur += n;
      return b;
    };
    const pyStr = (n: number): unknown => {
      // Python 2 str (STRING/BINSTRING/SHORT_BINSTRING) decoded per `encoding`.
      needBytes(n, "string");
      const enc = this.encoding;
      let v: unknown;
      if (enc === "bytes") v = data.slice(cur, cur + n);
      else if (enc === "utf-8") {
        const s = decodeUtf8(data, cur, cur + n);
        if (s === null)
          throw new InvalidValueError("invalid UTF-8 in a Python 2 str", {
            offset: opPos,
            opcode: opcodeName(op),
          });
        v = s;
      } else {
        if (enc === "ascii")
          for (let k = cur; k < cur + n; k++)
            if ((data[k] as number) >= 0x80)
              throw new InvalidValueError(
                `non-ASCII byte 0x${(data[k] as number).toString(16)} in a Python 2 str (set encoding)`,
                {
                  offset: opPos,
                  opcode: opcodeName(op),
                },
              );
        v = latin1(data, cur, cur + n);
      }
      cur += n;
      return v;
    };
    const len8 = (): number => {
      if (cur + 8 > end) this.trunc("an 8-byte length", cur, 8, opPos, op);
      const lo = view.getUint32(cur, true);
      const hi = view.getUint32(cur + 4, true);
      cur += 8;
      if (hi >= 0x200000)
        throw new LimitError("length", Number.MAX_SAFE_INTEGER, end - cur, {
          offset: opPos,
          opcode: opcodeName(op),
        });
      return hi * 0x100000000 + lo;
    };
    const float = (v: number): unknown => (preserve && Number.isInteger(v) ? new PyFloat(v) : v);
    const asciiLine = (): string => {
      const nl = readLine();
      const s = latin1(data, cur, nl);
      cur = nl + 1;
      return s;
    };
    const parseInt10 = (s: string, allowL: boolean): number | bigint => {
      let t = s.trim();
      if (allowL && t.endsWith("L")) t = t.slice(0, -1);
      if (!/^[+-]?\d+$/.test(t))
        throw new InvalidValueError(`invalid int literal ${JSON.stringify(s)}`, {
          offset: opPos,
          opcode: opcodeName(op),
        });
      const n = Number(t);
      return Number.isSafeInteger(n) ? n : BigInt(t);
    };
    const global = (module: unknown, name: unknown): void => {
      if (typeof module !== "string" || typeof name !== "string")
        throw new StackError("STACK_GLOBAL needs two str", { offset: opPos, opcode: opcodeName(op) });
      pushGlobal(module, name);
    };
    const nameLine = (): string => {
      const nl = readLine();
      const s = decodeUtf8(data, cur, nl);
      if (s === null)
        throw new InvalidValueError("invalid UTF-8 in a global name", {
          offset: opPos,
          opcode: opcodeName(op),
        });
      cur = nl + 1;
      return s;
    };
    // The MARK of ADDITEMS/APPENDS/SETITEMS, which needs the container just below it.
    const itemsMark = (opName: string, container: string): number => {
      const m = popMark();
      if (m === 0 || (marks.length && m <= (marks[marks.length - 1] as number)))
        throw new StackError(`${opName} without a ${container} below the MARK`, {
          offset: opPos,
          opcode: opName,
        });
      return m;
    };
    // A dict key or set member: refused when CPython could not hash it (list, dict, set…).
    const hashable = (key: unknown): unknown => {
      const t = unhashableType(key);
      if (t !== null)
        throw new InvalidValueError(`unhashable type: '${t}' used as a dict key or set member`, {
          offset: opPos,
          opcode: opcodeName(op),
        });
      return key;
    };
    const sliceToMark = (): unknown[] => {
      const m = popMark();
      const items = stack.slice(m);
      stack.length = m;
      return items;
    };

    // Rarely used opcodes live here, so that `pos` stays a register in the hot loop below.
    const cold = (): void => {
      switch (op) {
        case 0x70: {
          // PUT
          const idx = Number(parseInt10(asciiLine(), false));
          if (idx < 0 || Object.is(idx, -0))
            throw new InvalidValueError(`negative PUT argument ${idx}`, errorFields(opPos, op));
          memoPut(idx, peek());
          break;
        }
        case 0x67: {
          // GET
          const v = memoGet(Number(parseInt10(asciiLine(), false)));
          stack.push(idiomSeen ? pushed(v) : v);
          break;
        }
        case 0x6c: {
          // LIST
          const items = sliceToMark();
          this.account(8 * items.length, opPos, op);
          stack.push(items);
          break;
        }
        case 0x64: {
          // DICT
          const items = sliceToMark();
          if (items.length % 2)
            throw new StackError("DICT with an odd number of items", { offset: opPos, opcode: "DICT" });
          const d = new Map();
          for (let k = 0; k < items.length; k += 2) d.set(hashable(items[k]), items[k + 1]);
          this.account(8 * items.length, opPos, op);
          stack.push(d);
          break;
        }
        case 0x8f: // EMPTY_SET
          stack.push(new Set());
          break;
        case 0x90: {
          // ADDITEMS
          const m = itemsMark("ADDITEMS", "set");
          const target = stack[m - 1];
          const n = stack.length - m;
          if (target instanceof Set && !(target instanceof PyFrozenSet))
            for (let k = m; k < stack.length; k++) target.add(hashable(stack[k]));
          else if (target instanceof PyObject) {
            target.listItems ??= [];
            for (let k = m; k < stack.length; k++) target.listItems.push(stack[k]);
          } else
            throw new InvalidValueError(`ADDITEMS on a value that is not a set (${describe(target)})`, {
              offset: opPos,
              opcode: "ADDITEMS",
            });
          stack.length = m;
          this.account(8 * n, opPos, op);
          break;
        }
        case 0x91: {
          // FROZENSET
          const items = sliceToMark();
          this.account(8 * items.length, opPos, op);
          for (const x of items) hashable(x);
          stack.push(new PyFrozenSet(items));
          break;
        }
        case 0x8d: // BINUNICODE8
          stack.push(str(len8()));
          break;
        case 0x56: {
          // UNICODE
          const nl = readLine();
          needBytes(nl - cur, "string");
          const s = decodeRawUnicodeEscape(data, cur, nl);
          if (s === null)
            throw new InvalidValueError("malformed raw-unicode-escape string", {
              offset: opPos,
              opcode: "UNICODE",
            });
          cur = nl + 1;
          stack.push(s);
          break;
        }
        case 0x46: {
          // FLOAT
          const s = asciiLine().trim();
          if (!/^[+-]?((\d+\.?\d*|\.\d+)(e[+-]?\d+)?|inf(inity)?|nan)$/i.test(s))
            throw new InvalidValueError(`invalid float literal ${JSON.stringify(s)}`, {
              offset: opPos,
              opcode: "FLOAT",
            });
          const low = s.toLowerCase().replace(/^\+/, "");
          const v = /inf/.test(low)
            ? low.startsWith("-")
              ? -Infinity
              : Infinity
            : /nan/.test(low)
              ? Number.NaN
              : Number(s);
          stack.push(float(v));
          break;
        }
        case 0x49: {
          // INT
          const s = asciiLine();
          if (s === "00") stack.push(false);
          else if (s === "01") stack.push(true);
          else stack.push(parseInt10(s, false));
          break;
        }
        case 0x4c: // LONG
          stack.push(parseInt10(asciiLine(), true));
          break;
        case 0x8a: {
          // LONG1
          if (cur >= end) this.trunc("a 1-byte length", cur, 1, opPos, op);
          const n = data[cur++] as number;
          if (cur + n > end) this.trunc(`LONG1 of ${n} bytes`, cur, n, opPos, op);
          stack.push(decodeLong(data, cur, n));
          cur += n;
          break;
        }
        case 0x8b: {
          // LONG4
          if (cur + 4 > end) this.trunc("a 4-byte length", cur, 4, opPos, op);
          const n = view.getInt32(cur, true);
          cur += 4;
          if (n < 0)
            throw new InvalidValueError(`LONG4 with negative length ${n}`, {
              offset: opPos,
              opcode: "LONG4",
            });
          needBytes(n, "bytes");
          stack.push(decodeLong(data, cur, n));
          cur += n;
          break;
        }
        case 0x53: {
          // STRING
          const nl = readLine();
          let a = cur;
          let b = nl;
          const q = data[a];
          // As CPython: the whole line up to the newline must be quoted (no blank or CR stripped).
          if (b - a < 2 || (q !== 0x27 && q !== 0x22) || data[b - 1] !== q)
            throw new InvalidValueError("the STRING opcode argument must be quoted", {
              offset: opPos,
              opcode: "STRING",
            });
          a++;
          b--;
          const raw = escapeDecode(data, a, b);
          if (raw === null)
            throw new InvalidValueError("malformed escape in STRING", { offset: opPos, opcode: "STRING" });
          cur = nl + 1;
          stack.push(this.decodePy2(raw, opPos, op));
          break;
        }
        case 0x54: {
          // BINSTRING
          if (cur + 4 > end) this.trunc("a 4-byte length", cur, 4, opPos, op);
          const n = view.getInt32(cur, true);
          cur += 4;
          if (n < 0)
            throw new InvalidValueError(`BINSTRING with negative length ${n}`, {
              offset: opPos,
              opcode: "BINSTRING",
            });
          stack.push(pyStr(n));
          break;
        }
        case 0x55: {
          // SHORT_BINSTRING
          if (cur >= end) this.trunc("a 1-byte length", cur, 1, opPos, op);
          const n = data[cur++] as number;
          stack.push(pyStr(n));
          break;
        }
        case 0x8e: // BINBYTES8
          stack.push(bytes(len8()));
          break;
        case 0x96: {
          // BYTEARRAY8
          const n = len8();
          needBytes(n, "bytes");
          const b = new PyByteArray(n);
          b.set(data.subarray(cur, cur + n));
          cur += n;
          stack.push(b);
          break;
        }
        case 0x97: {
          // NEXT_BUFFER
          if (!this.buffers)
            throw new UnsupportedError("NEXT_BUFFER without the buffers option", {
              offset: opPos,
              opcode: "NEXT_BUFFER",
            });
          const r = this.buffers.next();
          if (r.done)
            throw new UnsupportedError("NEXT_BUFFER: not enough out-of-band buffers", {
              offset: opPos,
              opcode: "NEXT_BUFFER",
            });
          stack.push(r.value);
          break;
        }
        case 0x98: // READONLY_BUFFER
          peek();
          break;
        case 0x30: // POP
          if (marks.length && stack.length === (marks[marks.length - 1] as number)) marks.pop();
          else pop();
          break;
        case 0x31: // POP_MARK
          stack.length = popMark();
          break;
        case 0x32: {
          // DUP
          const v = peek();
          stack.push(idiomSeen ? pushed(v) : v);
          break;
        }
        case 0x63: {
          // GLOBAL
          const module = nameLine();
          const name = nameLine();
          pushGlobal(module, name);
          break;
        }
        case 0x93: {
          // STACK_GLOBAL
          const name = pop();
          const module = pop();
          global(module, name);
          break;
        }
        case 0x82:
        case 0x83:
        case 0x84: {
          // EXT1 / EXT2 / EXT4
          const w = op === 0x82 ? 1 : op === 0x83 ? 2 : 4;
          if (cur + w > end) this.trunc(opcodeName(op), cur, w, opPos, op);
          const code =
            w === 1 ? (data[cur] as number) : w === 2 ? view.getUint16(cur, true) : view.getInt32(cur, true);
          cur += w;
          const entry = this.extensions?.get(code);
          if (!entry)
            throw new UnsupportedError(`unregistered extension code ${code}`, {
              offset: opPos,
              opcode: opcodeName(op),
            });
          pushGlobal(entry[0], entry[1]);
          break;
        }
        case 0x52: {
          // REDUCE
          const args = pop();
          const func = pop();
          stack.push(
            func === GETATTR ? reduceGetattr(args) : this.call(func, args, "reduce", null, opPos, op),
          );
          break;
        }
        case 0x81: {
          // NEWOBJ
          const args = pop();
          const cls = pop();
          stack.push(this.call(cls, args, "newobj", null, opPos, op));
          break;
        }
        case 0x92: {
          // NEWOBJ_EX
          const kwargs = pop();
          const args = pop();
          const cls = pop();
          // CPython: the kwargs must be a dict (None included in the refusal)
          if (!(kwargs instanceof Map))
            throw new StackError("NEWOBJ_EX kwargs are not a dict", errorFields(opPos, op));
          stack.push(this.call(cls, args, "newobj_ex", kwargs, opPos, op));
          break;
        }
        case 0x62: {
          // BUILD
          const state = pop();
          const inst = pop();
          stack.push(this.build(inst, state, opPos, op));
          break;
        }
        case 0x69: {
          // INST
          const module = nameLine();
          const name = nameLine();
          const cls = this.findGlobal(module, name, opPos, op);
          const args = sliceToMark();
          stack.push(this.call(cls, toTuple(args), "inst", null, opPos, op));
          break;
        }
        case 0x6f: {
          // OBJ
          const items = sliceToMark();
          if (items.length === 0)
            throw new StackError("OBJ without a class after the MARK", { offset: opPos, opcode: "OBJ" });
          stack.push(this.call(items[0], toTuple(items.slice(1)), "obj", null, opPos, op));
          break;
        }
        case 0x50: {
          // PERSID
          const nl = readLine();
          const pid = latin1(data, cur, nl);
          cur = nl + 1;
          stack.push(this.persistent(pid, opPos, op));
          break;
        }
        case 0x51: // BINPERSID
          stack.push(this.persistent(pop(), opPos, op));
          break;
        // Appends and dict items come once per batch of 1,000 (or once per small container): here, so
        // that their first call sites do not deoptimize the main loop when first reached.
        case 0x61: {
          // APPEND
          const v = pop();
          const target = peek();
          if (Array.isArray(target) && !(target instanceof PyTuple)) target.push(v);
          else this.extend(target, [v], opPos, op);
          this.account(8, opPos, op);
          break;
        }
        case 0x65: {
          // APPENDS
          const m = itemsMark("APPENDS", "list");
          const target = stack[m - 1];
          const n = stack.length - m;
          if (Array.isArray(target) && !(target instanceof PyTuple)) {
            for (let k = 0; k < n; k++) target.push(stack[m + k]);
          } else this.extend(target, stack.slice(m), opPos, op);
          stack.length = m;
          this.account(8 * n, opPos, op);
          break;
        }
        case 0x73: {
          // SETITEM
          const v = pop();
          const k = pop();
          const target = peek();
          if (target instanceof Map) {
            const key = hashable(k);
            target.set(key, v);
            if (isPyFloatValue(v)) markFloatKey(target, key);
          } else this.setItems(target, [k, v], opPos, op);
          this.account(16, opPos, op);
          break;
        }
        case 0x75: {
          // SETITEMS
          const m = itemsMark("SETITEMS", "dict");
          const n = stack.length - m;
          if (n % 2)
            throw new StackError("SETITEMS with an odd number of items", {
              offset: opPos,
              opcode: "SETITEMS",
            });
          const target = stack[m - 1];
          if (target instanceof Map)
            for (let k = m; k < stack.length; k += 2) {
              const key = stack[k];
              const h = typeof key === "object" && key !== null ? hashable(key) : key;
              const v = stack[k + 1];
              target.set(h, v);
              if (isPyFloatValue(v)) markFloatKey(target, h);
            }
          else this.setItems(target, stack.slice(m), opPos, op);
          stack.length = m;
          this.account(8 * n, opPos, op);
          break;
        }
        case 0x2e: // STOP on an empty stack (the main loop handles the rest)
          pop();
          break;
        default:
          throw new InvalidOpcodeError(`invalid opcode 0x${op.toString(16).padStart(2, "0")}`, {
            offset: opPos,
            opcode: opcodeName(op),
          });
      }
    };

    // The current FRAME (protocol 4+): its opcode's offset and the offset just past its bytes.
    // Framing is checked as CPython's pure-Python `_Unframer` does (its C unpickler ignores it):
    // an opcode crossing the frame end, a FRAME in an unfinished frame, STOP before the end.
    let frameStart = -1;
    let frameEnd = NO_FRAME;
    for (;;) {
      if (pos >= frameEnd) {
        if (pos > frameEnd) throw frameViolation(opcodeName(op), opPos, pos, frameStart, frameEnd) as Error;
        frameEnd = NO_FRAME;
      }
      if (pos >= end) {
        if (pos === start) this.trunc("an opcode", pos, 1, pos, 0x2e);
        throw new TruncatedError(`truncated input: pickle ended at offset ${pos} without STOP`, 1, 0, {
          offset: pos,
          opcode: undefined,
        });
      }
      opPos = pos;
      op = data[pos++] as number;
      switch (op) {
        case 0x28: // MARK
          if (marks.length >= this.maxDepth)
            throw new LimitError("maxDepth", marks.length + 1, this.maxDepth, {
              offset: opPos,
              opcode: "MARK",
            });
          marks.push(stack.length);
          break;
        case 0x4b: // BININT1
          if (pos >= end) this.trunc("BININT1", pos, 1, opPos, op);
          stack.push(data[pos++]);
          break;
        case 0x4d: // BININT2
          if (pos + 2 > end) this.trunc("BININT2", pos, 2, opPos, op);
          stack.push(view.getUint16(pos, true));
          pos += 2;
          break;
        case 0x4a: // BININT
          if (pos + 4 > end) this.trunc("BININT", pos, 4, opPos, op);
          stack.push(view.getInt32(pos, true));
          pos += 4;
          break;
        case 0x71: {
          // BINPUT
          if (pos >= end) this.trunc("BINPUT", pos, 1, opPos, op);
          const idx = data[pos++] as number;
          const top = marks.length ? (marks[marks.length - 1] as number) : 0;
          if (stack.length <= top)
            throw new StackError("BINPUT with an empty stack", { offset: opPos, opcode: "BINPUT" });
          if (idx === memo.length && sparse === null && idx < maxMemo)
            memo.push(keep(idx, stack[stack.length - 1]));
          else memoPut(idx, stack[stack.length - 1]);
          break;
        }
        case 0x72: {
          // LONG_BINPUT
          if (pos + 4 > end) this.trunc("LONG_BINPUT", pos, 4, opPos, op);
          const idx = view.getUint32(pos, true);
          pos += 4;
          if (idx === memo.length && sparse === null && idx < maxMemo) {
            const top = marks.length ? (marks[marks.length - 1] as number) : 0;
            if (stack.length <= top)
              throw new StackError("LONG_BINPUT with an empty stack", {
                offset: opPos,
                opcode: "LONG_BINPUT",
              });
            memo.push(keep(idx, stack[stack.length - 1]));
          } else memoPut(idx, peek());
          break;
        }
        case 0x94: // MEMOIZE
          memoPut(memo.length + (sparse === null ? 0 : sparse.size), peek());
          break;
        case 0x68: {
          // BINGET
          if (pos >= end) this.trunc("BINGET", pos, 1, opPos, op);
          const idx = data[pos++] as number;
          const v = idx < memo.length ? memo[idx] : DROPPED;
          const got = v === DROPPED ? memoGet(idx) : v;
          stack.push(idiomSeen ? pushed(got) : got);
          break;
        }
        case 0x6a: {
          // LONG_BINGET
          if (pos + 4 > end) this.trunc("LONG_BINGET", pos, 4, opPos, op);
          const idx = view.getUint32(pos, true);
          pos += 4;
          const v = idx < memo.length ? memo[idx] : DROPPED;
          const got = v === DROPPED ? memoGet(idx) : v;
          stack.push(idiomSeen ? pushed(got) : got);
          break;
        }
        case 0x85:
        case 0x86:
        case 0x87: {
          // TUPLE1 / TUPLE2 / TUPLE3: replace the top n items by a tuple, in place.
          const n = op - 0x84;
          const len = stack.length;
          const floor = marks.length ? (marks[marks.length - 1] as number) : 0;
          if (len - n < floor)
            throw new StackError(`${opcodeName(op)} needs ${n} items above the MARK, found ${len - floor}`, {
              offset: opPos,
              opcode: opcodeName(op),
            });
          let t: PyTuple;
          if (n === 3) {
            const c = stack.pop();
            const b = stack.pop();
            t = asTuple([stack[len - 3], b, c]);
          } else if (n === 2) {
            const b = stack.pop();
            t = asTuple([stack[len - 2], b]);
          } else t = asTuple([stack[len - 1]]);
          stack[len - n] = t;
          this.alloc += 8 * n;
          break;
        }
        case 0x29: // EMPTY_TUPLE: one shared frozen tuple, as CPython's `()` is a singleton
          stack.push(EMPTY_TUPLE);
          break;
        case 0x74: {
          // TUPLE
          const m = marks.pop();
          if (m === undefined) throw new StackError("no MARK on the stack", errorFields(opPos, op));
          const n = stack.length - m;
          const t = n === 0 ? EMPTY_TUPLE : asTuple(stack.slice(m));
          stack.length = m;
          this.alloc += 8 * n;
          if (this.alloc > this.maxAlloc) this.account(0, opPos, op);
          stack.push(t);
          break;
        }
        case 0x51: {
          // BINPERSID (one per tensor)
          const floor = marks.length ? (marks[marks.length - 1] as number) : 0;
          if (stack.length <= floor) {
            cur = pos;
            cold(); // throws the stack error
          }
          const pid = stack[stack.length - 1];
          stack[stack.length - 1] = this.persistent(pid, opPos, op);
          break;
        }
        case 0x52: {
          // REDUCE
          const floor = marks.length ? (marks[marks.length - 1] as number) : 0;
          if (stack.length - 2 < floor) {
            cur = pos;
            cold(); // throws the stack error
          }
          const args = stack.pop();
          const func = stack.pop();
          stack.push(
            func === GETATTR ? reduceGetattr(args) : this.call(func, args, "reduce", null, opPos, op),
          );
          break;
        }
        case 0x5d: // EMPTY_LIST
          stack.push([]);
          break;
        case 0x7d: // EMPTY_DICT
          stack.push(new Map());
          break;
        case 0x4e: // NONE
          stack.push(null);
          break;
        case 0x88: // NEWTRUE
          stack.push(true);
          break;
        case 0x89: // NEWFALSE
          stack.push(false);
          break;
        case 0x58: {
          // BINUNICODE
          if (pos + 4 > end) this.trunc("a 4-byte length", pos, 4, opPos, op);
          const n = view.getUint32(pos, true);
          pos += 4;
          cur = pos;
          stack.push(str(n));
          pos = cur;
          break;
        }
        case 0x8c: {
          // SHORT_BINUNICODE
          if (pos >= end) this.trunc("a 1-byte length", pos, 1, opPos, op);
          const n = data[pos++] as number;
          cur = pos;
          stack.push(str(n));
          pos = cur;
          break;
        }
        case 0x47: // BINFLOAT
          if (pos + 8 > end) this.trunc("BINFLOAT", pos, 8, opPos, op);
          stack.push(float(view.getFloat64(pos, false)));
          pos += 8;
          break;
        case 0x42: {
          // BINBYTES
          if (pos + 4 > end) this.trunc("a 4-byte length", pos, 4, opPos, op);
          const n = view.getUint32(pos, true);
          pos += 4;
          cur = pos;
          stack.push(bytes(n));
          pos = cur;
          break;
        }
        case 0x43: {
          // SHORT_BINBYTES
          if (pos >= end) this.trunc("a 1-byte length", pos, 1, opPos, op);
          const n = data[pos++] as number;
          cur = pos;
          stack.push(bytes(n));
          pos = cur;
          break;
        }
        case 0x80: {
          // PROTO
          if (pos >= end) this.trunc("PROTO", pos, 1, opPos, op);
          const p = data[pos++] as number;
          if (p > 5)
            throw new InvalidValueError(`unsupported pickle protocol ${p}`, {
              offset: opPos,
              opcode: "PROTO",
            });
          break;
        }
        case 0x95: {
          // FRAME
          if (frameEnd !== NO_FRAME)
            throw frameViolation("FRAME", opPos, opPos + 1, frameStart, frameEnd) as Error;
          cur = pos;
          const n = len8();
          pos = cur;
          if (pos + n > end) this.trunc(`a frame of ${n} bytes`, pos, n, opPos, op);
          frameStart = opPos;
          frameEnd = pos + n;
          break;
        }
        case 0x2e: {
          // STOP (no call here: a call site first reached at the very end would deoptimize the loop)
          if (frameEnd !== NO_FRAME && pos !== frameEnd)
            throw frameViolation("STOP", opPos, pos, frameStart, frameEnd) as Error;
          const floor = marks.length ? (marks[marks.length - 1] as number) : 0;
          if (stack.length <= floor) {
            cur = pos;
            cold(); // throws the stack error
          }
          if (idiomSeen && idiomOpen !== 0)
            throw new UnsafeGlobalError({
              module: "builtins",
              name: "getattr",
              dangerous: true,
              ...errorFields(opPos, op),
            });
          return { value: stack[stack.length - 1], end: pos };
        }
        default:
          cur = pos;
          cold();
          pos = cur;
      }
    }
  }

  private decodePy2(raw: Uint8Array, opPos: number, op: number): unknown {
    const enc = this.encoding;
    if (enc === "bytes") return raw;
    if (enc === "utf-8") {
      const s = decodeUtf8(raw, 0, raw.length);
      if (s === null)
        throw new InvalidValueError("invalid UTF-8 in a Python 2 str", {
          offset: opPos,
          opcode: opcodeName(op),
        });
      return s;
    }
    if (enc === "ascii" && raw.some((b) => b >= 0x80))
      throw new InvalidValueError("non-ASCII byte in a Python 2 str (set encoding)", {
        offset: opPos,
        opcode: opcodeName(op),
      });
    return latin1(raw, 0, raw.length);
  }

  private persistent(pid: unknown, opPos: number, op: number): unknown {
    const load = this.persistentLoad;
    if (!load)
      throw new UnsupportedError("persistent id found but no persistentLoad option", {
        offset: opPos,
        opcode: opcodeName(op),
      });
    const ctx = this.ctx(opPos, op);
    try {
      return load(pid, ctx);
    } catch (e) {
      this.hookFailed("persistentLoad", opPos, op, e);
    }
  }

  private extend(target: unknown, items: unknown[], opPos: number, op: number): void {
    if (target instanceof PyObject) {
      target.listItems ??= [];
      for (const v of items) target.listItems.push(v);
      return;
    }
    if (
      typeof target === "object" &&
      target !== null &&
      typeof (target as Record<symbol, unknown>)[EXTEND] === "function"
    ) {
      const ctx = this.ctx(opPos, op);
      this.hook("EXTEND hook", opPos, op, () =>
        (target as { [EXTEND]: (i: unknown[], c: HookContext) => void })[EXTEND](items, ctx),
      );
      return;
    }
    throw new InvalidValueError(`${opcodeName(op)} on a value that is not a list (${describe(target)})`, {
      offset: opPos,
      opcode: opcodeName(op),
    });
  }

  private setItems(target: unknown, kv: unknown[], opPos: number, op: number): void {
    if (target instanceof PyObject) {
      target.dictItems ??= [];
      for (let k = 0; k < kv.length; k += 2) target.dictItems.push([kv[k], kv[k + 1]]);
      return;
    }
    if (
      typeof target === "object" &&
      target !== null &&
      typeof (target as Record<symbol, unknown>)[SETITEM] === "function"
    ) {
      const ctx = this.ctx(opPos, op);
      const f = target as { [SETITEM]: (k: unknown, v: unknown, c: HookContext) => void };
      this.hook("SETITEM hook", opPos, op, () => {
        for (let k = 0; k < kv.length; k += 2) f[SETITEM](kv[k], kv[k + 1], ctx);
      });
      return;
    }
    throw new InvalidValueError(`${opcodeName(op)} on a value that is not a dict (${describe(target)})`, {
      offset: opPos,
      opcode: opcodeName(op),
    });
  }
}

/** `frameEnd` when no FRAME is open. */
const NO_FRAME = Number.MAX_SAFE_INTEGER;

/** What the memo holds in a slot that no GET reads (see `scanMemoReads`). */
const DROPPED: unique symbol = Symbol("dropped memo value");
const MISSING: unique symbol = Symbol("missing memo value");

/** The empty tuple, shared (frozen) like CPython's `()`. */
const EMPTY_TUPLE: PyTuple = Object.freeze(asTuple([]));

/** Error fields of the opcode at `opPos` (built only when throwing). */
function errorFields(opPos: number, op: number): { offset: number; opcode: string } {
  return { offset: opPos, opcode: opcodeName(op) };
}

function toTuple(items: unknown[]): PyTuple {
  return asTuple(items.slice());
}

/** Decode a little-endian two's-complement integer of `n` bytes (LONG1/LONG4). */
export function decodeLong(data: Uint8Array, pos: number, n: number): number | bigint {
  if (n === 0) return 0;
  if (n <= 6) {
    let v = 0;
    for (let k = n - 1; k >= 0; k--) v = v * 256 + (data[pos + k] as number);
    if ((data[pos + n - 1] as number) & 0x80) v -= 2 ** (8 * n);
    return v;
  }
  let hex = "";
  for (let k = n - 1; k >= 0; k--) hex += (data[pos + k] as number).toString(16).padStart(2, "0");
  let v = BigInt(`0x${hex}`);
  if ((data[pos + n - 1] as number) & 0x80) v -= 1n << BigInt(8 * n);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function describe(v: unknown): string {
  if (v === null) return "None";
  if (v instanceof PyGlobal) return v.qualifiedName;
  if (v instanceof PyTuple) return "tuple";
  if (Array.isArray(v)) return "list";
  if (v instanceof Map) return "dict";
  if (typeof v === "object") return (v as object).constructor?.name ?? "object";
  return typeof v;
}

/**
 * Unpickle one value from `data` (starting at `options.offset`, default 0). Trailing bytes after
 * STOP are ignored; use `loadsWithOffset` or `Unpickler` to read concatenated pickles.
 */
export function loads(data: Uint8Array, options: LoadOptions = {}): unknown {
  return new Unpickler(data, options).load();
}

/** Like `loads`, also returning `end`, the offset just after the pickle's STOP. */
export function loadsWithOffset(
  data: Uint8Array,
  options: LoadOptions = {},
): { value: unknown; end: number } {
  const u = new Unpickler(data, options);
  const value = u.load();
  return { value, end: u.position };
}
