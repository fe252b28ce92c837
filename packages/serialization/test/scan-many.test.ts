import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { BufferSource } from "@pt/storage";
import { expect, test } from "vitest";
import { blobTree, parseDcpMetadata, type ScanFileResult, type ScanInput, scanMany } from "../src/index.js";
import { collectScanInputs, dirTree } from "../src/node.js";

const fixtures = fileURLToPath(new URL("../fixtures/", import.meta.url));
const enc = (s: string) => new Uint8Array(Buffer.from(s, "latin1"));
const EVIL = enc("cos\nsystem\n(S'true'\ntR.");

async function all(inputs: ScanInput[]): Promise<ScanFileResult[]> {
  const out: ScanFileResult[] = [];
  for await (const r of scanMany(inputs)) out.push(r);
  return out;
}

test("DCP folders: the .metadata pickle, judged by the DCP allowlist, and every non-tensor item; a hostile one is dangerous", async () => {
  const names = ["single", "fsdp2-2", "dtensor-4"];
  const rs = await all(names.map((n) => ({ path: n, kind: "dcp", tree: dirTree(`${fixtures}dcp/${n}`) })));
  for (const [i, r] of rs.entries()) {
    // one section for .metadata, one per non-tensor item (a torch.save file's data.pkl)
    const meta = parseDcpMetadata(new Uint8Array(readFileSync(`${fixtures}dcp/${names[i]}/.metadata`)));
    const items = [...meta.entries.values()].filter((e) => e.kind === "bytes").length;
    expect(items).toBeGreaterThan(0);
    expect(r).toMatchObject({
      kind: "dcp",
      verdict: "safe",
      sections: 1 + items,
      pickles: 1 + items,
      error: null,
    });
    expect(r.globals.some((g) => g.global.startsWith("torch.distributed.checkpoint"))).toBe(true);
  }
  const [bad] = await all([
    { path: "bad", kind: "dcp", tree: blobTree([{ name: ".metadata", data: EVIL }]) },
  ]);
  expect(bad).toMatchObject({ verdict: "dangerous", pickles: 1 });
  expect(bad?.globals).toEqual([{ global: "os.system", verdict: "dangerous", count: 1, flagged: true }]);
  // no .metadata: a typed error, not a throw
  const [none] = await all([{ path: "empty", kind: "dcp", tree: blobTree([]) }]);
  expect(none?.verdict).toBe("unreadable");
  expect(none?.error?.code).toBe("InvalidSource");
});

test("sharded index: every shard's pickles as one checkpoint; a missing shard makes it unreadable", async () => {
  const dir = `${fixtures}sharded`;
  const shards = readdirSync(dir).filter((n) => n.endsWith(".bin"));
  const [r] = await all([
    { path: "idx", kind: "sharded", tree: dirTree(dir), index: "pytorch_model.bin.index.json" },
  ]);
  expect(r).toMatchObject({ kind: "sharded", verdict: "safe", error: null });
  expect(r?.pickles).toBe(shards.length);
  const index = enc(JSON.stringify({ metadata: {}, weight_map: { a: "a.bin", b: "b.bin" } }));
  const [m] = await all([
    {
      path: "idx",
      kind: "sharded",
      tree: blobTree([
        { name: "x.index.json", data: index },
        { name: "a.bin", data: EVIL },
      ]),
      index: "x.index.json",
    },
  ]);
  // a.bin is dangerous: that decides, even though b.bin is missing
  expect(m?.verdict).toBe("dangerous");
});

test("sources without readSync are read into memory; safetensors files are safe with no pickles; budgets end in ScanBudget", async () => {
  const header = enc('{"__metadata__":{}}');
  const st = new Uint8Array(8 + header.length);
  new DataView(st.buffer).setBigUint64(0, BigInt(header.length), true);
  st.set(header, 8);
  const asyncOnly = (b: Uint8Array) => {
    const s = new BufferSource(b);
    return { byteLength: s.byteLength, read: (o: number, n: number) => s.read(o, n) };
  };
  const rs = await all([
    { path: "a.safetensors", open: () => new BufferSource(st) },
    { path: "evil.pkl", open: () => asyncOnly(EVIL) },
    { path: "text.txt", open: () => new BufferSource(enc("hello")) },
  ]);
  expect(rs.map((r) => [r.format, r.verdict, r.pickles])).toEqual([
    ["safetensors", "safe", 0],
    ["pickle", "dangerous", 1],
    ["unknown", "unreadable", 0],
  ]);
  let n = 0;
  for await (const r of scanMany([{ path: "evil.pkl", open: () => new BufferSource(EVIL) }], {
    maxBytes: 4,
  })) {
    expect(r).toMatchObject({ verdict: "unreadable", error: { code: "ScanBudget" } });
    n++;
  }
  expect(n).toBe(1);
});

test("collectScanInputs: DCP folders and indexes are one input each, shards are not listed again, the rest is skipped with a reason", () => {
  const { inputs, skipped } = collectScanInputs([`${fixtures}dcp`, `${fixtures}sharded`]);
  const kinds = inputs.map((i) => [i.path.slice(fixtures.length), i.kind ?? "file"]);
  expect(kinds.filter(([, k]) => k === "dcp").map(([p]) => p)).toEqual([
    "dcp/dtensor-4",
    "dcp/edge-dcp",
    "dcp/fsdp2-2",
    "dcp/single",
  ]);
  expect(kinds.filter(([p]) => p?.startsWith("sharded/"))).toEqual([
    ["sharded/pytorch_model.bin.index.json", "sharded"],
  ]);
  expect(skipped.map((s) => s.path.slice(fixtures.length))).toContain("sharded/generate.py");
  for (const s of skipped) expect(s.reason).toMatch(/not a checkpoint|symbolic link|not a regular/);
});

test("a numeric .npy: only its header is read, never its data", async () => {
  let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (100000,), }";
  header += " ".repeat(63 - ((10 + header.length) % 64));
  header += "\n";
  const head = enc(`\x93NUMPY\x01\x00`);
  const file = new Uint8Array(10 + header.length + 400_000);
  file.set(head, 0);
  new DataView(file.buffer).setUint16(8, header.length, true);
  file.set(enc(header), 10);
  const [r] = await all([{ path: "a.npy", open: () => new BufferSource(file) }]);
  expect(r).toMatchObject({ format: "npy", pickles: 0 });
  // the format sniff (16 + 512 bytes) and the header, of a 400 kB file
  expect(r?.bytesRead).toBeLessThanOrEqual(16 + 512 + 12 + 10 + header.length);
});
