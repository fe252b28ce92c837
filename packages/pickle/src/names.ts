/**
 * Global names as Python resolves them, for the one decision that must never be fooled: is this
 * global dangerous? `normalizeGlobal` maps aliases (`_operator` → `operator`, `posix`/`nt` → `os`,
 * `__builtin__` → `builtins`, `io.open` → `builtins.open`…) and attribute paths through modules
 * (`pathlib` + `os.system` → `os.system`); `isDangerousGlobal` then checks the normalized name,
 * every dotted component (pickle walks dotted names attribute by attribute) and every prefix of a
 * dotted qualname (`builtins.eval.__call__` is as dangerous as `builtins.eval`).
 *
 * The dangerous list holds at least everything picklescan's `_unsafe_globals` and fickling's
 * `UNSAFE_IMPORTS` call dangerous (Python's standard library and common packages; names owned by
 * a library that knows them, such as torch's, are added by that library with `DangerousList.add`).
 * Allow decisions never use this normalization: an allowlist matches names exactly as written
 * (after pickle's own Python 2 `fix_imports` mapping), as torch's weights_only unpickler does.
 */

/** Python 2 → Python 3 module names (pickle's `fix_imports`, `_compat_pickle.IMPORT_MAPPING`, the part that matters here). */
export const PY2_MODULES: ReadonlyMap<string, string> = new Map([
  ["__builtin__", "builtins"],
  ["copy_reg", "copyreg"],
  ["Queue", "queue"],
  ["UserDict", "collections"],
  ["UserList", "collections"],
  ["_abcoll", "collections.abc"],
  ["cPickle", "pickle"],
]);

/** Python 2 `(module, name)` → Python 3, for the few builtins that moved (pickle's `NAME_MAPPING`). */
export const PY2_NAMES: ReadonlyMap<string, readonly [string, string]> = new Map([
  ["__builtin__\nxrange", ["builtins", "range"]],
  ["__builtin__\nreduce", ["functools", "reduce"]],
  ["__builtin__\nintern", ["sys", "intern"]],
  ["__builtin__\nunichr", ["builtins", "chr"]],
  ["__builtin__\nunicode", ["builtins", "str"]],
  ["__builtin__\nlong", ["builtins", "int"]],
  ["__builtin__\nbasestring", ["builtins", "str"]],
  ["itertools\nizip", ["builtins", "zip"]],
  ["itertools\nimap", ["builtins", "map"]],
  ["itertools\nifilter", ["builtins", "filter"]],
]);

/** `(module, name)` after pickle's Python 2 mapping (`fix_imports`), as `find_class` looks it up. */
export function py3Name(module: string, name: string): readonly [string, string] {
  const renamed = PY2_NAMES.get(`${module}\n${name}`);
  if (renamed) return renamed;
  return [PY2_MODULES.get(module) ?? module, name];
}

/** Modules that are other names of one module (C accelerators, platform modules, Python 2 names). */
const MODULE_ALIASES: ReadonlyMap<string, string> = new Map([
  ["__builtin__", "builtins"],
  ["__builtins__", "builtins"],
  ["_operator", "operator"],
  ["_io", "io"],
  ["_pyio", "io"],
  ["posix", "os"],
  ["nt", "os"],
  ["posixpath", "os.path"],
  ["ntpath", "os.path"],
  ["genericpath", "os.path"],
  ["_codecs", "codecs"],
  ["_pickle", "pickle"],
  ["cPickle", "pickle"],
  ["copy_reg", "copyreg"],
  ["_functools", "functools"],
  ["_collections", "collections"],
  ["_socket", "socket"],
  ["_ssl", "ssl"],
  ["_signal", "signal"],
  ["_thread", "threading"],
  ["thread", "threading"],
  ["_ctypes", "ctypes"],
  ["_sqlite3", "sqlite3"],
  ["_posixsubprocess", "subprocess"],
  ["_winapi", "subprocess"],
  ["commands", "subprocess"],
  ["popen2", "subprocess"],
  ["_frozen_importlib", "importlib"],
  ["_frozen_importlib_external", "importlib"],
  ["_imp", "importlib"],
  ["imp", "importlib"],
  ["_interpreters", "importlib"],
  ["_xxsubinterpreters", "importlib"],
  ["StringIO", "io"],
  ["cStringIO", "io"],
  ["urllib2", "urllib.request"],
  ["httplib", "http.client"],
]);

