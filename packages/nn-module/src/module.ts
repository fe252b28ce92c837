/**
 * `torch.nn.Module`: parameters, buffers and submodules in insertion order, `state_dict` /
 * `load_state_dict` with torch 1.13's semantics, and the pickle protocols a whole-model pickle
 * needs (NEWOBJ with no arguments, BUILD with the full `__dict__`).
 *
 * A module's state *is* its Python `__dict__` (`Module.dict`, an ordered Map): the hook dicts,
 * `_parameters`, `_buffers`, `_modules` and every constructor attribute live there in torch's
 * order, so a loaded module pickles back to the same bytes and a module built here pickles to
 * what torch writes.
 */
import {
  GLOBAL_NAME,
  type GlobalNamed,
  type HookContext,
  isTuple,
  NEW,
  PyFloat,
  PyFrozenSet,
  PyOrderedDict,
  type PyTuple,
  REDUCE,
  type Reduction,
  SETSTATE,
} from "@pt/pickle";
import { Parameter, Tensor } from "@pt/tensor";
import { copyInto } from "./copy.js";
import { LoadStateDictError, NnError } from "./errors.js";

/** The Python class a module pickles as. */
export interface PyClassName {
  readonly module: string;
  readonly name: string;
}

/** Keys `torch.nn.Module.__init__` (1.13) puts in `__dict__`, in order, before anything else. */
export const MODULE_BASE_KEYS: readonly string[] = Object.freeze([
  "training",
  "_parameters",
  "_buffers",
  "_non_persistent_buffers_set",
  "_backward_hooks",
  "_is_full_backward_hook",
  "_forward_hooks",
  "_forward_pre_hooks",
  "_state_dict_hooks",
  "_load_state_dict_pre_hooks",
  "_load_state_dict_post_hooks",
  "_modules",
]);

/** A fresh `__dict__` as `Module.__init__` leaves it. */
function baseDict(): Map<string, unknown> {
  const d = new Map<string, unknown>();
  d.set("training", true);
  d.set("_parameters", new PyOrderedDict<string, Parameter | null>());
  d.set("_buffers", new PyOrderedDict<string, Tensor | null>());
  d.set("_non_persistent_buffers_set", new Set<string>());
  d.set("_backward_hooks", new PyOrderedDict());
  d.set("_is_full_backward_hook", null);
  d.set("_forward_hooks", new PyOrderedDict());
  d.set("_forward_pre_hooks", new PyOrderedDict());
  d.set("_state_dict_hooks", new PyOrderedDict());
  d.set("_load_state_dict_pre_hooks", new PyOrderedDict());
  d.set("_load_state_dict_post_hooks", new PyOrderedDict());
  d.set("_modules", new PyOrderedDict<string, Module | null>());
  return d;
}

/** A float attribute as torch stores it (`2.0` stays a Python float). */
export function pyFloat(x: number): number | PyFloat {
  return Number.isInteger(x) ? new PyFloat(x) : x;
}

/** The detached tensor `param.detach()` gives: same storage and geometry, no grad, plain Tensor. */
export function detach(t: Tensor): Tensor {
  return new Tensor(t.storage, t.storageOffset, t.shape, t.stride, { dtype: t.dtype });
}

/** Options of `Module.stateDict`. */
export interface StateDictOptions {
  /** Prefix of every key (torch's `prefix`). Default `""`. */
  readonly prefix?: string;
  /** Keep the Parameter/buffer objects themselves instead of detached tensors. Default false. */
  readonly keepVars?: boolean;
}

/** Options of `Module.loadStateDict`. */
export interface LoadStateDictOptions {
  /** Report missing and unexpected keys as errors (torch's default). Default true. */
  readonly strict?: boolean;
}

/** What `loadStateDict` returns (torch's `_IncompatibleKeys`). */
export interface IncompatibleKeys {
  readonly missingKeys: string[];
  readonly unexpectedKeys: string[];
}

