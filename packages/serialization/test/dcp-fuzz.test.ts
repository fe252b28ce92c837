import { readFileSync } from "node:fs";
import { BufferSource } from "@pt/storage";
import { Tensor } from "@pt/tensor";
import { expect, test } from "vitest";
import { type FileTree, openDcp, parseDcpMetadata, SerializationError } from "../src/index.js";

const fixtures = new URL("../fixtures/dcp/", import.meta.url);

/** xorshift32: the same mutations on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

function mutate(b: Uint8Array, r: () => number): Uint8Array {
  const out = new Uint8Array(b);
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * out.length);
    const kind = r();
    if (kind < 0.6) out[at] = Math.floor(r() * 256);
    else if (kind < 0.8) out[at] = (out[at] as number) ^ (1 << Math.floor(r() * 8));
    else return out.subarray(0, at); // truncated
  }
  return out;
}

test("dcp .metadata fuzz: 250 seeded mutations parse or fail with a SerializationError", () => {
  const meta = new Uint8Array(readFileSync(new URL("fsdp2-2/.metadata", fixtures)));
  const r = rng(17);
  let refused = 0;
  for (let i = 0; i < 250; i++) {
    const m = mutate(meta, r);
    try {
      parseDcpMetadata(m);
    } catch (e) {
      if (!(e instanceof SerializationError)) throw new Error(`mutation ${i}: ${String(e)}`, { cause: e });
      refused++;
    }
  }
  expect(refused).toBeGreaterThan(60);
});

test("dcp data fuzz: mutated .distcp files open and read, or fail with a typed error", async () => {
  const dir = new URL("dtensor-4/", fixtures);
  const files = new Map(
    [".metadata", "__0_0.distcp", "__1_0.distcp", "__2_0.distcp", "__3_0.distcp"].map((n) => [
      n,
      new Uint8Array(readFileSync(new URL(n, dir))),
    ]),
  );
  const r = rng(5);
  let failed = 0;
  for (let i = 0; i < 80; i++) {
    const victim = `__${Math.floor(r() * 4)}_0.distcp`;
    const mutated = mutate(files.get(victim) as Uint8Array, r);
    const tree: FileTree = {
      open: async (n) => new BufferSource(n === victim ? mutated : (files.get(n) as Uint8Array)),
    };
    try {
      const cp = await openDcp(tree);
      for (const s of cp.storages) await s.load();
      for (const v of (cp.value as Map<string, unknown>).values())
        if (v instanceof Tensor) v.toFloat64Array();
      await cp.close();
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (typeof code !== "string" || !(e instanceof Error))
        throw new Error(`mutation ${i} of ${victim}: untyped ${String(e)}`, { cause: e });
      failed++;
    }
  }
  expect(failed).toBeGreaterThan(5);
});