/** `(module, name)` pairs that are other names of a builtin. */
const NAME_ALIASES: ReadonlyMap<string, readonly [string, string]> = new Map([
  ["io\nopen", ["builtins", "open"]],
  ["io\nopen_code", ["builtins", "open"]],
  ["codecs\nopen", ["builtins", "open"]],
  ["os\nfdopen", ["builtins", "open"]],
]);

/**
 * Modules every name of which is dangerous (picklescan's `"*"` entries and fickling's
 * `UNSAFE_IMPORTS`): process execution, code execution, imports, the file system, the network,
 * nested pickles, debuggers and profilers.
 */
const DANGEROUS_MODULES: ReadonlySet<string> = new Set([
  "os",
  "sys",
  "subprocess",
  "pty",
  "multiprocessing",
  "code",
  "codeop",
  "runpy",
  "marshal",
  "types",
  "doctest",
  "importlib",
  "pkgutil",
  "zipimport",
  "gc",
  "site",
  "unittest",
  "inspect",
  "test",
  "operator",
  "functools",
  "cProfile",
  "profile",
  "pdb",
  "bdb",
  "timeit",
  "trace",
  "socket",
  "ssl",
  "http",
  "urllib",
  "requests",
  "aiohttp",
  "asyncio",
  "webbrowser",
  "smtplib",
  "imaplib",
  "ftplib",
  "poplib",
  "telnetlib",
  "nntplib",
  "ctypes",
  "pickle",
  "dill",
  "cloudpickle",
  "joblib",
  "shutil",
  "tempfile",
  "filecmp",
  "distutils",
  "pydoc",
  "pexpect",
  "pipes",
  "venv",
  "ensurepip",
  "pip",
  "idlelib",
  "lib2to3",
  "socketserver",
  "xmlrpc",
  "signal",
  "threading",
  "atexit",
  "sqlite3",
  "fileinput",
  "glob",
  "platform",
  "linecache",
  "difflib",
  "compileall",
  "py_compile",
  "mmap",
  "select",
  "selectors",
  "logging",
  "syslog",
  "tarfile",
  "zipfile",
  "shelve",
  "_osx_support",
  "_aix_support",
  "_pyrepl",
  "numpy.f2py",
  "numpy.testing",
  "numpy.distutils",
  "numpy.ctypeslib",
]);

/**
 * Components that reach a dangerous module when they appear inside a dotted module path or
 * qualname (`pathlib.os.system`, `foo.sys.modules`): the modules commonly imported by others.
 * Other dangerous modules are matched as the top-level module only, so that a user package
 * `mylib.test` or `project.types` is merely unsafe.
 */
const REACHABLE_MODULES: ReadonlySet<string> = new Set([
  "os",
  "posix",
  "nt",
  "sys",
  "subprocess",
  "builtins",
  "__builtins__",
  "__builtin__",
  "shutil",
  "socket",
  "ctypes",
  "pickle",
  "_pickle",
  "marshal",
  "importlib",
  "runpy",
  "pty",
  "_posixsubprocess",
  "multiprocessing",
  "operator",
  "_operator",
  "functools",
  "codecs",
  "io",
  "_io",
  "webbrowser",
  "pdb",
]);

/** The builtins that are pure data constructors or pure functions (fickling's `SAFE_BUILTINS`); every other builtin is dangerous. */
const SAFE_BUILTINS: ReadonlySet<string> = new Set([
  "bool",
  "int",
  "float",
  "complex",
  "str",
  "bytes",
  "bytearray",
  "list",
  "tuple",
  "set",
  "frozenset",
  "dict",
  "len",
  "abs",
  "sum",
  "min",
  "max",
  "round",
  "pow",
  "divmod",
  "sorted",
  "reversed",
  "enumerate",
  "zip",
  "range",
  "map",
  "filter",
  "slice",
  "iter",
  "next",
  "all",
  "any",
  "hash",
  "id",
  "repr",
  "ascii",
  "bin",
  "hex",
  "oct",
  "ord",
  "chr",
  "isinstance",
  "issubclass",
  "object",
  "callable",
  "format",
  // exceptions and constants carry no behaviour when built
  "Ellipsis",
  "NotImplemented",
]);

