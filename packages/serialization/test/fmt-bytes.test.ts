import { describe, expect, it } from "vitest";
import { fmtBytes } from "../src/index.js";

describe("fmtBytes", () => {
  it("prints bytes below 1000 as they are, then decimal units with three significant digits", () => {
    expect(fmtBytes(0)).toBe("0 B");
    expect(fmtBytes(999)).toBe("999 B");
    expect(fmtBytes(1000)).toBe("1.00 kB");
    expect(fmtBytes(1536)).toBe("1.54 kB");
    expect(fmtBytes(12_345_678)).toBe("12.3 MB");
    expect(fmtBytes(1 << 30)).toBe("1.07 GB");
    expect(fmtBytes(987_654_321_000)).toBe("988 GB");
  });

  it("stops at TB", () => {
    expect(fmtBytes(2.5e12)).toBe("2.50 TB");
    expect(fmtBytes(4e16)).toBe("40000 TB");
  });
});
