/** Functional globals modules hold (`torch.nn.functional.relu`, `torch._C._nn.gelu`). */
import { GLOBAL_NAME, type GlobalNamed } from "@pt/pickle";

/** A torch function global (`torch.nn.functional.relu`), as TransformerEncoderLayer pickles `activation`. */
export class TorchFunction implements GlobalNamed {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get [GLOBAL_NAME](): { module: string; name: string } {
    return { module: this.module, name: this.name };
  }
}
/** `torch.nn.functional.relu`. */
export const F_RELU: TorchFunction = new TorchFunction("torch.nn.functional", "relu");
/** `torch._C._nn.gelu` (what `torch.nn.functional.gelu` pickles as). */
export const F_GELU: TorchFunction = new TorchFunction("torch._C._nn", "gelu");
