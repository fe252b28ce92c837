/**
 * `pt scan`: every global a file's pickles reference, classified against torch's weights_only
 * allowlist, found by walking the opcodes (never by unpickling).
 */
import { genops, isDangerousGlobal, type PickleOp } from "@pt/pickle";
import { ALL_DTYPES } from "@pt/storage";
import { torchGlobals } from "@pt/tensor";
import type { PickleSection } from "./containers.js";

/** `safe`: on torch's weights_only allowlist; `unsafe`: not on it; `dangerous`: never callable (os.system, eval…). */
export type Verdict = "safe" | "unsafe" | "dangerous";

/** One reference to a global in a pickle. */
export interface GlobalUse {
  /** `module.name`, or `<unresolved STACK_GLOBAL>` / `<extension N>` when it cannot be named statically. */
  readonly global: string;
  readonly module: string | null;
  readonly name: string | null;
  /** `GLOBAL`, `STACK_GLOBAL`, `INST`, `EXT1`… */
  readonly opcode: string;
  /** The pickle (record) it occurs in. */
  readonly section: string;
  /** Byte offset of the opcode (in the file for streams, in the record for zip records). */
  readonly offset: number;
  readonly verdict: Verdict;
}

let allow: Set<string> | null = null;

/**
 * torch's weights_only allowlist (FORMAT.md §7): every rebuild function, storage class, dtype,
 * layout and qscheme, `torch.Size`, `torch.device`, `torch.Tensor`, `Parameter`, `_get_layout`,
 * the legacy tensor classes (`torch.FloatTensor`), `collections.OrderedDict`/`Counter`, `_codecs.encode` and builtins `set`, `frozenset`,
 * `bytearray`, `complex` (under `builtins` and Python 2's `__builtin__`).
 */
export function weightsOnlyAllowlist(): ReadonlySet<string> {
  if (allow) return allow;
  const s = new Set<string>();
  for (const [m, n] of torchGlobals().entries()) s.add(`${m}.${n}`);
  // Legacy tensor classes (torch.FloatTensor, torch.cuda.FloatTensor…), as torch._tensor_classes.
  for (const d of ALL_DTYPES) {
    if (!d.tensorTypeName) continue;
    s.add(d.tensorTypeName);
    s.add(d.tensorTypeName.replace(/^torch\./, "torch.cuda."));
  }
  for (const g of [
    "collections.OrderedDict",
    "collections.Counter",
    "torch.nn.parameter.Parameter",
    "torch.serialization._get_layout",
    "torch.Size",
    "torch.Tensor",
    "torch.device",
    "_codecs.encode",
  ])
    s.add(g);
  for (const b of ["set", "frozenset", "bytearray", "complex"]) {
    s.add(`builtins.${b}`);
    s.add(`__builtin__.${b}`);
  }
  allow = s;
  return s;
}

/** Classify `module.name`. */
export function classify(module: string | null, name: string | null): Verdict {
  if (module === null || name === null) return "unsafe";
  if (isDangerousGlobal(module, name)) return "dangerous";
  return weightsOnlyAllowlist().has(`${module}.${name}`) ? "safe" : "unsafe";
}

const STRING_OPS = new Set([
  "STRING",
  "BINSTRING",
  "SHORT_BINSTRING",
  "UNICODE",
  "SHORT_BINUNICODE",
  "BINUNICODE",
  "BINUNICODE8",
]);
const MARK = Symbol("mark");
type Sym = { readonly s: string } | null | typeof MARK;

function splitPair(arg: unknown): [string, string] | [null, null] {
  if (typeof arg !== "string") return [null, null];
  const i = arg.indexOf(" ");
  return i < 0 ? [null, null] : [arg.slice(0, i), arg.slice(i + 1)];
}

/**
 * The globals referenced by the pickle of `section`. STACK_GLOBAL operands are tracked through a
 * symbolic stack and memo (strings only), so `"os" BINPUT … BINGET "system" STACK_GLOBAL` is
 * named too; operands that are not literal strings give an `<unresolved STACK_GLOBAL>` entry
 * (unsafe). Throws the pickle error of a malformed pickle, after `onUse` saw every global before it.
 */
export function scanSection(section: PickleSection, onUse: (u: GlobalUse) => void): void {
  const stack: Sym[] = [];
  const memo = new Map<number, Sym>();
  const pop = (): Sym => (stack.length ? (stack.pop() as Sym) : null);
  const popMark = () => {
    while (stack.length && stack[stack.length - 1] !== MARK) stack.pop();
    stack.pop();
  };
  const use = (op: PickleOp, module: string | null, name: string | null, label?: string) =>
    onUse({
      global: label ?? `${module}.${name}`,
      module,
      name,
      opcode: op.op.name,
      section: section.name,
      offset: section.fileOffset + op.pos,
      verdict: classify(module, name),
    });
  for (const op of genops(section.data, section.start)) {
    const { name, pop: npop, push, mark } = op.op;
    const arg = op.arg;
    if (name === "STOP") break;
    if (STRING_OPS.has(name)) {
      stack.push(typeof arg === "string" ? { s: arg } : null);
      continue;
    }
    switch (name) {
      case "GLOBAL": {
        const [m, n] = splitPair(arg);
        use(op, m, n);
        stack.push(null);
        continue;
      }
      case "INST": {
        const [m, n] = splitPair(arg);
        use(op, m, n);
        popMark();
        stack.push(null);
        continue;
      }
      case "STACK_GLOBAL": {
        const n = pop();
        const m = pop();
        if (m && m !== MARK && n && n !== MARK) use(op, m.s, n.s);
        else use(op, null, null, "<unresolved STACK_GLOBAL>");
        stack.push(null);
        continue;
      }
      case "EXT1":
      case "EXT2":
      case "EXT4":
        use(op, null, null, `<extension ${String(arg)}>`);
        stack.push(null);
        continue;
      case "MARK":
        stack.push(MARK);
        continue;
      case "PUT":
      case "BINPUT":
      case "LONG_BINPUT":
        memo.set(Number(arg), stack.length ? (stack[stack.length - 1] as Sym) : null);
        continue;
      case "MEMOIZE":
        memo.set(memo.size, stack.length ? (stack[stack.length - 1] as Sym) : null);
        continue;
      case "GET":
      case "BINGET":
      case "LONG_BINGET":
        stack.push(memo.get(Number(arg)) ?? null);
        continue;
      case "DUP":
        stack.push(stack.length ? (stack[stack.length - 1] as Sym) : null);
        continue;
      case "POP":
        pop();
        continue;
      case "POP_MARK":
        popMark();
        continue;
    }
    if (mark) popMark();
    for (let k = 0; k < npop; k++) pop();
    for (let k = 0; k < push; k++) stack.push(null);
  }
}

/** One line per distinct global: how many times and where it first occurs. */
export interface ScanEntry {
  readonly global: string;
  readonly verdict: Verdict;
  readonly count: number;
  /** `section@offset` of each use (first 5). */
  readonly where: string[];
}

/** Group uses by global, in order of first use. */
export function summarize(uses: readonly GlobalUse[]): ScanEntry[] {
  const m = new Map<string, { global: string; verdict: Verdict; count: number; where: string[] }>();
  for (const u of uses) {
    let e = m.get(u.global);
    if (!e) {
      e = { global: u.global, verdict: u.verdict, count: 0, where: [] };
      m.set(u.global, e);
    }
    e.count++;
    if (e.where.length < 5) e.where.push(`${u.section}@${u.offset}`);
  }
  return [...m.values()];
}
