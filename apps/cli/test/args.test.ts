import { describe, expect, it } from "vitest";
import { expectPositionals, parseArgs } from "../src/args.js";
import { UsageError } from "../src/io.js";
import { run } from "./helpers.js";

describe("parseArgs", () => {
  const specs = [{ name: "json" }, { name: "format", value: true, choices: ["zip", "legacy"] }];
  it("parses flags, values (both spellings) and positionals", () => {
    const a = parseArgs(["a.pt", "--json", "--format", "zip", "b.pt"], specs);
    expect(a.positionals).toEqual(["a.pt", "b.pt"]);
    expect(a.options.get("json")).toBe(true);
    expect(a.options.get("format")).toBe("zip");
    expect(parseArgs(["--format=legacy"], specs).options.get("format")).toBe("legacy");
    expect(parseArgs(["--", "--json"], specs).positionals).toEqual(["--json"]);
  });
  it("refuses unknown options, missing or bad values, repeats", () => {
    expect(() => parseArgs(["--nope"], specs)).toThrow(UsageError);
    expect(() => parseArgs(["--format"], specs)).toThrow(/needs a value/);
    expect(() => parseArgs(["--format", "tar"], specs)).toThrow(/not one of zip, legacy/);
    expect(() => parseArgs(["--json", "--json"], specs)).toThrow(/twice/);
    expect(() => parseArgs(["--json=1"], specs)).toThrow(/takes no value/);
  });
  it("checks the positional count", () => {
    expect(() => expectPositionals(parseArgs([], specs), ["FILE"])).toThrow(/missing FILE/);
    expect(() => expectPositionals(parseArgs(["a", "b"], specs), ["FILE"])).toThrow(/too many/);
  });
});

describe("main", () => {
  it("prints usage with --help and exits 0; unknown commands exit 2 with one line", async () => {
    const h = await run("--help");
    expect(h.code).toBe(0);
    for (const c of ["inspect", "convert", "disasm", "scan", "diff"]) expect(h.out).toContain(c);
    const u = await run("frobnicate");
    expect(u.code).toBe(2);
    expect(u.err).toMatch(/^pt: unknown command "frobnicate".*\n$/);
    const none = await run();
    expect(none.code).toBe(2);
    expect(none.err).toContain("usage: pt");
  });
  it("every command has --help", async () => {
    for (const c of ["inspect", "convert", "disasm", "scan", "diff"]) {
      const r = await run(c, "--help");
      expect(r.code, c).toBe(0);
      expect(r.out).toMatch(new RegExp(`^usage: pt ${c} `));
    }
  });
  it("usage errors are one line on stderr with exit 2", async () => {
    const r = await run("scan");
    expect(r.code).toBe(2);
    expect(r.err).toBe("pt: scan: missing FILE\n");
    const r2 = await run("disasm", "--bogus", "x");
    expect(r2.code).toBe(2);
    expect(r2.err).toBe("pt: disasm: unknown option --bogus\n");
  });
  it("a missing file is a one-line error", async () => {
    const r = await run("scan", "/nonexistent/file.pt");
    expect(r.code).toBe(2);
    expect(r.err).toBe("pt: scan: cannot open /nonexistent/file.pt: no such file\n");
  });
});
