import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readSafetensorsHeader } from "@pt/safetensors";
import { saveTo } from "@pt/serialization";
import { openFile } from "@pt/serialization/node";
import { describe, expect, it } from "vitest";
import type { Progress } from "../src/progress.js";
import { lazyRootsOf, writeAtomic } from "../src/sink.js";
import { CORPUS, FIXTURES, run } from "./helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "pt-models-"));

/** torch 1.13 loads the model (or a part of a checkpoint) and compares its state dict with the safetensors file by hand. */
const PY_STATE = `
import json, struct, sys, numpy as np, torch
st, pt, key = sys.argv[1], sys.argv[2], sys.argv[3]
b = open(st, 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n]); data = b[8 + n:]
if key == 'jit':
    # torch 1.13 no longer loads TorchScript v1: read model.json and the tensors/N records by hand
    import zipfile
    z = zipfile.ZipFile(pt); pre = z.namelist()[0].split('/')[0]
    mj = json.loads(z.read(pre + '/model.json'))
    kinds = {'FLOAT': np.float32, 'DOUBLE': np.float64, 'INT64': np.int64}
    sd = {}
    for a in mj['mainModule'].get('attributes', []):
        t = mj['tensors'][int(a['id'])]
        raw = np.frombuffer(z.read(pre + '/' + t['data']['key']), dtype=kinds[t['dataType']])
        it = raw.itemsize
        sd[a['name']] = torch.from_numpy(np.lib.stride_tricks.as_strided(raw[int(t['offset']):], [int(d) for d in t['dims']], [int(s) * it for s in t['strides']]).copy())
else: obj = torch.load(pt)
if key == 'jit': pass
elif key: 
    for p in key.split('.'): obj = obj[p]
    sd = dict(obj)
else: sd = obj.state_dict()
codes = {'F32': np.float32, 'F64': np.float64, 'I64': np.int64}
names = [k for k in h if k != '__metadata__']
assert sorted(names) == sorted(sd), (names, list(sd))
for k in names:
    e = h[k]
    a = np.frombuffer(data[e['data_offsets'][0]:e['data_offsets'][1]], dtype=codes[e['dtype']]).reshape(e['shape'])
    assert np.array_equal(a, sd[k].detach().contiguous().numpy()), k
print('ok', len(names))
`;

