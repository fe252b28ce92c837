import { describe, expect, it } from "vitest";
import { formatProfile, summarizeProfile } from "../src/profile.mjs";

const frame = (functionName: string, url = "", lineNumber = 0) => ({ functionName, url, lineNumber });

describe("summarizeProfile", () => {
  const profile = {
    nodes: [
      { id: 1, callFrame: frame("(root)") },
      { id: 2, callFrame: frame("(idle)") },
      { id: 3, callFrame: frame("readChunk", "file:///repo/packages/storage/dist/node.js", 87) },
      { id: 4, callFrame: frame("readChunk", "file:///repo/packages/storage/dist/node.js", 87) },
      { id: 5, callFrame: frame("", "file:///repo/x.js", 0) },
      { id: 6, callFrame: frame("(garbage collector)") },
    ],
    samples: [2, 3, 4, 5, 6, 3, 2],
    timeDeltas: [5000, 100, 200, 300, 500, 100, 9000],
  };

  it("sums self time per function over its call sites, leaves idle out, largest first", () => {
    const top = summarizeProfile(profile);
    expect(top.map((e) => [e.name, e.ms])).toEqual([
      ["(garbage collector)", 0.5],
      ["readChunk node.js:88", 0.4],
      ["(anonymous) x.js:1", 0.3],
    ]);
    expect(top.map((e) => e.share.toFixed(6))).toEqual(["0.416667", "0.333333", "0.250000"]);
    expect(summarizeProfile(profile, 1)).toHaveLength(1);
  });

  it("formats one aligned line per function", () => {
    expect(formatProfile(summarizeProfile(profile, 2)).split("\n")).toEqual([
      "       0.5 ms  41.7%  (garbage collector)",
      "       0.4 ms  33.3%  readChunk node.js:88",
    ]);
  });

  it("copes with an empty profile", () => {
    expect(summarizeProfile({ nodes: [], samples: [], timeDeltas: [] })).toEqual([]);
  });
});
