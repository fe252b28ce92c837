/**
 * The global scanner: every global a pickle references, where, and what the pickle does with it,
 * found by walking the opcodes over a symbolic stack and memo (nothing is resolved or executed).
 * STACK_GLOBAL operands are followed through the memo, DUP and MARKs, so `"os" BINPUT … BINGET
 * "system" STACK_GLOBAL` is named; operands that are not literal strings give an unresolved
 * finding (module and name null).
 */

import { genops } from "./disassemble.js";
import { type FrameError, LimitError, PickleError } from "./errors.js";
import { type DangerousList, isDangerousGlobal, normalizeGlobal } from "./names.js";

/** What a pickle does with a global (each use names the opcode and its offset). */
export type GlobalUseKind =
  /** Called: REDUCE, NEWOBJ, NEWOBJ_EX, INST, OBJ (the global itself or the class of an instance). */
  | "called"
  /** An instance made from it (or the global itself) gets BUILD state, or APPEND/SETITEM items. */
  | "built"
  /** Inside the state given to BUILD. */
  | "state"
  /** Inside the arguments of a call. */
  | "argument";

/** One use of a global after its import. */
export interface GlobalUse {
  readonly kind: GlobalUseKind;
  readonly opcode: string;
  readonly offset: number;
}

/** One reference to a global (GLOBAL, STACK_GLOBAL, INST, EXT1/2/4). */
export interface GlobalFinding {
  /** As written; null when STACK_GLOBAL's operands are not literal strings, or for extension codes. */
  readonly module: string | null;
  readonly name: string | null;
  /** `module.name` as written, or `<unresolved STACK_GLOBAL>` / `<extension N>`. */
  readonly global: string;
  /** The name Python would resolve (`normalizeGlobal`), null when unresolved. */
  readonly normalized: { readonly module: string; readonly name: string } | null;
  /** Never resolved whatever the options (`isDangerousGlobal`, with the scan's `dangerous` list). Unresolved names count as dangerous. */
  readonly dangerous: boolean;
  /** The importing opcode and its offset (absolute in the scanned buffer). */
  readonly opcode: string;
  readonly offset: number;
  /** Index of the pickle in the buffer (0 for the first; several when scanning until EOF). */
  readonly pickle: number;
  /** What the pickle then does with it, in order (empty: imported only). */
  readonly uses: GlobalUse[];
}

/**
 * A pickle inside a container file (what `@pt/zip-format` and `@pt/legacy-format` hand the
 * scanner): where it is and what reads it.
 */
export interface PickleSection {
  /** `data.pkl` (a zip record), `object` (a legacy stream's pickle), `tar:storages`… */
  readonly name: string;
  /** Bytes holding the pickle(s); the first starts at `start`. */
  readonly bytes: Uint8Array;
  readonly start: number;
  /** Offset of `bytes[0]` in the file; null when the bytes are not in the file as is (a deflated record). */
  readonly fileOffset: number | null;
  /** Several pickles back to back up to the end of `bytes` (a plain pickle file). */
  readonly untilEof: boolean;
  /** What reads it, in words: `"unpickled by torch.load"`, `"TorchScript"`, `"not read by torch"`… */
  readonly role: string;
  /** Whether the loader this package pairs with reads it (its verdict decides whether the file is safe). */
  readonly loaded: boolean;
  /** Why the container could not be delimited past this section (the scan reports it), if so. */
  readonly error?: Error;
}

/** Options of `scanPickle`. */
export interface ScanOptions {
  /** Where the first pickle starts. Default 0. */
  readonly offset?: number;
  /** Scan pickle after pickle until the end of the buffer (default `false`: the first pickle only). */
  readonly untilEof?: boolean;
  /** A library's own dangerous names, on top of the built-in list. */
  readonly dangerous?: DangerousList;
  /** At most this many pickles (default 1 000 000); more is an `error` (`LimitError`): the rest is not scanned. */
  readonly maxPickles?: number;
}

