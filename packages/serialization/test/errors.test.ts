import { loadLegacySync } from "@pt/legacy-format";
import { Linear } from "@pt/nn-module";
import { dumps, loads, UnsafeGlobalError as PickleUnsafeGlobalError } from "@pt/pickle";
import { BufferSource, isStorageError, StorageRangeError } from "@pt/storage";
import { zeros } from "@pt/tensor";
import { ZipReader, ZipWriter } from "@pt/zip-format";
import { expect, test } from "vitest";
import { isPtError, loadSync, ptErrorLayer, UnsafeGlobalError } from "../src/index.js";

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("did not throw");
}

test("the errors of every layer meet the one contract: brand, layer, code, message prefix", () => {
  const cases: [string, unknown][] = [
    ["pickle", thrown(() => loads(new Uint8Array([0x80, 2, 0xff])))],
    ["storage", thrown(() => new BufferSource(new Uint8Array(4)).readSync(2, 4))],
    ["tensor", thrown(() => zeros([2]).reshape(3))],
    ["zip", thrown(() => ZipReader.openSync(new BufferSource(new Uint8Array(64))))],
    ["legacy", thrown(() => loadLegacySync(new Uint8Array([0x80, 2, 0x8a, 0x0a])))],
    ["nn", thrown(() => new Linear(2, 2).loadStateDict(new Map()))],
    ["serialization", thrown(() => loadSync(new Uint8Array([1, 2, 3, 4])))],
  ];
  for (const [layer, e] of cases) {
    expect(isPtError(e), `${layer}: ${String(e)}`).toBe(true);
    expect(ptErrorLayer(e)).toBe(layer);
    expect(isPtError(e, { layer })).toBe(true);
    expect(isPtError(e, { layer: "elsewhere" })).toBe(false);
    const code = (e as { code: string }).code;
    expect(isPtError(e, { code })).toBe(true);
    expect(isPtError(e, { code: `${code}-not` })).toBe(false);
    expect((e as Error).message.startsWith(`${layer}:`), (e as Error).message).toBe(true);
  }
  for (const other of [
    new RangeError("x"),
    Object.assign(new Error("y"), { code: "ENOENT" }),
    null,
    "pickle",
  ])
    expect(isPtError(other)).toBe(false);
});

test("BufferSource throws the StorageRangeError FileSource throws, with the numbers", async () => {
  const src = new BufferSource(new Uint8Array(8));
  const e = thrown(() => src.readSync(6, 4));
  expect(e).toBeInstanceOf(StorageRangeError);
  expect(isStorageError(e, "OutOfRange")).toBe(true);
  expect((e as StorageRangeError).details).toEqual({ offset: 6, length: 4, byteLength: 8 });
  await expect(src.read(-1, 1)).rejects.toBeInstanceOf(StorageRangeError);
});

test("a refused global reaches load unwrapped from zip and legacy files: the refusal names it, its cause is the pickle layer's", async () => {
  // os.system('ls'), protocol 2
  const evil = new Uint8Array([
    0x80,
    2,
    ...new TextEncoder().encode("cos\nsystem\nX\x02\x00\x00\x00ls\x85R."),
  ]);
  // a legacy stream: magic, protocol, sys_info, the object, the storage keys
  const sysInfo = new Map<string, unknown>([
    ["protocol_version", 1001],
    ["little_endian", true],
    [
      "type_sizes",
      new Map([
        ["short", 2],
        ["int", 4],
        ["long", 4],
      ]),
    ],
  ]);
  const parts = [dumps(0x1950a86a20f9469cfc6cn), dumps(1001), dumps(sysInfo), evil, dumps([])];
  const legacy = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    legacy.set(p, at);
    at += p.length;
  }
  // a torch zip whose data.pkl is the same pickle
  const chunks: Uint8Array[] = [];
  const writer = new ZipWriter(
    { write: (c: Uint8Array) => void chunks.push(c.slice()) },
    { prefix: "archive" },
  );
  await writer.writeRecord("data.pkl", evil);
  await writer.writeRecord("version", new TextEncoder().encode("3\n"));
  await writer.finish();
  const zip = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  at = 0;
  for (const c of chunks) {
    zip.set(c, at);
    at += c.length;
  }
  // each refused global is named with its pickle (record) and the offset of its opcode there
  for (const [bytes, record] of [
    [zip, "data.pkl"],
    [legacy, "object"],
  ] as const) {
    const e = thrown(() => loadSync(bytes));
    expect(e).toBeInstanceOf(UnsafeGlobalError);
    const refusal = e as UnsafeGlobalError;
    // (a note may follow when the scanner also reports a problem in that record)
    expect(refusal.globals).toMatchObject([
      { module: "os", name: "system", dangerous: true, offset: 2, opcode: "GLOBAL", record },
    ]);
    expect(refusal.message).toContain("os.system");
    // the pickle layer's refusal itself, not a format error wrapping it
    expect(refusal.cause).toBeInstanceOf(PickleUnsafeGlobalError);
    expect((refusal.cause as PickleUnsafeGlobalError).globals[0]).toMatchObject({
      module: "os",
      name: "system",
    });
    // one code for a refusal, whichever layer: isPtError finds both
    expect(isPtError(refusal, { code: "UnsafeGlobal", layer: "serialization" })).toBe(true);
    expect(isPtError(refusal.cause, { code: "UnsafeGlobal", layer: "pickle" })).toBe(true);
  }
});
