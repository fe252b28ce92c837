import { readFileSync } from "node:fs";
import { inspect } from "node:util";
import { expect, it } from "vitest";
import * as api from "../src/index.js";

it("the README example runs and prints what its comments say", () => {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const block = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(block).toBeDefined();
  const code = (block as string).replace(/^import \{([^}]*)\} from "@pt\/pickle";$/m, "const {$1} = api;");
  const expected = Array.from((block as string).matchAll(/console\.log\(.*\); \/\/ (.*)$/gm), (m) => m[1]);
  const printed: string[] = [];
  const consoleLike = { log: (v: unknown) => printed.push(typeof v === "string" ? v : inspect(v)) };
  new Function("api", "console", code)(api, consoleLike);
  expect(printed.map((l) => l.trim())).toEqual(expected.map((l) => (l as string).trim()));
});
