import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readSafetensorsHeader } from "@pt/safetensors";
import { loadFile, saveFile } from "@pt/serialization/node";
import { type Tensor, zeros } from "@pt/tensor";
import { describe, expect, it } from "vitest";
import { FIXTURES, ROOT, run } from "./helpers.js";

const MLP = join(ROOT, "examples/mlp.pt");
const VIEWS = join(ROOT, "examples/views.pt");
const tmp = mkdtempSync(join(tmpdir(), "pt-convert-"));

/**
 * Real torch reads our safetensors file's raw bytes (numpy, no safetensors package) and compares
 * every tensor with torch.load of the example it came from (a file this repository generated).
 */
const PY_CHECK = `
import json, struct, sys, numpy as np, torch
st, pt = sys.argv[1], sys.argv[2]
b = open(st, 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
data = b[8 + n:]
ref = torch.load(pt)
flat = {}
def walk(o, p):
    if isinstance(o, torch.Tensor): flat[p] = o
    elif isinstance(o, dict):
        for k, v in o.items(): walk(v, f'{p}.{k}' if p else str(k))
walk(ref, '')
codes = {'F32': np.float32, 'I64': np.int64}
names = [k for k in h if k != '__metadata__']
assert sorted(names) == sorted(flat), (names, list(flat))
for k in names:
    e = h[k]
    a = np.frombuffer(data[e['data_offsets'][0]:e['data_offsets'][1]], dtype=codes[e['dtype']]).reshape(e['shape'])
    assert list(flat[k].shape) == e['shape'], k
    assert np.array_equal(a, flat[k].contiguous().numpy()), k
print('ok', len(names), json.dumps(h['__metadata__']))
`;

function torchCheck(st: string, pt: string): string {
  const r = spawnSync("/usr/bin/python3", ["-c", PY_CHECK, st, pt], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe("pt convert", () => {
  it("zip → legacy → zip keeps every tensor, view and shared storage", async () => {
    const legacy = join(tmp, "views.legacy.pt");
    const back = join(tmp, "views.pt");
    expect((await run("convert", VIEWS, legacy, "--format", "legacy")).code).toBe(0);
    const c = await run("convert", legacy, back, "--flavor", "1.13");
    expect(c.code).toBe(0);
    expect(c.out).toBe(`${back}: zip (torch 1.13 layout)\n`);
    const i = await run("inspect", "--json", legacy);
    expect(JSON.parse(i.out).format).toBe("legacy");
    expect(JSON.parse(i.out).totals).toEqual({
      tensors: 4,
      parameters: 40,
      bytes: 64,
      storages: 2,
      shared_storages: 1,
    });
    expect((await run("diff", VIEWS, legacy)).code).toBe(0);
    expect((await run("diff", VIEWS, back)).code).toBe(0);
    // The bundled example was written by torch 1.13 with the prefix "views": same bytes again.
    expect(readFileSync(back).equals(readFileSync(VIEWS))).toBe(true);
  });

  it("real torch loads what every --format/--flavor writes and finds it deeply equal to the original", async () => {
    const originals = ["nested_shared.zip.pt", "nn_user_net_model.legacy.pt", "parameters.zip.pt"];
    const pairs: Array<{ original: string; ours: string; name: string }> = [];
    for (const o of originals) {
      for (const [fmt, flavor] of [
        ["zip", "1.13"],
        ["zip", "2.1"],
        ["zip", "2.7"],
        ["legacy", null],
      ] as const) {
        const out = join(tmp, `${fmt}-${flavor ?? "x"}-${o}`);
        const args = [
          "convert",
          join(FIXTURES, o),
          out,
          "--format",
          fmt,
          ...(flavor ? ["--flavor", flavor] : []),
          // whole models hold user classes: carried over as placeholders, on request
          ...(o.includes("_model") ? ["--unsafe", "opaque"] : []),
        ];
        const r = await run(...args);
        expect(r.code, args.join(" ")).toBe(0);
        pairs.push({ original: join(FIXTURES, o), ours: out, name: `${fmt}-${flavor ?? "x"}-${o}` });
      }
    }
    const batch = join(tmp, "pairs.json");
    writeFileSync(batch, JSON.stringify(pairs));
    const script = join(ROOT, "apps/conformance/generator/check_ours.py");
    const r = spawnSync("/usr/bin/python3", [script, "--batch", batch, "-q"], { encoding: "utf8" });
    expect(r.stdout).toMatch(/^[1-9]\d* passed, 0 failed\n$/m);
    expect(r.status, r.stdout).toBe(0);
  }, 30_000);

  it("writes safetensors that real torch/numpy read back equal, flattening names", async () => {
    const out = join(tmp, "mlp.safetensors");
    const r = await run("convert", MLP, out);
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    const bytes = readFileSync(out);
    const h = await readSafetensorsHeader(new Uint8Array(bytes));
    expect(h.dataOffset % 8).toBe(0);
    expect(h.entries.map((t) => [t.name, t.code, t.shape])).toContainEqual([
      "bn.num_batches_tracked",
      "I64",
      [],
    ]);
    expect(h.entries.find((t) => t.name === "fc1.weight")).toMatchObject({ code: "F32", shape: [8, 4] });
    expect(torchCheck(out, MLP)).toMatch(/^ok 9 /);
  });

  it("materialises views contiguously and notes shared storages on stderr and in __metadata__", async () => {
    const out = join(tmp, "views.safetensors");
    const r = await run("convert", VIEWS, out, "--format", "safetensors");
    expect(r.code).toBe(0);
    expect(r.err).toBe(
      `pt: note: a, b, t share one storage in ${VIEWS}; safetensors gets a separate copy of each\n`,
    );
    const h = await readSafetensorsHeader(new Uint8Array(readFileSync(out)));
    expect(JSON.parse(h.metadata?.shared_storages as string)).toEqual([["a", "b", "t"]]);
    expect(torchCheck(out, VIEWS)).toContain('"shared_storages"');
  });

  it("refuses what safetensors cannot represent, with a clear message, and writes nothing", async () => {
    const cases: Array<[string, RegExp]> = [
      [
        "dtype_all_in_one.zip.pt",
        /safetensors cannot represent complex128: dtype complex128 has no safetensors code/,
      ],
      ["quantized_per_tensor.zip.pt", /safetensors cannot represent .*quantized dtype q/],
      ["sparse_coo.zip.pt", /sparse_coo tensors are not dense/],
      ["tensor_0d.zip.pt", /a single tensor with no name/],
    ];
    for (const [f, msg] of cases) {
      const out = join(tmp, `${f}.safetensors`);
      const r = await run("convert", join(FIXTURES, f), out);
      expect(r.code, f).toBe(2);
      expect(r.err, f).toMatch(msg);
      expect(r.err.split("\n"), f).toHaveLength(2);
      expect(existsSync(out), f).toBe(false);
    }
  });

  it("refuses globals outside the weights_only allowlist unless --unsafe opaque, then names them", async () => {
    const model = join(FIXTURES, "nn_user_net_model.legacy.pt");
    const out = join(tmp, "model.pt");
    const r = await run("convert", model, out);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      /^pt: convert: serialization: refused \d+ globals?: .*outside the weights_only allowlist.*\n$/,
    );
    expect(existsSync(out)).toBe(false);
    const o = await run("convert", model, out, "--unsafe", "opaque");
    expect(o.code).toBe(0);
    expect(o.err).toMatch(
      /^pt: note: carried over \d+ globals? outside torch's weights_only allowlist as placeholders: /,
    );
    const framed = join(ROOT, "packages/serialization/fixtures/frames/frame-straddling.pt");
    for (const extra of [[], ["--unsafe", "opaque"]]) {
      const f = await run("convert", framed, join(tmp, "framed.pt"), ...extra);
      expect(f.code).toBe(2);
      expect(f.err).toMatch(
        /past the end \(offset 12\) of the FRAME at offset 2 \(SHORT_BINUNICODE at offset 11\)/,
      );
    }
  });

  it("leaves non-tensor values out with a note", async () => {
    const out = join(tmp, "ckpt.safetensors");
    const r = await run("convert", join(FIXTURES, "state_dict_checkpoint.zip.pt"), out);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^pt: note: left out \d+ non-tensor values: .*epoch = /m);
  });

  it("rejects bad options", async () => {
    const r = await run("convert", MLP, join(tmp, "x.pt"), "--format", "onnx");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/not one of zip, legacy, safetensors/);
  });
});

