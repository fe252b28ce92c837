import { spawnSync } from "node:child_process";
import { PyFloat } from "@pt/pickle";
import { dtypes, Storage } from "@pt/storage";
import { Tensor } from "@pt/tensor";
import { expect, test } from "vitest";
import { compareDescriptions, describe, pyRepr } from "../src/index.js";

test("dict-key reprs are Python's (checked against python3)", () => {
  const floats = [1e-5, 1e-4, 0.1, 1e16, 1.5e16, -0.0, 123456789.125, 2, Number.NaN, -Infinity];
  const strs = ["a'b", "a\"b'c", "\u0085é\u200b\n"];
  const ours = [...floats.map((x) => pyRepr(new PyFloat(x))), ...strs.map((x) => pyRepr(x)), pyRepr(7)];
  const py = spawnSync(
    "python3",
    ["-c", "import json,sys\nf,s=json.load(sys.stdin)\nfor k in [*map(float,f),*s,7]: print(repr(k))"],
    {
      input: JSON.stringify([floats.map((x) => (Object.is(x, -0) ? "-0.0" : String(x))), strs]),
      encoding: "utf8",
    },
  );
  expect(py.status, py.stderr).toBe(0);
  expect(ours).toEqual(py.stdout.trimEnd().split("\n"));
});

test("a tensor is described through readElement, and compareDescriptions sees each difference", async () => {
  const s = Storage.fromTypedArray(dtypes.float16, new Uint16Array([0x3c00, 0x4000, 0xc200, 0x7c00]));
  const t = new Tensor(s, 1, [3], [1], { dtype: dtypes.float16 });
  const d = await describe([t, t]);
  const items = (d.object as { items: Record<string, unknown>[] }).items;
  expect(items[0]?.first8).toEqual([2, -3, "inf"]);
  expect(items[0]?.sum).toBe("inf");
  expect(items[1]).toEqual({ _type: "REF", to: "$[0]" });
  expect(d.storages).toHaveLength(1);
  expect(compareDescriptions(d, structuredClone(d))).toEqual([]);
  const other = structuredClone(d) as { n_tensors: number };
  other.n_tensors = 2;
  expect(compareDescriptions(d, other)).toEqual(["$.n_tensors: 1 vs expected 2"]);
});
