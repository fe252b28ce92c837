// biome-ignore-all assist/source/organizeImports: the README example below must stay verbatim
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
// README example (kept verbatim in README.md; the test below checks they match)
// --- example start
import {
  Linear,
  LoadStateDictError,
  type Module,
  nnGlobals,
  ReLU,
  reviveModules,
  Sequential,
} from "@pt/nn-module";
import { dumps, loads } from "@pt/pickle";
import { Storage } from "@pt/storage";
import { parseStoragePid, savedStorage, storagePersistentId, torchGlobals, torchReducers } from "@pt/tensor";

const model = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2));
const sd = model.stateDict();
console.log([...sd.keys()]); // ["0.weight", "0.bias", "2.weight", "2.bias"]
console.log(sd.attributes?.get("_metadata")); // OrderedDict("" → {version: 1}, "0" → …, "1" → …, "2" → …)

// pickle the whole module as torch.save's data.pkl does (NEWOBJ + BUILD with the full __dict__)
const records: Storage[] = [];
const keys = new Map<Storage, string>();
const pkl = dumps(model, {
  reducers: torchReducers(), // torch's reductions of the parameters' tensors
  persistentId: (obj) => {
    const s = savedStorage(obj);
    if (!s) return null;
    if (!keys.has(s.storage)) keys.set(s.storage, String(records.push(s.storage) - 1));
    return storagePersistentId(obj, keys.get(s.storage)!);
  },
});

// load it back: built-in classes become real modules, unknown user classes GenericModules
const loaded = reviveModules(
  loads(pkl, {
    globals: torchGlobals().merge(nnGlobals()),
    policy: "opaque",
    persistentLoad: (pid) => {
      const p = parseStoragePid(pid);
      return Storage.fromBytes(p.dtype, records[Number(p.key)]!.bytes.slice());
    },
  }),
) as Module;
console.log(loaded instanceof Sequential, (loaded.getSubmodule("0") as Linear).inFeatures); // true 4

// load_state_dict with torch's messages
sd.delete("2.bias");
try {
  loaded.loadStateDict(sd);
} catch (e) {
  if (e instanceof LoadStateDictError) console.log(e.torchMessage);
  // Error(s) in loading state_dict for Sequential:
  // 	Missing key(s) in state_dict: "2.bias".
}
console.log(loaded.loadStateDict(sd, { strict: false })); // { missingKeys: ["2.bias"], unexpectedKeys: [] }
// --- example end

describe("README", () => {
  it("example runs and matches README.md", () => {
    expect([...sd.keys()]).toEqual(["0.weight", "0.bias", "2.weight"]);
    expect(loaded).toBeInstanceOf(Sequential);
    expect(
      (loaded.getSubmodule("2") as Linear).weight!.equal(model.getSubmodule("2").getAttr("weight") as never),
    ).toBe(true);
    expect(() => loaded.loadStateDict(sd)).toThrow('Missing key(s) in state_dict: "2.bias". ');
    expect(loaded.loadStateDict(sd, { strict: false })).toEqual({
      missingKeys: ["2.bias"],
      unexpectedKeys: [],
    });
    const self = readFileSync(new URL(import.meta.url), "utf8");
    const code = self.split("// --- example start\n")[1]!.split("// --- example end")[0]!;
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    expect(readme).toContain(code);
  });
});
