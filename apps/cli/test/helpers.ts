import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Io } from "../src/io.js";
import { main } from "../src/main.js";

/** The real-file corpus, in the repository (fails loudly when missing). */
export const CORPUS = fileURLToPath(new URL("../../conformance/corpus/", import.meta.url));
/** The conformance fixtures. */
export const FIXTURES = fileURLToPath(new URL("../../conformance/fixtures/", import.meta.url));
/** The repository root. */
export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export function corpusFile(name: string): string {
  const p = `${CORPUS}files/${name}`;
  if (!existsSync(p))
    throw new Error(`corpus file missing: ${p} (apps/conformance/corpus is part of the repository)`);
  return p;
}

export function corpusExpected(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(`${CORPUS}expected/${name}.json`, "utf8")) as Record<string, unknown>;
}

export interface Manifest {
  cases: Array<{
    name: string;
    tags: string[];
    formats: Record<
      string,
      { file: string; weights_only: boolean; byte_identical_resave: boolean; globals: string[] }
    >;
  }>;
}

export function manifest(): Manifest {
  return JSON.parse(readFileSync(`${FIXTURES}MANIFEST.json`, "utf8")) as Manifest;
}

/** Run `pt` in-process with captured output. */
export async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io: Io = {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    stderrIsTTY: false,
  };
  const code = await main(argv, io);
  return { code, out, err };
}
