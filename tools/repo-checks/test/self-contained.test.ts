import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The repository stands on its own: no tracked script, test, config or CI step reaches outside
 * the clone for its inputs (the old sibling corpus folder was a newcomer's first failure).
 */
const root = new URL("../../../", import.meta.url).pathname;
const tracked = execFileSync("git", ["ls-files", "-z"], { cwd: root, encoding: "utf8" })
  .split("\0")
  .filter((f) => f && /\.(ts|mts|js|mjs|cjs|py|sh|json|yaml|yml)$|(^|\/)run$/.test(f))
  .filter((f) => !f.startsWith("apps/conformance/corpus/"));

describe("self-contained repository", () => {
  it("looks at a real set of files", () => {
    expect(tracked.length).toBeGreaterThan(100);
    expect(tracked).toContain(".ci/run");
  });
  it("no tracked file reads a sibling shared/ folder (the corpus lives in apps/conformance/corpus)", () => {
    const offenders: string[] = [];
    // a path that climbs out of the clone into a sibling `shared` folder
    // (built from parts, so that this file does not match itself)
    const word = ["sha", "red"].join("");
    const outside = new RegExp(`(\\.\\./)+${word}\\b|/${word}/corpus\\b`);
    for (const f of tracked) {
      const text = readFileSync(join(root, f), "utf8");
      text.split("\n").forEach((line, i) => {
        if (outside.test(line)) offenders.push(`${f}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });
  it("the corpus is in the repository with its provenance", () => {
    const tsv = readFileSync(join(root, "apps/conformance/corpus/PROVENANCE.tsv"), "utf8");
    const rows = tsv.trim().split("\n").slice(1);
    expect(rows.length).toBe(135);
    const files = execFileSync("git", ["ls-files", "apps/conformance/corpus/files"], {
      cwd: root,
      encoding: "utf8",
    })
      .trim()
      .split("\n");
    expect(files.length).toBe(135);
  });
});