/** A module class as the registry knows it (a constructor with its Python name). */
export interface ModuleClass<M extends Module = Module> {
  readonly prototype: M;
  /** Python module of the class (`torch.nn.modules.linear`). */
  readonly pyModule: string;
  /** Python class name (`Linear`). */
  readonly pyName: string;
  /** torch's `_version` of the class (recorded in `_metadata`). */
  readonly version: number;
}

const classRefs = new WeakMap<object, ModuleClassRef>();

/**
 * The registry value of a module class: GLOBAL pushes it, NEWOBJ makes a blank instance of the
 * TypeScript class (as `cls.__new__(cls)` does), BUILD then applies the pickled `__dict__`.
 */
export class ModuleClassRef implements GlobalNamed {
  private constructor(readonly cls: ModuleClass) {}
  /** The (cached) reference of a class. */
  static of(cls: ModuleClass): ModuleClassRef {
    let r = classRefs.get(cls);
    if (!r) {
      r = new ModuleClassRef(cls);
      classRefs.set(cls, r);
    }
    return r;
  }
  get [GLOBAL_NAME](): PyClassName {
    return { module: this.cls.pyModule, name: this.cls.pyName };
  }
  [NEW](args: PyTuple, _kwargs: Map<string, unknown> | null, ctx: HookContext): Module {
    if (args.length !== 0) {
      throw new NnError(
        "InvalidState",
        `${this.cls.pyName}.__new__ got ${args.length} arguments (${ctx.opcode} at offset ${ctx.offset}); torch pickles modules with none`,
        { offset: ctx.offset, opcode: ctx.opcode },
      );
    }
    return Module.blank(this.cls);
  }
}

function typeName(v: unknown): string {
  if (v === null || v === undefined) return "<class 'NoneType'>";
  switch (typeof v) {
    case "number":
      return Number.isInteger(v) ? "<class 'int'>" : "<class 'float'>";
    case "bigint":
      return "<class 'int'>";
    case "string":
      return "<class 'str'>";
    case "boolean":
      return "<class 'bool'>";
  }
  if (v instanceof PyFloat) return "<class 'float'>";
  if (isTuple(v)) return "<class 'tuple'>";
  if (Array.isArray(v)) return "<class 'list'>";
  if (v instanceof PyOrderedDict) return "<class 'collections.OrderedDict'>";
  if (v instanceof Map) return "<class 'dict'>";
  if (v instanceof Uint8Array) return "<class 'bytes'>";
  return `<class '${(v as object).constructor?.name ?? "object"}'>`;
}

/** `torch.Size([2, 3])`. */
export function formatSize(shape: readonly number[]): string {
  return `torch.Size([${shape.join(", ")}])`;
}

function checkName(kind: string, name: string, m: Module): void {
  if (typeof name !== "string") {
    throw new NnError("TypeError", `${kind} name should be a string. Got ${typeName(name)}`, { name });
  }
  if (name.includes(".")) {
    throw new NnError("InvalidName", `${kind} name can't contain ".", got: ${name}`, { name });
  }
  if (name === "") throw new NnError("InvalidName", `${kind} name can't be empty string ""`, { name });
  if (kind !== "module name" && m.dict.has(name) && !isRegisteredName(m, kind, name)) {
    throw new NnError("InvalidName", `attribute '${name}' already exists`, { name });
  }
}
function isRegisteredName(m: Module, kind: string, name: string): boolean {
  return kind === "parameter name" ? m.parametersDict.has(name) : m.buffersDict.has(name);
}

/**
 * `torch.nn.Module`. Subclasses set the static `pyModule`/`pyName` (and `version` when torch's
 * `_version` is not 1) and keep all their state in `dict`.
 */
export class Module {
  static readonly pyModule: string = "torch.nn.modules.module";
  static readonly pyName: string = "Module";
  /** torch's `_version` (BatchNorm and InstanceNorm: 2). */
  static readonly version: number = 1;

  /** The module's Python `__dict__`, in order (see the file comment). */
  dict!: Map<string, unknown>;

