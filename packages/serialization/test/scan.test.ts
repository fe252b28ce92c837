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
import { load, loadSync, open, scan, UnsafeGlobalError } from "../src/index.js";

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
    // torch reads only data.pkl, but load refuses what scan flags: the global, record and offset named
    const err = await load(bytes).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafeGlobalError);
    expect((err as UnsafeGlobalError).globals).toMatchObject([
      {
        module: "posix",
        name: "system",
        record: "archive/extra/evil.pkl",
        offset: evil?.offset,
        dangerous: true,
      },
    ]);
    expect((err as Error).message).toMatch(/posix\.system .*of archive\/extra\/evil\.pkl, not read by torch/);
    expect(() => loadSync(bytes)).toThrow(UnsafeGlobalError);
    await expect(open(bytes)).rejects.toThrow(UnsafeGlobalError);
    await expect(load(bytes, { unsafe: "opaque" })).rejects.toThrow(UnsafeGlobalError);
    // the explicit opt-out: torch never unpickles the record
    expect(await load(bytes, { unreadRecords: "ignore" })).toBeInstanceOf(Map);
  }, 120_000);

  it("load refuses dangerous pickles in every kind of unread record scan flags, and loads benign ones", async () => {
    const bytes = py(
      `import torch,sys,zipfile,io,pickle,os,numpy as np
class E:
  def __reduce__(self): return (eval, ('1',))
torch.manual_seed(0)
torch.save({'w': torch.ones(2)}, sys.argv[1])
z = zipfile.ZipFile(sys.argv[1], 'a')
p = z.namelist()[0].split('/')[0]
z.writestr(p + '/notes.pkl', pickle.dumps({'lr': 0.1, 'names': ['a']}, protocol=4))
z.writestr(zipfile.ZipInfo(p + '/hidden'), pickle.dumps(E(), protocol=4), zipfile.ZIP_DEFLATED)
b = io.BytesIO(); np.save(b, np.array([E()], dtype=object), allow_pickle=True)
z.writestr(p + '/arr.npy', b.getvalue())
z.close()`,
      "hidden.pt",
    );
    const r = await scan(bytes);
    const flagged = r.globals.filter((g) => g.flagged).map((g) => [g.section, g.global]);
    expect(flagged).toEqual([
      ["hidden", "builtins.eval"],
      ["hidden/arr.npy", "builtins.eval"],
    ]);
    expect(r.sections.find((s) => s.name === "notes.pkl")?.loaded).toBe(false);
    const err = await load(bytes).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafeGlobalError);
    expect((err as UnsafeGlobalError).globals.map((g) => g.record)).toEqual(["hidden"]);
    // the benign extra pickle alone does not stop the load
    const benign = py(
      `import torch,sys,zipfile,pickle
torch.save({'w': torch.ones(2)}, sys.argv[1])
z = zipfile.ZipFile(sys.argv[1], 'a')
z.writestr('archive/notes.pkl', pickle.dumps({'lr': 0.1}, protocol=2))
z.close()`,
      "benign-extra.pt",
    );
    expect((await scan(benign)).sections.map((s) => s.name)).toEqual(["data.pkl", "archive/notes.pkl"]);
    expect(await load(benign)).toBeInstanceOf(Map);
  }, 120_000);

  it("scans records marked encrypted or named differently in their local header, and load names the global and the reason", async () => {
    // a stored pickle whose flags say "encrypted" (picklescan's malicious1_0x1.zip shape), inside a torch archive
    const bytes = py(
      `import torch,sys,zipfile,pickle,struct
class E:
  def __reduce__(self): return (exec, ('1',))
torch.save({'w': torch.ones(2)}, sys.argv[1])
z = zipfile.ZipFile(sys.argv[1], 'a')
name = (z.namelist()[0].split('/')[0] + '/cfg.pkl').encode()
z.writestr(name.decode(), pickle.dumps(E(), protocol=4))
z.close()
d = bytearray(open(sys.argv[1], 'rb').read())
for sig, off in ((b'PK\x03\x04', 6), (b'PK\x01\x02', 8)):
  i = 0
  while True:
    i = d.index(sig, i)
    n = struct.unpack_from('<H', d, i + (26 if sig == b'PK\x03\x04' else 28))[0]
    at = i + (30 if sig == b'PK\x03\x04' else 46)
    if bytes(d[at:at + n]) == name:
      struct.pack_into('<H', d, i + off, struct.unpack_from('<H', d, i + off)[0] | 1)
      break
    i += 4
open(sys.argv[1], 'wb').write(bytes(d))`,
      "encrypted-flag.pt",
    );
    const r = await scan(bytes);
    expect(r.globals.filter((g) => g.flagged).map((g) => [g.section, g.global])).toEqual([
      ["cfg.pkl", "builtins.exec"],
    ]);
    expect(r.problems).toMatchObject([{ kind: "container", section: "cfg.pkl", loaded: false }]);
    expect(r.problems[0]?.message).toMatch(/encrypted/);
    const err = await load(bytes).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafeGlobalError);
    expect((err as Error).message).toMatch(
      /builtins\.exec .*of cfg\.pkl, not read by torch: zip: .*encrypted/,
    );
  }, 120_000);

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
