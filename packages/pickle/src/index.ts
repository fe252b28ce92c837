/**
 * `@pt/pickle`: a complete, safe Python pickle codec (protocols 0-5) that never executes anything.
 *
 * - `loads` / `Unpickler`: read pickles; globals resolve only through the pure-data allowlist and
 *   your `GlobalRegistry` (policy `"reject"` by default, `"opaque"` for inert placeholders).
 * - `dumps` / `Pickler`: write pickles, byte-identical to CPython's C pickler at protocol 2.
 * - `disassemble` / `genops`: `pickletools.dis`-compatible text and an opcode iterator.
 * - `scanPickle`: every global a pickle references, with offset, opcode and how it is used.
 * - `isDangerousGlobal` / `normalizeGlobal`: the one dangerous list and name normalization.
 * - `reprFloat` / `reprStr` / `reprBytes`: Python's `repr()` of floats, strs and bytes.
 */

export { defaultGlobals } from "./allowlist.js";
export {
  type DisassembleOptions,
  disassemble,
  type GenopsOptions,
  genops,
  type OpArg,
  type PickleOp,
} from "./disassemble.js";
export * from "./errors.js";
export * from "./hooks.js";
export {
  DangerousList,
  isDangerousGlobal,
  type NormalizedGlobal,
  normalizeGlobal,
  normalizeModule,
  PY2_MODULES,
  PY2_NAMES,
  py3Name,
} from "./names.js";
export { type ArgKind, DEFAULT_PROTOCOL, HIGHEST_PROTOCOL, OPCODES, type OpcodeInfo } from "./opcodes.js";
export { type DumpOptions, dumps, Pickler, type PicklerOptions } from "./pickler.js";
export {
  type GlobalFinding,
  type GlobalUse,
  type GlobalUseKind,
  type PickleScan,
  type PickleSection,
  type ScanOptions,
  scanPickle,
} from "./scan.js";
export { reprBytes, reprFloat, reprStr } from "./text.js";
export {
  DEFAULT_LIMITS,
  type LoadOptions,
  loads,
  loadsWithOffset,
  type PickleLimits,
  pickLimits,
  Unpickler,
  type UnpicklerOptions,
} from "./unpickler.js";
export * from "./values.js";
