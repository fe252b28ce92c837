import * as pickle from "@pt/pickle";
import * as storage from "@pt/storage";
import * as tensor from "@pt/tensor";
import { expect, test } from "vitest";
import { runReadmeExample } from "../../../tools/test-support/run-readme.js";
import * as zip from "../src/index.js";

const README = new URL("../README.md", import.meta.url);

test("the README's torch-level example runs and prints what it says", async () => {
  const { logs } = await runReadmeExample(README, "## Torch level", "## Zip container", {
    "@pt/pickle": pickle,
    "@pt/storage": storage,
    "@pt/tensor": tensor,
    "@pt/zip-format": zip,
  });
  expect(logs).toEqual([[["data.pkl", "data/0", "version"]], ["sd", 3, "1.13", 1], [true], [true]]);
});
