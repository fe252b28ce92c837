import { readFileSync } from "node:fs";
import { dtypes } from "@pt/storage";
import { describe, expect, it } from "vitest";
import { arange, isTensorError, type Tensor } from "../src/index.js";

interface Step {
  op: string;
  args: Array<number | null>;
  error?: string;
  shape?: number[];
  stride?: number[];
  offset?: number;
  contiguous?: boolean;
  shares?: boolean;
  same?: boolean;
  values?: number[];
}
const fx = JSON.parse(readFileSync(new URL("../fixtures/views.json", import.meta.url), "utf8")) as {
  cases: Array<{ n: number; steps: Step[] }>;
};

function apply(t: Tensor, op: string, a: Array<number | null>): Tensor {
  const n = a as number[];
  switch (op) {
    case "select":
      return t.select(n[0]!, n[1]!);
    case "slice":
      return t.slice(n[0]!, a[1], a[2], n[3]);
    case "narrow":
      return t.narrow(n[0]!, n[1]!, n[2]!);
    case "expand":
      return t.expand(n);
    case "transpose":
      return t.transpose(n[0]!, n[1]!);
    case "permute":
      return t.permute(n);
    case "view":
      return t.view(n);
    case "reshape":
      return t.reshape(n);
    case "squeeze":
      return t.squeeze();
    case "squeeze_dim":
      return t.squeeze(n[0]!);
    case "unsqueeze":
      return t.unsqueeze(n[0]!);
    case "flatten":
      return t.flatten(n[0]!, n[1]!);
    case "t":
      return t.t();
    case "contiguous":
      return t.contiguous();
    case "clone":
      return t.clone();
  }
  throw new Error(op);
}

describe(`view ops replayed against torch (${fx.cases.length} seeded cases)`, () => {
  fx.cases.forEach((c, ci) => {
    it(`case ${ci}: ${c.steps.map((s) => s.op).join(" → ")}`, () => {
      const base = arange(c.n, undefined, 1, { dtype: dtypes.float32 });
      let t: Tensor = base;
      for (const s of c.steps) {
        const label = `${s.op}(${JSON.stringify(s.args)}) on shape ${JSON.stringify(t.shape)} stride ${JSON.stringify(t.stride)}`;
        if (s.error !== undefined) {
          let err: unknown;
          try {
            apply(t, s.op, s.args);
          } catch (e) {
            err = e;
          }
          expect(isTensorError(err), label).toBe(true);
          expect((err as Error).message, label).toBe(`tensor: ${s.error}`);
          return;
        }
        const r = apply(t, s.op, s.args);
        expect([r.shape, r.stride, r.storageOffset], label).toEqual([s.shape, s.stride, s.offset]);
        if (s.contiguous !== undefined) expect(r.isContiguous(), label).toBe(s.contiguous);
        if (s.shares !== undefined) expect(r.storage === base.storage && c.n > 0, label).toBe(s.shares);
        if (s.same !== undefined) expect(r === t, label).toBe(s.same);
        if (s.values) expect(r.values(), label).toEqual(s.values);
        t = r;
      }
    });
  });
});
