import * as storage from "@pt/storage";
import { expect, test } from "vitest";
import * as zip from "../src/index.js";
import { runReadmeExample } from "./run-readme.js";

test("the README's zip container example runs and prints what it says", async () => {
  const logs = await runReadmeExample("## Zip container", null, {
    "@pt/storage": storage,
    "@pt/zip-format": zip,
  });
  expect(logs).toEqual([
    ["model", ["data.pkl", "data/0", "version"]],
    [{ offset: 192, length: 16 }],
    [4, 16],
  ]);
});
