import * as storage from "@pt/storage";
import { expect, test } from "vitest";
import { runReadmeExample } from "../../../tools/test-support/run-readme.js";
import * as zip from "../src/index.js";

const README = new URL("../README.md", import.meta.url);

test("the README's zip container example runs and prints what it says", async () => {
  const { logs } = await runReadmeExample(README, "## Zip container", null, {
    "@pt/storage": storage,
    "@pt/zip-format": zip,
  });
  expect(logs).toEqual([
    ["model", ["data.pkl", "data/0", "version"]],
    [{ offset: 192, length: 16 }],
    [4, 16],
  ]);
});