/** Names of otherwise harmless modules that are dangerous (picklescan's named entries). */
const DANGEROUS_NAMES: ReadonlyArray<readonly [string, string]> = [
  ["cloudpickle.cloudpickle", "_builtin_type"],
  ["cloudpickle.cloudpickle", "_make_function"],
  ["cloudpickle.cloudpickle", "_function_setstate"],
  ["cloudpickle.cloudpickle", "_make_cell"],
  ["cloudpickle.cloudpickle", "_make_empty_cell"],
  ["cloudpickle.cloudpickle", "subimport"],
  ["logging", "FileHandler"],
  ["io", "FileIO"],
  ["io", "open"],
  ["codecs", "open"],
  ["code", "InteractiveInterpreter.runcode"],
  ["doctest", "debug_script"],
  ["ensurepip", "_run_pip"],
  ["idlelib.autocomplete", "AutoComplete.get_entity"],
  ["idlelib.autocomplete", "AutoComplete.fetch_completions"],
  ["idlelib.calltip", "Calltip.fetch_tip"],
  ["idlelib.calltip", "get_entity"],
  ["idlelib.debugobj", "ObjectTreeItem.SetText"],
  ["idlelib.pyshell", "ModifiedInterpreter.runcode"],
  ["idlelib.pyshell", "ModifiedInterpreter.runcommand"],
  ["idlelib.run", "Executive.runcode"],
  ["imaplib", "IMAP4_stream"],
  ["lib2to3.pgen2.grammar", "Grammar.loads"],
  ["lib2to3.pgen2.pgen", "ParserGenerator.make_label"],
  ["pkgutil", "resolve_name"],
  ["requests.api", "*"],
  ["numpy", "load"],
  ["numpy", "loads"],
  ["numpy", "fromfile"],
  ["numpy.lib.npyio", "load"],
  ["pandas", "read_pickle"],
  ["pandas.io.pickle", "read_pickle"],
  ["copyreg", "_reconstructor.__globals__"],
  // uuid runs commands to find a MAC address; its UUID class and the other constructors are data
  ["uuid", "_get_command_stdout"],
  ["uuid", "_popen"],
  ["uuid", "_find_mac"],
  ["uuid", "_find_mac_near_keyword"],
  ["uuid", "_find_mac_under_heading"],
  ["uuid", "_arp_getnode"],
  ["uuid", "_ifconfig_getnode"],
  ["uuid", "_ip_getnode"],
  ["uuid", "_lanscan_getnode"],
  ["uuid", "_netstat_getnode"],
  ["uuid", "_ipconfig_getnode"],
  ["uuid", "_netbios_getnode"],
  ["uuid", "_unix_getnode"],
  ["uuid", "_windll_getnode"],
  ["uuid", "getnode"],
  ["uuid", "uuid1"],
];

/**
 * A set of dangerous `(module, name)` entries with Python's matching rules: `name` `"*"` covers a
 * whole module (and its submodules), a listed name covers its dotted attributes
 * (`Foo.run` covers `Foo.run.__call__`). Matching is on normalized names.
 */
export class DangerousList {
  private readonly modules = new Set<string>();
  private readonly names = new Set<string>();

  constructor(entries: Iterable<readonly [module: string, name: string]> = []) {
    for (const [m, n] of entries) this.add(m, n);
  }

  /** Add `module.name` (normalized), or a whole module with `name` `"*"`. */
  add(module: string, name: string): this {
    if (name === "*") this.modules.add(normalizeModule(module));
    else {
      const g = normalizeGlobal(module, name);
      this.names.add(`${g.module}\n${g.name}`);
    }
    return this;
  }

  /** A new list with this one's entries and `other`'s. */
  merge(other: DangerousList): DangerousList {
    const r = new DangerousList();
    for (const m of this.modules) r.modules.add(m);
    for (const m of other.modules) r.modules.add(m);
    for (const n of this.names) r.names.add(n);
    for (const n of other.names) r.names.add(n);
    return r;
  }

