import * as pickle from "@pt/pickle";
import * as storage from "@pt/storage";
import * as tensor from "@pt/tensor";
import { expect, it } from "vitest";
import { runReadmeExample } from "../../../tools/test-support/run-readme.js";
import * as nn from "../src/index.js";

it("the README example runs and prints what it says", async () => {
  const { logs } = await runReadmeExample(new URL("../README.md", import.meta.url), null, null, {
    "@pt/nn-module": nn,
    "@pt/pickle": pickle,
    "@pt/storage": storage,
    "@pt/tensor": tensor,
  });
  expect(logs[0]).toEqual([["0.weight", "0.bias", "2.weight", "2.bias"]]);
  const meta = logs[1]?.[0] as Map<string, unknown>;
  expect([...meta.keys()]).toEqual(["", "0", "1", "2"]);
  expect(meta.get("")).toEqual(new Map([["version", 1]]));
  expect(logs[2]).toEqual([true, 4]);
  expect(String(logs[3]?.[0])).toContain('Missing key(s) in state_dict: "2.bias".');
  expect(logs[4]).toEqual([{ missingKeys: ["2.bias"], unexpectedKeys: [] }]);
  expect(logs).toHaveLength(5);
});
