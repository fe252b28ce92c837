import { readFileSync } from "node:fs";
import { dtypes } from "@pt/storage";
import { SparseTensor, type Tensor, tensor } from "@pt/tensor";
import { describe, expect, it } from "vitest";
import { loadLegacySync, saveLegacySync } from "../src/index.js";

const fixtures214 = new URL("../../../apps/conformance/fixtures-2.14/", import.meta.url);

describe("legacy writer flavors", () => {
  const csc = () =>
    SparseTensor.compressed(
      "sparse_csc",
      tensor([0, 1, 2], { dtype: dtypes.int64 }),
      tensor([0, 1], { dtype: dtypes.int64 }),
      tensor([1.5, 2.5]),
      [2, 2],
    );

  it("1.13 (the default) refuses CSC/BSR/BSC as torch 1.13 would; 2.x writes them and reads them back", () => {
    expect(() => saveLegacySync(new Map([["m", csc()]]))).toThrow(/torch 1\.13 cannot pickle sparse_csc/);
    const bytes = saveLegacySync(new Map([["m", csc()]]), { flavor: "2.x" });
    const back = loadLegacySync(bytes).value as Map<string, SparseTensor>;
    const m = back.get("m") as SparseTensor;
    expect([m.layout, [...m.shape], m.values.values()]).toEqual(["sparse_csc", [2, 2], [1.5, 2.5]]);
  });

  it("2.x keeps a tensor's Python attributes, 1.13 drops them", () => {
    const t = tensor([1, 2, 3]);
    t.pyAttributes = new Map<string, unknown>([["note", "hello"]]);
    const keep = loadLegacySync(saveLegacySync([t], { flavor: "2.x" })).value as Tensor[];
    expect(keep[0]?.pyAttributes?.get("note")).toBe("hello");
    const drop = loadLegacySync(saveLegacySync([t], { flavor: "1.13" })).value as Tensor[];
    expect(drop[0]?.pyAttributes?.get("note")).toBeUndefined();
  });

  it("1.13 writes numpy 2's numpy._core globals as numpy 1's numpy.core (torch 1.13's own bytes), 2.x keeps them", () => {
    const value = loadLegacySync(readFileSync(new URL("numpy_arrays.legacy.pt", fixtures214)), {
      policy: "opaque",
    }).value;
    const ours = saveLegacySync(value, { flavor: "1.13" });
    const text = Buffer.from(ours).toString("latin1");
    expect(text).toContain("numpy.core.multiarray\n_reconstruct");
    expect(text).not.toContain("numpy._core");
    const torch113 = readFileSync(
      new URL("../../../apps/conformance/fixtures/numpy_arrays.legacy.pt", import.meta.url),
    );
    expect(Buffer.from(ours).equals(torch113)).toBe(true);
    const kept = Buffer.from(saveLegacySync(value, { flavor: "2.x" })).toString("latin1");
    expect(kept).toContain("numpy._core.multiarray\n_reconstruct");
  });

  it("warns when it writes untyped storages (torch cannot load those legacy files), and only then", () => {
    const seen: string[] = [];
    const onWarning = (m: string) => seen.push(m);
    saveLegacySync(tensor([1, 2], { dtype: dtypes.uint16 }), { flavor: "2.x", onWarning });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatch(/torch cannot load this legacy file/);
    saveLegacySync(tensor([1, 2], { dtype: dtypes.float32 }), { flavor: "2.x", onWarning });
    expect(seen).toHaveLength(1);
  });

  it("re-saves torch 2.14's legacy files of every sparse layout and of attributes byte-identically", () => {
    for (const name of ["sparse_all_layouts", "tensor_attributes", "dtype_uint16", "dtype_float8_e5m2"]) {
      const bytes = new Uint8Array(readFileSync(new URL(`${name}.legacy.pt`, fixtures214)));
      const loaded = loadLegacySync(bytes, { policy: "opaque" });
      const again = saveLegacySync(loaded.value, { flavor: "2.x", onWarning: () => {} });
      expect(Buffer.from(again).equals(Buffer.from(bytes)), name).toBe(true);
    }
  });
});