  constructor() {
    this.dict = baseDict();
  }

  /** A blank instance of `cls` (what NEWOBJ creates), with an empty `__dict__`. */
  static blank<M extends Module>(cls: ModuleClass<M>): M {
    const m = Object.create(cls.prototype as object) as M;
    m.dict = new Map();
    return m;
  }

  // ---- identity ------------------------------------------------------------------------

  /** The Python class (`{ module: "torch.nn.modules.linear", name: "Linear" }`). */
  get pyClass(): PyClassName {
    const c = this.constructor as unknown as ModuleClass;
    return { module: c.pyModule, name: c.pyName };
  }
  /** `self.__class__.__name__`. */
  get className(): string {
    return this.pyClass.name;
  }
  /** `self._version`. */
  get version(): number {
    return (this.constructor as unknown as ModuleClass).version;
  }

  // ---- the __dict__ ----------------------------------------------------------------------

  /** `training` (true after construction, false after `eval()`). */
  get training(): boolean {
    return this.dict.get("training") === true;
  }
  set training(v: boolean) {
    this.dict.set("training", v);
  }
  /** `_parameters` (values may be null: registered as None). */
  get parametersDict(): Map<string, Parameter | null> {
    return this.dictEntry("_parameters") as Map<string, Parameter | null>;
  }
  /** `_buffers` (values may be null). */
  get buffersDict(): Map<string, Tensor | null> {
    return this.dictEntry("_buffers") as Map<string, Tensor | null>;
  }
  /** `_modules` (values may be null). */
  get modulesDict(): Map<string, Module | null> {
    return this.dictEntry("_modules") as Map<string, Module | null>;
  }
  /** `_non_persistent_buffers_set`. */
  get nonPersistentBuffers(): Set<string> {
    const s = this.dict.get("_non_persistent_buffers_set");
    if (s instanceof Set) return s as Set<string>;
    throw new NnError("InvalidState", `${this.className} has no _non_persistent_buffers_set set`);
  }

  private dictEntry(key: string): Map<string, unknown> {
    const v = this.dict.get(key);
    if (v instanceof Map) return v as Map<string, unknown>;
    throw new NnError(
      "InvalidState",
      `${this.className}.${key} is ${v === undefined ? "missing" : typeName(v)}, not an OrderedDict`,
      { key },
    );
  }

  /** `_modules` entries, each checked to be a Module or null (an unrevived PyObject is an error). */
  submodules(): Array<[string, Module | null]> {
    const out: Array<[string, Module | null]> = [];
    for (const [name, m] of this.modulesDict) {
      if (m !== null && !(m instanceof Module)) {
        throw new NnError(
          "InvalidState",
          `${this.className}._modules['${name}'] is ${typeName(m)}, not a Module (load user classes with policy "opaque" and call reviveModules)`,
          { key: name },
        );
      }
      out.push([name, m]);
    }
    return out;
  }

  /** `_parameters` or `_buffers` entries, each checked to be a Tensor or null. */
  private tensors(key: "_parameters" | "_buffers"): Array<[string, Tensor | null]> {
    const out: Array<[string, Tensor | null]> = [];
    for (const [name, t] of this.dictEntry(key)) {
      if (t !== null && !(t instanceof Tensor)) {
        throw new NnError(
          "InvalidState",
          `${this.className}.${key}['${name}'] is ${typeName(t)}, not a tensor`,
          { key: name },
        );
      }
      out.push([name, t]);
    }
    return out;
  }

  private enter(path: Set<Module>): void {
    if (path.has(this)) {
      throw new NnError("InvalidState", `module graph has a cycle through ${this.className}`);
    }
    path.add(this);
  }

  /**
   * `getattr(module, name)`: a parameter, buffer or submodule by that name, else the `__dict__`
   * attribute, else undefined.
   */
  getAttr(name: string): unknown {
    const p = this.dict.get("_parameters");
    if (p instanceof Map && p.has(name)) return p.get(name);
    const b = this.dict.get("_buffers");
    if (b instanceof Map && b.has(name)) return b.get(name);
    const m = this.dict.get("_modules");
    if (m instanceof Map && m.has(name)) return m.get(name);
    return this.dict.get(name);
  }

