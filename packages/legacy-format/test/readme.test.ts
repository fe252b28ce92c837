import * as pickle from "@pt/pickle";
import * as storage from "@pt/storage";
import * as tensor from "@pt/tensor";
import { expect, it } from "vitest";
import { runReadmeExample } from "../../../tools/test-support/run-readme.js";
import * as legacy from "../src/index.js";

it("the README example runs and prints what its comments say", async () => {
  const run = await runReadmeExample(new URL("../README.md", import.meta.url), null, null, {
    "@pt/pickle": pickle,
    "@pt/storage": storage,
    "@pt/tensor": tensor,
    "@pt/legacy-format": legacy,
  });
  expect(run.comments).toHaveLength(5);
  expect(run.printed).toEqual(run.comments);
});
