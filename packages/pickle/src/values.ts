/**
 * The value model: how Python values look in JavaScript after `loads`, and what `dumps` accepts.
 *
 * | Python            | JavaScript                                                        |
 * |-------------------|-------------------------------------------------------------------|
 * | None              | `null`                                                            |
 * | bool              | `boolean`                                                         |
 * | int               | `number` when a safe integer, else `bigint`                       |
 * | float             | `number` when not integral (0.5, inf, nan); `PyFloat` when integral (1.0, -0.0, 1e308) |
 * | str               | `string`                                                          |
 * | bytes             | `Uint8Array`                                                      |
 * | bytearray         | `PyByteArray` (a `Uint8Array` subclass)                           |
 * | list              | `Array`                                                           |
 * | tuple             | `PyTuple` (an `Array` subclass; check with `isTuple`)             |
 * | dict              | `Map` (any keys, insertion order)                                 |
 * | OrderedDict       | `PyOrderedDict` (a `Map` subclass with instance `attributes`)     |
 * | set / frozenset   | `Set` / `PyFrozenSet`                                             |
 * | complex           | `PyComplex`                                                       |
 * | slice             | `PySlice`                                                         |
 * | a global (class, function) not registered, under policy "opaque" | `PyGlobal`         |
 * | an instance of such a class | `PyObject` (records how it was built, pickles back the same) |
 *
 * A `number` that is an integer is written as a Python int; write `new PyFloat(1)` for `1.0`, except
 * under a key of a loaded dict that held a float, which stays a float (`floatKeysOf`).
 */

/** A Python float whose value is integral (`1.0`, `-0.0`), kept apart from ints. `valueOf` gives the number. */
export class PyFloat {
  constructor(readonly value: number) {}
  valueOf(): number {
    return this.value;
  }
  toString(): string {
    return Object.is(this.value, -0)
      ? "-0.0"
      : Number.isInteger(this.value)
        ? `${this.value}.0`
        : String(this.value);
  }
  toJSON(): number {
    return this.value;
  }
}

/** Keys of loaded dicts whose value was a float when the pickle was read. */
const floatKeys = new WeakMap<Map<unknown, unknown>, Set<unknown>>();

/** Whether a loaded value is a Python float: a `PyFloat`, or a number that is not an integer. */
export function isPyFloatValue(v: unknown): boolean {
  return v instanceof PyFloat || (typeof v === "number" && !Number.isInteger(v));
}

/** Record that `key` of a loaded dict held a float (`loads` calls it; the pickler reads it back). */
export function markFloatKey(d: Map<unknown, unknown>, key: unknown): void {
  const keys = floatKeys.get(d);
  if (keys === undefined) floatKeys.set(d, new Set([key]));
  else keys.add(key);
}

/**
 * The keys of a dict that held a float when it was loaded, or undefined. `dumps` writes an integral
 * JS number stored under such a key as a float (`2` → `2.0`), so replacing a loaded float such as
 * a learning rate by a plain `2` keeps its Python type.
 */
export function floatKeysOf(d: Map<unknown, unknown>): ReadonlySet<unknown> | undefined {
  return floatKeys.get(d);
}

/**
 * A Python str with an identity of its own, for writers that must reproduce CPython's memo exactly.
 *
 * Plain JS strings have no identity, so `dumps` memoizes them by value (the same text is written
 * once and referenced afterwards, as CPython does for interned and shared strings). A `PyStr` is
 * memoized by object instead: one `PyStr` written twice is referenced the second time, while two
 * distinct `PyStr`s with the same text are both written in full, as two distinct CPython `str`
 * objects are (torch's storage keys `"0"`, `"1"`, … are such objects). `loads` never produces it.
 */
export class PyStr {
  constructor(readonly value: string) {}
  valueOf(): string {
    return this.value;
  }
  toString(): string {
    return this.value;
  }
  toJSON(): string {
    return this.value;
  }
}

/** A Python tuple. It is an Array; `isTuple` tells it from a list. */
export class PyTuple<T = unknown> extends Array<T> {
  static override get [Symbol.species](): ArrayConstructor {
    return Array;
  }
}

const TUPLE_PROTO = PyTuple.prototype;

