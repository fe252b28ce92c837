/**
 * Global names that differ between the Python stacks beside the torch versions we reproduce. The
 * pickle codec only offers the hook (`renameGlobal`); which names a flavour writes is decided here.
 */
import type { TorchFlavor } from "./torch-pickle.js";

const NUMPY2_CORE = "numpy._core";

/**
 * numpy 2 (beside torch ≥ 2.3) pickles its arrays, scalars and dtypes under `numpy._core.*`
 * (`numpy._core.multiarray._reconstruct`, `numpy._core.multiarray.scalar`, …); numpy 1 (beside
 * torch 1.13) has no `numpy._core` and names the same objects `numpy.core.*`. numpy 2 still loads
 * the numpy 1 names (its `numpy.core` shim), so only the 1.13 flavour renames.
 */
function numpy1Name(module: string, name: string): readonly [string, string] | undefined {
  if (module === NUMPY2_CORE) return ["numpy.core", name];
  if (module.startsWith(`${NUMPY2_CORE}.`)) return [`numpy.core${module.slice(NUMPY2_CORE.length)}`, name];
  return undefined;
}

/**
 * The `renameGlobal` pickler option for a flavour's saves: for `"1.13"`, numpy 2's `numpy._core.*`
 * names become numpy 1's `numpy.core.*` (so torch 1.13 loads numpy values read from a torch 2.x
 * file); `undefined` for `"2.x"` (every name is written as loaded).
 */
export function flavorGlobalRenamer(
  flavor: TorchFlavor,
): ((module: string, name: string) => readonly [string, string] | undefined) | undefined {
  return flavor === "1.13" ? numpy1Name : undefined;
}