  /**
   * `setattr(module, name, value)` with `Module.__setattr__`'s rules: a Parameter registers a
   * parameter, a Module a submodule, a Tensor (or null) replaces a registered buffer; an
   * existing parameter/submodule name accepts only null or its kind; anything else is a plain
   * `__dict__` attribute.
   */
  setAttr(name: string, value: unknown): void {
    const params = this.parametersDict;
    if (value instanceof Parameter) {
      this.removeFrom(name, "_buffers", "_modules");
      this.dict.delete(name);
      this.nonPersistentBuffers.delete(name);
      this.registerParameter(name, value);
      return;
    }
    if (params.has(name)) {
      if (value !== null) {
        throw new NnError(
          "TypeError",
          `cannot assign '${typeName(value)}' as parameter '${name}' (torch.nn.Parameter or None expected)`,
          { name },
        );
      }
      this.registerParameter(name, null);
      return;
    }
    const modules = this.modulesDict;
    if (value instanceof Module) {
      this.removeFrom(name, "_parameters", "_buffers");
      this.dict.delete(name);
      this.nonPersistentBuffers.delete(name);
      modules.set(name, value);
      return;
    }
    if (modules.has(name)) {
      if (value !== null) {
        throw new NnError(
          "TypeError",
          `cannot assign '${typeName(value)}' as child module '${name}' (torch.nn.Module or None expected)`,
          { name },
        );
      }
      modules.set(name, null);
      return;
    }
    const buffers = this.buffersDict;
    if (buffers.has(name)) {
      if (value !== null && !(value instanceof Tensor)) {
        throw new NnError(
          "TypeError",
          `cannot assign '${typeName(value)}' as buffer '${name}' (torch.Tensor or None expected)`,
          { name },
        );
      }
      buffers.set(name, value);
      return;
    }
    this.dict.set(name, value);
  }

  private removeFrom(name: string, ...keys: string[]): void {
    for (const k of keys) {
      const d = this.dict.get(k);
      if (d instanceof Map) d.delete(name);
    }
  }

  /** `register_parameter(name, param)` (null registers None: skipped by `stateDict`). */
  registerParameter(name: string, param: Parameter | null): void {
    checkName("parameter name", name, this);
    if (this.buffersDict.has(name) || this.modulesDict.has(name)) {
      throw new NnError("InvalidName", `attribute '${name}' already exists`, { name });
    }
    if (param !== null && !(param instanceof Parameter)) {
      throw new NnError(
        "TypeError",
        `cannot assign '${typeName(param)}' object to parameter '${name}' (torch.nn.Parameter or None required)`,
        { name },
      );
    }
    this.parametersDict.set(name, param);
  }

  /** `register_buffer(name, tensor, persistent=True)`. */
  registerBuffer(name: string, tensor: Tensor | null, options: { persistent?: boolean } = {}): void {
    checkName("buffer name", name, this);
    if (this.parametersDict.has(name) || this.modulesDict.has(name)) {
      throw new NnError("InvalidName", `attribute '${name}' already exists`, { name });
    }
    if (tensor !== null && !(tensor instanceof Tensor)) {
      throw new NnError(
        "TypeError",
        `cannot assign '${typeName(tensor)}' object to buffer '${name}' (torch Tensor or None required)`,
        { name },
      );
    }
    this.buffersDict.set(name, tensor);
    if (options.persistent ?? true) this.nonPersistentBuffers.delete(name);
    else this.nonPersistentBuffers.add(name);
  }

  /** `add_module(name, module)` / `register_module`. */
  addModule(name: string, module: Module | null): void {
    if (module !== null && !(module instanceof Module)) {
      throw new NnError("TypeError", `${typeName(module)} is not a Module subclass`, { name });
    }
    checkName("module name", name, this);
    if (this.dict.has(name) || this.parametersDict.has(name) || this.buffersDict.has(name)) {
      throw new NnError("InvalidName", `attribute '${name}' already exists`, { name });
    }
    this.modulesDict.set(name, module);
  }