/** What `scanPickle` found. */
export interface PickleScan {
  readonly globals: GlobalFinding[];
  /** Start and end (just past STOP) of each complete pickle. */
  readonly pickles: Array<{ readonly start: number; readonly end: number }>;
  /**
   * Framing violations (`FrameError`). The scan reads on ignoring frames, as CPython's C unpickler
   * does, so the globals it would reach are listed; any violation makes the pickle unloadable here.
   */
  readonly frameErrors: FrameError[];
  /** The error that stopped the scan (a malformed opcode, a truncated pickle), if any: the globals before it are listed. */
  readonly error: PickleError | null;
}

const MARK = Symbol("mark");
/** A symbolic stack value: a literal string, a value holding globals (their finding indexes), or a MARK. */
type Val = { readonly s: string } | { readonly refs: readonly number[]; readonly obj?: boolean };
type Sym = Val | typeof MARK;
const UNKNOWN: Val = { refs: [] };

const STRING_OPS = new Set([
  "STRING",
  "BINSTRING",
  "SHORT_BINSTRING",
  "UNICODE",
  "SHORT_BINUNICODE",
  "BINUNICODE",
  "BINUNICODE8",
]);

function refsOf(v: Sym | undefined): readonly number[] {
  if (v === undefined || v === MARK || "s" in v) return [];
  return v.refs;
}

function merge(items: ReadonlyArray<Sym | undefined>): number[] {
  const out: number[] = [];
  for (const v of items) for (const r of refsOf(v)) if (!out.includes(r)) out.push(r);
  return out;
}

/**
 * Scan the pickle at `options.offset` (and with `untilEof`, every pickle after it) for globals.
 * Never throws on malformed input: the error is returned with the globals found before it.
 */
export function scanPickle(data: Uint8Array, options: ScanOptions = {}): PickleScan {
  const globals: GlobalFinding[] = [];
  const pickles: Array<{ start: number; end: number }> = [];
  const frameErrors: FrameError[] = [];
  const max = options.maxPickles ?? 1_000_000;
  let at = options.offset ?? 0;
  let error: PickleError | null = null;
  for (let index = 0; index < max; index++) {
    try {
      const end = scanOne(data, at, index, globals, frameErrors, options.dangerous);
      pickles.push({ start: at, end });
      at = end;
    } catch (e) {
      if (!(e instanceof PickleError)) throw e;
      error = e;
      break;
    }
    if (!options.untilEof || at >= data.length) break;
    if (index + 1 === max)
      // the rest of the buffer is not scanned: an error, so no caller can call the file safe
      error = new LimitError("maxPickles", index + 2, max, { offset: at });
  }
  return { globals, pickles, frameErrors, error };
}

