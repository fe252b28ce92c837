import { expect, it } from "vitest";
import { runReadmeExample } from "../../../tools/test-support/run-readme.js";
import * as api from "../src/index.js";

it("the README example runs and prints what its comments say", async () => {
  const run = await runReadmeExample(new URL("../README.md", import.meta.url), "## Example", null, {
    "@pt/errors": api,
  });
  expect(run.comments).toHaveLength(2);
  expect(run.printed.map((l) => l.trim())).toEqual(run.comments.map((l) => l.trim()));
});
