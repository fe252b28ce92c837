import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { TensorJson, Totals } from "../src/cmd-inspect.js";
import { corpusExpected, corpusFile, FIXTURES, ROOT, run } from "./helpers.js";

interface InspectJson {
  format: string;
  tensors: TensorJson[];
  totals: Totals;
  records?: Array<{ name: string; size: number }>;
}

async function inspectJson(...args: string[]): Promise<InspectJson> {
  const r = await run("inspect", "--json", ...args);
  expect(r.err).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.out) as InspectJson;
}

/** The data_sha256 of every dense, non-quantized tensor of a torch description. */
function expectedHashes(o: unknown, out: string[] = []): string[] {
  if (Array.isArray(o)) for (const x of o) expectedHashes(x, out);
  else if (o && typeof o === "object") {
    const d = o as Record<string, unknown>;
    if (d._type === "tensor") {
      if (typeof d.data_sha256 === "string" && d.layout === "strided" && d.qscheme === undefined)
        out.push(d.data_sha256);
      return out;
    }
    for (const v of Object.values(d)) expectedHashes(v, out);
  }
  return out;
}

const MLP = join(ROOT, "examples/mlp.pt");

describe("pt inspect", () => {
  it("marks placeholders and ends with a warning naming every global weights_only refuses", async () => {
    const py = `import argparse,sys,torch\ntorch.save({'w': torch.zeros(2), 'obj': argparse.Namespace(a=1)}, sys.argv[1])`;
    const dir = mkdtempSync(join(tmpdir(), "pt-inspect-"));
    const f = join(dir, "obj.pt");
    const r0 = spawnSync("/usr/bin/python3", ["-c", py, f]);
    expect(r0.status, String(r0.stderr)).toBe(0);
    const r = await run("inspect", f);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/argparse\.Namespace \(placeholder: class not loaded\) \[!\]/);
    const last = r.out.trimEnd().split("\n").at(-1);
    expect(last).toMatch(
      /^warning: torch\.load\(weights_only=True\) would refuse .*: argparse\.Namespace \(/,
    );
    const clean = await run("inspect", join(FIXTURES, "state_dict_checkpoint.zip.pt"));
    expect(clean.out).not.toMatch(/^warning:/m);
  });

  it("--json gives the documented shape for the bundled example", async () => {
    const j = await inspectJson(MLP);
    expect(j.format).toBe("zip");
    expect(j.tensors.map((t) => t.path)).toEqual([
      ["fc1.weight"],
      ["fc1.bias"],
      ["bn.weight"],
      ["bn.bias"],
      ["bn.running_mean"],
      ["bn.running_var"],
      ["bn.num_batches_tracked"],
      ["fc2.weight"],
      ["fc2.bias"],
    ]);
    expect(j.tensors[0]).toEqual({
      path: ["fc1.weight"],
      class: "Tensor",
      dtype: "float32",
      shape: [8, 4],
      stride: [4, 1],
      storage_offset: 0,
      storage: { key: "0", dtype: "float32", numel: 32, device: "cpu" },
      requires_grad: false,
    });
    expect(j.tensors[6]?.storage).toEqual({ key: "6", dtype: "int64", numel: 1, device: "cpu" });
    expect(j.totals).toEqual({ tensors: 9, parameters: 91, bytes: 368, storages: 9, shared_storages: 0 });
    expect(j.records?.map((r) => r.name)).toContain("data.pkl");
  });

  it("paths go through nested containers and modules; shared storages are counted", async () => {
    const j = await inspectJson(join(FIXTURES, "nested_shared.zip.pt"));
    expect(j.tensors.map((t) => t.path)).toEqual([
      ["a", 0],
      ["c", 2, 1],
    ]);
    expect(j.totals.shared_storages).toBe(1);
    const m = await inspectJson(join(FIXTURES, "nn_user_net_model.legacy.pt"));
    expect(m.format).toBe("legacy");
    expect(m.tensors.map((t) => [t.path.join("/"), t.class, t.requires_grad])).toContainEqual([
      "_modules/fc1/_parameters/weight",
      "Parameter",
      true,
    ]);
    const p = await inspectJson(join(FIXTURES, "views_shared_base.legacy.pt"));
    // Ten views of one base storage, and an expanded tensor over its own storage.
    expect(p.tensors.filter((t) => t.storage.key === p.tensors[0]?.storage.key)).toHaveLength(10);
    expect(p.totals).toEqual({ tensors: 11, parameters: 274, bytes: 252, storages: 2, shared_storages: 1 });
  });

  it("--hash equals torch's data_sha256 of the logical values (float16, bfloat16, complex, bool, views)", async () => {
    const files = [
      corpusFile("burn__bool.pt"),
      corpusFile("burn__bfloat16.pt"),
      corpusFile("burn__float16.pt"),
      corpusFile("bumblebee__2022-05_noncontiguous_tensor.zip.pt"),
      corpusFile("bumblebee__2023-04_noncontiguous_tensor.legacy.pt"),
      corpusFile("bumblebee__2022-05_tensors.legacy.pt"),
      ...[
        "dtype_all_in_one.zip.pt",
        "dtype_complex64.legacy.pt",
        "views_shared_base.zip.pt",
        "empty_tensors.zip.pt",
      ].map((f) => join(FIXTURES, f)),
    ];
    for (const f of files) {
      const exp = f.startsWith(FIXTURES)
        ? (JSON.parse(readFileSync(`${f}.json`, "utf8")) as Record<string, unknown>)
        : corpusExpected(f.split("/").pop() as string);
      const want = expectedHashes(exp.object).sort();
      expect(want.length, f).toBeGreaterThan(0);
      const j = await inspectJson("--hash", f);
      expect(j.tensors.map((t) => t.sha256).sort(), f).toEqual(want);
    }
  });

  it("is lazy: storage bytes are not read without --hash (a corrupted storage still inspects)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pt-inspect-"));
    const bad = join(dir, "mlp.pt");
    copyFileSync(MLP, bad);
    // Offset of the first data byte of mlp/data/0 (from its local header, via Python's zipfile).
    const py =
      "import zipfile,sys,struct\nz=zipfile.ZipFile(sys.argv[1])\ni=z.getinfo('mlp/data/0')\nh=open(sys.argv[1],'rb').read()[i.header_offset:i.header_offset+30]\nn,e=struct.unpack('<HH',h[26:30])\nprint(i.header_offset+30+n+e)";
    const r = spawnSync("/usr/bin/python3", ["-c", py, bad], { encoding: "utf8" });
    const off = Number(r.stdout.trim());
    const bytes = readFileSync(bad);
    expect(off).toBeGreaterThan(0);
    bytes[off] = (bytes[off] as number) ^ 0xff;
    writeFileSync(bad, bytes);
    const j = await inspectJson(bad);
    expect(j.totals.tensors).toBe(9);
    expect(j.tensors.every((t) => t.sha256 === undefined)).toBe(true);
    // With --hash the bytes are read, and the record's CRC-32 no longer matches.
    const h = await run("inspect", "--hash", bad);
    expect(h.code).toBe(2);
    expect(h.err.split("\n")).toHaveLength(2);
    expect(h.err).toMatch(/^pt: inspect: storage: reading 128 bytes at offset \d+ failed: .*CRC/i);
  });

  it("prints a readable tree with totals", async () => {
    const r = await run("inspect", MLP);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(
      /^.*mlp\.pt: zip checkpoint \(torch 1\.6-2\.0 layout, version 3, little-endian\), 2\.98 kB\n/,
    );
    expect(r.out).toContain("OrderedDict[9] (_metadata for 5 modules)");
    expect(r.out).toMatch(
      /├─ fc1\.weight +Tensor +float32 +\[8, 4\] +stride \[4, 1\] +offset 0 +storage "0" float32\[32\] cpu 128 B\n/,
    );
    expect(r.out).toContain("totals: 9 tensors, 91 elements, 368 B in 9 storages (0 shared)\n");
    const b = await run("inspect", join(FIXTURES, "bare_storage.zip.pt"));
    expect(b.out).toMatch(/\[1\] +Storage "0" int32\[6\] cpu 24 B {2}shared\n/);
    expect(b.out).toContain("totals: 1 tensor, 3 elements, 24 B in 1 storage (1 shared)\n");
    const legacy = await inspectJson(corpusFile("gopickle__t15_float32_proto1.pt"));
    expect(legacy.tensors[0]?.storage.key).toBe("94264066933152");
    // Keys are paired with the right storages even when every storage has the same size.
    const many = await inspectJson(corpusFile("bumblebee__2022-05_tensors.legacy.pt"));
    expect(many.tensors.slice(0, 2).map((t) => [t.dtype, t.storage.key])).toEqual([
      ["float64", "94729089953008"],
      ["float32", "94729044022528"],
    ]);
    const v = await run("inspect", join(ROOT, "examples/views.pt"));
    expect(v.out).toMatch(/t +Tensor +float32 +\[4, 3\] +stride \[1, 4\] .*shared,non-contiguous/);
  });

  it("fails with one line on a file that is not a checkpoint", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pt-inspect-"));
    const junk = join(dir, "junk.pt");
    writeFileSync(junk, "hello, this is not a checkpoint\n".repeat(4));
    const r = await run("inspect", junk);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err.split("\n")).toHaveLength(2);
    expect(r.err).toMatch(/^pt: inspect: /);
  });
});