/** Make a tuple holding `items` (the array is copied). */
export function tuple<T>(items: Iterable<T> | ArrayLike<T> = []): PyTuple<T> {
  let copy: T[];
  if (Array.isArray(items)) {
    // arrays (frozen ones too, which Array.from walks with an iterator) copied by index: holes
    // become undefined, as Array.from makes them
    const n = items.length;
    copy = new Array<T>(n); // exactly as long (a pushed array reserves 16 slots)
    for (let i = 0; i < n; i++) copy[i] = items[i] as T;
  } else copy = Array.from(items as Iterable<T>);
  return asTuple(copy);
}

/**
 * Make `items` itself a tuple, without copying: for a fresh array nobody else holds (the unpickler's
 * and the reducers' tuples; `tuple()` copies). Constructing the `Array` subclass directly
 * (`new PyTuple(n)` then stores) goes through elements-kind transitions that keep V8 from
 * optimizing the code that does it (5–10× slower); re-prototyping a plain array does not.
 */
export function asTuple<T>(items: T[]): PyTuple<T> {
  return Object.setPrototypeOf(items, TUPLE_PROTO) as PyTuple<T>;
}

export function isTuple(v: unknown): v is PyTuple {
  return v instanceof PyTuple;
}

/** A Python bytearray. */
export class PyByteArray extends Uint8Array {}

/** A Python frozenset. */
export class PyFrozenSet<T = unknown> extends Set<T> {}

/** `collections.OrderedDict`; `attributes` holds instance attributes set by BUILD (torch's `_metadata`). */
export class PyOrderedDict<K = unknown, V = unknown> extends Map<K, V> {
  attributes: Map<string, unknown> | null = null;
}

/** A Python complex number. */
export class PyComplex {
  constructor(
    readonly re: number,
    readonly im: number,
  ) {}
}

/** A Python slice object. */
export class PySlice {
  constructor(
    readonly start: unknown,
    readonly stop: unknown,
    readonly step: unknown,
  ) {}
}

/** A reference to a Python global (`module.name`) that was not resolved to anything richer. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** How an opaque object was created in the pickle. */
export type PyObjectOrigin = "reduce" | "newobj" | "newobj_ex" | "inst" | "obj";

/**
 * An instance of a class nobody registered (policy "opaque"): an inert record of how the pickle
 * built it, enough to pickle it back to the same bytes. Nothing is ever executed.
 */
export class PyObject {
  /** BUILD state (`__setstate__` argument or `__dict__` update), `undefined` if none. */
  state: unknown = undefined;
  /** Items added by APPEND/APPENDS. */
  listItems: unknown[] | null = null;
  /** Items added by SETITEM/SETITEMS, in order. */
  dictItems: Array<[unknown, unknown]> | null = null;
  constructor(
    /** The class (NEWOBJ/INST/OBJ) or the callable (REDUCE). */
    readonly cls: PyGlobal,
    /** Positional arguments of the call. */
    readonly args: PyTuple,
    readonly origin: PyObjectOrigin = "reduce",
    /** Keyword arguments (NEWOBJ_EX only). */
    readonly kwargs: Map<string, unknown> | null = null,
  ) {}
}

/**
 * The Python type name of `v` when `v` cannot be a dict key or set member (`list`, `dict`, `set`,
 * `bytearray`, or a tuple holding one), else null: CPython raises `TypeError: unhashable type`.
 */
export function unhashableType(v: unknown): string | null {
  if (typeof v !== "object" || v === null) return null;
  if (v instanceof PyTuple) {
    // Tuples are immutable once built: each is checked once (shared sub-tuples are not re-walked).
    const known = tupleHashability.get(v);
    if (known !== undefined) return known;
    let t: string | null = null;
    for (const x of v) {
      t = unhashableType(x);
      if (t !== null) break;
    }
    tupleHashability.set(v, t);
    return t;
  }
  if (Array.isArray(v)) return "list";
  if (v instanceof PyByteArray) return "bytearray";
  if (v instanceof PyOrderedDict) return "collections.OrderedDict";
  if (v instanceof Map) return "dict";
  if (v instanceof Set && !(v instanceof PyFrozenSet)) return "set";
  return null;
}

const tupleHashability = new WeakMap<object, string | null>();