function torchState(st: string, pt: string, key = ""): string {
  const r = spawnSync("/usr/bin/python3", ["-c", PY_STATE, st, pt, key], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe("whole models", () => {
  it("convert names a model's tensors by its state_dict() names, as torch does", async () => {
    const model = join(FIXTURES, "nn_cnn_bn_model.zip.pt");
    const out = join(tmp, "cnn.safetensors");
    // a whole model pickles its classes by name: refused unless carried over as placeholders
    const refused = await run("convert", model, out);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain("torch.nn.modules.conv.Conv2d");
    const r = await run("convert", "--unsafe", "opaque", model, out);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain("carried over");
    const h = await readSafetensorsHeader(new Uint8Array(readFileSync(out)));
    expect(h.entries.map((e) => e.name)).toContain("1.running_mean");
    expect(
      h.entries.map((e) => e.name).some((n) => n.includes("_modules") || n.includes("_parameters")),
    ).toBe(false);
    expect(torchState(out, model)).toMatch(/^ok 9/);
    // the model, its safetensors file and (below) a state dict saved from it match name by name
    expect((await run("diff", model, out)).out).toBe("same: 9 tensors with equal values\n");
  });

  it("diff of a model against a state dict of the same module matches names", async () => {
    const model = join(FIXTURES, "nn_cnn_bn_model.zip.pt");
    const sd = join(tmp, "cnn-sd.pt");
    const py = `import torch, sys; torch.save(torch.load(sys.argv[1]).state_dict(), sys.argv[2])`;
    const r = spawnSync("/usr/bin/python3", ["-c", py, model, sd], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const d = await run("diff", model, sd);
    expect(d.out).toBe("same: 9 tensors with equal values\n");
    expect(d.code).toBe(0);
  });
});

describe("--key", () => {
  const ckpt = join(FIXTURES, "state_dict_checkpoint.zip.pt");
  it("inspect, convert and diff pick one part of a checkpoint", async () => {
    const i = await run("inspect", "--json", "--key", "model", ckpt);
    expect(i.code, i.err).toBe(0);
    expect(JSON.parse(i.out).totals.tensors).toBe(6);
    const out = join(tmp, "ckpt-model.safetensors");
    const c = await run("convert", "--key", "model", ckpt, out);
    expect(c.code, c.err).toBe(0);
    expect(c.err).toBe(""); // no non-tensor values left out: only the model part
    expect(torchState(out, ckpt, "model")).toMatch(/^ok 6/);
    expect((await run("diff", "--key", "model", ckpt, ckpt)).code).toBe(0);
    // dotted paths step through nested dicts (numeric keys included)
    const m = await run("inspect", "--json", "--key", "optimizer.state.0", ckpt);
    expect(JSON.parse(m.out).tensors.map((t: { path: string[] }) => t.path)).toEqual([["momentum_buffer"]]);
  });

  it("names the missing key and the keys that exist", async () => {
    const r = await run("inspect", "--key", "modle", ckpt);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--key modle: no "modle" in the root \(keys: epoch, loss, model, optimizer\)/);
  });

  it("a conversion that writes no tensor from a file that holds some fails", async () => {
    const out = join(tmp, "epoch.safetensors");
    const r = await run("convert", "--key", "epoch", ckpt, out);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/holds tensors, but none were found under --key epoch/);
    expect(existsSync(out)).toBe(false);
    const z = await run("convert", "--key", "loss", ckpt, join(tmp, "loss.pt"));
    expect(z.code).toBe(2);
    expect(existsSync(join(tmp, "loss.pt"))).toBe(false);
  });
});

describe("TorchScript v1 (model.json + tensors/N)", () => {
  it("converts its tensors, named as its module names them, equal to torch.jit.load's", async () => {
    const f = join(CORPUS, "files/tchrs__2019-05_foo.pt");
    const out = join(tmp, "foo.safetensors");
    const r = await run("convert", f, out);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe(`${out}: safetensors, 1 tensors\n`);
    const h = await readSafetensorsHeader(new Uint8Array(readFileSync(out)));
    expect(h.entries.map((e) => e.name)).toEqual(["value"]);
    expect(torchState(out, f, "jit")).toMatch(/^ok 1/);
  });
});

describe("messages", () => {
  it("names a missing output folder, not a temporary file", async () => {
    const r = await run("convert", join(FIXTURES, "nn_cnn_bn_model.zip.pt"), "/nonexistent-pt-dir/sub/x.pt");
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      "pt: convert: cannot write /nonexistent-pt-dir/sub/x.pt: folder /nonexistent-pt-dir/sub does not exist\n",
    );
  });

  it("diff prints float32 differences to float32 precision", async () => {
    const a = join(FIXTURES, "nn_cnn_bn_model.zip.pt");
    const b = join(FIXTURES, "nn_cnn_bn_state_dict.zip.pt");
    const r = await run("diff", a, b);
    const diffs = [...r.out.matchAll(/≠ (\S+) {2}max \|a-b\| = (\S+)/g)].map(
      (m) => [m[1], m[2]] as [string, string],
    );
    const exact = new Map<string, number>(
      JSON.parse((await run("diff", "--json", a, b)).out).values.map(
        (v: { path: string; max_abs_diff: number }) => [v.path, v.max_abs_diff],
      ),
    );
    expect(diffs.length).toBeGreaterThan(0);
    for (const [name, text] of diffs) {
      expect(text.replace(/^0\.0*|\./g, "").length, text).toBeLessThanOrEqual(9); // ≤ 9 significant digits
      expect(Math.fround(Number(text)), name).toBe(Math.fround(exact.get(name) as number)); // the same float32
    }
  });

  it("inspect reads a plain pickle, as disasm does", async () => {
    const p = join(tmp, "plain.pkl");
    const r0 = spawnSync("/usr/bin/python3", [
      "-c",
      `import pickle,sys; pickle.dump({'a': 1, 'b': [1.5, 'x']}, open(sys.argv[1], 'wb'), protocol=2)`,
      p,
    ]);
    expect(r0.status).toBe(0);
    const r = await run("inspect", p);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`${p}: plain pickle`);
    expect(r.out).toContain("└─ [1]  'x'");
    expect((await run("disasm", p)).code).toBe(0);
  });

  it("inspect and --hash read safetensors files; hashes equal the checkpoint's", async () => {
    const src = join(FIXTURES, "nn_cnn_bn_state_dict.zip.pt");
    const out = join(tmp, "sd.safetensors");
    expect((await run("convert", src, out)).code).toBe(0);
    const a = JSON.parse((await run("inspect", "--json", "--hash", src)).out);
    const b = JSON.parse((await run("inspect", "--json", "--hash", out)).out);
    expect(b.format).toBe("safetensors");
    const byName = (j: { tensors: Array<{ path: string[]; sha256: string }> }) =>
      Object.fromEntries(j.tensors.map((t) => [t.path.join("."), t.sha256]));
    expect(byName(b)).toEqual(byName(a));
    // and back to zip, diffed equal
    const back = join(tmp, "sd-back.pt");
    expect((await run("convert", out, back)).code).toBe(0);
    expect((await run("diff", src, back)).code).toBe(0);
  });
});

