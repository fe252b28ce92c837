import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { inspect } from "node:util";
import { afterAll, expect, it, vi } from "vitest";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const tmp = new URL("./.readme-example.tmp.ts", import.meta.url);
afterAll(() => rmSync(tmp, { force: true }));

it("the README example runs and prints what its comments say", async () => {
  const code = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(code).toBeDefined();
  const expected = [...code!.matchAll(/console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]);
  writeFileSync(tmp, `// @ts-nocheck\n${code!.replace(/"@pt\/legacy-format"/g, '"../src/index.js"')}`);
  const printed: string[] = [];
  const spy = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
    printed.push(args.map((a) => (typeof a === "string" ? a : inspect(a))).join(" "));
  });
  try {
    await import(/* @vite-ignore */ `${tmp.href}?t=${Date.now()}`);
  } finally {
    spy.mockRestore();
  }
  expect(printed).toEqual(expected);
});
