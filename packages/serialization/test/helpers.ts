import { existsSync, readdirSync, readFileSync } from "node:fs";

export const corpusDir = new URL("../../../apps/conformance/corpus/", import.meta.url);
export const fixturesDir = new URL("../../../apps/conformance/fixtures/", import.meta.url);

if (!existsSync(new URL("expected/", corpusDir))) throw new Error(`corpus missing at ${corpusDir.pathname}`);
if (!existsSync(new URL("MANIFEST.json", fixturesDir)))
  throw new Error(`conformance fixtures missing at ${fixturesDir.pathname}`);

export function readBytes(url: URL): Uint8Array {
  return new Uint8Array(readFileSync(url));
}

export interface Expected {
  file: string;
  format: { kind: string; prefix: string; torchscript?: boolean };
  storages: unknown[];
  object: unknown;
  archive_pickles?: Record<string, { object?: unknown; error?: string }>;
  load: Record<string, unknown>;
}

export function corpusEntries(): Array<{ file: string; expected: Expected }> {
  return readdirSync(new URL("expected/", corpusDir))
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => ({
      file: f.slice(0, -5),
      expected: JSON.parse(readFileSync(new URL(`expected/${f}`, corpusDir), "utf8")) as Expected,
    }));
}

export interface ManifestCase {
  name: string;
  tags: string[];
  formats: Record<
    string,
    { file: string; description: string; weights_only: boolean; byte_identical_resave: boolean }
  >;
}
export function manifest(): ManifestCase[] {
  return (
    JSON.parse(readFileSync(new URL("MANIFEST.json", fixturesDir), "utf8")) as { cases: ManifestCase[] }
  ).cases;
}
