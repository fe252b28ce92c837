import { readFileSync } from "node:fs";
import { compareDescriptions, describe } from "@pt/describe";
import { expect, describe as suite, test } from "vitest";
import { load, UnsafeGlobalError } from "../src/index.js";
import { fixturesDir, manifest, readBytes } from "./helpers.js";

const cases = manifest().flatMap((c) =>
  Object.entries(c.formats).map(([format, z]) => ({ ...c, format, z, label: `${c.name} (${format})` })),
);

test("the conformance generator's fixtures are there, zip and legacy", () => {
  expect(cases.filter((c) => c.format === "zip").length).toBeGreaterThanOrEqual(49);
  expect(cases.filter((c) => c.format === "legacy").length).toBeGreaterThanOrEqual(49);
});

suite.each(cases)("$label", (c) => {
  const z = c.z;
  const expected = JSON.parse(readFileSync(new URL(z.description, fixturesDir), "utf8")) as {
    object: unknown;
    storages: unknown;
  };
  const bytes = readBytes(new URL(z.file, fixturesDir));

  test("loads and describes as torch", async () => {
    const value = await load(bytes, { unsafe: "opaque", modules: "opaque" });
    const d = await describe(value);
    expect([
      ...compareDescriptions(d.object, expected.object),
      ...compareDescriptions(d.storages, expected.storages, "storages"),
    ]).toEqual([]);
  });

  if (c.tags.includes("whole_model")) {
    test("loads as @pt/nn-module modules (unsafe: opaque) that describe as torch", async () => {
      const d = await describe(await load(bytes, { unsafe: "opaque" }));
      expect([
        ...compareDescriptions(d.object, expected.object),
        ...compareDescriptions(d.storages, expected.storages, "storages"),
      ]).toEqual([]);
    });
  }

  if (z.weights_only) {
    test("loads with the default (weights_only) policy to the same description", async () => {
      const d = await describe(await load(bytes));
      expect(compareDescriptions(d.object, expected.object)).toEqual([]);
    });
  } else if (c.tags.includes("whole_model") || c.tags.includes("numpy")) {
    test("is refused by the default policy, naming its globals", async () => {
      const err = (await load(bytes).catch((e: unknown) => e)) as UnsafeGlobalError;
      expect(err).toBeInstanceOf(UnsafeGlobalError);
      expect(err.globals.length).toBeGreaterThan(0);
      for (const g of err.globals) expect(err.message).toContain(`${g.module}.${g.name}`);
    });
  }
});
