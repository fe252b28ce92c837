/**
 * `torch.memory_format` values (`torch.channels_last`, …). torch pickles one by its qualified name
 * `torch.<name>` found in the first module that has an attribute `torch` (`torch._utils` for the
 * torches we reproduce): at protocol 4+ `STACK_GLOBAL('torch._utils', 'torch.channels_last')`
 * (torch 1.13 and 2.x), below 4 (Python ≥ 3.12, torch 2.x) `getattr(torch._utils.torch,
 * 'channels_last')`; torch 1.13's Python cannot pickle them below protocol 4 at all. They are not in
 * torch's `weights_only` allowlist, so only the unsafe (opaque) load reads them
 * (`memoryFormatGlobals`).
 */
import { GLOBAL_NAME, type GlobalNamed, GlobalRegistry } from "@pt/pickle";
import { TorchPickleError } from "./torch-pickle.js";

/** The memory formats torch has. */
export const MEMORY_FORMATS = [
  "contiguous_format",
  "channels_last",
  "channels_last_3d",
  "preserve_format",
] as const;
export type MemoryFormatName = (typeof MEMORY_FORMATS)[number];

/**
 * One memory format, with the global name it was pickled under (module and dotted qualified
 * name), so a re-save writes the same bytes.
 */
export class TorchMemoryFormat implements GlobalNamed {
  private constructor(
    readonly name: MemoryFormatName,
    readonly module: string,
    readonly qualname: string,
  ) {}
  private static cache = new Map<string, TorchMemoryFormat>();
  /**
   * The memory format `name` (`"channels_last"` or `"torch.channels_last"`), pickled as
   * `module.qualname` (default: torch's `torch._utils` + `torch.<name>`).
   */
  static of(name: string, module = "torch._utils", qualname?: string): TorchMemoryFormat {
    const n = name.startsWith("torch.") ? name.slice(6) : name;
    if (!(MEMORY_FORMATS as readonly string[]).includes(n))
      throw new TorchPickleError(`unknown memory format '${name}'`, { memoryFormat: name });
    const q = qualname ?? (module === "torch" ? n : `torch.${n}`);
    const key = `${module}\n${q}`;
    let f = TorchMemoryFormat.cache.get(key);
    if (!f) {
      f = new TorchMemoryFormat(n as MemoryFormatName, module, q);
      TorchMemoryFormat.cache.set(key, f);
    }
    return f;
  }
  get [GLOBAL_NAME]() {
    return { module: this.module, name: this.qualname };
  }
  toString(): string {
    return `torch.${this.name}`;
  }
}

/**
 * The globals that name memory formats as torch pickles them (`torch._utils` + `torch.<name>`),
 * and as `torch.<name>` directly: typed `TorchMemoryFormat` values. Not part of the
 * `weights_only` allowlist (torch 2.14 refuses them): merge it only into an unsafe load's registry.
 */
export function memoryFormatGlobals(): GlobalRegistry {
  const r = new GlobalRegistry();
  for (const n of MEMORY_FORMATS) {
    r.register("torch._utils", `torch.${n}`, TorchMemoryFormat.of(n, "torch._utils", `torch.${n}`));
    r.register("torch", n, TorchMemoryFormat.of(n, "torch", n));
  }
  return r;
}
