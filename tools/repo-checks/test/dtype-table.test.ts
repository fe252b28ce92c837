import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { DTYPE_TABLE } from "@pt/storage";
import { describe, expect, it } from "vitest";

const root = new URL("../../../", import.meta.url).pathname;
const TABLE = "packages/storage/src/dtype.ts";

function sources(): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d)) {
      if (e === "node_modules" || e === "dist") continue;
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|mts|js|mjs)$/.test(e)) out.push(p);
    }
  };
  for (const group of ["packages", "apps", "tools"]) {
    for (const name of readdirSync(join(root, group))) {
      const src = join(root, group, name, "src");
      try {
        if (statSync(src).isDirectory()) walk(src);
      } catch {
        // a package without src/
      }
    }
  }
  return out;
}

/**
 * Places that decide by a dtype's *name* what the table already says: a `case "float16":`, a
 * `.name === "bool"` test, or a `{ float8_e5m2: … }` map keyed by dtype names.
 */
function dtypeSwitches(text: string): string[] {
  const names = Object.keys(DTYPE_TABLE).join("|");
  const found: string[] = [];
  for (const re of [
    new RegExp(`case "(${names})":`, "g"),
    new RegExp(`\\bname\\s*[!=]==\\s*"(${names})"`, "g"),
    /\bname\.(?:startsWith|includes)\("(?:float|int|uint|bool|bfloat|complex|qu?int|bits)\w*"\)/g,
    new RegExp(`^\\s*(${names}):\\s*"`, "gm"),
  ]) {
    for (const m of text.matchAll(re)) found.push(m[0].trim());
  }
  return found;
}

describe("a new dtype is one row of the dtype table", () => {
  it("finds the patterns it looks for (self-test)", () => {
    expect(dtypeSwitches('switch (d.name) {\n  case "float16":\n')).toEqual(['case "float16":']);
    expect(dtypeSwitches('if (t.dtype.name === "bool") x();')).toEqual(['name === "bool"']);
    expect(dtypeSwitches('if (name.startsWith("float8")) x();')).toEqual(['name.startsWith("float8")']);
    expect(dtypeSwitches('const F8 = {\n  float8_e5m2: "e5m2",\n};')).toEqual(['float8_e5m2: "']);
    expect(dtypeSwitches('case "float32x":\nif (op.name === "STOP")')).toEqual([]);
  });

  it("no source outside the table switches on dtype names", () => {
    const offenders: string[] = [];
    for (const f of sources()) {
      const rel = relative(root, f);
      // the pickle layer knows no dtypes (its "uint8" is an opcode argument type)
      if (rel === TABLE || rel.startsWith("packages/pickle/")) continue;
      for (const hit of dtypeSwitches(readFileSync(f, "utf8"))) offenders.push(`${rel}: ${hit}`);
    }
    expect(offenders).toEqual([]);
  });
});
