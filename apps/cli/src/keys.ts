/**
 * Storage keys in order of first use, read from a checkpoint's object pickle without unpickling:
 * the `('storage', storage_class, key, location, numel[, view_metadata])` persistent ids, followed
 * through a symbolic stack (strings, ints, tuples and the memo).
 */
import { genops } from "@pt/pickle";

type Sym = string | number | bigint | Sym[] | { readonly global: string } | null | typeof MARK;
const MARK = Symbol("mark");

/** One storage persistent id. */
export interface StoragePidInfo {
  readonly key: string;
  /** The storage class (`torch.FloatStorage`, `torch.storage.UntypedStorage`), if named by a GLOBAL. */
  readonly storageClass: string | null;
  readonly location: string | null;
  readonly numel: number | null;
}

/** The distinct storage persistent ids of the pickle at `start`, in order of first use. */
export function storagePids(data: Uint8Array, start = 0): StoragePidInfo[] {
  const out: StoragePidInfo[] = [];
  const seen = new Set<string>();
  const stack: Sym[] = [];
  const memo = new Map<number, Sym>();
  const pop = (): Sym => (stack.length ? (stack.pop() as Sym) : null);
  const popMark = (): Sym[] => {
    const items: Sym[] = [];
    while (stack.length && stack[stack.length - 1] !== MARK) items.unshift(stack.pop() as Sym);
    stack.pop();
    return items;
  };
  const persid = (pid: Sym) => {
    if (!Array.isArray(pid) || pid[0] !== "storage" || typeof pid[2] !== "string") return;
    if (seen.has(pid[2])) return;
    seen.add(pid[2]);
    const numel = pid[4];
    const cls = pid[1];
    out.push({
      key: pid[2],
      storageClass: cls && typeof cls === "object" && "global" in cls ? cls.global : null,
      location: typeof pid[3] === "string" ? pid[3] : null,
      numel: typeof numel === "number" ? numel : typeof numel === "bigint" ? Number(numel) : null,
    });
  };
  for (const { op, arg } of genops(data, start)) {
    const name = op.name;
    if (name === "STOP") break;
    switch (name) {
      case "MARK":
        stack.push(MARK);
        continue;
      case "TUPLE":
        stack.push(popMark());
        continue;
      case "EMPTY_TUPLE":
        stack.push([]);
        continue;
      case "TUPLE1":
      case "TUPLE2":
      case "TUPLE3": {
        const n = Number(name.slice(5));
        const items: Sym[] = [];
        for (let k = 0; k < n; k++) items.unshift(pop());
        stack.push(items);
        continue;
      }
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
      case "GLOBAL": {
        const a = typeof arg === "string" ? arg : "";
        const i = a.indexOf(" ");
        stack.push(i > 0 ? { global: `${a.slice(0, i)}.${a.slice(i + 1)}` } : null);
        continue;
      }
      case "STACK_GLOBAL": {
        const n = pop();
        const m = pop();
        stack.push(typeof m === "string" && typeof n === "string" ? { global: `${m}.${n}` } : null);
        continue;
      }
      case "BINPERSID":
        persid(pop());
        stack.push(null);
        continue;
    }
    if (
      typeof arg === "string" &&
      op.push === 1 &&
      !op.mark &&
      op.pop === 0 &&
      name !== "GLOBAL" &&
      name !== "INST"
    ) {
      stack.push(arg);
      continue;
    }
    if (
      (typeof arg === "number" || typeof arg === "bigint") &&
      op.push === 1 &&
      op.pop === 0 &&
      !name.includes("GET")
    ) {
      stack.push(arg);
      continue;
    }
    if (op.mark) popMark();
    for (let k = 0; k < op.pop; k++) pop();
    for (let k = 0; k < op.push; k++) stack.push(null);
  }
  return out;
}

/** The str arguments of a pickle's opcodes, in order (a pickled list of strings gives its items). */
export function pickleStrings(data: Uint8Array, start = 0): string[] {
  const out: string[] = [];
  for (const { op, arg } of genops(data, start)) {
    if (op.name === "STOP") break;
    if (typeof arg === "string" && /UNICODE|STRING/.test(op.name)) out.push(arg);
  }
  return out;
}
