import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { join, relative } from "node:path";
import { publint } from "publint";
import { describe, expect, it } from "vitest";

const root = new URL("../../../", import.meta.url).pathname;

interface Manifest {
  name: string;
  private?: boolean;
  sideEffects?: boolean;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  exports?: Record<string, string | Record<string, string>>;
  bin?: Record<string, string>;
}

function workspacePackages(): Array<{ dir: string; manifest: Manifest }> {
  const out: Array<{ dir: string; manifest: Manifest }> = [];
  for (const group of ["packages", "apps"]) {
    for (const name of readdirSync(join(root, group))) {
      const dir = join(root, group, name);
      if (!existsSync(join(dir, "package.json"))) continue;
      out.push({ dir, manifest: JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest });
    }
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d)) {
      const p = join(d, entry);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|mts|js|mjs)$/.test(entry) && !entry.endsWith(".test.ts")) files.push(p);
    }
  };
  if (existsSync(dir)) walk(dir);
  return files;
}

const importRe =
  /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|^\s*import\s+["']([^"']+)["']/gm;

/** Bare package names imported by the files (type-only imports count: they appear in .d.ts files). */
function importedPackages(files: string[]): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(importRe)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (!spec || spec.startsWith(".") || spec.startsWith("/")) continue;
      const bare = spec.startsWith("node:")
        ? spec
        : spec
            .split("/")
            .slice(0, spec.startsWith("@") ? 2 : 1)
            .join("/");
      const list = found.get(bare) ?? [];
      list.push(relative(root, file));
      found.set(bare, list);
    }
  }
  return found;
}

const packages = workspacePackages();
const nodeBuiltins = new Set(builtinModules);

describe("workspace hygiene", () => {
  it("finds every workspace package", () => {
    const names = packages.map((p) => p.manifest.name).sort();
    expect(names).toEqual(
      [
        "@pt/bench",
        "@pt/cli",
        "@pt/conformance",
        "@pt/errors",
        "@pt/legacy-format",
        "@pt/nn-module",
        "@pt/pickle",
        "@pt/safetensors",
        "@pt/serialization",
        "@pt/storage",
        "@pt/tensor",
        "@pt/web",
        "@pt/zip-format",
      ].sort(),
    );
  });

  for (const { dir, manifest } of packages) {
    describe(manifest.name, () => {
      it("declares exactly the runtime dependencies its sources import", () => {
        const imported = importedPackages(sourceFiles(join(dir, "src")));
        const used = [...imported.keys()]
          .filter((s) => !s.startsWith("node:") && !nodeBuiltins.has(s))
          .sort();
        const declared = Object.keys(manifest.dependencies ?? {}).sort();
        expect(used, `imports of ${manifest.name} (declared: ${declared.join(", ")})`).toEqual(declared);
      });

      it("keeps Node built-ins out of core modules (only src/node.ts, apps and bin code may use them)", () => {
        if (dir.includes("/apps/")) return;
        const offenders: string[] = [];
        for (const file of sourceFiles(join(dir, "src"))) {
          if (/\/node\.ts$|\/node\//.test(file)) continue;
          for (const spec of importedPackages([file]).keys()) {
            if (spec.startsWith("node:") || nodeBuiltins.has(spec))
              offenders.push(`${relative(root, file)} imports ${spec}`);
          }
        }
        expect(offenders).toEqual([]);
      });

      it("has a README, sideEffects: false and an exports map with types before default", () => {
        expect(existsSync(join(dir, "README.md"))).toBe(true);
        expect(manifest.sideEffects).toBe(false);
        const exportsMap = manifest.exports ?? {};
        expect(Object.keys(exportsMap)).toContain(".");
        for (const [key, target] of Object.entries(exportsMap)) {
          if (typeof target === "string") continue;
          const conditions = Object.keys(target);
          expect(conditions.indexOf("types"), `${key}: types comes before default`).toBeLessThan(
            conditions.indexOf("default"),
          );
          for (const rel of Object.values(target)) {
            expect(existsSync(join(dir, rel)), `${manifest.name} exports ${key} -> ${rel}`).toBe(true);
          }
        }
      });

      it.runIf(!manifest.private)("passes publint", async () => {
        const { messages } = await publint({ pkgDir: dir, level: "warning", strict: true });
        const problems = messages.map((m) => `${m.type} ${m.code} ${JSON.stringify(m.args)}`);
        expect(problems).toEqual([]);
      });
    });
  }
});
