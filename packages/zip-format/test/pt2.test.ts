import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { BufferSource } from "@pt/storage";
import { Parameter } from "@pt/tensor";
import { describe, expect, it } from "vitest";
import {
  isPt2Archive,
  loadPt2,
  loadZip,
  MemorySink,
  ZipReader,
  ZipTorchError,
  ZipWriter,
} from "../src/index.js";

const dir = new URL("../../../apps/conformance/fixtures-2.14/pt2/", import.meta.url);
const cases = readdirSync(dir).filter((n) => n.endsWith(".pt2"));

interface Expected {
  tensors: Array<{
    name: string;
    kind: "weight" | "constant";
    dtype: string;
    shape: number[];
    stride: number[];
    storage_offset: number;
    requires_grad: boolean;
    is_param: boolean;
    data_sha256: string;
    storage_nbytes: number;
  }>;
  shared_storage: string[][];
}

const open = (bytes: Uint8Array) => ZipReader.open(new BufferSource(bytes));

describe("torch.export archives (.pt2) written by torch 2.14", () => {
  it("has fixtures", () => expect(cases.length).toBeGreaterThanOrEqual(3));
  for (const name of cases)
    it(`${name}: every weight and constant as torch.export.load reads it`, async () => {
      const bytes = new Uint8Array(readFileSync(new URL(name, dir)));
      const want = JSON.parse(readFileSync(new URL(`${name}.json`, dir), "utf8")) as Expected;
      const reader = await open(bytes);
      expect(await isPt2Archive(reader)).toBe(true);
      await expect(loadZip(bytes)).rejects.toThrow(
        /torch\.export archive, \.pt2: read its weights and constants with loadPt2/,
      );
      const a = await loadPt2(reader);
      expect(a.models).toEqual(["model"]);
      const all = [...a.weights, ...a.constants];
      expect(all.map((t) => `${t.kind}:${t.name}`).sort()).toEqual(
        want.tensors.map((t) => `${t.kind}:${t.name}`).sort(),
      );
      for (const w of want.tensors) {
        const got = all.find((t) => t.name === w.name && t.kind === w.kind);
        const t = got?.tensor;
        expect(got?.problem).toBeUndefined();
        if (!got || !t) throw new Error(`${w.name} not read`);
        expect([t.dtype.name, [...t.shape], [...t.stride], t.storageOffset]).toEqual([
          w.dtype,
          w.shape,
          w.stride,
          w.storage_offset,
        ]);
        expect([t.requiresGrad, t instanceof Parameter, got.isParam]).toEqual([
          w.requires_grad,
          w.is_param,
          w.is_param,
        ]);
        expect(t.storage.nbytes).toBe(w.storage_nbytes);
        const c = t.contiguous();
        const raw = c.storage.bytes.subarray(
          c.storageOffset * c.dtype.itemSize,
          (c.storageOffset + c.numel) * c.dtype.itemSize,
        );
        expect(createHash("sha256").update(raw).digest("hex")).toBe(w.data_sha256);
      }
      for (const group of want.shared_storage) {
        const st = group.map((n) => all.find((t) => t.name === n)?.tensor?.storage);
        expect(new Set(st).size).toBe(1);
      }
    });

  it("refuses what is not a .pt2 archive, and malformed configs, with a clear message", async () => {
    const plain = new MemorySink();
    const w = new ZipWriter(plain, { prefix: "x" });
    await w.writeRecord("data.pkl", new Uint8Array([0x80, 2, 0x4e, 0x2e]));
    await w.writeRecord("version", new TextEncoder().encode("3\n"));
    await w.finish();
    const r = await open(plain.bytes());
    expect(await isPt2Archive(r)).toBe(false);
    await expect(loadPt2(r)).rejects.toThrow(/not a torch\.export archive/);

    const bad = new MemorySink();
    const w2 = new ZipWriter(bad, { prefix: "m" });
    const enc = new TextEncoder();
    await w2.writeRecord("archive_format", enc.encode("pt2"));
    await w2.writeRecord("models/model.json", enc.encode("{}"));
    await w2.writeRecord(
      "data/weights/model_weights_config.json",
      enc.encode(JSON.stringify({ config: { w: { path_name: "../../etc/passwd" } } })),
    );
    await w2.finish();
    const e = await loadPt2(await open(bad.bytes())).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ZipTorchError);
    expect((e as Error).message).toMatch(/no valid path_name/);
  });
});