describe("pt diff", () => {
  it("same file: exit 0", async () => {
    const r = await run("diff", MLP, MLP);
    expect(r.code).toBe(0);
    expect(r.out).toBe("same: 9 tensors with equal values\n");
  });

  it("reports added, removed, changed shape/dtype and value differences, exit 1", async () => {
    const value = (await loadFile(MLP)) as Map<string, unknown>;
    const w = value.get("fc1.weight") as Tensor;
    w.set([1, 2], (w.get([1, 2]) as number) + 0.5);
    value.delete("fc2.bias");
    value.set("extra", zeros([3]));
    value.set("bn.running_mean", zeros([9]));
    value.set("bn.num_batches_tracked", zeros([], { dtype: (value.get("fc1.bias") as Tensor).dtype }));
    const edited = join(tmp, "mlp-edited.pt");
    await saveFile(value, edited);
    const r = await run("diff", MLP, edited);
    expect(r.code).toBe(1);
    expect(r.out).toContain("- fc2.bias  float32[2]  (only in A)\n");
    expect(r.out).toContain("+ extra  float32[3]  (only in B)\n");
    expect(r.out).toContain("~ bn.running_mean  float32[8] → float32[9]\n");
    expect(r.out).toContain("~ bn.num_batches_tracked  int64[] → float32[]\n");
    expect(r.out).toContain("≠ fc1.weight  max |a-b| = 0.5  (1 of 32 elements differ)\n");
    expect(r.out).toMatch(
      /1 removed, 1 added, 2 changed dtype\/shape, 1 with different values \(5 equal\)\n$/,
    );
    const j = await run("diff", "--json", MLP, edited);
    const json = JSON.parse(j.out);
    expect(json.values).toEqual([{ path: "fc1.weight", max_abs_diff: 0.5, differing: 1, numel: 32 }]);
    expect(json.same).toBe(false);
    expect((await run("diff", "--atol", "0.6", MLP, edited)).out).not.toContain("fc1.weight  max");
  });

  it("treats NaN at the same place as equal and -0.0 as 0.0", async () => {
    const f = join(FIXTURES, "dtype_float32.zip.pt");
    expect((await run("diff", f, join(FIXTURES, "dtype_float32.legacy.pt"))).code).toBe(0);
  });
});

describe("bin/pt.js", () => {
  it("runs from the built dist", () => {
    const dist = join(ROOT, "apps/cli/dist/main.js");
    if (!existsSync(dist))
      throw new Error(`${dist} is missing: build first (turbo's test task depends on build)`);
    const r = spawnSync(process.execPath, [join(ROOT, "apps/cli/bin/pt.js"), "--help"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: pt <command>/);
    const bad = spawnSync(process.execPath, [join(ROOT, "apps/cli/bin/pt.js"), "nope"], { encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^pt: unknown command/);
  });
});