describe("pt inspect of a torch.export archive (.pt2, written by torch 2.14)", () => {
  const pt2 = join(ROOT, "apps/conformance/fixtures-2.14/pt2/export_mixed.pt2");
  const want = JSON.parse(readFileSync(`${pt2}.json`, "utf8")) as {
    tensors: Array<{ name: string; dtype: string; shape: number[]; is_param: boolean; data_sha256: string }>;
  };
  it("prints its weights and constants as a tree, naming the archive kind", async () => {
    const r = await run("inspect", pt2);
    expect(r.code).toBe(0);
    expect(r.out).toContain("torch.export archive (.pt2)");
    expect(r.out).toContain("models model, 4 weights, 1 constants; the exported program is not run");
    for (const t of want.tensors)
      expect(r.out).toMatch(
        new RegExp(`─ ${t.name}\\s+${t.is_param ? "Parameter" : "Tensor"}\\s+${t.dtype}`),
      );
    expect(r.out).toContain("totals: 5 tensors");
  });
  it("--json --hash: each tensor's logical SHA-256 is torch.export.load's", async () => {
    const j = await inspectJson("--hash", pt2);
    expect(j.format).toBe("pt2");
    expect(j.tensors.map((t) => [t.path.join("."), t.dtype, t.shape, t.sha256])).toEqual(
      want.tensors.map((t) => [t.name, t.dtype, t.shape, t.data_sha256]),
    );
  });
});
