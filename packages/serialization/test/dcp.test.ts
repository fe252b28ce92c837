import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { isTuple, PyFloat } from "@pt/pickle";
import { BufferSource, type ByteSource } from "@pt/storage";
import { Tensor } from "@pt/tensor";
import { expect, test } from "vitest";
import { type DirectoryWriter, type FileTree, openDcp, parseDcpMetadata, saveDcp } from "../src/index.js";
import { loadFile, openDcpDir } from "../src/node.js";

const fixtures = new URL("../fixtures/dcp/", import.meta.url);
const NAMES = ["single", "fsdp2-2", "dtensor-4"] as const;

type Desc =
  | { tensor: string; shape: number[]; values: Array<number | boolean> }
  | { dict: Array<[string, Desc]> }
  | { list: Desc[] }
  | { tuple: Desc[] }
  | { value: unknown };

function plain(v: unknown): unknown {
  if (v instanceof PyFloat) return v.value;
  if (typeof v === "bigint") return Number(v);
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

/** Our value against the description generate.py wrote of torch's `dcp_to_torch_save` output. */
function matches(v: unknown, d: Desc, path: string): void {
  if ("tensor" in d) {
    expect(v, path).toBeInstanceOf(Tensor);
    const t = v as Tensor;
    expect(t.dtype.name, path).toBe(d.tensor);
    expect([...t.shape], path).toEqual(d.shape);
    const vals =
      t.dtype.name === "bool"
        ? Array.from(t.toFloat64Array(), (x) => x !== 0)
        : Array.from(t.toFloat64Array());
    expect(vals, path).toEqual(d.values);
  } else if ("dict" in d) {
    expect(v, path).toBeInstanceOf(Map);
    const m = v as Map<unknown, unknown>;
    expect([...m.keys()], path).toEqual(d.dict.map(([k]) => k));
    for (const [k, x] of d.dict) matches(m.get(k), x, `${path}.${k}`);
  } else if ("list" in d || "tuple" in d) {
    const items = "list" in d ? d.list : d.tuple;
    expect(Array.isArray(v) && isTuple(v) === "tuple" in d, path).toBe(true);
    expect((v as unknown[]).length, path).toBe(items.length);
    items.forEach((x, i) => {
      matches((v as unknown[])[i], x, `${path}[${i}]`);
    });
  } else expect(plain(v), path).toEqual(d.value);
}

for (const name of NAMES) {
  test(`dcp ${name}: the state dict equals torch's dcp_to_torch_save consolidation`, async () => {
    const cp = await openDcpDir(fileURLToPath(new URL(name, fixtures)));
    try {
      expect(cp.format).toBe("dcp");
      expect(cp.storages.every((s) => !s.isLoaded)).toBe(true);
      const desc = JSON.parse(readFileSync(new URL(`${name}.json`, fixtures), "utf8")) as Desc;
      matches(cp.value, desc, name);
      // and against the consolidated file itself, loaded by our loader
      const torchSd = await loadFile(fileURLToPath(new URL(`${name}.pt`, fixtures)), { unsafe: "opaque" });
      const same = (a: unknown, b: unknown, p: string): void => {
        if (b instanceof Tensor) {
          expect(a, p).toBeInstanceOf(Tensor);
          expect((a as Tensor).dtype, p).toBe(b.dtype);
          expect(
            Buffer.from((a as Tensor).storage.bytes).equals(Buffer.from(b.contiguous().storage.bytes)),
            p,
          ).toBe(true);
        } else if (b instanceof Map) {
          expect([...(a as Map<unknown, unknown>).keys()], p).toEqual([...b.keys()]);
          for (const [k, x] of b) same((a as Map<unknown, unknown>).get(k), x, `${p}.${String(k)}`);
        } else if (Array.isArray(b))
          b.forEach((x, i) => {
            same((a as unknown[])[i], x, `${p}[${i}]`);
          });
        else expect(plain(a), p).toEqual(plain(b));
      };
      same(cp.value, torchSd, name);
    } finally {
      await cp.close();
    }
  });
}

/** A tree over in-memory files that counts the bytes read. */
function countingTree(dir: URL): { tree: FileTree; read: Map<string, number> } {
  const read = new Map<string, number>();
  return {
    read,
    tree: {
      open: async (n) => {
        const b = new BufferSource(new Uint8Array(readFileSync(new URL(n, dir))));
        const src: ByteSource = {
          byteLength: b.byteLength,
          read: (o, l) => {
            read.set(n, (read.get(n) ?? 0) + l);
            return b.read(o, l);
          },
        };
        return src;
      },
    },
  };
}

test("dcp: a tensor is assembled lazily, reading only what its chunks hold", async () => {
  const dir = new URL("dtensor-4/", fixtures);
  const { tree, read } = countingTree(dir);
  const cp = await openDcp(tree);
  const afterOpen = new Map(read);
  const rows = (cp.value as Map<string, Tensor>).get("rows") as Tensor;
  expect(rows.storage.isLoaded).toBe(false);
  // 4 row-wise chunks of 2 rows: reading bytes of rows 2-3 touches one chunk's file only
  const part = await cp.source("rows")?.read(2 * 3 * 4, 2 * 3 * 4);
  expect(part?.length).toBe(24);
  const delta = [...read].filter(([n, b]) => b !== (afterOpen.get(n) ?? 0)).map(([n]) => n);
  expect(delta).toEqual(["__1_0.distcp"]);
  await rows.load();
  const all = Array.from(rows.toFloat64Array());
  const view = new Float32Array(new Uint8Array(part as Uint8Array).buffer);
  expect(Array.from(view, (x) => x)).toEqual(all.slice(6, 12));
  await cp.close();
});

test("dcp: a whole chunk read is checked against its record's CRC-32", async () => {
  const dir = new URL("dtensor-4/", fixtures);
  const cp0 = await openDcp(countingTree(dir).tree);
  // flip one byte of the data of rows' second chunk (rows 2-3, saved by rank 1): found by its bytes
  const src = cp0.source("rows") as ByteSource;
  const before = await src.read(24, 24);
  await cp0.close();
  const bytes = new Uint8Array(readFileSync(new URL("__1_0.distcp", dir)));
  const at = Buffer.from(bytes).indexOf(Buffer.from(before));
  expect(at).toBeGreaterThan(0);
  bytes[at] = (bytes[at] as number) ^ 1;
  const tree: FileTree = {
    open: async (n) =>
      new BufferSource(n === "__1_0.distcp" ? bytes : new Uint8Array(readFileSync(new URL(n, dir)))),
  };
  const cp = await openDcp(tree);
  await expect(cp.source("rows")?.read(0, 96)).rejects.toThrow(
    /rows chunk at offsets \[2, 0\].*CRC-32 mismatch/,
  );
  // a partial read of the chunk cannot be checked; with checkCrc: false nothing is
  expect((await cp.source("rows")?.read(24, 4))?.length).toBe(4);
  const off = await openDcp(tree, { checkCrc: false });
  expect((await off.source("rows")?.read(0, 96))?.length).toBe(96);
});

test("dcp .metadata: globals outside the DCP allowlist are refused, naming them", () => {
  const meta = new Uint8Array(readFileSync(new URL("single/.metadata", fixtures)));
  const text = Buffer.from(meta);
  const at = text.indexOf("StorageMeta");
  // same length: StorageMeta → os.systemmmmm is not possible; rename the class to an unknown one
  const bad = Buffer.from(meta);
  bad.write("StorageMetX", at, "latin1");
  expect(() => parseDcpMetadata(new Uint8Array(bad))).toThrow(/StorageMetX/);
  expect(parseDcpMetadata(meta).entries.size).toBeGreaterThan(5);
});

test("dcp .metadata: a storage file outside the directory is refused", () => {
  const meta = Buffer.from(readFileSync(new URL("single/.metadata", fixtures)));
  const at = meta.indexOf("__0_0.distcp");
  meta.write("../0_.distcp", at, "latin1"); // same length: the pickle stays well-formed
  expect(() => parseDcpMetadata(new Uint8Array(meta))).toThrow(/"\.\.\/0_\.distcp" is not a plain file name/);
});

test("dcp write: a state dict saved as DCP reads back equal, nested paths and non-tensor values kept", async () => {
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { saveDcpDir } = await import("../src/node.js");
  const src = await openDcpDir(fileURLToPath(new URL("single", fixtures)));
  const dir = mkdtempSync(join(tmpdir(), "pt-dcp-"));
  try {
    const r = await saveDcpDir(src.value, join(dir, "out"));
    expect(r.tensors).toBe(src.storages.length);
    const back = await openDcpDir(join(dir, "out"));
    const desc = JSON.parse(readFileSync(new URL("single.json", fixtures), "utf8")) as Desc;
    matches(back.value, desc, "rewritten");
    expect([...back.metadata.entries.keys()]).toEqual([...src.metadata.entries.keys()]);
    await back.close();
  } finally {
    await src.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("dcp .metadata: a dangerous global is refused and flagged, nothing runs", async () => {
  const { dumps, PyGlobal, PyObject, tuple } = await import("@pt/pickle");
  const evil = dumps(new PyObject(new PyGlobal("os", "system"), tuple(["echo pwned"])), { protocol: 4 });
  let err: unknown;
  try {
    parseDcpMetadata(evil);
  } catch (e) {
    err = e;
  }
  expect((err as { code?: string }).code).toBe("UnsafeGlobal");
  expect((err as { globals: Array<{ module: string; name: string; dangerous: boolean }> }).globals).toEqual([
    expect.objectContaining({ module: "os", name: "system", dangerous: true }),
  ]);
});

test("dcp: chunks that do not tile the tensor, or lie outside it, are refused", async () => {
  const { dumps } = await import("@pt/pickle");
  const { loads } = await import("@pt/pickle");
  const { dcpMetadataRegistry } = await import("../src/index.js");
  const meta = new Uint8Array(readFileSync(new URL("dtensor-4/.metadata", fixtures)));
  const root = loads(meta, { globals: dcpMetadataRegistry(), policy: "reject" }) as {
    state: Map<string, unknown>;
  };
  const sdm = root.state.get("state_dict_metadata") as Map<string, { state: Map<string, unknown> }>;
  const rows = sdm.get("rows")?.state as Map<string, unknown>;
  const chunks = rows.get("chunks") as unknown[];
  // drop one chunk: 6 of 8 rows covered
  rows.set("chunks", chunks.slice(1));
  const tree: FileTree = {
    open: async (n) =>
      new BufferSource(
        n === ".metadata"
          ? dumps(root, { protocol: 4 })
          : new Uint8Array(readFileSync(new URL(`dtensor-4/${n}`, fixtures))),
      ),
  };
  await expect(openDcp(tree)).rejects.toThrow(/chunks of rows hold 18 elements, its shape \[8, 3\] 24/);
  // a chunk reaching past the tensor's end
  const last = chunks[chunks.length - 1] as { state: Map<string, unknown> };
  const sizes = last.state.get("sizes") as number[];
  sizes[0] = 5;
  rows.set("chunks", chunks);
  await expect(openDcp(tree)).rejects.toThrow(/lies outside the tensor's shape/);
});

/** A DirectoryWriter and FileTree over a map of in-memory files. */
function memoryFolder(): { files: Map<string, Uint8Array>; writer: DirectoryWriter; tree: FileTree } {
  const files = new Map<string, Uint8Array>();
  return {
    files,
    writer: {
      create: async (name) => {
        const parts: Uint8Array[] = [];
        return {
          write: (c: Uint8Array) => {
            parts.push(new Uint8Array(c));
          },
          close: () => {
            files.set(name, new Uint8Array(Buffer.concat(parts)));
          },
        };
      },
    },
    tree: {
      open: async (n) => {
        const b = files.get(n);
        if (!b) throw new Error(`no file ${n}`);
        return new BufferSource(b);
      },
    },
  };
}

test("dcp write: views, transposes, Parameters, tensors in nested lists and tuples (edge.pt) round-trip", async () => {
  const src = (await loadFile(fileURLToPath(new URL("edge.pt", fixtures)))) as Map<string, unknown>;
  const mem = memoryFolder();
  const r = await saveDcp(src, mem.writer);
  expect([...mem.files.keys()].sort()).toEqual([".metadata", "__0_0.distcp"]);
  // torch_save_to_dcp: 8 tensors (the tuple is one non-tensor item), 3 other values
  expect([r.tensors, r.bytesItems]).toEqual([8, 3]);
  const back = await openDcp(mem.tree);
  const same = (a: unknown, b: unknown, p: string): void => {
    if (b instanceof Tensor) {
      expect(a, p).toBeInstanceOf(Tensor);
      expect((a as Tensor).dtype, p).toBe(b.dtype);
      expect([...(a as Tensor).shape], p).toEqual([...b.shape]);
      const bytes = (t: Tensor) => {
        const d = t.contiguous().data();
        return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
      };
      expect(bytes(a as Tensor).equals(bytes(b)), p).toBe(true);
    } else if (b instanceof Map) {
      expect([...(a as Map<unknown, unknown>).keys()], p).toEqual([...b.keys()]);
      for (const [k, x] of b) same((a as Map<unknown, unknown>).get(k), x, `${p}.${String(k)}`);
    } else if (Array.isArray(b)) {
      expect(isTuple(a), p).toBe(isTuple(b));
      b.forEach((x, i) => {
        same((a as unknown[])[i], x, `${p}[${i}]`);
      });
    } else expect(plain(a), p).toEqual(plain(b));
  };
  same(back.value, src, "edge");
  // the data file is byte for byte the one torch_save_to_dcp wrote for the same file
  const torchData = new Uint8Array(readFileSync(new URL("edge-dcp/__0_0.distcp", fixtures)));
  expect(Buffer.from(mem.files.get("__0_0.distcp") as Uint8Array).equals(Buffer.from(torchData))).toBe(true);
  // and torch's own DCP of it reads back as the same state dict
  const torchDcp = await openDcpDir(fileURLToPath(new URL("edge-dcp", fixtures)));
  same(torchDcp.value, src, "torch_save_to_dcp");
  await torchDcp.close();
  await back.close();
  await expect(saveDcp([1, 2], mem.writer)).rejects.toThrow(/a dict at the top/);
});

test("blobTree: a DCP folder from Blobs (as a browser's folder input gives them)", async () => {
  const { blobTree } = await import("../src/index.js");
  const names = [".metadata", "__0_0.distcp", "__1_0.distcp"];
  const tree = blobTree(
    names.map((n) => ({ name: n, data: new Blob([readFileSync(new URL(`fsdp2-2/${n}`, fixtures))]) })),
  );
  const cp = await openDcp(tree);
  const w = ((cp.value as Map<string, unknown>).get("model") as Map<string, Tensor>).get(
    "0.weight",
  ) as Tensor;
  await w.load();
  expect(w.shape).toEqual([5, 3]);
  expect(cp.storages.filter((s) => s.isLoaded).length).toBe(1);
  await expect(blobTree([]).open("x")).rejects.toThrow(/no file "x"/);
  await cp.close();
});

test("dcp: a data file the metadata names but the folder lacks is reported by name at open", async () => {
  const { cpSync, mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "pt-dcp-missing-"));
  try {
    cpSync(fileURLToPath(new URL("fsdp2-2", fixtures)), dir, { recursive: true });
    rmSync(join(dir, "__1_0.distcp"));
    await expect(openDcpDir(dir)).rejects.toThrow(/the metadata refers to __1_0\.distcp, which is not in/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
