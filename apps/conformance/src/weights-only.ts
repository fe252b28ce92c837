/**
 * Our default policy (`load(bytes)`: torch's `weights_only` allowlist, nothing executed) against
 * torch 2.14's `weights_only` unpickler, file by file: `weights-only-2.14.json` holds torch's
 * verdicts (`generator/weights_only.py`), `weights-only-decisions.json` the documented
 * disagreements (we are stricter, or more capable).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { load, UnsafeGlobalError } from "@pt/serialization";

/** A verdict: the file loads, is refused by the allowlist, or fails as malformed. */
export type Verdict = "ok" | "refused" | "error";

/** Where each verdict key's set lives (`fixtures/x.pt` → `<app>/fixtures/x.pt`). */
export function verdictPath(root: string, key: string): string {
  const i = key.indexOf("/");
  const set = key.slice(0, i);
  const name = key.slice(i + 1);
  const app = join(root, "apps/conformance");
  if (set === "corpus") return join(app, "corpus/files", name);
  if (set === "hostile") return join(root, "packages/serialization/fixtures/hostile/files", name);
  return join(app, set, name);
}

/** Our verdict for one file with the default load options. */
export async function ourVerdict(path: string): Promise<{ verdict: Verdict; message?: string }> {
  try {
    await load(await readFile(path));
    return { verdict: "ok" };
  } catch (e) {
    const refused = e instanceof UnsafeGlobalError;
    const m = (e instanceof Error ? e.message : String(e)).split("\n")[0]?.slice(0, 200);
    return { verdict: refused ? "refused" : "error", ...(m ? { message: m } : {}) };
  }
}

/** Whether two verdicts agree: both load, or neither does (refused and malformed alike). */
export function agree(ours: Verdict, torch: Verdict): boolean {
  return (ours === "ok") === (torch === "ok");
}

/** The committed torch verdicts and documented decisions. */
export async function readVerdicts(root: string): Promise<{
  torchVersion: string;
  files: Record<string, { torch: Verdict; message?: string }>;
  decisions: Record<string, { ours: Verdict; torch: Verdict; why: string }>;
}> {
  const app = join(root, "apps/conformance");
  const v = JSON.parse(await readFile(join(app, "weights-only-2.14.json"), "utf8")) as {
    torch_version: string;
    files: Record<string, { torch: Verdict; message?: string }>;
  };
  const d = JSON.parse(await readFile(join(app, "weights-only-decisions.json"), "utf8")) as Record<
    string,
    unknown
  >;
  const decisions: Record<string, { ours: Verdict; torch: Verdict; why: string }> = {};
  for (const [k, x] of Object.entries(d)) if (!k.startsWith("_")) decisions[k] = x as never;
  return { torchVersion: v.torch_version, files: v.files, decisions };
}
