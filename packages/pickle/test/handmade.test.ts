import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it, describe as suite } from "vitest";
import { disassemble, GLOBAL_NAME, loads, type PyObject, PyOrderedDict } from "../src/index.js";
import { type Desc, describe } from "./describe.js";

const casesDir = fileURLToPath(new URL("../fixtures/cases/", import.meta.url));
const names: string[] = JSON.parse(readFileSync(join(casesDir, "handmade.json"), "utf8"));
const read = (n: string) => ({
  data: new Uint8Array(readFileSync(join(casesDir, `handmade-${n}.pkl`))),
  rec: JSON.parse(readFileSync(join(casesDir, `handmade-${n}.json`), "utf8")) as {
    dis: string;
    value: Desc | null;
  },
});

suite("hand-written pickles (opcodes CPython 3 does not write)", () => {
  it("has them", () => expect(names.length).toBeGreaterThan(10));
  for (const name of names) {
    const { data, rec } = read(name);
    it(`${name}: disassemble matches pickletools.dis`, () => {
      expect(disassemble(data)).toBe(rec.dis);
    });
    if (rec.value !== null) {
      it(`${name}: loads equals CPython's value`, () => {
        expect(describe(loads(data, { encoding: "latin1" }))).toEqual(rec.value);
      });
    }
  }
  it("INST and OBJ build opaque objects with their state", () => {
    const inst = loads(read("inst").data, { policy: "opaque", encoding: "latin1" }) as PyObject;
    expect(inst.origin).toBe("inst");
    expect(inst.cls.qualifiedName).toBe("mymod.MyClass");
    expect(Array.from(inst.args)).toEqual([1, "x"]);
    expect(inst.state).toEqual(new Map([["a", 2]]));
    const obj = loads(read("obj").data, { policy: "opaque" }) as PyObject;
    expect(obj.origin).toBe("obj");
    expect(Array.from(obj.args)).toEqual([1]);
    expect(() => loads(read("obj").data)).toThrow(/mymod\.MyClass/);
  });
  it("EXT codes, persistent ids, NEWOBJ_EX and NEXT_BUFFER", () => {
    const extensionRegistry = new Map([
      [7, ["collections", "OrderedDict"] as const],
      [256, ["mymod", "A"] as const],
      [65536, ["mymod", "B"] as const],
    ]);
    const ext = loads(read("ext").data, { extensionRegistry, policy: "opaque" }) as unknown[];
    expect((ext[0] as { [GLOBAL_NAME]: unknown })[GLOBAL_NAME]).toEqual({
      module: "collections",
      name: "OrderedDict",
    });
    expect(ext.slice(1).map((g) => (g as { qualifiedName: string }).qualifiedName)).toEqual([
      "mymod.A",
      "mymod.B",
    ]);
    const pids: unknown[] = [];
    const pers = loads(read("persid").data, {
      persistentLoad: (pid) => {
        pids.push(pid);
        return `#${pids.length}`;
      },
    }) as unknown[];
    expect(pids).toEqual(["storage-1", 5]);
    expect(Array.from(pers)).toEqual(["#1", "#2"]);
    const nx = loads(read("newobj_ex").data, { policy: "opaque" }) as PyObject;
    expect(nx.origin).toBe("newobj_ex");
    expect(nx.kwargs).toEqual(new Map([["k", 1]]));
    const buf = Uint8Array.of(9);
    expect(loads(read("next_buffer").data, { buffers: [buf] })).toBe(buf);
    expect(loads(new Uint8Array([0x80, 2, 0x82, 7, 0x29, 0x52, 0x2e]), { extensionRegistry })).toBeInstanceOf(
      PyOrderedDict,
    );
  });
});