function scanOne(
  data: Uint8Array,
  start: number,
  index: number,
  out: GlobalFinding[],
  frameErrors: FrameError[],
  dangerous: DangerousList | undefined,
): number {
  const stack: Sym[] = [];
  const memo = new Map<number, Sym>();
  const pop = (): Val => {
    const v = stack.pop();
    return v === undefined || v === MARK ? UNKNOWN : v;
  };
  const popMark = (): Sym[] => {
    const items: Sym[] = [];
    while (stack.length && stack[stack.length - 1] !== MARK) items.unshift(stack.pop() as Sym);
    stack.pop();
    return items;
  };
  const find = (
    module: string | null,
    name: string | null,
    opcode: string,
    offset: number,
    label?: string,
  ) => {
    const norm = module !== null && name !== null ? normalizeGlobal(module, name) : null;
    out.push({
      module,
      name,
      global: label ?? `${module}.${name}`,
      normalized: norm,
      dangerous: module === null || name === null || isDangerousGlobal(module, name, dangerous),
      opcode,
      offset,
      pickle: index,
      uses: [],
    });
    return out.length - 1;
  };
  const use = (refs: readonly number[], kind: GlobalUseKind, opcode: string, offset: number) => {
    for (const r of refs) (out[r] as GlobalFinding).uses.push({ kind, opcode, offset });
  };
  /** A call of `func` with `args`: the callable is called, globals in the arguments are arguments; the result is an instance of `func`. */
  const call = (func: Sym, args: readonly Sym[], opcode: string, offset: number): Sym => {
    const f = refsOf(func);
    use(f, "called", opcode, offset);
    use(merge(args), "argument", opcode, offset);
    return { refs: f, obj: true };
  };
  const gen = genops(data, start, { onFrameError: (e) => frameErrors.push(e) });
  for (;;) {
    const r = gen.next();
    if (r.done) return r.value;
    const { op, arg, pos } = r.value;
    const name = op.name;
    if (STRING_OPS.has(name)) {
      stack.push(typeof arg === "string" ? { s: arg } : UNKNOWN);
      continue;
    }
    switch (name) {
      case "GLOBAL": {
        const s = String(arg);
        const sp = s.indexOf(" ");
        stack.push({ refs: [find(s.slice(0, sp), s.slice(sp + 1), name, pos)] });
        continue;
      }
      case "STACK_GLOBAL": {
        const n = pop();
        const m = pop();
        if ("s" in m && "s" in n) stack.push({ refs: [find(m.s, n.s, name, pos)] });
        else stack.push({ refs: [find(null, null, name, pos, "<unresolved STACK_GLOBAL>")] });
        continue;
      }
      case "INST": {
        const s = String(arg);
        const sp = s.indexOf(" ");
        const g = find(s.slice(0, sp), s.slice(sp + 1), name, pos);
        stack.push(call({ refs: [g] }, popMark(), name, pos));
        continue;
      }
      case "EXT1":
      case "EXT2":
      case "EXT4":
        stack.push({ refs: [find(null, null, name, pos, `<extension ${String(arg)}>`)] });
        continue;
      case "REDUCE":
      case "NEWOBJ": {
        const args = pop();
        const func = pop();
        stack.push(call(func, [args], name, pos));
        continue;
      }
      case "NEWOBJ_EX": {
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        stack.push(call(cls, [args, kwargs], name, pos));
        continue;
      }
      case "OBJ": {
        const items = popMark();
        stack.push(call(items[0] ?? UNKNOWN, items.slice(1), name, pos));
        continue;
      }
      case "BUILD": {
        const state = pop();
        const inst = pop();
        use(refsOf(inst), "built", name, pos);
        use(refsOf(state), "state", name, pos);
        stack.push({ refs: merge([inst, state]), obj: true });
        continue;
      }
      case "APPEND":
      case "SETITEM":
      case "APPENDS":
      case "SETITEMS":
      case "ADDITEMS": {
        const items = name === "APPEND" ? [pop()] : name === "SETITEM" ? [pop(), pop()] : popMark();
        const target = pop();
        // Items into an instance made by a global run its append/extend/__setitem__.
        if ("obj" in target && target.obj) use(refsOf(target), "built", name, pos);
        stack.push({
          refs: merge([target, ...items]),
          ...("obj" in target && target.obj ? { obj: true } : {}),
        });
        continue;
      }
      case "MARK":
        stack.push(MARK);
        continue;
      case "PUT":
      case "BINPUT":
      case "LONG_BINPUT": {
        const top = stack[stack.length - 1];
        memo.set(Number(arg), top === undefined || top === MARK ? UNKNOWN : top);
        continue;
      }
      case "MEMOIZE": {
        const top = stack[stack.length - 1];
        memo.set(memo.size, top === undefined || top === MARK ? UNKNOWN : top);
        continue;
      }
      case "GET":
      case "BINGET":
      case "LONG_BINGET":
        stack.push(memo.get(Number(arg)) ?? UNKNOWN);
        continue;
      case "DUP": {
        const top = stack[stack.length - 1];
        stack.push(top === undefined || top === MARK ? UNKNOWN : top);
        continue;
      }
      case "POP":
        if (stack[stack.length - 1] === MARK) stack.pop();
        else pop();
        continue;
      case "POP_MARK":
        popMark();
        continue;
      case "STOP":
        continue;
    }
    // Everything else: containers keep the globals of their items (tuples, lists, dicts, sets).
    const consumed: Sym[] = op.mark ? popMark() : [];
    for (let k = 0; k < op.pop; k++) consumed.push(pop());
    const refs = merge(consumed);
    for (let k = 0; k < op.push; k++) stack.push(refs.length ? { refs } : UNKNOWN);
  }
}
