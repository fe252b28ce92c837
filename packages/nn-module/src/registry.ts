/**
 * `nnGlobals()`: the GlobalRegistry that makes whole-model pickles load as real modules.
 */
import { GlobalRegistry } from "@pt/pickle";
import { BUILTIN_MODULE_CLASSES, F_GELU, F_RELU, TorchFunction } from "./builtins.js";
import { Module, type ModuleClass, ModuleClassRef } from "./module.js";

/** The functional globals torch modules keep as attributes (TransformerEncoderLayer.activation). */
const FUNCTIONS: readonly TorchFunction[] = [
  F_RELU,
  F_GELU,
  new TorchFunction("torch.nn.functional", "gelu"),
  new TorchFunction("torch.nn.functional", "silu"),
  new TorchFunction("torch.nn.functional", "tanh"),
  new TorchFunction("torch.nn.functional", "sigmoid"),
  new TorchFunction("torch", "relu"),
  new TorchFunction("torch", "tanh"),
  new TorchFunction("torch", "sigmoid"),
];

/** Options of `nnGlobals`. */
export interface NnGlobalsOptions {
  /** More module classes to register (your own `Module` subclasses with `pyModule`/`pyName`). */
  readonly classes?: readonly ModuleClass[];
}

/**
 * A GlobalRegistry with every built-in module class under its torch qualified name
 * (`torch.nn.modules.linear Linear` …; NEWOBJ makes a blank instance, BUILD applies the
 * `__dict__`), `torch.nn.modules.module Module`, and the functional globals modules hold.
 * Merge it with `torchGlobals()` from `@pt/tensor` to load a whole-model pickle.
 */
export function nnGlobals(options: NnGlobalsOptions = {}): GlobalRegistry {
  const r = new GlobalRegistry();
  const classes: readonly ModuleClass[] = [
    Module as unknown as ModuleClass,
    ...(BUILTIN_MODULE_CLASSES as readonly ModuleClass[]),
    ...(options.classes ?? []),
  ];
  for (const cls of classes) r.register(cls.pyModule, cls.pyName, ModuleClassRef.of(cls));
  for (const f of FUNCTIONS) r.register(f.module, f.name, f);
  return r;
}
