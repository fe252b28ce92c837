import { readFileSync } from "node:fs";
import * as storage from "@pt/storage";
import { expect, test, vi } from "vitest";
import * as zip from "../src/index.js";

test("the README's zip container example runs and prints what it says", async () => {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const section = readme.slice(readme.indexOf("## Zip container"));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error("no example in the README");
  const modules: Record<string, unknown> = { "@pt/storage": storage, "@pt/zip-format": zip };
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
    ["model", ["data.pkl", "data/0", "version"]],
    [{ offset: 192, length: 16 }],
    [4, 16],
  ]);
});
