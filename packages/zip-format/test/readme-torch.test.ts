import { readFileSync } from "node:fs";
import * as pickle from "@pt/pickle";
import * as storage from "@pt/storage";
import * as tensor from "@pt/tensor";
import { expect, test, vi } from "vitest";
import * as zip from "../src/index.js";

test("the README's torch-level example runs and prints what it says", async () => {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const section = readme.slice(readme.indexOf("## Torch level"), readme.indexOf("## Zip container"));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error("no example in the README");
  const modules: Record<string, unknown> = {
    "@pt/pickle": pickle,
    "@pt/storage": storage,
    "@pt/tensor": tensor,
    "@pt/zip-format": zip,
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
  expect(logs).toEqual([[["data.pkl", "data/0", "version"]], ["sd", 3, "1.13", 1], [true], [true]]);
});
