/**
 * `@pt/nn-module`: torch.nn modules with torch 1.13's `state_dict`/`load_state_dict` semantics,
 * built-in module classes registered under torch's names, generic modules for user classes,
 * and whole-model pickles that load and save as torch writes them.
 */
export * from "./builtins.js";
export { copyInto } from "./copy.js";
export * from "./errors.js";
export { GenericModule, isModuleState, reviveModules } from "./generic.js";
export { filled, manualSeed, normal, uniform } from "./init.js";
export {
  detach,
  formatSize,
  type IncompatibleKeys,
  type LoadStateDictOptions,
  MODULE_BASE_KEYS,
  Module,
  type ModuleClass,
  ModuleClassRef,
  type PyClassName,
  pyFloat,
  type StateDictOptions,
} from "./module.js";
export { type NnGlobalsOptions, nnGlobals } from "./registry.js";
