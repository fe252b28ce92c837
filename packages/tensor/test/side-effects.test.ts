import { REDUCE } from "@pt/pickle";
import { dtypes } from "@pt/storage";
import { expect, it } from "vitest";
import { installTorchPickleProtocols, Tensor, torchReducers } from "../src/index.js";

// The package declares `sideEffects: false`: importing it must not patch any prototype (a bundler
// may drop a module nobody imports from). The protocols come with an explicit call.
it("importing the package installs nothing; installTorchPickleProtocols (or torchReducers) does", () => {
  expect(REDUCE in Tensor.prototype).toBe(false);
  expect(Object.getOwnPropertySymbols(Object.getPrototypeOf(dtypes.float32))).toEqual([]);
  torchReducers();
  expect(REDUCE in Tensor.prototype).toBe(true);
  installTorchPickleProtocols(); // idempotent
  expect(typeof (Tensor.prototype as unknown as Record<symbol, unknown>)[REDUCE]).toBe("function");
});
