import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

// The README's example runs as written (with "@pt/bench" pointed at src/index.mjs).

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const dir = mkdtempSync(join(tmpdir(), "pt-bench-readme-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("README example", () => {
  it("runs and prints what its comment says", async () => {
    const block = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    const index = new URL("../src/index.mjs", import.meta.url).href;
    const file = join(dir, "example.mjs");
    writeFileSync(file, block!.replace('"@pt/bench"', JSON.stringify(index)));
    const { stdout } = await promisify(execFile)(process.execPath, [file]);
    const lines = stdout.split("\n");
    expect(lines[0]).toMatch(/^0\.222\d* pass$/);
    expect(lines[3]).toMatch(
      /^\| W3: 50,000 small tensors \| 11\.4 MiB \| 0\.22 \(0\.21–0\.25\) ≤ 0\.3 pass \|/,
    );
  });
});
