import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadLegacySync, saveLegacySync } from "../src/index.js";
import { compareWithDescription, sha256 } from "./describe.js";
import knownResave from "./known-resave-failures.json" with { type: "json" };

const fixtures = new URL("../../../apps/conformance/fixtures/", import.meta.url);

interface Manifest {
  cases: {
    name: string;
    formats: {
      legacy?: { file: string; description: string; byte_identical_resave: boolean; sha256: string };
      zip?: { description: string };
    };
  }[];
}

if (!existsSync(new URL("MANIFEST.json", fixtures)))
  throw new Error(`conformance fixtures not found at ${fixtures.pathname}`);
const manifest = JSON.parse(readFileSync(new URL("MANIFEST.json", fixtures), "utf8")) as Manifest;
const cases = manifest.cases.filter((c) => c.formats.legacy);

describe("conformance fixtures (*.legacy.pt)", () => {
  it("lists the legacy fixtures", () => {
    expect(cases.length).toBe(49);
  });

  for (const c of cases) {
    const f = c.formats.legacy!;
    it(`${c.name}: loads as torch describes it${f.byte_identical_resave ? " and re-saves byte-identically" : ""}`, async () => {
      const bytes = new Uint8Array(readFileSync(new URL(f.file, fixtures)));
      expect(sha256(bytes)).toBe(f.sha256);
      const description = JSON.parse(readFileSync(new URL(f.description, fixtures), "utf8"));
      const loaded = loadLegacySync(bytes, { policy: "opaque" });
      expect(await compareWithDescription(description, loaded.value)).toEqual([]);
      // zip and legacy hold the same object: the legacy load also matches torch's description of the zip file
      const zipDescription = JSON.parse(readFileSync(new URL(c.formats.zip!.description, fixtures), "utf8"));
      expect(await compareWithDescription(zipDescription, loaded.value)).toEqual([]);
      const again = saveLegacySync(loaded.value, { moduleSources: loaded.moduleSources });
      if (f.byte_identical_resave && (knownResave as Record<string, string>)[c.name]) {
        // Known failure (reason in known-resave-failures.json): must still differ, so the list only shrinks.
        expect(
          sha256(again),
          `${c.name} now re-saves byte-identically: remove it from known-resave-failures.json`,
        ).not.toBe(f.sha256);
        expect(
          await compareWithDescription(description, loadLegacySync(again, { policy: "opaque" }).value),
        ).toEqual([]);
      } else if (f.byte_identical_resave) {
        expect(again.length).toBe(bytes.length);
        expect(sha256(again)).toBe(f.sha256);
      } else {
        // Still loads to the same described object.
        expect(
          await compareWithDescription(description, loadLegacySync(again, { policy: "opaque" }).value),
        ).toEqual([]);
      }
    });
  }
});
