/** `torch.nn.modules.flatten`: Flatten, Unflatten. */
import { tuple } from "@pt/pickle";
import { Module } from "../module.js";
import { ints, num, setAll } from "./attrs.js";

export class Flatten extends Module {
  static override readonly pyModule: string = "torch.nn.modules.flatten";
  static override readonly pyName: string = "Flatten";
  constructor(startDim = 1, endDim = -1) {
    super();
    setAll(this, [
      ["start_dim", startDim],
      ["end_dim", endDim],
    ]);
  }
  get startDim(): number {
    return num(this, "start_dim");
  }
  get endDim(): number {
    return num(this, "end_dim");
  }
}

/** `nn.Unflatten(dim, unflattened_size)`. */
export class Unflatten extends Module {
  static override readonly pyModule: string = "torch.nn.modules.flatten";
  static override readonly pyName: string = "Unflatten";
  constructor(dim: number, unflattenedSize: readonly number[]) {
    super();
    setAll(this, [
      ["dim", dim],
      ["unflattened_size", tuple(unflattenedSize.slice())],
    ]);
  }
  get dim(): number {
    return num(this, "dim");
  }
  get unflattenedSize(): number[] {
    return ints(this, "unflattened_size");
  }
}