describe("bounded memory, by work", () => {
  it("convert streams each lazy storage to the output: none is ever loaded whole", async () => {
    const cp = await openFile(join(FIXTURES, "state_dict_checkpoint.zip.pt"), { lazy: true });
    try {
      const roots = lazyRootsOf(cp.storages);
      expect(roots.length).toBe(12);
      let maxLoaded = 0;
      let updates = 0;
      const spy = {
        update() {
          updates++;
          maxLoaded = Math.max(maxLoaded, roots.filter((s) => s.isLoaded).length);
        },
        setTotal() {},
        finish() {},
      } as unknown as Progress;
      const out = join(tmp, "bounded.pt");
      // sweep at every storage change (the CLI sweeps every 64 MiB)
      await writeAtomic(out, spy, roots, (sink) => saveTo(cp.value, sink), 1);
      // the spy saw every storage change; the writers stream lazy storages chunk by chunk
      // (Storage.chunks), so none is loaded whole at any point
      expect(updates).toBeGreaterThanOrEqual(roots.length);
      expect(maxLoaded).toBe(0);
      expect(roots.filter((s) => s.isLoaded).length).toBe(0);
      writeFileSync(join(tmp, "done"), "");
    } finally {
      await cp.close();
    }
  });
});

describe("safetensors input", () => {
  const HOSTILE = new URL("../../../packages/safetensors/fixtures/hostile/", import.meta.url);
  it("refuses every hostile safetensors file with one error line naming the problem", async () => {
    const codes = JSON.parse(readFileSync(new URL("codes.json", HOSTILE), "utf8")) as Record<string, string>;
    for (const name of Object.keys(codes)) {
      const f = fileURLToPath(new URL(`${name}.safetensors`, HOSTILE));
      for (const cmd of ["inspect", "diff"]) {
        const r = await run(cmd, ...(cmd === "diff" ? [f, f] : [f]));
        expect(r.code, `${cmd} ${name}`).toBe(2);
        expect(r.err, `${cmd} ${name}`).toMatch(new RegExp(`^pt: ${cmd}: safetensors: [^\\n]+\\n$`));
      }
    }
  });

  it("is recognised by its header, whatever the file name", async () => {
    const st = join(tmp, "renamed.safetensors");
    expect((await run("convert", join(FIXTURES, "nn_cnn_bn_state_dict.zip.pt"), st)).code).toBe(0);
    const renamed = join(tmp, "weights.bin");
    writeFileSync(renamed, readFileSync(st));
    const r = await run("inspect", "--json", renamed);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).format).toBe("safetensors");
  });
});

describe("--key into a whole model", () => {
  it("steps into submodules by name, then state-dict names", async () => {
    const model = join(FIXTURES, "nn_cnn_bn_model.zip.pt");
    const sub = await run("inspect", "--json", "--key", "1", model);
    expect(sub.code, sub.err).toBe(0);
    expect(JSON.parse(sub.out).totals.tensors).toBe(5);
    const out = join(tmp, "bn.safetensors");
    expect((await run("convert", "--unsafe", "opaque", "--key", "1", model, out)).code).toBe(0);
    const h = await readSafetensorsHeader(new Uint8Array(readFileSync(out)));
    expect(h.entries.map((e) => e.name)).toEqual([
      "weight",
      "bias",
      "running_mean",
      "running_var",
      "num_batches_tracked",
    ]);
    const w = await run("inspect", "--json", "--key", "0.weight", model);
    expect(JSON.parse(w.out).tensors[0].shape).toEqual([3, 1, 3, 3]);
  });
});
