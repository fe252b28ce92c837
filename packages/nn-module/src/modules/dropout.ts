/** `torch.nn.modules.dropout`: Dropout. */
import { NnError } from "../errors.js";
import { Module, pyFloat } from "../module.js";
import { bool, num, setAll } from "./attrs.js";

/** `nn.Dropout(p=0.5, inplace=False)`. */
export class Dropout extends Module {
  static override readonly pyModule: string = "torch.nn.modules.dropout";
  static override readonly pyName: string = "Dropout";
  constructor(p = 0.5, options: { inplace?: boolean } = {}) {
    super();
    if (p < 0 || p > 1) {
      throw new NnError("InvalidState", `dropout probability has to be between 0 and 1, but got ${p}`, { p });
    }
    setAll(this, [
      ["p", pyFloat(p)],
      ["inplace", options.inplace ?? false],
    ]);
  }
  get p(): number {
    return num(this, "p");
  }
  get inplace(): boolean {
    return bool(this, "inplace");
  }
}
