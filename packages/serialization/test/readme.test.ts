import { readFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pickle from "@pt/pickle";
import * as storage from "@pt/storage";
import * as tensor from "@pt/tensor";
import { expect, test, vi } from "vitest";
import * as serialization from "../src/index.js";
import * as node from "../src/node.js";

test("the README's example runs and prints what it says", async () => {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!code) throw new Error("no example in the README");
  const modules: Record<string, unknown> = {
    "node:os": os,
    "node:path": path,
    "@pt/pickle": pickle,
    "@pt/storage": storage,
    "@pt/tensor": tensor,
    "@pt/serialization": serialization,
    "@pt/serialization/node": node,
  };
  const js = code.replace(
    /import \{([^}]*)\} from "([^"]+)";/g,
    (_, names: string, from: string) => `const {${names}} = modules[${JSON.stringify(from)}];`,
  );
  const logs: unknown[][] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
    logs.push(args);
  });
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (
    ...args: string[]
  ) => (...a: unknown[]) => Promise<void>;
  try {
    await new AsyncFunction("modules", js)(modules);
  } finally {
    log.mockRestore();
  }
  expect(logs).toEqual([
    [
      ["weight", "bias"],
      [2, 3],
    ],
    ["zip", "sd", [false, false]],
    [5, true],
    [["weight", "bias"], 2],
  ]);
});
