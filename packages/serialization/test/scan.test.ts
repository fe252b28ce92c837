/**
 * The scanning seam (`pickleSections` + `scanSections`): every pickle of a file, with roles.
 * Files are written by /usr/bin/python3 (torch 1.13, numpy) at test time, seeded and small.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { load, scan, UnsafeGlobalError } from "../src/index.js";

const tmp = mkdtempSync(join(tmpdir(), "pt-scan-"));
function py(code: string, name: string): Uint8Array {
  const f = join(tmp, name);
  const r = spawnSync("/usr/bin/python3", ["-c", code, f]);
  expect(r.status, String(r.stderr)).toBe(0);
  return new Uint8Array(readFileSync(f));
}

describe("scan", () => {
  it("scans zip records torch does not read, marking them, and flags dangerous ones", async () => {
    const bytes = py(
      `import torch,sys,zipfile,io,pickle,os
class E:
  def __reduce__(self): return (os.system, ('id',))
torch.manual_seed(0)
torch.save({'w': torch.ones(2)}, sys.argv[1])
z = zipfile.ZipFile(sys.argv[1], 'a')
z.writestr('archive/extra/evil.pkl', pickle.dumps(E(), protocol=2))
z.close()`,
      "extra.pt",
    );
    const r = await scan(bytes);
    expect(r.format).toBe("zip");
    expect(r.sections.map((s) => [s.name, s.loaded])).toEqual([
      ["data.pkl", true],
      ["archive/extra/evil.pkl", false], // outside the archive's folder (`extra/`): named in full
    ]);
    const evil = r.globals.find((g) => g.section === "archive/extra/evil.pkl");
    expect(evil?.global).toBe("posix.system");
    expect(evil?.verdict).toBe("dangerous");
    expect(evil?.flagged).toBe(true);
    expect(evil?.uses.map((u) => u.kind)).toEqual(["called"]);
    expect(r.safe).toBe(false);
    // torch reads only data.pkl: the tensors load (documented: the extra pickle is scan's finding)
    expect(await load(bytes)).toBeInstanceOf(Map);
  });

  it("scans .npz object arrays and leaves numeric ones alone", async () => {
    const bytes = py(
      `import numpy as np,sys
np.savez(sys.argv[1], a=np.arange(3), b=np.array([{'k': 1}], dtype=object))`,
      "arrays.npz",
    );
    const r = await scan(bytes);
    expect(r.format).toBe("npz");
    expect(r.sections.map((s) => s.name)).toEqual(["b.npy"]);
    expect(r.globals.some((g) => g.verdict === "dangerous")).toBe(false);
    expect(r.globals.every((g) => !g.flagged)).toBe(true);
    const err = await load(bytes).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(UnsafeGlobalError);
  });

  it("names the frame-straddling checkpoint's problem with the offsets", async () => {
    const f = fileURLToPath(new URL("../fixtures/frames/frame-straddling.pt", import.meta.url));
    const r = await scan(new Uint8Array(readFileSync(f)));
    expect(r.problems).toMatchObject([{ kind: "frame", section: "data.pkl", loaded: true, offset: 11 }]);
    expect(r.safe).toBe(false);
  });
});
