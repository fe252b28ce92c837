import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import * as nn from "../src/index.js";

describe("console.log / util.inspect of a Module", () => {
  it("prints the class, parameters and buffers by dtype and shape, and submodules indented", () => {
    const m = new nn.Sequential(new nn.Linear(5, 8), new nn.ReLU(), new nn.Sequential(new nn.Linear(8, 2)));
    expect(inspect(m)).toBe(
      [
        "Sequential(",
        "  (0): Linear(weight: float32[8, 5], bias: float32[8])",
        "  (1): ReLU()",
        "  (2): Sequential(",
        "    (0): Linear(weight: float32[2, 8], bias: float32[2])",
        "  )",
        ")",
      ].join("\n"),
    );
  });
});
