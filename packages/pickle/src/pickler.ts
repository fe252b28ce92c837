/**
 * The pickler: protocols 0-5, written the way CPython's C pickler (`_pickle.c`) writes, so that
 * for the same value graph the bytes are identical (memo numbering, integer opcodes, batching,
 * tuple opcodes, Python 2 names below protocol 3, framing at protocol 4+).
 */
import { PY3_TO_PY2_MODULES, PY3_TO_PY2_NAMES } from "./allowlist.js";
import { LimitError, UnpicklableError } from "./errors.js";
import { GLOBAL_NAME, REDUCE, type Reduction } from "./hooks.js";
import { DEFAULT_PROTOCOL, HIGHEST_PROTOCOL } from "./opcodes.js";
import { encodeRawUnicodeEscape, encodeUtf8, isAscii, reprFloat } from "./text.js";
import {
  floatKeysOf,
  PyByteArray,
  PyComplex,
  PyFloat,
  PyFrozenSet,
  PyGlobal,
  PyObject,
  PyOrderedDict,
  PySlice,
  PyStr,
  PyTuple,
  tuple,
} from "./values.js";

/** Options of `dumps` and `Pickler`. Every field is optional; defaults are stated. */
export interface PicklerOptions {
  /** Pickle protocol 0-5. Default 2 (what PyTorch writes). */
  protocol: number;
  /** Called for every value; a result other than `undefined`/`null` is written as a persistent id instead (BINPERSID, or PERSID with a str at protocol 0). Default: none. */
  persistentId: (value: unknown) => unknown;
  /** Reducers by constructor, consulted before the built-in types: `value.constructor` → `Reduction`. Default: none. */
  reducers: ReadonlyMap<unknown, (value: never) => Reduction>;
  /** `[module, name]` → extension code, written as EXT1/EXT2/EXT4 at protocol ≥ 2 (Python's `copyreg._extension_registry`). Default: none. */
  extensionRegistry: ReadonlyMap<number, readonly [string, string]>;
  /** Write Python 2 module names (`__builtin__`, `copy_reg`) below protocol 3, like CPython's `fix_imports`. Default true. */
  fixImports: boolean;
  /** Maximum nesting depth of the value graph. Default 2 000. */
  maxDepth: number;
  /**
   * Called for every global the pickle names (classes, functions, `GLOBAL_NAME` values, reduction
   * functions): return `[module, name]` to write that name instead, or `undefined`/`null` to keep it
   * (e.g. to write the names an older library version knows). Applied before memoization and
   * before `fixImports` and the extension registry, so two globals renamed to one name are written
   * once, as CPython writes one object. Default: none.
   */
  renameGlobal: (module: string, name: string) => readonly [string, string] | undefined | null;
}

/** The options object accepted by `dumps` and `new Pickler`. */
export type DumpOptions = Readonly<Partial<PicklerOptions>>;

const FRAME_SIZE_TARGET = 64 * 1024;
const FRAME_SIZE_MIN = 4;
const BATCHSIZE = 1000;

/** A global reference written by the pickler's own reductions. */
function g(module: string, name: string): PyGlobal {
  return new PyGlobal(module, name);
}

/**
 * Writes values as pickles. `dump(value)` returns one complete pickle; each call starts with an
 * empty memo (like a fresh CPython `Pickler`).
 */
export class Pickler {
  readonly protocol: number;
  private readonly persistentId: PicklerOptions["persistentId"] | undefined;
  private readonly reducers: PicklerOptions["reducers"] | undefined;
  private readonly extCodes: Map<string, number>;
  private readonly fixImports: boolean;
  private readonly maxDepth: number;
  private readonly renameGlobal: PicklerOptions["renameGlobal"] | undefined;
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  private len = 0;
  private framing = false;
  private frameStart = -1;
  private memoObj = new Map<object, number>();
  private memoStr = new Map<string, number>();
  /** Memo indices of globals, by module then name (no key string built per lookup). */
  private memoGlobal = new Map<string, Map<string, number>>();
  private memoCount = 0;
  private depth = 0;