  /** Whether a normalized `module.name` is listed (module or a module prefix, name or a name prefix). */
  matches(module: string, name: string): boolean {
    if (this.modules.size) {
      const parts = module.split(".");
      for (let k = 1; k <= parts.length; k++) if (this.modules.has(parts.slice(0, k).join("."))) return true;
    }
    if (this.names.size) {
      const parts = name.split(".");
      for (let k = 1; k <= parts.length; k++)
        if (this.names.has(`${module}\n${parts.slice(0, k).join(".")}`)) return true;
    }
    return false;
  }
}

const BUILTIN_DANGER = new DangerousList(DANGEROUS_NAMES);
const COPYREG_DUNDERS: ReadonlySet<string> = new Set(["__newobj__", "__newobj_ex__"]);

/** A module's canonical name: aliases resolved on the whole name, then on its first component. */
export function normalizeModule(module: string): string {
  const whole = MODULE_ALIASES.get(module);
  if (whole !== undefined) return whole;
  const dot = module.indexOf(".");
  if (dot > 0) {
    const head = MODULE_ALIASES.get(module.slice(0, dot));
    if (head !== undefined) return `${head}${module.slice(dot)}`;
  }
  return module;
}

/** A global as Python would end up resolving it. */
export interface NormalizedGlobal {
  readonly module: string;
  readonly name: string;
}

/**
 * The canonical `(module, name)` of a global: Python 2 names mapped (`fix_imports`), module aliases
 * resolved (`_operator` → `operator`, `posix` → `os`, `_io` → `io`…), attribute paths through a
 * module followed (`pathlib` + `os.system` → `os` + `system`), builtin aliases resolved
 * (`io.open` → `builtins.open`).
 */
export function normalizeGlobal(module: string, name: string): NormalizedGlobal {
  let [m, n] = py3Name(module, name);
  m = normalizeModule(m);
  for (let guard = 0; guard < 32; guard++) {
    const alias = NAME_ALIASES.get(`${m}\n${n}`);
    if (alias) {
      [m, n] = alias;
      continue;
    }
    const dot = n.indexOf(".");
    if (dot <= 0) break;
    const head = n.slice(0, dot);
    // `x.os.system`: an attribute that is a module (as `pathlib.os` is `os`).
    if (!REACHABLE_MODULES.has(head) && !MODULE_ALIASES.has(head)) break;
    m = normalizeModule(head);
    n = n.slice(dot + 1);
  }
  return { module: m, name: n };
}

/**
 * True for globals that are never resolved whatever the options: `os.*` (and `posix`/`nt`),
 * `subprocess.*`, `sys.*`, builtins other than pure data constructors and functions (`eval`,
 * `exec`, `getattr`, `open`, `__import__`…), `operator`/`functools` (attrgetter, partial…), and
 * the rest of picklescan's and fickling's lists, under any alias or attribute path; also any
 * dotted qualname reaching a dunder attribute (`object.__subclasses__`). `extra` adds a
 * library's own names (torch's `torch.load`…).
 */
export function isDangerousGlobal(module: string, name: string, extra?: DangerousList): boolean {
  const g = normalizeGlobal(module, name);
  const mparts = g.module.split(".");
  const nparts = g.name.split(".");
  // The top-level module or a module prefix (`__import__("pkg.os")` is pkg's own submodule, not os).
  for (let k = 1; k <= mparts.length; k++)
    if (DANGEROUS_MODULES.has(mparts.slice(0, k).join("."))) return true;
  // Attribute walks: through a module, or to a dunder attribute (`numpy.__builtins__`,
  // `x.__globals__`): only copyreg's `__newobj__`/`__newobj_ex__` are plain dunder globals.
  for (const p of nparts) {
    if (nparts.length > 1 && (DANGEROUS_MODULES.has(p) || REACHABLE_MODULES.has(p))) return true;
    if (
      p.length > 4 &&
      p.startsWith("__") &&
      p.endsWith("__") &&
      !(g.module === "copyreg" && COPYREG_DUNDERS.has(g.name))
    )
      return true;
  }
  if (g.module === "builtins") return nparts.length > 1 || !SAFE_BUILTINS.has(g.name);
  if (BUILTIN_DANGER.matches(g.module, g.name)) return true;
  return extra?.matches(g.module, g.name) ?? false;
}
