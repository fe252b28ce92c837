import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { open } from "../src/index.js";
import { fixturesDir } from "./helpers.js";

const fixture = (name: string) => readFileSync(new URL(name, fixturesDir));

test("open gives each storage its key in the file (zip: data/<key>)", async () => {
  const cp = await open(fixture("views_shared_base.zip.pt"));
  expect(cp.storages.length).toBeGreaterThan(0);
  expect(cp.storages.map((s) => cp.storageKeys.get(s))).toEqual(cp.storages.map((_, i) => String(i)));
  for (const s of cp.storages)
    expect(cp.records?.some((r) => r.name === `data/${cp.storageKeys.get(s)}`)).toBe(true);
});

test("open gives legacy storages the keys of the file's key list", async () => {
  const cp = await open(fixture("nn_mlp_state_dict.legacy.pt"));
  const keys = cp.storages.map((s) => cp.storageKeys.get(s));
  expect(keys.every((k) => typeof k === "string")).toBe(true);
  expect(new Set(keys).size).toBe(cp.storages.length);
});
