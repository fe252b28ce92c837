import * as storage from "@pt/storage";
import * as tensor from "@pt/tensor";
import { expect, test } from "vitest";
import { runReadmeExample } from "../../../tools/test-support/run-readme.js";
import * as safetensors from "../src/index.js";

test("the README's example runs and prints what it says", async () => {
  const { logs } = await runReadmeExample(new URL("../README.md", import.meta.url), null, null, {
    "@pt/storage": storage,
    "@pt/tensor": tensor,
    "@pt/safetensors": safetensors,
  });
  expect(logs).toEqual([
    [["conv.weight", "conv.bias"], 200],
    [
      [
        ["conv.weight", "F32", [2, 2]],
        ["conv.bias", "F32", [2]],
      ],
      false,
    ],
    [
      [
        [1, 2],
        [3, 4],
      ],
      null,
    ],
  ]);
});