  constructor(options: DumpOptions = {}) {
    const p = options.protocol ?? DEFAULT_PROTOCOL;
    if (!Number.isInteger(p) || p < -1 || p > HIGHEST_PROTOCOL)
      throw new UnpicklableError(`unsupported protocol ${p} (0-${HIGHEST_PROTOCOL}, or -1 for the highest)`);
    this.protocol = p === -1 ? HIGHEST_PROTOCOL : p;
    this.persistentId = options.persistentId;
    this.reducers = options.reducers;
    this.extCodes = new Map();
    for (const [code, [m, n]] of options.extensionRegistry ?? []) this.extCodes.set(`${m}\n${n}`, code);
    this.fixImports = options.fixImports ?? true;
    this.maxDepth = options.maxDepth ?? 2000;
    this.renameGlobal = options.renameGlobal;
  }

  /** Pickle `value` and return the bytes. */
  dump(value: unknown): Uint8Array {
    this.len = 0;
    this.frameStart = -1;
    this.framing = false;
    this.memoObj = new Map();
    this.memoStr = new Map();
    this.memoGlobal = new Map();
    this.memoCount = 0;
    this.depth = 0;
    try {
      if (this.protocol >= 2) this.write2(0x80, this.protocol);
      if (this.protocol >= 4) this.framing = true;
      this.save(value, true);
      this.write1(0x2e);
      this.commitFrame();
      return this.buf.slice(0, this.len);
    } catch (e) {
      if (e instanceof RangeError && /call stack/i.test(e.message))
        throw new LimitError("maxDepth", this.depth, this.maxDepth, { cause: e });
      throw e;
    } finally {
      this.memoObj = new Map();
      this.memoStr = new Map();
      this.memoGlobal = new Map();
    }
  }

  // ---- output -------------------------------------------------------------

