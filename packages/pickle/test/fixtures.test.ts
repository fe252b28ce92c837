import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it, describe as suite } from "vitest";
import { disassemble, dumps, loads } from "../src/index.js";
import { type Desc, describe, fromDescriptor } from "./describe.js";

const fixturesDir = fileURLToPath(new URL("../fixtures/", import.meta.url));
const casesDir = join(fixturesDir, "cases");
const names: string[] = JSON.parse(readFileSync(join(casesDir, "index.json"), "utf8"));
interface Record {
  name: string;
  value: Desc;
  dis: { [proto: string]: string };
}
const records = new Map<string, Record>(
  names.map((n) => [n, JSON.parse(readFileSync(join(casesDir, `${n}.json`), "utf8"))]),
);
const pkl = (name: string, proto: number) =>
  new Uint8Array(readFileSync(join(casesDir, `${name}.p${proto}.pkl`)));
const PROTOCOLS = [0, 1, 2, 3, 4, 5];

suite("CPython fixtures", () => {
  it("has the generated fixtures", () => {
    expect(names.length).toBeGreaterThan(30);
  });

  for (const name of names) {
    suite(name, () => {
      const rec = records.get(name) as Record;
      for (const p of PROTOCOLS) {
        it(`loads protocol ${p} to the expected value`, () => {
          expect(describe(loads(pkl(name, p)))).toEqual(rec.value);
        });
      }
      it("dumps(loads(x), 2) is byte-identical to CPython at protocol 2", () => {
        const data = pkl(name, 2);
        expect(Buffer.from(dumps(loads(data), { protocol: 2 }))).toEqual(Buffer.from(data));
      });
      it("dumps(value built from the descriptor, 2) is byte-identical to CPython", () => {
        const data = pkl(name, 2);
        expect(Buffer.from(dumps(fromDescriptor(rec.value), { protocol: 2 }))).toEqual(Buffer.from(data));
      });
      for (const p of [0, 1, 3, 4, 5]) {
        it(`dumps(loads(x), ${p}) is byte-identical to CPython at protocol ${p}`, () => {
          const data = pkl(name, p);
          expect(Buffer.from(dumps(loads(data), { protocol: p }))).toEqual(Buffer.from(data));
        });
      }
      for (const [p, text] of Object.entries(rec.dis)) {
        it(`disassemble matches pickletools.dis at protocol ${p}`, () => {
          expect(disassemble(pkl(name, Number(p)))).toBe(text);
        });
      }
    });
  }
});

const python = "/usr/bin/python3";
suite.skipIf(!existsSync(python))("CPython loads our output", () => {
  it("every fixture value at every protocol loads in CPython to an equal value", () => {
    const dir = mkdtempSync(join(tmpdir(), "pt-pickle-check-"));
    try {
      let written = 0;
      for (const name of names) {
        const rec = records.get(name) as Record;
        writeFileSync(join(dir, `${name}.json`), JSON.stringify({ value: rec.value }));
        for (const p of PROTOCOLS) {
          writeFileSync(join(dir, `${name}.p${p}.pkl`), dumps(fromDescriptor(rec.value), { protocol: p }));
          written++;
        }
      }
      const out = execFileSync(python, [join(fixturesDir, "check.py"), dir], {
        encoding: "utf8",
        maxBuffer: 1 << 24,
      });
      const report = JSON.parse(out) as { ok: number; failures: unknown[] };
      expect(report.failures).toEqual([]);
      expect(report.ok).toBe(written);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
