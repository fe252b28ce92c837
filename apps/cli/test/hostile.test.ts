import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { run } from "./helpers.js";

/** The hostile-input set of @pt/serialization (issue 10): every file with its documented outcome. */
const HOSTILE = fileURLToPath(new URL("../../../packages/serialization/fixtures/hostile/", import.meta.url));

interface Case {
  name: string;
  file: string;
  category: string;
  expected: { error?: string[]; messageIncludes?: string[]; loads?: boolean };
}

function cases(): Case[] {
  const m = `${HOSTILE}manifest.json`;
  if (!existsSync(m)) throw new Error(`${m} is missing`);
  return (JSON.parse(readFileSync(m, "utf8")) as { cases: Case[] }).cases;
}

interface ScanJson {
  globals: Array<{ global: string; verdict: string }>;
}

describe("hostile files", () => {
  it("pt scan flags every refused global of the malicious-global files (and exits non-zero)", async () => {
    const malicious = cases().filter((c) => c.category === "malicious-global" && c.expected.error);
    expect(malicious.length).toBeGreaterThan(20);
    for (const c of malicious) {
      const r = await run("scan", "--json", `${HOSTILE}files/${c.file}`);
      expect(r.code, c.name).toBe(1);
      const json = JSON.parse(r.out) as ScanJson;
      const flagged = new Map(
        json.globals.filter((g) => g.verdict !== "safe").map((g) => [g.global, g.verdict]),
      );
      for (const name of c.expected.messageIncludes ?? []) {
        if (!/^[\w.]+\.\w+$/.test(name)) continue;
        expect(flagged.has(name), `${c.name}: ${name} in ${JSON.stringify(json.globals)}`).toBe(true);
      }
      for (const [g, v] of flagged) {
        if (/^(os|posix|nt|subprocess|sys)\./.test(g)) expect(v, `${c.name}: ${g}`).toBe("dangerous");
      }
    }
  });

  it("pt scan flags nothing in the control files torch's weights_only loads", async () => {
    for (const c of cases().filter((x) => x.category === "control")) {
      const r = await run("scan", "--json", `${HOSTILE}files/${c.file}`);
      const json = JSON.parse(r.out || "{}") as Partial<ScanJson>;
      expect(json.globals?.filter((g) => g.verdict === "dangerous") ?? [], c.name).toEqual([]);
    }
  });

  it("scan, disasm and inspect end every hostile file with output or one error line, quickly", async () => {
    const all = cases();
    expect(all.length).toBeGreaterThan(200);
    for (const c of all) {
      for (const cmd of ["scan", "disasm", "inspect"]) {
        const started = Date.now();
        const r = await run(cmd, `${HOSTILE}files/${c.file}`);
        // a hang detector only, far above the typical time (under 1 s alone; 13 s seen on a
        // machine shared with other builds): speed is the bench's
        expect(Date.now() - started, `${cmd} ${c.name}`).toBeLessThan(60_000);
        expect([0, 1, 2], `${cmd} ${c.name}`).toContain(r.code);
        if (r.code === 2) expect(r.err, `${cmd} ${c.name}`).toMatch(new RegExp(`^pt: ${cmd}: [^\\n]+\\n$`));
      }
    }
  }, 900_000);
});
