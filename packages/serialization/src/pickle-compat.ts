/** The pieces of `@pt/pickle` this package uses, in one place. */
export {
  defaultGlobals,
  GlobalRegistry,
  genops,
  isDangerousGlobal,
  PyGlobal,
  UnsafeGlobalError,
} from "@pt/pickle";

/** Python 2 module names pickles use at protocol < 3 (`__builtin__`, `copy_reg`) → Python 3. */
export const PY2_MODULES_FALLBACK: ReadonlyMap<string, string> = new Map([
  ["__builtin__", "builtins"],
  ["copy_reg", "copyreg"],
]);
