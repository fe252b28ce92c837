/** `torch.nn.modules.container`: Sequential, ModuleList, ModuleDict. */
import { Module } from "../module.js";

/** What Sequential and ModuleList share: submodules by position. */
abstract class IndexedModules extends Module {
  /** Number of submodules. */
  get length(): number {
    return this.modulesDict.size;
  }
  /** The `i`-th submodule (negative counts from the end). */
  at(i: number): Module | null {
    const vals = [...this.modulesDict.values()];
    return vals[i < 0 ? vals.length + i : i] ?? null;
  }
  /** `append(module)`. */
  append(m: Module): this {
    this.addModule(String(this.modulesDict.size), m);
    return this;
  }
}

/** `nn.Sequential`: submodules named "0", "1", … (or the names of an ordered map). */
export class Sequential extends IndexedModules {
  static override readonly pyModule: string = "torch.nn.modules.container";
  static override readonly pyName: string = "Sequential";
  constructor(...modules: Module[] | [Map<string, Module>]) {
    super();
    const first = modules[0];
    if (modules.length === 1 && first instanceof Map) {
      for (const [k, m] of first) this.addModule(k, m);
    } else {
      for (const [i, m] of (modules as Module[]).entries()) this.addModule(String(i), m);
    }
  }
}

/** `nn.ModuleList`. */
export class ModuleList extends IndexedModules {
  static override readonly pyModule: string = "torch.nn.modules.container";
  static override readonly pyName: string = "ModuleList";
  constructor(modules: Iterable<Module> = []) {
    super();
    for (const m of modules) this.append(m);
  }
}

/** `nn.ModuleDict`. */
export class ModuleDict extends Module {
  static override readonly pyModule: string = "torch.nn.modules.container";
  static override readonly pyName: string = "ModuleDict";
  constructor(modules: Iterable<readonly [string, Module]> = []) {
    super();
    for (const [k, m] of modules) this.addModule(k, m);
  }
  get(key: string): Module | null {
    return this.modulesDict.get(key) ?? null;
  }
  keys(): string[] {
    return [...this.modulesDict.keys()];
  }
}
