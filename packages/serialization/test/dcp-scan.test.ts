import { BufferSource } from "@pt/storage";
import { fromTypedArray } from "@pt/tensor";
import { expect, test } from "vitest";
import { type DirectoryWriter, type FileTree, parseDcpMetadata, saveDcp, scanOne } from "../src/index.js";

/** A DCP folder in memory: what saveDcp writes, readable as a FileTree. */
async function dcpFolder(value: Map<string, unknown>): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  const writer: DirectoryWriter = {
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
  };
  await saveDcp(value, writer);
  return files;
}

const treeOf = (files: Map<string, Uint8Array>): FileTree => ({
  open: async (n) => {
    const b = files.get(n);
    if (!b) throw new Error(`no file ${n}`);
    return new BufferSource(b);
  },
});

const state = () =>
  new Map<string, unknown>([
    ["weight", fromTypedArray(new Float32Array([1, 2, 3]))],
    ["note", "a non-tensor item, torch.load'ed by dcp.load"],
  ]);

test("a DCP folder's non-tensor items are scanned as the torch.save files dcp.load reads", async () => {
  const files = await dcpFolder(state());
  const r = await scanOne({ path: "ckpt", kind: "dcp", tree: treeOf(files) });
  expect(r.verdict).toBe("safe");
  expect(r.sections).toBeGreaterThanOrEqual(2); // .metadata and the item's data.pkl
});

test("a payload in a non-tensor item's bytes is found (dcp.load would torch.load it)", async () => {
  const files = await dcpFolder(state());
  const meta = parseDcpMetadata(files.get(".metadata") as Uint8Array);
  const item = meta.entries.get("note");
  if (item?.kind !== "bytes") throw new Error("the fixture has no bytes item");
  // a plain pickle calling os.system, padded with `N.` pickles to the item's length
  const payload = Buffer.from("cos\nsystem\n(S'id'\ntR.", "latin1");
  expect(payload.length).toBeLessThan(item.storage.length);
  const data = new Uint8Array(files.get(item.storage.relativePath) as Uint8Array);
  const range = data.subarray(item.storage.offset, item.storage.offset + item.storage.length);
  range.fill(0x2e); // STOP bytes after the payload
  for (let i = payload.length; i + 1 < range.length; i += 2) range.set([0x4e, 0x2e], i);
  range.set(payload, 0);
  files.set(item.storage.relativePath, data);
  const r = await scanOne({ path: "ckpt", kind: "dcp", tree: treeOf(files) });
  expect(r.verdict).toBe("dangerous");
  expect(r.globals.map((g) => g.global)).toContain("os.system");
});

test("an unreadable .metadata leaves the items unlocated: never safe", async () => {
  const files = await dcpFolder(state());
  files.set(".metadata", Buffer.from("N.", "latin1")); // a pickle, but no Metadata
  const r = await scanOne({ path: "ckpt", kind: "dcp", tree: treeOf(files) });
  expect(r.verdict).not.toBe("safe");
});
