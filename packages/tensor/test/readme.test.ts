import * as pickle from "@pt/pickle";
import * as storage from "@pt/storage";
import { expect, it } from "vitest";
import { runReadmeExample } from "../../../tools/test-support/run-readme.js";
import * as tensor from "../src/index.js";

it("the README example runs and prints what it says", async () => {
  const { logs } = await runReadmeExample(new URL("../README.md", import.meta.url), null, null, {
    "@pt/pickle": pickle,
    "@pt/storage": storage,
    "@pt/tensor": tensor,
  });
  expect(logs).toEqual([
    [42],
    [[0, 1], 4],
    [false],
    [
      [0, 1],
      [0, 1, 2, 3],
    ],
  ]);
});