  /** A submodule by dotted path (`get_submodule("encoder.layers.0")`); `""` is this module. */
  getSubmodule(target: string): Module {
    if (target === "") return this;
    let m: Module = this;
    for (const item of target.split(".")) {
      const next = m.modulesDict.get(item);
      if (!(next instanceof Module)) {
        throw new NnError("InvalidName", `${m.className} has no attribute \`${item}\``, { target });
      }
      m = next;
    }
    return m;
  }

  // ---- iteration -------------------------------------------------------------------------

  /** `named_children()`: direct submodules (each once, None skipped). */
  *namedChildren(): IterableIterator<[string, Module]> {
    const seen = new Set<Module>();
    for (const [name, m] of this.submodules()) {
      if (m !== null && !seen.has(m)) {
        seen.add(m);
        yield [name, m];
      }
    }
  }
  /** `children()`. */
  *children(): IterableIterator<Module> {
    for (const [, m] of this.namedChildren()) yield m;
  }

  /** `named_modules(prefix="", remove_duplicate=True)`: this module first, then depth-first. */
  *namedModules(
    options: { prefix?: string; removeDuplicate?: boolean } = {},
  ): IterableIterator<[string, Module]> {
    yield* this.walkModules(options.prefix ?? "", options.removeDuplicate ?? true, new Set(), new Set());
  }

  private *walkModules(
    prefix: string,
    dedup: boolean,
    memo: Set<Module>,
    path: Set<Module>,
  ): IterableIterator<[string, Module]> {
    if (dedup && memo.has(this)) return;
    if (dedup) memo.add(this);
    this.enter(path);
    yield [prefix, this];
    for (const [name, m] of this.submodules()) {
      if (m === null) continue;
      yield* m.walkModules(prefix + (prefix ? "." : "") + name, dedup, memo, path);
    }
    path.delete(this);
  }
  /** `modules()`. */
  *modules(): IterableIterator<Module> {
    for (const [, m] of this.namedModules()) yield m;
  }

  private *namedMembers(
    key: "_parameters" | "_buffers",
    prefix: string,
    recurse: boolean,
  ): IterableIterator<[string, Tensor]> {
    const memo = new Set<Tensor>();
    const mods: Iterable<[string, Module]> = recurse ? this.namedModules({ prefix }) : [[prefix, this]];
    for (const [modPrefix, m] of mods) {
      for (const [k, v] of m.tensors(key)) {
        if (v === null || memo.has(v)) continue;
        memo.add(v);
        yield [modPrefix + (modPrefix ? "." : "") + k, v];
      }
    }
  }

  /** `named_parameters(prefix="", recurse=True)`: each Parameter once (tied ones under their first name). */
  *namedParameters(
    options: { prefix?: string; recurse?: boolean } = {},
  ): IterableIterator<[string, Parameter]> {
    yield* this.namedMembers(
      "_parameters",
      options.prefix ?? "",
      options.recurse ?? true,
    ) as IterableIterator<[string, Parameter]>;
  }
  /** `parameters()`. */
  *parameters(options: { recurse?: boolean } = {}): IterableIterator<Parameter> {
    for (const [, p] of this.namedParameters(options)) yield p;
  }
  /** `named_buffers(prefix="", recurse=True)` (persistent and non-persistent). */
  *namedBuffers(options: { prefix?: string; recurse?: boolean } = {}): IterableIterator<[string, Tensor]> {
    yield* this.namedMembers("_buffers", options.prefix ?? "", options.recurse ?? true);
  }
  /** `buffers()`. */
  *buffers(options: { recurse?: boolean } = {}): IterableIterator<Tensor> {
    for (const [, b] of this.namedBuffers(options)) yield b;
  }

  /** `train(mode=True)`: sets `training` on this module and every submodule. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }
  /** `eval()`. */
  eval(): this {
    return this.train(false);
  }

