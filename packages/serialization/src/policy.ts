/**
 * The load policy, in one place: torch's `weights_only` allowlist (the only allowlist), torch's
 * own dangerous names (on top of `@pt/pickle`'s dangerous list), and the verdict on one global.
 * The scanner (`scan.ts`) and the loader's refusal messages both decide here, so they agree.
 */
import { dtypes as allDtypes } from "@pt/storage";
import { TorchClassRef, torchGlobals } from "@pt/tensor";
import {
  DangerousList,
  defaultGlobals,
  GlobalRegistry,
  isDangerousGlobal,
  PyGlobal,
  py3Name,
} from "./pickle-compat.js";

/**
 * torch's names that run code or load other pickles (picklescan's torch entries and the loaders):
 * refused whatever the options, under any alias or attribute path.
 */
const TORCH_DANGEROUS_ENTRIES: ReadonlyArray<readonly [string, string]> = [
  ["torch", "load"],
  ["torch.serialization", "load"],
  ["torch.serialization", "_load"],
  ["torch.serialization", "_legacy_load"],
  ["torch.storage", "_load_from_bytes"],
  ["torch.jit", "load"],
  ["torch.jit._serialization", "load"],
  ["torch.jit", "_load_for_lite_interpreter"],
  ["torch.jit.mobile", "*"],
  ["torch.hub", "*"],
  ["torch.package", "*"],
  ["torch._inductor.codecache", "compile_file"],
  ["torch._dynamo.guards", "GuardBuilder.get"],
  ["torch.fx.experimental.symbolic_shapes", "ShapeEnv.evaluate_guards_expression"],
  ["torch.jit.unsupported_tensor_ops", "execWrapper"],
  ["torch.utils._config_module", "ConfigModule.load_config"],
  ["torch.utils.bottleneck.__main__", "*"],
  ["torch.utils.collect_env", "run"],
  ["torch.utils.cpp_extension", "*"],
  ["torch.utils.data.datapipes.utils.decoder", "basichandlers"],
  ["torch._C", "_jit_pass_lower_graph"],
  ["torch.distributed.rpc", "*"],
];
export const TORCH_DANGEROUS: DangerousList = new DangerousList(TORCH_DANGEROUS_ENTRIES);

/** Whether `module.name` is dangerous: `@pt/pickle`'s list plus torch's (`TORCH_DANGEROUS`). */
export function isDangerous(module: string, name: string): boolean {
  return isDangerousGlobal(module, name, TORCH_DANGEROUS);
}

/** Parse `allowGlobals` entries: `"module.name"` (split at the last dot) or `[module, name]`. */
export function parseAllowed(
  entries: Iterable<string | readonly [module: string, name: string]>,
): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const e of entries) {
    if (typeof e === "string") {
      const i = e.lastIndexOf(".");
      if (i <= 0 || i === e.length - 1)
        throw new TypeError(`allowGlobals entry ${JSON.stringify(e)} is not module.name`);
      out.push([e.slice(0, i), e.slice(i + 1)]);
    } else out.push([e[0], e[1]]);
  }
  return out;
}

/** The legacy tensor classes (`torch.FloatTensor`, `torch.cuda.FloatTensor`…), as `torch._tensor_classes`. */
function tensorClasses(r: GlobalRegistry): void {
  for (const d of Object.values(allDtypes)) {
    if (!d.tensorTypeName) continue;
    const name = d.tensorTypeName.slice("torch.".length);
    for (const m of ["torch", "torch.cuda"])
      if (!r.has(m, name)) r.register(m, name, new TorchClassRef(m, name));
  }
}

/**
 * torch's `weights_only` allowlist as a registry (FORMAT.md §7), the one allowlist: rebuild
 * functions, storage classes, dtypes, `torch.Size`, `torch.device`, `_get_layout`, layouts,
 * qschemes, `torch.Tensor`, `Parameter` (all from `torchGlobals()`), the legacy tensor classes,
 * `collections.Counter` (an inert placeholder), on top of `@pt/pickle`'s pure-data allowlist
 * (`OrderedDict`, `set`, `frozenset`, `bytearray`, `complex`, `_codecs.encode`…), with torch's
 * dangerous names refused (`TORCH_DANGEROUS`). Entries of `allowGlobals` are added as inert
 * placeholders (`PyGlobal`: calling one builds a `PyObject`) unless `known` implements them.
 */
export function weightsOnlyRegistry(
  allowGlobals: Iterable<string | readonly [string, string]> = [],
  known?: GlobalRegistry,
): GlobalRegistry {
  const r = torchGlobals();
  tensorClasses(r);
  // in torch's allowlist but without a JS model here: an inert placeholder (a dict subclass)
  r.register("collections", "Counter", new PyGlobal("collections", "Counter"));
  for (const [m, n] of parseAllowed(allowGlobals)) {
    if (known?.has(m, n)) r.register(m, n, known.get(m, n));
    else r.register(m, n, new PyGlobal(m, n));
  }
  for (const [m, n] of TORCH_DANGEROUS_ENTRIES) r.refuse(m, n);
  return r;
}

let base: GlobalRegistry | null = null;

/**
 * Whether `registry` (plus the built-in pure-data allowlist) resolves `module.name` as written or
 * after pickle's Python 2 mapping, exactly as the unpickler looks it up; never for a dangerous name.
 */
export function isAllowed(registry: GlobalRegistry, module: string, name: string): boolean {
  if (isDangerous(module, name)) return false;
  base ??= defaultGlobals();
  const [pm, pn] = py3Name(module, name);
  return registry.has(module, name) || base.has(module, name) || registry.has(pm, pn) || base.has(pm, pn);
}

/** `safe`: allowed by the policy's registry; `unsafe`: not; `dangerous`: never loaded whatever the options. */
export type Verdict = "safe" | "unsafe" | "dangerous";

/** The verdict on `module.name` (null: an unresolvable STACK_GLOBAL or extension code, dangerous). */
export function verdictOf(registry: GlobalRegistry, module: string | null, name: string | null): Verdict {
  if (module === null || name === null || isDangerous(module, name)) return "dangerous";
  return isAllowed(registry, module, name) ? "safe" : "unsafe";
}

export { GlobalRegistry };
