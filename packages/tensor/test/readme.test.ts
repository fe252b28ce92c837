import { readFileSync } from "node:fs";
// README example (kept verbatim in README.md; the test below checks they match)
// --- example start
import { dumps, loads } from "@pt/pickle";
import { dtypes, Storage } from "@pt/storage";
import {
  arange,
  parseStoragePid,
  savedStorage,
  storagePersistentId,
  type Tensor,
  torchGlobals,
  torchReducers,
} from "@pt/tensor";
import { describe, expect, it } from "vitest";

const big = arange(1_000_000, undefined, 1, { dtype: dtypes.float32 });
const a = big.slice(0, 0, 10); // views share the storage object
const b = big.view(1000, 1000).select(0, 0);
a.set([0], 42);
console.log(b.get([0])); // 42

const e = arange(4, undefined, 1, { dtype: dtypes.float32 }).expand(4, 4);
console.log(e.stride, e.storage.numel); // [0, 1] 4
console.log(e.t().reshape(16).storage === e.storage); // false: reshape had to copy

// pickle a tensor exactly as torch.save's data.pkl, then load it back
const records = new Map<string, Storage>();
const pkl = dumps(e, {
  reducers: torchReducers(), // torch's reductions of tensors (and dtypes as globals)
  persistentId: (obj) => {
    const s = savedStorage(obj);
    if (!s) return null;
    const key = String(records.size);
    records.set(key, s.storage);
    return storagePersistentId(obj, key);
  },
});
const back = loads(pkl, {
  globals: torchGlobals(),
  persistentLoad: (pid) => {
    const p = parseStoragePid(pid);
    return Storage.fromBytes(p.dtype, records.get(p.key)!.bytes, { untyped: p.untyped });
  },
}) as Tensor;
console.log(back.stride, back.toArray()[3]); // [0, 1] [0, 1, 2, 3]
// --- example end

describe("README", () => {
  it("example runs and matches README.md", () => {
    expect(b.get([0])).toBe(42);
    expect(back.equal(e)).toBe(true);
    expect(back.stride).toEqual([0, 1]);
    const self = readFileSync(new URL(import.meta.url), "utf8");
    const code = self.split("// --- example start\n")[1]!.split("// --- example end")[0]!;
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    expect(readme).toContain(code);
  });
});
