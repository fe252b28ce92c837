import { describe, expect, it } from "vitest";
import { errorGuard, isPtError, PT_ERROR, PtError, ptErrorLayer } from "../src/index.js";

type DemoCode = "Truncated" | "OutOfRange";

/** A layer's base class, as each package writes it. */
class DemoError extends PtError<"demo", DemoCode> {
  constructor(
    code: DemoCode,
    message: string,
    fields: { offset?: number; record?: string; cause?: unknown } = {},
  ) {
    super("demo", code, message, fields);
  }
}
class DemoTruncatedError extends DemoError {
  constructor(readonly needed: number) {
    super("Truncated", `${needed} more bytes needed`, { offset: 7, record: "data.pkl" });
  }
}
const isDemoError = errorGuard(DemoError);

describe("PtError", () => {
  it("carries the layer as brand and message prefix, the code, the where-fields and the cause", () => {
    const cause = new RangeError("inner");
    const e = new DemoError("OutOfRange", "read of 4 bytes at offset 10 is outside the 8-byte buffer", {
      offset: 10,
      cause,
    });
    expect(e).toBeInstanceOf(Error);
    expect(e.message).toBe("demo: read of 4 bytes at offset 10 is outside the 8-byte buffer");
    expect(e.name).toBe("DemoError");
    expect(e.layer).toBe("demo");
    expect(e[PT_ERROR]).toBe("demo");
    expect(e.code).toBe("OutOfRange");
    expect(e.offset).toBe(10);
    expect(e.record).toBeUndefined();
    expect(e.details).toEqual({});
    expect(e.cause).toBe(cause);
    // the brand is not an enumerable own field (it does not show in JSON or object spreads)
    expect(Object.keys(e)).not.toContain(PT_ERROR);
    expect(JSON.stringify({ ...e })).not.toContain('demo"');
  });

  it("names a subclass by its own class name and keeps its fields", () => {
    const e = new DemoTruncatedError(3);
    expect(e.name).toBe("DemoTruncatedError");
    expect([e.code, e.offset, e.record, e.needed]).toEqual(["Truncated", 7, "data.pkl", 3]);
    expect("cause" in e).toBe(false);
  });

  it("errorGuard checks the class and, optionally, the code", () => {
    const e = new DemoTruncatedError(1);
    expect(isDemoError(e)).toBe(true);
    expect(isDemoError(e, "Truncated")).toBe(true);
    expect(isDemoError(e, "OutOfRange")).toBe(false);
    expect(isDemoError(new Error("plain"))).toBe(false);
    expect(isDemoError(new PtError("other", "Truncated", "not a DemoError"))).toBe(false);
  });
});

describe("isPtError / ptErrorLayer", () => {
  it("recognize any branded error, optionally of one layer and code", () => {
    const e = new DemoError("Truncated", "cut short");
    expect(isPtError(e)).toBe(true);
    expect(isPtError(e, { layer: "demo" })).toBe(true);
    expect(isPtError(e, { layer: "zip" })).toBe(false);
    expect(isPtError(e, { code: "Truncated" })).toBe(true);
    expect(isPtError(e, { layer: "demo", code: "OutOfRange" })).toBe(false);
    expect(ptErrorLayer(e)).toBe("demo");
  });

  it("check the brand, not instanceof: an error from another copy of the package counts", () => {
    // what a second installed copy of @pt/errors would build: same well-known symbol, other class
    const foreign = Object.assign(new Error("zip: end of central directory not found"), {
      code: "EocdNotFound",
    });
    Object.defineProperty(foreign, Symbol.for("pt.error"), { value: "zip" });
    expect(foreign).not.toBeInstanceOf(PtError);
    expect(isPtError(foreign, { layer: "zip", code: "EocdNotFound" })).toBe(true);
    expect(ptErrorLayer(foreign)).toBe("zip");
  });

  it("reject everything else", () => {
    for (const v of [
      null,
      undefined,
      0,
      "zip: x",
      new Error("x"),
      { code: "Truncated" },
      { [PT_ERROR]: "zip" },
    ]) {
      expect(isPtError(v)).toBe(false);
      expect(ptErrorLayer(v)).toBeUndefined();
    }
    // a brand whose code is not a string is not the contract
    expect(isPtError({ [PT_ERROR]: "zip", code: 3 })).toBe(false);
  });
});
