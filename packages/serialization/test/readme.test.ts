import * as os from "node:os";
import * as path from "node:path";
import * as pickle from "@pt/pickle";
import * as storage from "@pt/storage";
import * as tensor from "@pt/tensor";
import { expect, test } from "vitest";
import { runReadmeExample } from "../../../tools/test-support/run-readme.js";
import * as serialization from "../src/index.js";
import * as node from "../src/node.js";

test("the README's example runs and prints what it says", async () => {
  const { logs } = await runReadmeExample(new URL("../README.md", import.meta.url), null, null, {
    "node:os": os,
    "node:path": path,
    "@pt/pickle": pickle,
    "@pt/storage": storage,
    "@pt/tensor": tensor,
    "@pt/serialization": serialization,
    "@pt/serialization/node": node,
  });
  expect(logs).toEqual([
    [
      ["weight", "bias"],
      [2, 3],
    ],
    ["zip", "sd", [false, false]],
    [5, true],
    [["weight", "bias"], [2]],
  ]);
});
