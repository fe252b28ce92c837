import { loadLegacySync } from "@pt/legacy-format";
import { Linear } from "@pt/nn-module";
import { loads } from "@pt/pickle";
import { BufferSource, isStorageError, StorageRangeError } from "@pt/storage";
import { zeros } from "@pt/tensor";
import { ZipReader } from "@pt/zip-format";
import { expect, test } from "vitest";
import { isPtError, loadSync, ptErrorLayer } from "../src/index.js";

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
