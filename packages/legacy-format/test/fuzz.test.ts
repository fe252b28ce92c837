import { readFileSync } from "node:fs";
import { UnsafeGlobalError } from "@pt/pickle";
import { describe, expect, it } from "vitest";
import { LegacyFormatError, loadLegacySync, loadTarSync } from "../src/index.js";

const fixtures = new URL("../../../apps/conformance/fixtures/", import.meta.url);
const corpus = new URL("../../../apps/conformance/corpus/files/", import.meta.url);

/** A small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutations(bytes: Uint8Array, seed: number, n: number): Uint8Array[] {
  const r = rng(seed);
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const m = bytes.slice();
    const k = 1 + Math.floor(r() * 4);
    for (let j = 0; j < k; j++) {
      const at = Math.floor(r() * m.length);
      m[at] = r() < 0.5 ? Math.floor(r() * 256) : m[at]! ^ (1 << Math.floor(r() * 8));
    }
    out.push(m);
  }
  return out;
}

describe("mutation fuzz: only typed errors", () => {
  for (const [name, file, load] of [
    ["legacy state dict", new URL("nn_cnn_bn_state_dict.legacy.pt", fixtures), loadLegacySync],
    ["legacy views", new URL("views_shared_base.legacy.pt", fixtures), loadLegacySync],
    ["legacy sparse", new URL("sparse_coo.legacy.pt", fixtures), loadLegacySync],
    ["tar", new URL("pytorch__2017-03_legacy_serialized_TAR.pt", corpus), loadTarSync],
  ] as const) {
    it(name, () => {
      const bytes = new Uint8Array(readFileSync(file));
      const leaks: string[] = [];
      for (const m of mutations(bytes, 1234, 400)) {
        try {
          const r = load(m, { policy: "opaque" });
          for (const s of r.storages.values()) void s.bytes;
        } catch (e) {
          // a refused global is the pickle layer's own typed error, passed through as is
          if (!(e instanceof LegacyFormatError || e instanceof UnsafeGlobalError)) leaks.push(String(e));
        }
      }
      expect(leaks).toEqual([]);
    });
  }
});
