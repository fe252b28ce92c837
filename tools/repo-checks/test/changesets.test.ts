import { execFileSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = new URL("../../../", import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "pt-changesets-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Copy the workspace's manifests and changeset config (no pending changesets) into a scratch folder. */
function scratchWorkspace(): string[] {
  cpSync(join(root, "package.json"), join(work, "package.json"));
  cpSync(join(root, "pnpm-workspace.yaml"), join(work, "pnpm-workspace.yaml"));
  symlinkSync(join(root, "node_modules"), join(work, "node_modules"));
  mkdirSync(join(work, ".changeset"));
  cpSync(join(root, ".changeset/config.json"), join(work, ".changeset/config.json"));
  const dirs: string[] = [];
  for (const group of ["packages", "apps", "tools"]) {
    for (const name of readdirSync(join(root, group))) {
      const rel = join(group, name);
      if (!existsSync(join(root, rel, "package.json"))) continue; // e.g. tools/test-support
      mkdirSync(join(work, rel), { recursive: true });
      cpSync(join(root, rel, "package.json"), join(work, rel, "package.json"));
      dirs.push(rel);
    }
  }
  return dirs;
}

const version = (dir: string): string =>
  (JSON.parse(readFileSync(join(work, dir, "package.json"), "utf8")) as { version: string }).version;

describe("changesets: independent versions", () => {
  it("a patch changeset for one package bumps that package only", () => {
    const dirs = scratchWorkspace();
    const before = new Map(dirs.map((d) => [d, version(d)]));
    writeFileSync(join(work, ".changeset/lone-fix.md"), '---\n"@pt/storage": patch\n---\n\nA fix.\n');
    execFileSync(process.execPath, [join(root, "node_modules/@changesets/cli/bin.js"), "version"], {
      cwd: work,
      stdio: "pipe",
    });
    const changed = dirs.filter((d) => version(d) !== before.get(d));
    expect(changed).toEqual(["packages/storage"]);
    const [maj, min, pat] = (before.get("packages/storage") ?? "").split(".").map(Number);
    expect(version("packages/storage")).toBe(`${maj}.${min}.${(pat ?? 0) + 1}`);
  });
});
