import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The one error convention (ARCHITECTURE.md, "Errors"): every package's base error class is built
 * on `@pt/errors`' `PtError` (brand, layer, code, where-fields), no package defines an error class
 * on a built-in `Error` of its own, and every code is PascalCase.
 */

const root = new URL("../../../", import.meta.url).pathname;
const PASCAL = /^[A-Z][A-Za-z0-9]*$/;
const BUILTIN = new Set([
  "Error",
  "TypeError",
  "RangeError",
  "SyntaxError",
  "ReferenceError",
  "AggregateError",
]);

function sources(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d)) {
      const p = join(d, entry);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.ts$/.test(entry) && !entry.endsWith(".test.ts") && !entry.endsWith(".d.ts")) out.push(p);
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

/** Published packages and the CLI: the code that throws the errors users see. */
const dirs = [
  ...readdirSync(join(root, "packages"))
    .filter((d) => d !== "errors" && existsSync(join(root, "packages", d, "package.json")))
    .map((d) => join(root, "packages", d)),
  join(root, "apps/cli"),
];

/** SCREAMING_SNAKE (or all capitals): the style the codes no longer use. */
const SCREAMING = /^[A-Z0-9]+(_[A-Z0-9]+)+$|^[A-Z][A-Z0-9]+$/;
/** Node's own error codes (`ENOENT`, `ERR_WORKER_OUT_OF_MEMORY`), which the code compares against, not ours. */
const NODE_CODE = /^E[A-Z0-9]+$|^ERR_[A-Z0-9_]+$/;

/**
 * The codes a file gets wrong: members of `…ErrorCode` unions that are not PascalCase, and
 * SCREAMING_SNAKE strings where a code is used (an error constructor's first argument, a guard's
 * code, `code: "…"`, `code === "…"`).
 */
function badCodesIn(text: string): string[] {
  const bad: string[] = [];
  for (const m of text.matchAll(/type \w*ErrorCode\s*=([^;]*);/g)) {
    for (const lit of (m[1] ?? "").replace(/\/\*[\s\S]*?\*\//g, "").matchAll(/"([^"]*)"/g))
      if (!PASCAL.test(lit[1] ?? "")) bad.push(lit[1] ?? "");
  }
  const used: string[] = [];
  for (const m of text.matchAll(/new (\w+)\(\s*"([A-Za-z0-9_]+)"\s*,/g)) {
    if (!BUILTIN.has(m[1] ?? "") && /Error$/.test(m[1] ?? "")) used.push(m[2] ?? "");
  }
  for (const m of text.matchAll(/\bis\w*Error\([^,()]+,\s*"([^"]+)"\)/g)) used.push(m[1] ?? "");
  for (const m of text.matchAll(/\bcode(?:\s*===|:)\s*"([A-Za-z0-9_]+)"/g)) used.push(m[1] ?? "");
  return [...bad, ...used.filter((c) => SCREAMING.test(c) && !NODE_CODE.test(c))];
}

describe("one error convention", () => {
  it("@pt/errors, the contract, depends on nothing", () => {
    const manifest = JSON.parse(readFileSync(join(root, "packages/errors/package.json"), "utf8")) as {
      dependencies?: Record<string, string>;
    };
    expect(Object.keys(manifest.dependencies ?? {})).toEqual([]);
  });

  const layers = new Map<string, string>();
  for (const dir of dirs) {
    const name = relative(root, dir);
    const files = sources(join(dir, "src"));
    describe(name, () => {
      it("has one base error class, built on PtError, with a layer of its own", () => {
        const bases: string[] = [];
        for (const file of files) {
          for (const m of readFileSync(file, "utf8").matchAll(
            /export class (\w+)(?:<[^>]*>)? extends (?:PtError|layerError)<"(\w+)"/g,
          )) {
            bases.push(`${m[1]} (${m[2]})`);
            const other = layers.get(m[2] ?? "");
            expect(other === undefined || other === name, `layer ${m[2]} of ${name} is also ${other}'s`).toBe(
              true,
            );
            layers.set(m[2] ?? "", name);
          }
        }
        expect(bases, `${name}: the classes built on PtError`).toHaveLength(1);
      });

      it("defines no exported error class on a built-in Error", () => {
        const offenders: string[] = [];
        for (const file of files) {
          for (const m of readFileSync(file, "utf8").matchAll(
            /export (?:abstract )?class (\w+) extends (\w+)\b/g,
          )) {
            if (BUILTIN.has(m[2] ?? "")) offenders.push(`${relative(root, file)}: ${m[1]} extends ${m[2]}`);
          }
        }
        expect(offenders).toEqual([]);
      });

      it("writes every error code in PascalCase", () => {
        const offenders: string[] = [];
        for (const file of files) {
          for (const code of badCodesIn(readFileSync(file, "utf8")))
            offenders.push(`${relative(root, file)}: ${code}`);
        }
        expect(offenders).toEqual([]);
      });
    });
  }

  it("the code check catches SCREAMING_SNAKE codes and error classes on Error (the check itself)", () => {
    const bad = `export type BadErrorCode = "EOCD_NOT_FOUND" | "Fine";
throw new ZipFormatError("CRC_MISMATCH", "x");
if (isZipError(e, "NO_PREFIX")) {}
return { code: "WORKER_FAILED" };`;
    expect(badCodesIn(bad)).toEqual(["EOCD_NOT_FOUND", "CRC_MISMATCH", "NO_PREFIX", "WORKER_FAILED"]);
    expect(
      badCodesIn(`throw new CliError("--flavor applies", 2); throw new LimitError("maxDepth", 1, 0, {});`),
    ).toEqual([]);
  });
});
