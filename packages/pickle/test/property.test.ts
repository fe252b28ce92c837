import fc from "fast-check";
import { expect, it, describe as suite } from "vitest";
import {
  dumps,
  loads,
  PyByteArray,
  PyComplex,
  PyFloat,
  PyFrozenSet,
  PyOrderedDict,
  PySlice,
  tuple,
} from "../src/index.js";
import { describe } from "./describe.js";

const leaf = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.bigInt({ min: -(2n ** 300n), max: 2n ** 300n }),
  fc.double().map((x) => (Number.isInteger(x) ? new PyFloat(x) : x)),
  fc.string({ unit: "binary" }),
  fc.uint8Array({ maxLength: 40 }),
  fc.uint8Array({ maxLength: 10 }).map((b) => new PyByteArray(b)),
  fc.tuple(fc.double(), fc.double()).map(([re, im]) => new PyComplex(re, im)),
  fc.tuple(fc.integer(), fc.integer()).map(([a, b]) => new PySlice(a, b, null)),
);
const hashable = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.string());

const { value } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    tie("list"),
    tie("tuple"),
    tie("dict"),
    tie("set"),
    tie("odict"),
  ),
  list: fc.array(tie("value"), { maxLength: 5 }),
  tuple: fc.array(tie("value"), { maxLength: 5 }).map((a) => tuple(a)),
  dict: fc.array(fc.tuple(hashable, tie("value")), { maxLength: 5 }).map((kv) => new Map(kv)),
  set: fc
    .array(hashable, { maxLength: 5 })
    .chain((a) => fc.boolean().map((f) => (f ? new PyFrozenSet(a) : new Set(a)))),
  odict: fc.array(fc.tuple(fc.string(), tie("value")), { maxLength: 4 }).map((kv) => {
    const d = new PyOrderedDict(kv);
    if (kv.length % 2) d.attributes = new Map([["meta", kv.length]]);
    return d;
  }),
}));

suite("round trip", () => {
  for (const protocol of [0, 1, 2, 3, 4, 5]) {
    it(`loads(dumps(v, ${protocol})) ≡ v`, () => {
      fc.assert(
        fc.property(value, (v) => {
          expect(describe(loads(dumps(v, { protocol })))).toEqual(describe(v));
        }),
        { numRuns: 150 },
      );
    });
  }
  it("shared references and cycles survive every protocol", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer(), { maxLength: 4 }),
        fc.integer({ min: 0, max: 5 }),
        (items, protocol) => {
          const shared: unknown[] = [...items];
          shared.push(shared);
          const v = [shared, tuple([shared]), new Map([["s", shared]])];
          const back = loads(dumps(v, { protocol })) as unknown[];
          expect(describe(back)).toEqual(describe(v));
          const s = back[0] as unknown[];
          expect(s[s.length - 1]).toBe(s);
        },
      ),
      { numRuns: 60 },
    );
  });
});
