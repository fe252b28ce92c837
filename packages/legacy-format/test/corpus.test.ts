import { existsSync, readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { isLegacy, isTar, loadLegacySync, loadTarSync, saveLegacySync } from "../src/index.js";
import { compareWithDescription } from "./describe.js";
import knownFailures from "./known-failures.json" with { type: "json" };

const corpus = new URL("../../../apps/conformance/corpus/", import.meta.url);

interface Expected {
  format: { kind: string; main_pickle_proto?: number | string; sys_info?: { type_sizes: { long: number } } };
  object: unknown;
  storages?: never[];
}

function corpusFiles(): { name: string; expected: Expected }[] {
  // Fails loudly when the corpus is missing (never skips).
  if (!existsSync(new URL("expected/", corpus))) throw new Error(`corpus not found at ${corpus.pathname}`);
  const out: { name: string; expected: Expected }[] = [];
  for (const f of readdirSync(new URL("expected/", corpus)).sort()) {
    const expected = JSON.parse(readFileSync(new URL(`expected/${f}`, corpus), "utf8")) as Expected;
    if (expected.format.kind === "legacy" || expected.format.kind === "tar") {
      out.push({ name: f.replace(/\.json$/, ""), expected });
    }
  }
  return out;
}

const files = corpusFiles();
const known = knownFailures as Record<string, string>;

async function check(name: string, expected: Expected): Promise<string[]> {
  const bytes = new Uint8Array(readFileSync(new URL(`files/${name}`, corpus)));
  const value =
    expected.format.kind === "tar"
      ? loadTarSync(bytes, { policy: "opaque" }).value
      : loadLegacySync(bytes, { policy: "opaque" }).value;
  return compareWithDescription(expected, value);
}

describe("corpus: every legacy and tar file", () => {
  it("has the files the test expects", () => {
    expect(files.length).toBe(29);
    expect(files.filter((f) => f.expected.format.kind === "tar").length).toBe(1);
  });

  for (const { name, expected } of files) {
    if (known[name]) continue;
    it(`${name} loads as torch describes it`, async () => {
      const head = readFileSync(new URL(`files/${name}`, corpus)).subarray(0, 512);
      expect(expected.format.kind === "tar" ? isTar(head) : isLegacy(head)).toBe(true);
      expect(expected.format.kind === "tar" ? isLegacy(head) : isTar(head)).toBe(false);
      expect(await check(name, expected)).toEqual([]);
    });
  }

  // Every legacy file keeps its address keys (views written in their original view_metadata form).
  for (const { name, expected } of files) {
    if (expected.format.kind !== "legacy" || known[name]) continue;
    it(`${name} re-saves byte-identically (address keys kept)`, () => {
      const bytes = new Uint8Array(readFileSync(new URL(`files/${name}`, corpus)));
      const r = loadLegacySync(bytes, { policy: "opaque" });
      const proto = expected.format.main_pickle_proto;
      const again = saveLegacySync(r.value, {
        protocol: proto === "0/1" ? 1 : Number(proto),
        sysInfo: r.sysInfo,
        views: "metadata",
      });
      expect(again).toEqual(bytes);
    });
  }

  it("the file with view_metadata views re-saves byte-identically with views: 'metadata'", async () => {
    const name = "bumblebee__2022-05_storage_view.legacy.pt";
    const bytes = new Uint8Array(readFileSync(new URL(`files/${name}`, corpus)));
    const r = loadLegacySync(bytes);
    expect(saveLegacySync(r.value, { views: "metadata", sysInfo: r.sysInfo })).toEqual(bytes);
    // torch 1.13's own form: each view its own storage (sharing lost), loads to the same values
    const separate = loadLegacySync(saveLegacySync(r.value));
    expect(separate.keys).toEqual(["94279029750368", "94279029750432"]);
    const entry = files.find((f) => f.name === name)!;
    expect(await compareWithDescription(entry.expected, separate.value)).toEqual([]);
  });

  it("the comparator notices every kind of difference", async () => {
    const tar = files.find((f) => f.expected.format.kind === "tar")!;
    // biome-ignore lint/suspicious/noExplicitAny: free-form edits of a JSON description
    type Loose = any;
    const mutate = (f: (e: Loose) => void) => {
      const copy = structuredClone(tar.expected) as Loose;
      f(copy);
      return check(tar.name, copy);
    };
    expect(await mutate(() => {})).toEqual([]);
    expect(await mutate((e) => (e.object.items[0].dtype = "float64"))).not.toEqual([]);
    expect(await mutate((e) => (e.object.items[0].stride = [1, 5]))).not.toEqual([]);
    expect(await mutate((e) => (e.object.items[0].storage_offset = 1))).not.toEqual([]);
    expect(await mutate((e) => (e.object.items[0].data_sha256 = "0"))).not.toEqual([]);
    expect(await mutate((e) => (e.object.items[1].storage_group = 0))).not.toEqual([]);
    expect(await mutate((e) => (e.object.items[2] = { _type: "REF", to: "$[1]" }))).not.toEqual([]);
    expect(await mutate((e) => (e.object._type = "builtins.tuple"))).not.toEqual([]);
    expect(await mutate((e) => (e.storages[2].view_of_group = 1))).not.toEqual([]);
    expect(await mutate((e) => (e.storages[2].byte_offset = 8))).not.toEqual([]);
    expect(await mutate((e) => (e.storages[1].sha256 = "0"))).not.toEqual([]);
    expect(await mutate((e) => e.storages.pop())).not.toEqual([]);
  });

  it("known failures still fail (the list may only shrink)", async () => {
    for (const [name] of Object.entries(known)) {
      const entry = files.find((f) => f.name === name);
      expect(entry, `${name} is not a legacy/tar corpus file`).toBeDefined();
      let errors: string[];
      try {
        errors = await check(name, entry!.expected);
      } catch (e) {
        errors = [String(e)];
      }
      expect(errors.length, `${name} now passes: remove it from known-failures.json`).toBeGreaterThan(0);
    }
  });
});
