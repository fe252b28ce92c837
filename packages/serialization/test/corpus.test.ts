import { readFileSync } from "node:fs";
import { compareDescriptions, describe } from "@pt/describe";
import { expect, describe as suite, test } from "vitest";
import { load } from "../src/index.js";
import { corpusDir, corpusEntries, readBytes } from "./helpers.js";

const known = (
  JSON.parse(readFileSync(new URL("known-failures.json", import.meta.url), "utf8")) as {
    corpus: Record<string, string>;
  }
).corpus;
const all = corpusEntries();
const zips = all.filter((e) => e.expected.format.kind === "zip");

test("the corpus has its zip, legacy and tar files and the known failures are corpus files", () => {
  expect(zips.length).toBeGreaterThanOrEqual(100);
  expect(all.filter((e) => e.expected.format.kind === "legacy").length).toBeGreaterThanOrEqual(28);
  expect(all.filter((e) => e.expected.format.kind === "tar").length).toBe(1);
  const names = new Set(zips.map((z) => z.file));
  for (const k of Object.keys(known)) expect(names.has(k), k).toBe(true);
});

/**
 * Every file of the corpus loads and describes exactly as torch 1.13 describes it
 * (`expected/<name>.json`). Plain checkpoints: `object` and `storages`, loaded with
 * `unsafe: "opaque"` and modules left opaque (the corpus describes whole models as stubs).
 * TorchScript archives: `archive_pickles["data.pkl"].object`, loaded with `torchscript: "tensors"`.
 * Legacy and tar files go through `@pt/legacy-format`.
 */
suite.each(all)("$file", ({ file, expected }) => {
  // TorchScript archives are compared on their data.pkl; v1 archives (model.json) on their tensor table
  const ts =
    expected.format.torchscript === true &&
    (expected.object as { _type?: string } | null)?._type !== "model_json_v1";
  test(ts ? "data.pkl describes as torch's raw archive description" : "describes as torch", async () => {
    const run = async (): Promise<string[]> => {
      const value = await load(readBytes(new URL(`files/${file}`, corpusDir)), {
        unsafe: "opaque",
        modules: "opaque",
        torchscript: "tensors",
      });
      const d = await describe(value, ts ? { root: "$data.pkl" } : {});
      if (ts) return compareDescriptions(d.object, expected.archive_pickles?.["data.pkl"]?.object);
      return [
        ...compareDescriptions(d.object, expected.object),
        ...compareDescriptions(d.storages, expected.storages, "storages"),
      ];
    };
    if (file in known) {
      const outcome = await run().then(
        (diffs) => (diffs.length ? "differs" : "matches"),
        () => "throws",
      );
      expect(outcome, `${file} now matches: remove it from known-failures.json`).not.toBe("matches");
      return;
    }
    expect(await run()).toEqual([]);
  });
});
