import { describe, expect, it } from "vitest";
import { runReadmeExample } from "../../../tools/test-support/run-readme.js";
import * as bench from "../src/index.mjs";

// The README's example, through the one README-example runner ("@pt/bench" bound to src/index.mjs).

describe("README example", () => {
  it("runs and prints what its comment says", async () => {
    const { printed } = await runReadmeExample(
      new URL("../README.md", import.meta.url),
      "## The harness's own API",
      "## Files",
      {
        "@pt/bench": bench,
      },
    );
    expect(printed[0]).toMatch(/^0\.222\d* pass$/);
    expect(printed[1]!.split("\n")[2]).toMatch(
      /^\| W3: 50,000 small tensors \| 11\.4 MiB \| 0\.22 \(0\.21–0\.25\) ≤ 0\.3 pass \|/,
    );
  });
});
