import { describe, expect, it } from "vitest";
import { dumps, floatKeysOf, loads, PyFloat, PyOrderedDict } from "../src/index.js";

// {'lr': 0.001, 'steps': 3, 'scale': 2.0} as CPython 3.11 pickles it (protocol 2)
const CPYTHON = Uint8Array.from(
  Buffer.from(
    "80027d71002858020000006c727101473f50624dd2f1a9fc5805000000737465707371024b03580500000073636" +
      "16c657103474000000000000000752e",
    "hex",
  ),
);
describe("a loaded float stays a float when replaced by a plain number", () => {
  it("records which keys held floats, and writes integral numbers there as floats", () => {
    const d = loads(CPYTHON) as Map<string, unknown>;
    expect(d.get("lr")).toBe(0.001);
    expect(d.get("scale")).toBeInstanceOf(PyFloat);
    expect(d.get("steps")).toBe(3);
    expect([...(floatKeysOf(d) ?? [])].sort()).toEqual(["lr", "scale"]);
    d.set("lr", 2); // a JS number: would be a Python int without the record
    d.set("scale", 5);
    d.set("steps", 4);
    const back = loads(dumps(d, { protocol: 2 })) as Map<string, unknown>;
    expect(back.get("lr")).toBeInstanceOf(PyFloat);
    expect((back.get("lr") as PyFloat).value).toBe(2);
    expect((back.get("scale") as PyFloat).value).toBe(5);
    expect(back.get("steps")).toBe(4); // an int stays an int
  });

  it("leaves dicts built in JS alone (an integral number is an int), OrderedDicts included", () => {
    const d = new PyOrderedDict<string, unknown>([["lr", 2]]);
    expect(floatKeysOf(d)).toBeUndefined();
    expect(loads(dumps(d))).toBeInstanceOf(PyOrderedDict);
    expect((loads(dumps(new Map([["lr", 2]]))) as Map<string, unknown>).get("lr")).toBe(2);
  });
});