  private reserve(n: number): void {
    if (this.frameStart === -1 && this.framing) {
      this.frameStart = this.len;
      this.ensure(9 + n);
      this.len += 9;
      return;
    }
    this.ensure(n);
  }

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(this.buf.subarray(0, this.len));
    this.buf = nb;
    this.view = new DataView(nb.buffer);
  }

  private write1(a: number): void {
    this.reserve(1);
    this.buf[this.len++] = a;
  }
  private write2(a: number, b: number): void {
    this.reserve(2);
    this.buf[this.len++] = a;
    this.buf[this.len++] = b;
  }
  private writeBytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  private writeAscii(s: string): void {
    this.reserve(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.len++] = s.charCodeAt(i) & 0xff;
  }
  private writeU32(op: number, v: number): void {
    this.reserve(5);
    this.buf[this.len] = op;
    this.view.setUint32(this.len + 1, v, true);
    this.len += 5;
  }
  private writeU64(v: number): void {
    this.reserve(8);
    this.view.setUint32(this.len, v % 0x100000000, true);
    this.view.setUint32(this.len + 4, Math.floor(v / 0x100000000), true);
    this.len += 8;
  }

  /** Header + payload; payloads of 64 KiB or more go outside any frame, as CPython writes them. */
  private writeWithPayload(header: () => void, payload: Uint8Array): void {
    if (this.framing && payload.length >= FRAME_SIZE_TARGET) {
      this.commitFrame();
      this.framing = false;
      header();
      this.writeBytes(payload);
      this.framing = true;
      return;
    }
    header();
    this.writeBytes(payload);
  }

  private commitFrame(): void {
    if (this.frameStart === -1) return;
    const start = this.frameStart;
    const frameLen = this.len - start - 9;
    if (frameLen >= FRAME_SIZE_MIN) {
      this.buf[start] = 0x95;
      this.view.setUint32(start + 1, frameLen % 0x100000000, true);
      this.view.setUint32(start + 5, Math.floor(frameLen / 0x100000000), true);
    } else {
      this.buf.copyWithin(start, start + 9, this.len);
      this.len -= 9;
    }
    this.frameStart = -1;
  }

  private boundary(): void {
    if (this.frameStart !== -1 && this.len - this.frameStart - 9 >= FRAME_SIZE_TARGET) this.commitFrame();
  }

  // ---- memo ---------------------------------------------------------------

  private memoize(): number {
    const idx = this.memoCount++;
    if (this.protocol >= 4) this.write1(0x94);
    else if (this.protocol >= 1) {
      if (idx < 256) this.write2(0x71, idx);
      else this.writeU32(0x72, idx);
    } else this.writeAscii(`p${idx}\n`);
    return idx;
  }

  private get(idx: number): void {
    if (this.protocol >= 1) {
      if (idx < 256) this.write2(0x68, idx);
      else this.writeU32(0x6a, idx);
    } else this.writeAscii(`g${idx}\n`);
  }

  // ---- dispatch -----------------------------------------------------------

  private save(v: unknown, pers: boolean): void {
    if (++this.depth > this.maxDepth) throw new LimitError("maxDepth", this.depth, this.maxDepth, {});
    if (this.frameStart !== -1) this.boundary();
    // no try/finally: an error ends the dump, and `dump()` resets the depth before the next one
    this.saveInner(v, pers);
    this.depth--;
  }

  private saveInner(v: unknown, pers: boolean): void {
    if (pers && this.persistentId) {
      const pid = this.persistentId(v);
      if (pid !== undefined && pid !== null) {
        this.savePers(pid);
        return;
      }
    }
    switch (typeof v) {
      case "number":
        if (Number.isInteger(v)) {
          if (Number.isSafeInteger(v)) this.saveInt(v);
          else this.saveBigInt(BigInt(v));
        } else this.saveFloat(v);
        return;
      case "boolean":
        if (this.protocol >= 2) this.write1(v ? 0x88 : 0x89);
        else this.writeAscii(v ? "I01\n" : "I00\n");
        return;
      case "string": {
        const idx = this.memoStr.get(v);
        if (idx !== undefined) this.get(idx);
        else {
          this.saveStr(v);
          this.memoStr.set(v, this.memoize());
        }
        return;
      }
      case "bigint":
        if (v >= -0x80000000n && v <= 0x7fffffffn) this.saveInt(Number(v));
        else this.saveBigInt(v);
        return;
      case "object":
        break;
      default:
        throw new UnpicklableError(`cannot pickle a JS ${typeof v}`);
    }
    if (v === null) {
      this.write1(0x4e);
      return;
    }
    if (v instanceof PyFloat) {
      this.saveFloat(v.value);
      return;
    }
    const memoIdx = this.memoObj.get(v);
    if (memoIdx !== undefined) {
      this.get(memoIdx);
      return;
    }
    // exact tuples and lists (most objects of a torch pickle) skip the lookups below, unless a
    // reducer is registered for their very class
    const ctor = (v as object).constructor;
    if ((ctor === PyTuple || ctor === Array) && (this.reducers === undefined || !this.reducers.has(ctor))) {
      if (ctor === PyTuple) this.saveTuple(v as PyTuple);
      else this.saveList(v as unknown[]);
      return;
    }
    if (v instanceof PyStr) {
      this.saveStr(v.value);
      this.memoObj.set(v, this.memoize());
      return;
    }
    if (v instanceof PyGlobal) {
      this.saveGlobal(v.module, v.name);
      return;
    }
    const named = (v as { [GLOBAL_NAME]?: { module: string; name: string } })[GLOBAL_NAME];
    if (named !== undefined) {
      this.saveGlobal(named.module, named.name);
      return;
    }
    const reducer = this.reducers?.get((v as object).constructor);
    if (reducer !== undefined) {
      this.saveReduction((reducer as (x: unknown) => Reduction)(v), v);
      return;
    }
    const red = (v as { [REDUCE]?: () => Reduction })[REDUCE];
    if (typeof red === "function") {
      this.saveReduction(red.call(v), v);
      return;
    }
    if (v instanceof PyTuple) {
      this.saveTuple(v);
      return;
    }
    if (Array.isArray(v)) {
      this.saveList(v);
      return;
    }
    if (v instanceof PyByteArray) {
      this.saveByteArray(v);
      return;
    }
    if (v instanceof Uint8Array) {
      this.saveBytes(v);
      return;
    }
    if (v instanceof PyOrderedDict) {
      const attrs = v.attributes && v.attributes.size > 0 ? new Map(v.attributes) : undefined;
      this.saveReduce(
        g("collections", "OrderedDict"),
        tuple(),
        "reduce",
        null,
        attrs,
        undefined,
        v.entries(),
        v,
      );
      return;
    }
    if (v instanceof Map) {
      this.saveDict(v);
      return;
    }
    if (v instanceof PyFrozenSet) {
      this.saveFrozenSet(v);
      return;
    }
    if (v instanceof Set) {
      this.saveSet(v);
      return;
    }
    if (v instanceof PyComplex) {
      this.saveCall(g("builtins", "complex"), tuple([new PyFloat(v.re), new PyFloat(v.im)]), v);
      return;
    }
    if (v instanceof PySlice) {
      this.saveCall(g("builtins", "slice"), tuple([v.start, v.stop, v.step]), v);
      return;
    }
    if (v instanceof PyObject) {
      this.saveObject(v);
      return;
    }
    throw new UnpicklableError(
      `cannot pickle ${(v as object).constructor?.name ?? "object"} (no reducer registered)`,
    );
  }

  private savePers(pid: unknown): void {
    if (this.protocol >= 1) {
      this.save(pid, false);
      this.write1(0x51);
      return;
    }
    if (typeof pid !== "string" || /[\n]/.test(pid) || /[^\x20-\x7e]/.test(pid))
      throw new UnpicklableError("persistent id at protocol 0 must be a printable ASCII str");
    this.writeAscii(`P${pid}\n`);
  }

  private saveInt(n: number): void {
    if (n >= -0x80000000 && n <= 0x7fffffff) {
      if (this.protocol >= 1) {
        if (n >= 0 && n <= 0xff) this.write2(0x4b, n);
        else if (n >= 0 && n <= 0xffff) {
          this.reserve(3);
          this.buf[this.len] = 0x4d;
          this.view.setUint16(this.len + 1, n, true);
          this.len += 3;
        } else {
          this.reserve(5);
          this.buf[this.len] = 0x4a;
          this.view.setInt32(this.len + 1, n, true);
          this.len += 5;
        }
      } else this.writeAscii(`I${n}\n`);
      return;
    }
    this.saveBigInt(BigInt(n));
  }

  private saveBigInt(v: bigint): void {
    if (this.protocol < 2) {
      this.writeAscii(`L${v.toString()}L\n`);
      return;
    }
    const bytes = encodeLong(v);
    if (bytes.length < 256) {
      this.write2(0x8a, bytes.length);
      this.writeBytes(bytes);
    } else {
      this.writeU32(0x8b, bytes.length);
      this.writeBytes(bytes);
    }
  }

  private saveFloat(x: number): void {
    if (this.protocol >= 1) {
      this.reserve(9);
      this.buf[this.len] = 0x47;
      this.view.setFloat64(this.len + 1, x, false);
      this.len += 9;
    } else this.writeAscii(`F${reprFloat(x)}\n`);
  }

  private saveStr(s: string): void {
    if (this.protocol === 0) {
      this.write1(0x56);
      this.writeBytes(encodeRawUnicodeEscape(s));
      this.write1(0x0a);
      return;
    }
    const len = s.length;
    if (len < FRAME_SIZE_TARGET && isAscii(s)) {
      // ASCII (nearly every str of a checkpoint): its bytes are its char codes, written straight
      // into the output (no payload array per str); too short to matter for framing
      if (len <= 0xff && this.protocol >= 4) this.write2(0x8c, len);
      else this.writeU32(0x58, len);
      this.reserve(len);
      const buf = this.buf;
      const at = this.len;
      for (let i = 0; i < len; i++) buf[at + i] = s.charCodeAt(i);
      this.len = at + len;
      return;
    }
    const b = encodeUtf8(s);
    const n = b.length;
    this.writeWithPayload(() => {
      if (n <= 0xff && this.protocol >= 4) this.write2(0x8c, n);
      else if (n > 0xffffffff && this.protocol >= 4) {
        this.write1(0x8d);
        this.writeU64(n);
      } else this.writeU32(0x58, n);
    }, b);
  }

  private saveBytes(b: Uint8Array): void {
    if (this.protocol < 3) {
      if (b.length === 0) this.saveCall(g("builtins", "bytes"), tuple(), b);
      else {
        let s = "";
        for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i] as number);
        // CPython decodes to a new str each time (shared only for 1-char strs, which are cached
        // singletons); the "latin1" constant is one shared object.
        const data = b.length === 1 ? s : new PyStr(s);
        this.saveCall(g("_codecs", "encode"), tuple([data, "latin1"]), b);
      }
      return;
    }
    const n = b.length;
    this.writeWithPayload(() => {
      if (n < 256) this.write2(0x43, n);
      else if (n > 0xffffffff && this.protocol >= 4) {
        this.write1(0x8e);
        this.writeU64(n);
      } else this.writeU32(0x42, n);
    }, b);
    this.memoObj.set(b, this.memoize());
  }

  private saveByteArray(b: PyByteArray): void {
    if (this.protocol < 5) {
      const args = b.length === 0 ? tuple() : tuple([new Uint8Array(b)]);
      this.saveCall(g("builtins", "bytearray"), args, b);
      return;
    }
    this.writeWithPayload(() => {
      this.write1(0x96);
      this.writeU64(b.length);
    }, b);
    this.memoObj.set(b, this.memoize());
  }

  private saveTuple(t: PyTuple): void {
    const n = t.length;
    if (n === 0) {
      if (this.protocol >= 1) this.write1(0x29);
      else this.writeAscii("(t");
      return;
    }
    if (n <= 3 && this.protocol >= 2) {
      for (let i = 0; i < n; i++) this.save(t[i], true);
      const idx = this.memoObj.get(t);
      if (idx !== undefined) {
        // Recursive tuple: drop the items and fetch the tuple built meanwhile.
        for (let i = 0; i < n; i++) this.write1(0x30);
        this.get(idx);
        return;
      }
      this.write1(0x84 + n);
    } else {
      this.write1(0x28);
      for (let i = 0; i < n; i++) this.save(t[i], true);
      const idx = this.memoObj.get(t);
      if (idx !== undefined) {
        if (this.protocol >= 1) this.write1(0x31);
        else for (let i = 0; i <= n; i++) this.write1(0x30);
        this.get(idx);
        return;
      }
      this.write1(0x74);
    }
    this.memoObj.set(t, this.memoize());
  }

  private saveList(a: unknown[]): void {
    if (this.protocol >= 1) this.write1(0x5d);
    else this.writeAscii("(l");
    this.memoObj.set(a, this.memoize());
    const n = a.length;
    if (n === 0) return;
    if (this.protocol === 0) {
      for (let i = 0; i < n; i++) {
        this.save(a[i], true);
        this.write1(0x61);
      }
      return;
    }
    if (n === 1) {
      this.save(a[0], true);
      this.write1(0x61);
      return;
    }
    let total = 0;
    do {
      this.write1(0x28);
      let batch = 0;
      while (total < a.length) {
        this.save(a[total], true);
        total++;
        if (++batch === BATCHSIZE) break;
      }
      this.write1(0x65);
    } while (total < a.length);
  }

  /** A dict value: an integral number under a key that held a float when loaded stays a float. */
  private saveDictValue(floats: ReadonlySet<unknown> | undefined, k: unknown, v: unknown): void {
    if (floats !== undefined && typeof v === "number" && Number.isInteger(v) && floats.has(k))
      this.saveFloat(v);
    else this.save(v, true);
  }

  private saveDict(d: Map<unknown, unknown>): void {
    if (this.protocol >= 1) this.write1(0x7d);
    else this.writeAscii("(d");
    this.memoObj.set(d, this.memoize());
    const n = d.size;
    if (n === 0) return;
    const floats = floatKeysOf(d);
    if (this.protocol === 0) {
      for (const [k, v] of d) {
        this.save(k, true);
        this.saveDictValue(floats, k, v);
        this.write1(0x73);
      }
      return;
    }
    if (n === 1) {
      for (const [k, v] of d) {
        this.save(k, true);
        this.saveDictValue(floats, k, v);
      }
      this.write1(0x73);
      return;
    }
    const it = d.entries();
    let i: number;
    do {
      i = 0;
      this.write1(0x28);
      for (let r = it.next(); !r.done; r = it.next()) {
        this.save(r.value[0], true);
        this.saveDictValue(floats, r.value[0], r.value[1]);
        if (++i === BATCHSIZE) break;
      }
      this.write1(0x75);
    } while (i === BATCHSIZE);
  }

  private saveSet(s: Set<unknown>): void {
    if (this.protocol < 4) {
      this.saveCall(g("builtins", "set"), tuple([Array.from(s)]), s);
      return;
    }
    this.write1(0x8f);
    this.memoObj.set(s, this.memoize());
    if (s.size === 0) return;
    const it = s.values();
    let i: number;
    do {
      i = 0;
      this.write1(0x28);
      for (let r = it.next(); !r.done; r = it.next()) {
        this.save(r.value, true);
        if (++i === BATCHSIZE) break;
      }
      this.write1(0x90);
    } while (i === BATCHSIZE);
  }

  private saveFrozenSet(s: PyFrozenSet): void {
    if (this.protocol < 4) {
      this.saveCall(g("builtins", "frozenset"), tuple([Array.from(s)]), s);
      return;
    }
    this.write1(0x28);
    for (const x of s) this.save(x, true);
    const idx = this.memoObj.get(s);
    if (idx !== undefined) {
      this.write1(0x31);
      this.get(idx);
      return;
    }
    this.write1(0x91);
    this.memoObj.set(s, this.memoize());
  }

  private saveGlobal(givenModule: string, givenName: string): void {
    let module = givenModule;
    let name = givenName;
    if (this.renameGlobal) {
      const renamed = this.renameGlobal(module, name);
      if (renamed) {
        const [m, n] = renamed;
        if (typeof m !== "string" || typeof n !== "string" || m === "" || n === "")
          throw new UnpicklableError(
            `renameGlobal(${JSON.stringify(module)}, ${JSON.stringify(name)}) must return [module, name] strings`,
          );
        module = m;
        name = n;
      }
    }
    let byName = this.memoGlobal.get(module);
    const idx = byName?.get(name);
    if (idx !== undefined) {
      this.get(idx);
      return;
    }
    const key = `${module}\n${name}`;
    if (this.protocol >= 2 && this.extCodes.size) {
      const code = this.extCodes.get(key);
      if (code !== undefined) {
        if (code <= 0xff) this.write2(0x82, code);
        else if (code <= 0xffff) {
          this.write1(0x83);
          this.writeBytes(Uint8Array.of(code & 0xff, code >> 8));
        } else this.writeU32(0x84, code);
        return;
      }
    }
    if (this.protocol >= 4) {
      this.save(module, true);
      this.save(name, true);
      this.write1(0x93);
    } else if (name.includes(".")) {
      // A dotted qualified name below protocol 4, as CPython 3.12+ writes it: getattr(getattr(
      // module.first, a), b)…, the getattr global once per attribute, `module.first` not memoized,
      // each attribute name a str of its own (not the memo's equal string), only the result memoized.
      const [first, ...attrs] = name.split(".");
      if (!first || attrs.some((a) => a === ""))
        throw new UnpicklableError(`global ${module}.${name} has an empty part in its dotted name`);
      for (let i = 0; i < attrs.length; i++) {
        this.saveGlobal("builtins", "getattr");
        if (this.protocol < 2) this.write1(0x28);
      }
      this.writeGlobalLine(module, first);
      for (const a of attrs) {
        this.save(new PyStr(a), true);
        this.write1(this.protocol < 2 ? 0x74 : 0x86);
        this.write1(0x52);
      }
    } else this.writeGlobalLine(module, name);
    if (byName === undefined) {
      byName = new Map();
      this.memoGlobal.set(module, byName);
    }
    byName.set(name, this.memoize());
  }

  /** GLOBAL `module\nname\n` (protocols 0-3), with Python 2 names when `fixImports` applies. */
  private writeGlobalLine(module: string, name: string): void {
    let m = module;
    let n = name;
    if (this.protocol < 3 && this.fixImports) {
      const renamed = PY3_TO_PY2_NAMES.get(`${module}\n${name}`);
      if (renamed) [m, n] = renamed;
      else m = PY3_TO_PY2_MODULES.get(module) ?? module;
    }
    const line = encodeUtf8(`${m}\n${n}\n`);
    if (this.protocol < 3 && line.some((c) => c >= 0x80))
      throw new UnpicklableError(
        `global ${module}.${name} is not ASCII, which protocol ${this.protocol} cannot write`,
      );
    this.write1(0x63);
    this.writeBytes(line);
  }

  private saveReduction(r: Reduction, obj: object): void {
    this.saveReduce(
      r.func,
      r.args instanceof PyTuple ? r.args : tuple(r.args),
      r.kind ?? "reduce",
      r.kwargs ?? null,
      r.state,
      r.listItems,
      r.dictItems,
      obj,
    );
  }

  /** A plain `func(*args)` reduction of `obj` (no state, no items), memoized as CPython's save_reduce does. */
  private saveCall(func: PyGlobal, args: PyTuple, obj: object): void {
    this.saveReduce(func, args, "reduce", null, undefined, undefined, undefined, obj);
  }

  private saveReduce(
    func: unknown,
    args: PyTuple,
    kind: "reduce" | "newobj" | "newobj_ex",
    kwargs: Map<string, unknown> | null,
    state: unknown,
    listItems: Iterable<unknown> | undefined,
    dictItems: Iterable<readonly [unknown, unknown]> | undefined,
    obj: object | null,
  ): void {
    if (kind === "newobj_ex" && this.protocol >= 4) {
      this.save(func, true);
      this.save(args, true);
      this.save(kwargs ?? new Map(), true);
      this.write1(0x92);
    } else if (kind === "newobj_ex") {
      this.save(g("copyreg", "__newobj_ex__"), true);
      this.save(tuple([func, args, kwargs ?? new Map()]), true);
      this.write1(0x52);
    } else if (kind === "newobj" && this.protocol >= 2) {
      this.save(func, true);
      this.save(args, true);
      this.write1(0x81);
    } else if (kind === "newobj") {
      this.save(g("copyreg", "__newobj__"), true);
      this.save(tuple([func, ...args]), true);
      this.write1(0x52);
    } else {
      this.save(func, true);
      this.save(args, true);
      this.write1(0x52);
    }
    if (obj !== null) {
      const idx = this.memoObj.get(obj);
      if (idx !== undefined) {
        this.write1(0x30);
        this.get(idx);
      } else this.memoObj.set(obj, this.memoize());
    }
    if (listItems !== undefined) this.batchAppends(listItems);
    if (dictItems !== undefined) this.batchSetItems(dictItems);
    if (state !== undefined) {
      this.save(state, true);
      this.write1(0x62);
    }
  }

  private batchAppends(items: Iterable<unknown>): void {
    const it = items[Symbol.iterator]();
    if (this.protocol === 0) {
      for (let r = it.next(); !r.done; r = it.next()) {
        this.save(r.value, true);
        this.write1(0x61);
      }
      return;
    }
    let n: number;
    do {
      const first = it.next();
      if (first.done) return;
      let next = it.next();
      if (next.done) {
        this.save(first.value, true);
        this.write1(0x61);
        return;
      }
      this.write1(0x28);
      this.save(first.value, true);
      n = 1;
      while (!next.done) {
        this.save(next.value, true);
        if (++n === BATCHSIZE) break;
        next = it.next();
      }
      this.write1(0x65);
    } while (n === BATCHSIZE);
  }

  private batchSetItems(items: Iterable<readonly [unknown, unknown]>): void {
    const it = items[Symbol.iterator]();
    if (this.protocol === 0) {
      for (let r = it.next(); !r.done; r = it.next()) {
        this.save(r.value[0], true);
        this.save(r.value[1], true);
        this.write1(0x73);
      }
      return;
    }
    let n: number;
    do {
      const first = it.next();
      if (first.done) return;
      let next = it.next();
      if (next.done) {
        this.save(first.value[0], true);
        this.save(first.value[1], true);
        this.write1(0x73);
        return;
      }
      this.write1(0x28);
      this.save(first.value[0], true);
      this.save(first.value[1], true);
      n = 1;
      while (!next.done) {
        this.save(next.value[0], true);
        this.save(next.value[1], true);
        if (++n === BATCHSIZE) break;
        next = it.next();
      }
      this.write1(0x75);
    } while (n === BATCHSIZE);
  }

  private saveObject(o: PyObject): void {
    if (o.origin === "inst" || o.origin === "obj") {
      this.write1(0x28);
      if (o.origin === "obj") this.save(o.cls, true);
      for (const a of o.args) this.save(a, true);
      if (o.origin === "obj") this.write1(0x6f);
      else {
        const line = encodeUtf8(`${o.cls.module}\n${o.cls.name}\n`);
        this.write1(0x69);
        this.writeBytes(line);
      }
      this.memoObj.set(o, this.memoize());
      if (o.listItems) this.batchAppends(o.listItems);
      if (o.dictItems) this.batchSetItems(o.dictItems);
      if (o.state !== undefined) {
        this.save(o.state, true);
        this.write1(0x62);
      }
      return;
    }
    this.saveReduce(
      o.cls,
      o.args,
      o.origin,
      o.kwargs,
      o.state,
      o.listItems ?? undefined,
      o.dictItems ?? undefined,
      o,
    );
  }
}

/** Two's-complement little-endian minimal encoding of an int (CPython's `encode_long`). */
export function encodeLong(v: bigint): Uint8Array {
  if (v === 0n) return new Uint8Array(0);
  const neg = v < 0n;
  // Number of bytes: (bit_length >> 3) + 1, trimmed for negatives like CPython.
  const mag = neg ? -v : v;
  const bitLen = mag.toString(2).length;
  let nbytes = (bitLen >> 3) + 1;
  const mod = 1n << BigInt(8 * nbytes);
  let u = neg ? mod + v : v;
  const out = new Uint8Array(nbytes);
  for (let i = 0; i < nbytes; i++) {
    out[i] = Number(u & 0xffn);
    u >>= 8n;
  }
  if (neg && nbytes > 1 && out[nbytes - 1] === 0xff && ((out[nbytes - 2] as number) & 0x80) !== 0) nbytes--;
  return out.subarray(0, nbytes);
}

/** Pickle `value` (protocol 2 by default, byte-identical to CPython's C pickler for the same value graph). */
export function dumps(value: unknown, options: DumpOptions = {}): Uint8Array {
  return new Pickler(options).dump(value);
}