  // ---- state_dict ------------------------------------------------------------------------

  /**
   * `state_dict()`: an OrderedDict of dotted keys → detached tensors sharing storage with the
   * parameters and persistent buffers (or the objects themselves with `keepVars`), with
   * `attributes._metadata` = OrderedDict(prefix → `{version}`) for every module, as torch 1.13.
   */
  stateDict(options: StateDictOptions = {}): PyOrderedDict<string, Tensor> {
    const dest = new PyOrderedDict<string, Tensor>();
    const metadata = new PyOrderedDict<string, Map<string, unknown>>();
    dest.attributes = new Map<string, unknown>([["_metadata", metadata]]);
    this.stateDictInto(dest, metadata, options.prefix ?? "", options.keepVars ?? false, new Set());
    return dest;
  }

  private stateDictInto(
    dest: Map<string, Tensor>,
    metadata: Map<string, Map<string, unknown>>,
    prefix: string,
    keepVars: boolean,
    path: Set<Module>,
  ): void {
    this.enter(path);
    metadata.set(prefix.slice(0, -1), new Map<string, unknown>([["version", this.version]]));
    this.saveToStateDict(dest, prefix, keepVars);
    for (const [name, m] of this.submodules()) {
      if (m !== null) m.stateDictInto(dest, metadata, `${prefix}${name}.`, keepVars, path);
    }
    path.delete(this);
  }

  /** `_save_to_state_dict`: this module's own parameters, then persistent buffers. */
  protected saveToStateDict(dest: Map<string, Tensor>, prefix: string, keepVars: boolean): void {
    for (const [name, p] of this.tensors("_parameters")) {
      if (p !== null) dest.set(prefix + name, keepVars ? p : detach(p));
    }
    const np = this.nonPersistentBuffers;
    for (const [name, b] of this.tensors("_buffers")) {
      if (b !== null && !np.has(name)) dest.set(prefix + name, keepVars ? b : detach(b));
    }
  }

  /**
   * `load_state_dict(state_dict, strict=True)`: copies every matching tensor into the existing
   * parameter/buffer storage (dtype converted; tied parameters stay tied). Errors are collected
   * and thrown together as a `LoadStateDictError` with torch's exact text; with `strict: false`
   * missing/unexpected keys are returned instead (size mismatches still throw, as in torch).
   */
  loadStateDict(stateDict: Map<string, unknown>, options: LoadStateDictOptions = {}): IncompatibleKeys {
    const strict = options.strict ?? true;
    if (!(stateDict instanceof Map)) {
      throw new NnError("TypeError", `Expected state_dict to be dict-like, got ${typeName(stateDict)}.`);
    }
    const missingKeys: string[] = [];
    const unexpectedKeys: string[] = [];
    const errorMsgs: string[] = [];
    const attrs = stateDict instanceof PyOrderedDict ? stateDict.attributes : null;
    const md = attrs?.get("_metadata");
    const metadata = md instanceof Map ? (md as Map<unknown, unknown>) : null;
    const sd = new Map<string, unknown>();
    for (const [k, v] of stateDict) sd.set(String(k), v);

    const path = new Set<Module>();
    const load = (module: Module, local: Map<string, unknown>, prefix: string): void => {
      module.enter(path);
      const lm = metadata?.get(prefix.slice(0, -1));
      const localMetadata = lm instanceof Map ? (lm as Map<string, unknown>) : new Map<string, unknown>();
      module.loadFromStateDict(local, prefix, localMetadata, true, missingKeys, unexpectedKeys, errorMsgs);
      for (const [name, child] of module.submodules()) {
        if (child === null) continue;
        const childPrefix = `${prefix}${name}.`;
        const childSd = new Map<string, unknown>();
        for (const [k, v] of local) if (k.startsWith(childPrefix)) childSd.set(k, v);
        load(child, childSd, childPrefix);
      }
      path.delete(module);
    };
    load(this, sd, "");

    if (strict) {
      if (unexpectedKeys.length > 0) {
        errorMsgs.unshift(
          `Unexpected key(s) in state_dict: ${unexpectedKeys.map((k) => `"${k}"`).join(", ")}. `,
        );
      }
      if (missingKeys.length > 0) {
        errorMsgs.unshift(`Missing key(s) in state_dict: ${missingKeys.map((k) => `"${k}"`).join(", ")}. `);
      }
    }
    if (errorMsgs.length > 0) {
      throw new LoadStateDictError(this.className, missingKeys, unexpectedKeys, errorMsgs);
    }
    return { missingKeys, unexpectedKeys };
  }

