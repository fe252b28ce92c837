import { describe, expect, it } from "vitest";
import { LimitError, scanPickle } from "../src/index.js";

describe("scanPickle's pickle limit", () => {
  // `N.` is a whole pickle (None); a dangerous global hides after the limit
  const many = (n: number, tail: string) => new TextEncoder().encode(`${"N.".repeat(n)}${tail}`);

  it("reports the limit as an error, naming where the unscanned rest starts", () => {
    const data = many(10, "cos\nsystem\n(S'id'\ntR.");
    const r = scanPickle(data, { untilEof: true, maxPickles: 5 });
    expect(r.pickles.length).toBe(5);
    expect(r.error).toBeInstanceOf(LimitError);
    expect(r.error?.offset).toBe(10);
    expect(r.globals).toEqual([]); // the global past the limit is not seen: hence the error
  });

  it("is no error when the buffer ends exactly at the limit, and finds what is inside it", () => {
    const data = many(4, "cos\nsystem\n(S'id'\ntR.");
    const r = scanPickle(data, { untilEof: true, maxPickles: 5 });
    expect(r.error).toBeNull();
    expect(r.pickles.length).toBe(5);
    expect(r.globals.map((g) => g.global)).toEqual(["os.system"]);
    expect(r.globals[0]?.dangerous).toBe(true);
  });
});
