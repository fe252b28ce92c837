import { tuple } from "@pt/pickle";
import { dtypes, Storage } from "@pt/storage";
import { Parameter, Tensor } from "@pt/tensor";
import { expect, test } from "vitest";
import { listing } from "../src/index.js";

test("listing: every tensor by its first path, storage keys through views' bases, totals over distinct storages", () => {
  const a = Storage.fromTypedArray(dtypes.float32, new Float32Array(12));
  const b = Storage.fromTypedArray(dtypes.int64, new BigInt64Array(3));
  const bare = Storage.fromTypedArray(dtypes.uint8, new Uint8Array(5));
  const w = new Parameter(new Tensor(a, 0, [3, 4]), true);
  const row = new Tensor(a, 4, [4]);
  const col = new Tensor(a, 1, [3], [4]);
  const idx = new Tensor(b, 0, [3]);
  const sd = new Map<unknown, unknown>([
    ["w", w],
    ["views", [row, tuple([col, w])]],
    ["idx", idx],
    ["raw", bare],
    ["size", tuple([3, 4])],
  ]);
  const keys = new Map<Storage, string>([
    [a, "0"],
    [b, "1"],
  ]);
  const l = listing(sd, (s) => keys.get(s));
  expect(l.tensors).toEqual([
    {
      path: ["w"],
      class: "Parameter",
      dtype: "float32",
      shape: [3, 4],
      stride: [4, 1],
      storage_offset: 0,
      storage: { key: "0", dtype: "float32", numel: 12, device: "cpu" },
      requires_grad: true,
    },
    {
      path: ["views", 0],
      class: "Tensor",
      dtype: "float32",
      shape: [4],
      stride: [1],
      storage_offset: 4,
      storage: { key: "0", dtype: "float32", numel: 12, device: "cpu" },
      requires_grad: false,
    },
    {
      path: ["views", 1, 0],
      class: "Tensor",
      dtype: "float32",
      shape: [3],
      stride: [4],
      storage_offset: 1,
      storage: { key: "0", dtype: "float32", numel: 12, device: "cpu" },
      requires_grad: false,
    },
    {
      path: ["idx"],
      class: "Tensor",
      dtype: "int64",
      shape: [3],
      stride: [1],
      storage_offset: 0,
      storage: { key: "1", dtype: "int64", numel: 3, device: "cpu" },
      requires_grad: false,
    },
  ]);
  // w counted once (its second path is not listed); the bare storage's 5 bytes count
  expect(l.totals).toEqual({
    tensors: 4,
    parameters: 12 + 4 + 3 + 3,
    bytes: 48 + 24 + 5,
    storages: 3,
    shared_storages: 1,
  });
  expect([...l.shared]).toEqual([a]);
  expect(l.found.map((f) => f.tensor)).toEqual([w, row, col, idx]);
  // plain JSON: it survives a round trip unchanged
  expect(JSON.parse(JSON.stringify({ tensors: l.tensors, totals: l.totals }))).toEqual({
    tensors: l.tensors,
    totals: l.totals,
  });
  // without keys, every storage key is null
  expect(listing(sd).tensors.map((t) => t.storage.key)).toEqual([null, null, null, null]);
  expect(listing(null)).toMatchObject({ tensors: [], totals: { tensors: 0, bytes: 0, storages: 0 } });
});

test("listing: a view storage without a key of its own is named by its base's", () => {
  const base = Storage.fromTypedArray(dtypes.float32, new Float32Array(8));
  const view = Storage.viewOf(base, 8, 16);
  const t = new Tensor(view, 0, [4]);
  const l = listing([t, base], (s) => (s === base ? "7" : undefined));
  expect(l.tensors[0]?.storage.key).toBe("7");
  // the view's root is the bare storage: one storage, shared
  expect(l.totals).toMatchObject({ storages: 1, shared_storages: 1, bytes: 32 });
});