  /**
   * `_load_from_state_dict`: load this module's own parameters and persistent buffers from
   * `stateDict` (keys carry `prefix`), recording problems in the three lists as torch does.
   * Subclasses override it for versioned state (BatchNorm's `num_batches_tracked`).
   */
  protected loadFromStateDict(
    stateDict: Map<string, unknown>,
    prefix: string,
    _localMetadata: Map<string, unknown>,
    strict: boolean,
    missingKeys: string[],
    unexpectedKeys: string[],
    errorMsgs: string[],
  ): void {
    const local = new Map<string, Tensor>();
    for (const [k, v] of this.tensors("_parameters")) if (v !== null) local.set(k, v);
    const np = this.nonPersistentBuffers;
    for (const [k, v] of this.tensors("_buffers")) {
      if (v !== null && !np.has(k)) local.set(k, v);
    }
    for (const [name, param] of local) {
      const key = prefix + name;
      if (stateDict.has(key)) {
        const raw = stateDict.get(key);
        if (!(raw instanceof Tensor)) {
          errorMsgs.push(
            `While copying the parameter named "${key}", expected torch.Tensor or Tensor-like object from checkpoint but received ${typeName(raw)}`,
          );
          continue;
        }
        const input: Tensor = param.shape.length === 0 && raw.shape.length === 1 ? raw.select(0, 0) : raw;
        const inputShape = input.shape;
        if (inputShape.length !== param.shape.length || inputShape.some((s, i) => s !== param.shape[i])) {
          errorMsgs.push(
            `size mismatch for ${key}: copying a param with shape ${formatSize(inputShape)} from checkpoint, the shape in current model is ${formatSize(param.shape)}.`,
          );
          continue;
        }
        try {
          copyInto(param, input);
        } catch (e) {
          errorMsgs.push(
            `While copying the parameter named "${key}", whose dimensions in the model are ${formatSize(param.shape)} and whose dimensions in the checkpoint are ${formatSize(inputShape)}, an exception occurred : ('${(e as Error).message}',).`,
          );
        }
      } else if (strict) {
        missingKeys.push(key);
      }
    }
    if (strict) {
      const modules = this.modulesDict;
      for (const key of stateDict.keys()) {
        if (!key.startsWith(prefix)) continue;
        const rest = key.slice(prefix.length);
        const dot = rest.indexOf(".");
        const inputName = dot === -1 ? rest : rest.slice(0, dot);
        if (!modules.has(inputName) && !local.has(inputName)) unexpectedKeys.push(key);
      }
    }
  }

  // ---- pickling --------------------------------------------------------------------------

  /**
   * `Module.__setstate__`: `__dict__.update(state)`, then the defaults torch adds for old
   * checkpoints (missing hook dicts, `_non_persistent_buffers_set`, `_is_full_backward_hook`).
   */
  [SETSTATE](state: unknown, ctx: HookContext): undefined {
    if (!(state instanceof Map)) {
      throw new NnError(
        "InvalidState",
        `${this.className}.__setstate__ expects a dict, got ${typeName(state)} (${ctx.opcode} at offset ${ctx.offset})`,
        { offset: ctx.offset, opcode: ctx.opcode },
      );
    }
    this.applyState(state as Map<unknown, unknown>);
    return undefined;
  }

