/**
 * The extension seam between the codec and the layers above it (torch bindings live elsewhere).
 *
 * Loading: a `GlobalRegistry` maps `module`+`name` to a JS value that GLOBAL/STACK_GLOBAL/INST/OBJ
 * push. That value may implement the protocols below; REDUCE, NEWOBJ, BUILD, APPENDS and SETITEMS
 * dispatch on them. Nothing outside the registry is ever resolved.
 *
 * Saving: a value that implements `REDUCE` (or has a reducer registered for its constructor) is
 * written the way CPython's `save_reduce` writes `__reduce__` results; a value that implements
 * `GLOBAL_NAME` is written as a GLOBAL reference.
 */
import { DangerousList } from "./names.js";
import type { PyTuple } from "./values.js";

/** REDUCE: `value(*args)`. */
export const CALL: unique symbol = Symbol.for("@pt/pickle.call");
/** NEWOBJ / NEWOBJ_EX: `cls.__new__(cls, *args, **kwargs)`. */
export const NEW: unique symbol = Symbol.for("@pt/pickle.new");
/** BUILD on an instance: `obj.__setstate__(state)` (replaces the object if it returns one). */
export const SETSTATE: unique symbol = Symbol.for("@pt/pickle.setstate");
/** APPEND/APPENDS on a non-list instance. */
export const EXTEND: unique symbol = Symbol.for("@pt/pickle.extend");
/** SETITEM/SETITEMS on a non-dict instance. */
export const SETITEM: unique symbol = Symbol.for("@pt/pickle.setitem");
/** Saving: `obj.__reduce__()` equivalent. */
export const REDUCE: unique symbol = Symbol.for("@pt/pickle.reduce");
/** Saving: the global this value stands for (a class, function or singleton such as a dtype). */
export const GLOBAL_NAME: unique symbol = Symbol.for("@pt/pickle.global-name");

/** Where a hook is called from, for error messages and policy decisions. */
export interface HookContext {
  /** Byte offset of the opcode being executed. */
  readonly offset: number;
  /** Name of that opcode, as pickletools names it. */
  readonly opcode: string;
}

export interface Callable {
  [CALL](args: PyTuple, ctx: HookContext): unknown;
}
export interface Constructible {
  [NEW](args: PyTuple, kwargs: Map<string, unknown> | null, ctx: HookContext): unknown;
}
export interface HasSetState {
  [SETSTATE](state: unknown, ctx: HookContext): unknown;
}
export interface Extendable {
  [EXTEND](items: unknown[], ctx: HookContext): void;
}
export interface ItemSettable {
  [SETITEM](key: unknown, value: unknown, ctx: HookContext): void;
}

/** What `__reduce__` returns, as the pickler consumes it (CPython's `save_reduce`). */
export interface Reduction {
  /** The callable (a value with GLOBAL_NAME, or any picklable value). With `newobj`, the class. */
  func: unknown;
  /** Call arguments. */
  args: readonly unknown[];
  /** Write NEWOBJ (`copyreg.__newobj__`) or NEWOBJ_EX (`copyreg.__newobj_ex__`, with kwargs). */
  kind?: "reduce" | "newobj" | "newobj_ex";
  kwargs?: Map<string, unknown>;
  /** BUILD state; omitted when undefined. */
  state?: unknown;
  listItems?: Iterable<unknown>;
  dictItems?: Iterable<readonly [unknown, unknown]>;
}
export interface Reducible {
  [REDUCE](): Reduction;
}
export interface GlobalNamed {
  readonly [GLOBAL_NAME]: { readonly module: string; readonly name: string };
}

/** `module`/`name` → the value that GLOBAL pushes. */
export class GlobalRegistry {
  private readonly map = new Map<string, unknown>();
  private danger: DangerousList | undefined;

  constructor(entries?: Iterable<readonly [module: string, name: string, value: unknown]>) {
    if (entries) for (const [m, n, v] of entries) this.register(m, n, v);
  }

  private static key(module: string, name: string): string {
    return `${module}\u0000${name}`;
  }

  register(module: string, name: string, value: unknown): this {
    this.map.set(GlobalRegistry.key(module, name), value);
    return this;
  }

  has(module: string, name: string): boolean {
    return this.map.has(GlobalRegistry.key(module, name));
  }

  get(module: string, name: string): unknown {
    return this.map.get(GlobalRegistry.key(module, name));
  }

  /**
   * Mark `module.name` (or a whole module, with name `"*"`) dangerous: refused whatever the policy,
   * under any alias or attribute path, like the built-in dangerous list (`isDangerousGlobal`).
   * For a library's own dangerous names (torch's `torch.load`…).
   */
  refuse(module: string, name: string): this {
    this.danger ??= new DangerousList();
    this.danger.add(module, name);
    return this;
  }

  /** The names marked with `refuse`, if any. */
  get refused(): DangerousList | undefined {
    return this.danger;
  }

  /** A new registry holding this one's entries, then `other`'s (which win); refused names of both. */
  merge(other: GlobalRegistry): GlobalRegistry {
    const r = new GlobalRegistry();
    for (const [k, v] of this.map) r.map.set(k, v);
    for (const [k, v] of other.map) r.map.set(k, v);
    if (this.danger && other.danger) r.danger = this.danger.merge(other.danger);
    else r.danger = this.danger ?? other.danger;
    return r;
  }

  *entries(): IterableIterator<[module: string, name: string, value: unknown]> {
    for (const [k, v] of this.map) {
      const i = k.indexOf("\u0000");
      yield [k.slice(0, i), k.slice(i + 1), v];
    }
  }
}

/** Helper: a registry value that is callable by REDUCE. */
export function callable(
  module: string,
  name: string,
  fn: (args: PyTuple, ctx: HookContext) => unknown,
): Callable & GlobalNamed {
  return { [CALL]: fn, [GLOBAL_NAME]: { module, name } };
}
