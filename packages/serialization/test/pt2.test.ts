import { readdirSync, readFileSync } from "node:fs";
import { BufferSource } from "@pt/storage";
import { Parameter, type Tensor } from "@pt/tensor";
import { MemorySink, ZipReader, ZipWriter } from "@pt/zip-format";
import { describe, expect, it } from "vitest";
import { load, open } from "../src/index.js";

const dir = new URL("../../../apps/conformance/fixtures-2.14/pt2/", import.meta.url);
const names = readdirSync(dir).filter((n) => n.endsWith(".pt2"));

interface Expected {
  tensors: Array<{ name: string; kind: string; dtype: string; shape: number[]; is_param: boolean }>;
  shared_storage: string[][];
}

describe("torch.export archives (.pt2, written by torch 2.14) through open/load", () => {
  it("has fixtures", () => expect(names.length).toBeGreaterThanOrEqual(3));
  it.each(names)("%s: weights then constants by name, as torch.export.load reads them", async (name) => {
    const bytes = new Uint8Array(readFileSync(new URL(name, dir)));
    const want = JSON.parse(readFileSync(new URL(`${name}.json`, dir), "utf8")) as Expected;
    const cp = await open(bytes); // the default (weights-only) policy: nothing in a .pt2 is run
    expect(cp.format).toBe("pt2");
    expect(cp.pt2?.models).toEqual(["model"]);
    const value = cp.value as Map<string, Tensor>;
    const ordered = [
      ...want.tensors.filter((t) => t.kind === "weight"),
      ...want.tensors.filter((t) => t.kind === "constant"),
    ];
    expect([...value.keys()]).toEqual(ordered.map((t) => t.name));
    for (const t of ordered) {
      const got = value.get(t.name) as Tensor;
      expect([got.dtype.name, [...got.shape], got instanceof Parameter]).toEqual([
        t.dtype,
        t.shape,
        t.is_param,
      ]);
    }
    for (const g of want.shared_storage) expect(new Set(g.map((n) => value.get(n)?.storage)).size).toBe(1);
    expect(cp.storages.length).toBe(new Set([...value.values()].map((t) => t.storage)).size);
    expect(cp.records?.some((r) => r.name === "archive_format")).toBe(true);
    expect(await load(bytes)).toBeInstanceOf(Map);
  });

  it("an entry it cannot read (a pickled tensor subclass) refuses the archive by name", async () => {
    const bytes = new Uint8Array(readFileSync(new URL("export_small.pt2", dir)));
    const reader = await ZipReader.open(new BufferSource(bytes));
    const sink = new MemorySink();
    const w = new ZipWriter(sink, { prefix: reader.prefix });
    for (const name of reader.records.keys()) {
      let data = await reader.read(name);
      if (name.endsWith("_weights_config.json")) {
        const cfg = JSON.parse(new TextDecoder().decode(data)) as {
          config: Record<string, { use_pickle?: boolean }>;
        };
        const first = Object.keys(cfg.config)[0] as string;
        (cfg.config[first] as { use_pickle?: boolean }).use_pickle = true;
        data = new TextEncoder().encode(JSON.stringify(cfg));
      }
      await w.writeRecord(name, data);
    }
    await w.finish();
    await expect(open(sink.bytes())).rejects.toThrow(
      /torch\.export archive: weight "[^"]+" of model model .*cannot be read: written with torch\.save/,
    );
  });
});