  /** Apply a pickled `__dict__` (see `[SETSTATE]`). */
  applyState(state: Map<unknown, unknown>): void {
    for (const [k, v] of state) {
      if (typeof k !== "string") {
        throw new NnError("InvalidState", `${this.className} state has a non-string key ${typeName(k)}`);
      }
      this.dict.set(k, v);
    }
    for (const k of ["_parameters", "_buffers", "_modules"]) {
      if (!(this.dict.get(k) instanceof Map)) {
        throw new NnError("InvalidState", `${this.className} state has no ${k} dict`, { key: k });
      }
    }
    for (const k of [
      "_forward_pre_hooks",
      "_state_dict_hooks",
      "_load_state_dict_pre_hooks",
      "_load_state_dict_post_hooks",
    ]) {
      if (!this.dict.has(k)) this.dict.set(k, new PyOrderedDict());
    }
    if (!this.dict.has("_non_persistent_buffers_set"))
      this.dict.set("_non_persistent_buffers_set", new Set());
    const np = this.dict.get("_non_persistent_buffers_set");
    if (np instanceof PyFrozenSet || !(np instanceof Set)) {
      throw new NnError("InvalidState", `${this.className}._non_persistent_buffers_set is not a set`);
    }
    if (!this.dict.has("_is_full_backward_hook")) this.dict.set("_is_full_backward_hook", null);
    this.afterSetState(state);
  }

  /** Class-specific `__setstate__` additions (defaults of attributes newer than the pickle). */
  protected afterSetState(_state: Map<unknown, unknown>): void {}

  /** The class global this module pickles as. */
  protected pickleClass(): unknown {
    return ModuleClassRef.of(this.constructor as unknown as ModuleClass);
  }

  /** `copyreg.__reduce_ex__(2)`: `Class.__new__(Class)` (NEWOBJ, no args) + BUILD with `__dict__`. */
  [REDUCE](): Reduction {
    return { func: this.pickleClass(), args: [], kind: "newobj", state: new Map(this.dict) };
  }

  toString(): string {
    return `${this.className}()`;
  }

  /**
   * A torch-like printout for `console.log` / `util.inspect`: the class, each parameter and
   * buffer as `name: dtype[shape]`, then the submodules, indented (`(conv): Conv2d(...)`). No
   * tensor values and no file bytes. (The `Symbol.for` key keeps this free of `node:util`.)
   */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return moduleRepr(this, "", 0);
  }
}

const REPR_MAX_DEPTH = 16;
const REPR_MAX_ITEMS = 50;

function tensorBrief(t: unknown): string {
  if (t === null) return "None";
  if (t instanceof Tensor) return `${t.dtype.name}[${t.shape.join(", ")}]`;
  return typeName(t);
}

function moduleRepr(m: Module, indent: string, depth: number): string {
  const own: string[] = [];
  const dict = m.dict;
  for (const key of ["_parameters", "_buffers"]) {
    const d = dict?.get(key);
    if (d instanceof Map) for (const [k, v] of d) own.push(`${String(k)}: ${tensorBrief(v)}`);
  }
  const mods = dict?.get("_modules");
  const kids = mods instanceof Map ? [...mods] : [];
  const head = `${m.className}(${own.slice(0, REPR_MAX_ITEMS).join(", ")}${own.length > REPR_MAX_ITEMS ? ", …" : ""}`;
  if (kids.length === 0) return `${head})`;
  if (depth >= REPR_MAX_DEPTH) return `${head}${own.length ? ", " : ""}…)`;
  const inner = `${indent}  `;
  const lines = kids.slice(0, REPR_MAX_ITEMS).map(([k, v]) => {
    const body = v instanceof Module ? moduleRepr(v, inner, depth + 1) : v === null ? "None" : typeName(v);
    return `${inner}(${String(k)}): ${body}`;
  });
  if (kids.length > REPR_MAX_ITEMS) lines.push(`${inner}… ${kids.length - REPR_MAX_ITEMS} more`);
  return `${head}\n${lines.join("\n")}\n${indent})`;
}
