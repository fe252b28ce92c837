import { inspect } from "node:util";
import { BufferSource, dtypes, Storage } from "@pt/storage";
import { describe, expect, it } from "vitest";
import { Parameter, Tensor, tensor } from "../src/index.js";

describe("console.log / util.inspect of a Tensor", () => {
  it("prints dtype, shape and the first values, not the storage", () => {
    const t = tensor([1, 2.5, 3, 4, 5, 6, 7, 8], { dtype: dtypes.float32 }).view(2, 4);
    const text = inspect(t);
    expect(text).toBe("tensor([1, 2.5, 3, 4, 5, 6, …], dtype=torch.float32, shape=[2, 4])");
    expect(inspect({ w: t })).toContain("w: tensor([1, 2.5");
    expect(inspect(t.t())).toBe("tensor([1, 5, 2.5, 6, 3, 7, …], dtype=torch.float32, shape=[4, 2])");
    expect(inspect(tensor(7n, { dtype: dtypes.int64 }))).toBe("tensor(7, dtype=torch.int64, shape=[])");
    const p = new Parameter(tensor([0.5], { dtype: dtypes.float32 }));
    expect(inspect(p)).toBe(
      "Parameter containing:\ntensor([0.5], dtype=torch.float32, shape=[1], requires_grad=True)",
    );
  });

  it("does not read a lazy storage to print it", () => {
    let reads = 0;
    const src = new BufferSource(new Uint8Array(16));
    const counting = {
      byteLength: 16,
      read: (o: number, n: number) => {
        reads++;
        return src.read(o, n);
      },
    };
    const t = new Tensor(Storage.lazy(dtypes.float32, counting, 0, 16), 0, [4]);
    expect(inspect(t)).toBe("tensor(<not loaded>, dtype=torch.float32, shape=[4])");
    expect(inspect(t.storage)).toBe("Storage(float32, numel=4, device=cpu, lazy)");
    expect(reads).toBe(0);
    expect(inspect(tensor([1, 2], { dtype: dtypes.int32 }).storage)).toBe(
      "Storage(int32, numel=2, device=cpu) [1, 2]",
    );
  });
});
