/**
 * Modules of classes nobody registered (a user's `__main__.Net`): the unpickler's "opaque" policy
 * turns them into `PyObject` records; `reviveModules` turns every record whose state is a module
 * `__dict__` into a `GenericModule` that keeps its class, attributes, parameters, buffers and
 * children, gives torch's `stateDict()`, and pickles back to the same bytes.
 */
import {
  PyGlobal,
  PyObject,
  type PyObjectOrigin,
  type PyTuple,
  REDUCE,
  type Reduction,
  tuple,
} from "@pt/pickle";
import { Tensor } from "@pt/tensor";
import { NnError } from "./errors.js";
import { Module, type PyClassName } from "./module.js";

/** A module of an unregistered Python class, rebuilt from its pickled `__dict__`. */
export class GenericModule extends Module {
  /** torch's `_version` for this class (unknown from the pickle; 1 unless you know better). */
  pyVersion = 1;
  private readonly cls: PyGlobal;
  private readonly origin: PyObjectOrigin;
  private readonly newArgs: PyTuple;
  private readonly newKwargs: Map<string, unknown> | null;

  /**
   * A module of class `module.name` with `state` as its `__dict__` (as BUILD would apply it).
   * `origin`/`args` say how the pickle created it (default: NEWOBJ with no arguments).
   */
  constructor(
    cls: PyClassName,
    state: Map<unknown, unknown>,
    options: { origin?: PyObjectOrigin; args?: PyTuple; kwargs?: Map<string, unknown> | null } = {},
  ) {
    super();
    this.dict = new Map();
    this.cls = cls instanceof PyGlobal ? cls : new PyGlobal(cls.module, cls.name);
    this.origin = options.origin ?? "newobj";
    this.newArgs = options.args ?? tuple();
    this.newKwargs = options.kwargs ?? null;
    this.applyState(state);
  }

  override get pyClass(): PyClassName {
    return { module: this.cls.module, name: this.cls.name };
  }
  override get version(): number {
    return this.pyVersion;
  }
  protected override pickleClass(): unknown {
    return this.cls;
  }
  override [REDUCE](): Reduction {
    const kind = this.origin === "reduce" || this.origin === "newobj_ex" ? this.origin : "newobj";
    const r: Reduction = { func: this.cls, args: this.newArgs, kind, state: new Map(this.dict) };
    if (kind === "newobj_ex") r.kwargs = this.newKwargs ?? new Map();
    return r;
  }
}

/** True when `state` looks like a module `__dict__` (`training`, `_parameters`, `_buffers`, `_modules`). */
export function isModuleState(state: unknown): state is Map<unknown, unknown> {
  return (
    state instanceof Map &&
    state.has("training") &&
    state.get("_parameters") instanceof Map &&
    state.get("_buffers") instanceof Map &&
    state.get("_modules") instanceof Map
  );
}

/**
 * Walk a loaded value and replace every `PyObject` whose BUILD state is a module `__dict__` by
 * a `GenericModule` (identity kept: an object reached twice becomes one module). Containers
 * (lists, tuples, dicts, sets' are left), module `__dict__`s and opaque objects' states are
 * updated in place. Returns the (possibly replaced) top-level value.
 */
export function reviveModules(value: unknown): unknown {
  const revived = new Map<PyObject, GenericModule>();
  const visited = new Set<object>();

  const convert = (v: unknown): unknown => {
    if (v instanceof PyObject && isModuleState(v.state)) {
      let g = revived.get(v);
      if (!g) {
        if (v.listItems !== null || v.dictItems !== null) {
          throw new NnError(
            "InvalidState",
            `${v.cls.qualifiedName}: a module pickled with list/dict items cannot be revived`,
          );
        }
        g = new GenericModule(v.cls, v.state, { origin: v.origin, args: v.args, kwargs: v.kwargs });
        revived.set(v, g);
      }
      walk(g);
      return g;
    }
    walk(v);
    return v;
  };

  const walk = (v: unknown): void => {
    if (v === null || typeof v !== "object" || visited.has(v)) return;
    if (v instanceof Tensor || ArrayBuffer.isView(v)) return;
    visited.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) v[i] = convert(v[i]);
    } else if (v instanceof Map) {
      for (const [k, x] of v) {
        const y = convert(x);
        if (y !== x) v.set(k, y);
      }
      const attrs = (v as { attributes?: unknown }).attributes;
      if (attrs instanceof Map) walk(attrs);
    } else if (v instanceof Module) {
      walk(v.dict);
    } else if (v instanceof PyObject) {
      if (v.state !== undefined) v.state = convert(v.state);
      if (v.listItems) for (let i = 0; i < v.listItems.length; i++) v.listItems[i] = convert(v.listItems[i]);
      if (v.dictItems) for (const kv of v.dictItems) kv[1] = convert(kv[1]);
      for (let i = 0; i < v.args.length; i++) v.args[i] = convert(v.args[i]);
    }
  };

  return convert(value);
}
