import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PyOrderedDict } from "@pt/pickle";
import { dtypes, Storage } from "@pt/storage";
import { arange, Parameter, Tensor, tensor, zeros } from "@pt/tensor";
import { afterAll, describe, expect, it } from "vitest";
import { loadLegacySync, saveLegacySync } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "legacy-format-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fixtures = new URL("../../../apps/conformance/fixtures/", import.meta.url);

/** Real torch 1.13 loads a file this test wrote and describes it as JSON. */
function torchDescribe(path: string): unknown {
  const script = `
import json, sys, torch
v = torch.load(sys.argv[1])
ptrs = []
def t(x):
    p = x.storage().data_ptr()
    if p not in ptrs: ptrs.append(p)
    return {"cls": type(x).__name__, "dtype": str(x.dtype), "shape": list(x.shape), "stride": list(x.stride()),
            "offset": x.storage_offset(), "group": ptrs.index(p), "rg": x.requires_grad,
            "values": x.detach().reshape(-1).tolist()}
print(json.dumps({"type": type(v).__name__, "items": [[k, t(x)] for k, x in v.items()]}))
`;
  return JSON.parse(execFileSync("/usr/bin/python3", ["-c", script, path], { encoding: "utf8" }));
}

describe("real torch reads what we write", () => {
  it("a state dict built in TypeScript gets keys of its own and loads in torch 1.13, sharing included", () => {
    const base = arange(0, 12, 1, { dtype: dtypes.float32 }).reshape(3, 4);
    const sd = new PyOrderedDict<string, Tensor>([
      ["base", base],
      ["col", base.select(1, 2)],
      ["t", base.t()],
      ["half", tensor([0.5, -1.25], { dtype: dtypes.float16 })],
      ["long", tensor([7n, -3n], { dtype: dtypes.int64 })],
      ["mask", tensor([true, false, true], { dtype: dtypes.bool })],
      ["param", new Parameter(zeros([2], { dtype: dtypes.float64 }), true)],
    ]);
    const path = join(dir, "ts_state_dict.pt");
    const bytes = saveLegacySync(sd);
    writeFileSync(path, bytes);
    const back = loadLegacySync(bytes);
    expect(back.keys).toEqual(["0", "1", "2", "3", "4"]);
    const d = torchDescribe(path) as { type: string; items: [string, Record<string, unknown>][] };
    expect(d.type).toBe("OrderedDict");
    const got = new Map(d.items);
    expect(got.get("base")).toMatchObject({ shape: [3, 4], stride: [4, 1], group: 0, values: base.values() });
    expect(got.get("col")).toMatchObject({
      shape: [3],
      stride: [4],
      offset: 2,
      group: 0,
      values: [2, 6, 10],
    });
    expect(got.get("t")).toMatchObject({ shape: [4, 3], stride: [1, 4], group: 0 });
    expect(got.get("half")).toMatchObject({ dtype: "torch.float16", values: [0.5, -1.25], group: 1 });
    expect(got.get("long")).toMatchObject({ dtype: "torch.int64", values: [7, -3] });
    expect(got.get("mask")).toMatchObject({ dtype: "torch.bool", values: [true, false, true] });
    expect(got.get("param")).toMatchObject({ cls: "Parameter", dtype: "torch.float64", rg: true, group: 4 });
  });

  it("views written as view_metadata share memory again in torch", () => {
    const root = Storage.fromTypedArray(dtypes.float32, new Float32Array([1, 2, 3, 4, 5, 6]));
    const view = Storage.viewOf(root, 8, 12);
    const value = [new Tensor(root, 0, [6]), new Tensor(view, 0, [3]), view];
    const path = join(dir, "views.pt");
    writeFileSync(path, saveLegacySync(value, { views: "metadata" }));
    const script = `
import json, sys, torch
a, b, s = torch.load(sys.argv[1])
print(json.dumps([a.tolist(), b.tolist(), b.storage().data_ptr() - a.storage().data_ptr(), s.data_ptr() == b.storage().data_ptr()]))
`;
    const out = JSON.parse(execFileSync("/usr/bin/python3", ["-c", script, path], { encoding: "utf8" }));
    expect(out).toEqual([[1, 2, 3, 4, 5, 6], [3, 4, 5], 8, true]);
    // and in our reader
    const back = loadLegacySync(readFileSync(path));
    const [ta, tb] = back.value as [Tensor, Tensor];
    expect(tb.storage.base).toBe(ta.storage);
  });

  it("re-saves that are not byte-identical still load in torch equal to the originals (check_ours.py)", () => {
    const names = [
      "quantized_per_channel",
      "nn_lstm_model",
      "numpy_scalars",
      "sparse_coo",
      "nn_user_cnn_model",
    ];
    const pairs = names.map((name) => {
      const original = new URL(`${name}.legacy.pt`, fixtures).pathname;
      const loaded = loadLegacySync(readFileSync(original), { policy: "opaque" });
      const ours = join(dir, `${name}.legacy.pt`);
      writeFileSync(ours, saveLegacySync(loaded.value, { moduleSources: loaded.moduleSources }));
      return { original, ours, byte_identical: false, name };
    });
    writeFileSync(join(dir, "pairs.json"), JSON.stringify(pairs));
    const checker = new URL("../../../apps/conformance/generator/check_ours.py", import.meta.url).pathname;
    const out = execFileSync("/usr/bin/python3", [checker, "--batch", join(dir, "pairs.json"), "-q"], {
      encoding: "utf8",
    });
    expect(out).toMatch(/^[1-9]\d* passed, 0 failed$/m);
  });

  it("the handmade state dict built in TypeScript gives torch's exact bytes", () => {
    const sd = new PyOrderedDict<string, Tensor>([
      ["weight", arange(0, 6, 1, { dtype: dtypes.float32 }).reshape(2, 3)],
      ["bias", zeros([2], { dtype: dtypes.float32 })],
      ["steps", tensor(7n, { dtype: dtypes.int64 })],
    ]);
    sd.attributes = new Map([["_metadata", new PyOrderedDict([["", new Map([["version", 1]])]])]]);
    const expected = new Uint8Array(readFileSync(new URL("handmade_state_dict.legacy.pt", fixtures)));
    expect(saveLegacySync(sd)).toEqual(expected);
  });
});
