import { expect, it } from "vitest";
import { runReadmeExample } from "../../../tools/test-support/run-readme.js";
import * as storage from "../src/index.js";

it("the README example runs and prints what it says", async () => {
  const { logs } = await runReadmeExample(new URL("../README.md", import.meta.url), null, null, {
    "@pt/storage": storage,
  });
  expect(logs).toEqual([[false], [[3, 4]], [0.0999755859375]]);
});
