import { describe, expect, it } from "vitest";
import { defaultPaths } from "../src/main.js";
import { agree, ourVerdict, readVerdicts, verdictPath } from "../src/weights-only.js";

const { root } = defaultPaths();

describe("our default policy against torch 2.14's weights_only", () => {
  it("agrees on every fixture, corpus file and hostile sample, except the documented decisions", async () => {
    const { torchVersion, files, decisions } = await readVerdicts(root);
    expect(torchVersion).toMatch(/^2\.14/);
    const keys = Object.keys(files);
    expect(keys.filter((k) => k.startsWith("fixtures/")).length).toBe(99);
    expect(keys.filter((k) => k.startsWith("fixtures-2.14/")).length).toBeGreaterThan(98);
    expect(keys.filter((k) => k.startsWith("corpus/")).length).toBeGreaterThan(100);
    expect(keys.filter((k) => k.startsWith("hostile/")).length).toBeGreaterThan(200);
    const unexpected: string[] = [];
    const stale: string[] = [];
    let agreed = 0;
    for (const [k, v] of Object.entries(files)) {
      const ours = await ourVerdict(verdictPath(root, k));
      const d = decisions[k];
      if (agree(ours.verdict, v.torch)) {
        agreed++;
        if (d)
          stale.push(
            `${k}: listed (${d.why.slice(0, 60)}…) but ours ${ours.verdict} agrees with torch ${v.torch}`,
          );
      } else if (!d || d.ours !== ours.verdict || d.torch !== v.torch)
        unexpected.push(
          `${k}: ours ${ours.verdict} (${ours.message ?? ""}), torch ${v.torch} (${v.message ?? ""})`,
        );
    }
    for (const k of Object.keys(decisions))
      if (!files[k]) stale.push(`${k}: listed but has no torch verdict`);
    expect(unexpected).toEqual([]);
    expect(stale).toEqual([]);
    expect(agreed).toBeGreaterThan(500);
    // every decision says why
    for (const [k, d] of Object.entries(decisions)) expect(d.why.length, k).toBeGreaterThan(30);
  }, 120_000);
});
