import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dumps, PyGlobal, PyObject, tuple } from "@pt/pickle";
import { verdictOf, weightsOnlyRegistry } from "@pt/serialization";
import { describe, expect, it } from "vitest";
import { CORPUS, corpusExpected, FIXTURES, manifest, run } from "./helpers.js";

interface ScanJson {
  format: string;
  safe: boolean;
  globals: Array<{ global: string; verdict: string; count: number; where: string[] }>;
}

async function scanJson(file: string): Promise<{ code: number; json: ScanJson }> {
  const r = await run("scan", "--json", file);
  expect(r.err, file).toBe("");
  return { code: r.code, json: JSON.parse(r.out) as ScanJson };
}

const tmp = mkdtempSync(join(tmpdir(), "pt-scan-"));
function write(name: string, bytes: Uint8Array): string {
  const p = join(tmp, name);
  writeFileSync(p, bytes);
  return p;
}
const enc = (s: string) => new TextEncoder().encode(s);
function cat(...parts: Array<Uint8Array | number[]>): Uint8Array {
  const n = parts.reduce((k, p) => k + p.length, 0);
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
/** SHORT_BINUNICODE s */
const su = (s: string) => cat([0x8c, enc(s).length], enc(s));

/** Wrap `pkl` as `archive/data.pkl` of a zip written by Python's zipfile (never loaded by torch). */
function zipWith(name: string, pkl: Uint8Array): string {
  const raw = write(`${name}.pkl`, pkl);
  const out = join(tmp, name);
  const py = `import zipfile,sys\nz=zipfile.ZipFile(sys.argv[2],'w')\nz.writestr('archive/data.pkl',open(sys.argv[1],'rb').read())\nz.writestr('archive/version','3\\n')\nz.close()`;
  const r = spawnSync("/usr/bin/python3", ["-c", py, raw, out]);
  expect(r.status, String(r.stderr)).toBe(0);
  return out;
}

describe("pt scan", () => {
  it("flags nothing in the conformance fixtures torch's weights_only loads, and finds exactly the manifest's globals", async () => {
    let checked = 0;
    for (const c of manifest().cases) {
      for (const f of Object.values(c.formats)) {
        const { code, json } = await scanJson(join(FIXTURES, f.file));
        expect(new Set(json.globals.map((g) => g.global)), f.file).toEqual(new Set(f.globals));
        if (f.weights_only) {
          expect(
            json.globals.filter((g) => g.verdict !== "safe"),
            f.file,
          ).toEqual([]);
          expect(code, f.file).toBe(0);
          checked++;
        } else {
          expect(
            json.globals.filter((g) => g.verdict === "dangerous"),
            f.file,
          ).toEqual([]);
        }
      }
    }
    expect(checked).toBeGreaterThan(50);
  });

  it("finds the globals the corpus describer lists, and nothing dangerous, in every corpus file", async () => {
    const files = readdirSync(`${CORPUS}files`);
    expect(files.length).toBeGreaterThan(100);
    for (const name of files) {
      const exp = corpusExpected(name) as {
        globals?: string[];
        dangerous_globals?: string[];
        load?: { weights_only?: string };
      };
      const r = await run("scan", "--json", `${CORPUS}files/${name}`);
      expect(r.err, name).toBe("");
      const json = JSON.parse(r.out) as ScanJson;
      const ours = new Set(json.globals.map((g) => g.global));
      for (const g of exp.globals ?? []) expect(ours.has(g), `${name}: ${g}`).toBe(true);
      expect(
        json.globals.filter((g) => g.verdict === "dangerous").map((g) => g.global),
        name,
      ).toEqual(exp.dangerous_globals ?? []);
      if (exp.load?.weights_only === "ok") expect(json.safe, name).toBe(true);
    }
  });

  it("flags os.system via GLOBAL (protocol 2) and STACK_GLOBAL (protocol 4) and exits 1", async () => {
    const evil = new PyObject(new PyGlobal("os", "system"), tuple(["echo pwned"]));
    for (const protocol of [0, 2, 4]) {
      const p = write(`evil${protocol}.pkl`, dumps(evil, { protocol }));
      const r = await run("scan", p);
      expect(r.code, `protocol ${protocol}`).toBe(1);
      expect(r.out).toMatch(/DANGEROUS\s+os\.system/);
      expect(r.out).toContain("1 not on the weights_only allowlist, 1 dangerous");
    }
  });

  it("resolves STACK_GLOBAL operands fetched from the memo, and refuses to guess computed ones", async () => {
    // PROTO 4, "builtins" MEMOIZE, "eval" MEMOIZE, POP, POP, BINGET 0, BINGET 1, STACK_GLOBAL, STOP
    const memo = cat(
      [0x80, 4],
      su("builtins"),
      [0x94],
      su("eval"),
      [0x94, 0x30, 0x30, 0x68, 0, 0x68, 1, 0x93, 0x2e],
    );
    const { code, json } = await scanJson(write("memo.pkl", memo));
    expect(code).toBe(1);
    expect(json.globals).toMatchObject([
      { global: "builtins.eval", verdict: "dangerous", count: 1, where: ["pickle@26"], uses: [] },
    ]);
    // operands built by a call: (GLOBAL copyreg x)() STACK_GLOBAL — not nameable statically.
    const computed = cat([0x80, 4], enc("cposix\nsystem\n"), [0x29, 0x52], su("x"), [0x93, 0x2e]);
    const c = await scanJson(write("computed.pkl", computed));
    expect(c.code).toBe(1);
    expect(c.json.globals.map((g) => [g.global, g.verdict])).toEqual([
      ["posix.system", "dangerous"],
      ["<unresolved STACK_GLOBAL>", "dangerous"],
    ]);
  });

  it("flags INST, and a malicious data.pkl inside a zip checkpoint", async () => {
    const inst = cat([0x28], su("ls"), enc("isubprocess\ncheck_output\n."));
    const r = await scanJson(write("inst.pkl", inst));
    expect(r.json.globals.map((g) => g.global)).toEqual(["subprocess.check_output"]);
    expect(r.code).toBe(1);
    const evil = dumps(new PyObject(new PyGlobal("builtins", "exec"), tuple(["import os"])), { protocol: 2 });
    const z = await scanJson(zipWith("evil.pt", evil));
    expect(z.json.format).toBe("zip");
    expect(z.json.globals.map((g) => [g.global, g.verdict, g.where[0]])).toEqual([
      ["__builtin__.exec", "dangerous", "data.pkl@2"],
    ]);
    expect(z.code).toBe(1);
  });

  it("flags os.system in the object pickle of a legacy stream, at its file offset", async () => {
    const parts = [
      dumps(0x1950a86a20f9469cfc6cn, { protocol: 2 }),
      dumps(1001, { protocol: 2 }),
      dumps(new Map([["protocol_version", 1001]]), { protocol: 2 }),
      dumps(new PyObject(new PyGlobal("os", "system"), tuple(["id"])), { protocol: 2 }),
      dumps([], { protocol: 2 }),
    ];
    const file = write("evil.legacy.pt", cat(...parts));
    const { code, json } = await scanJson(file);
    expect(json.format).toBe("legacy");
    const at = (parts[0]?.length ?? 0) + (parts[1]?.length ?? 0) + (parts[2]?.length ?? 0) + 2;
    expect(json.globals).toMatchObject([
      {
        global: "os.system",
        verdict: "dangerous",
        count: 1,
        where: [`object@${at}`],
        uses: ["called:REDUCE"],
      },
    ]);
    expect(code).toBe(1);
  });

  it("reports an unknown class as unsafe but not dangerous", async () => {
    const p = write(
      "user.pkl",
      dumps(new PyObject(new PyGlobal("argparse", "Namespace"), tuple([])), { protocol: 2 }),
    );
    const r = await run("scan", p);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/unsafe\s+argparse\.Namespace/);
    const r0 = weightsOnlyRegistry();
    expect(verdictOf(r0, "torch._utils", "_rebuild_tensor_v2")).toBe("safe");
    expect(verdictOf(r0, "__builtin__", "set")).toBe("safe");
    expect(verdictOf(r0, "nt", "system")).toBe("dangerous");
  });

  it("a truncated pickle lists what it saw, then fails with one line (exit 1 if unsafe, else 2)", async () => {
    const full = dumps(new PyObject(new PyGlobal("os", "system"), tuple(["x"])), { protocol: 2 });
    const r = await run("scan", write("trunc.pkl", full.subarray(0, full.length - 3)));
    expect(r.code).toBe(1);
    expect(r.out).toContain("os.system");
    expect(r.err).toMatch(/^pt: scan: scan incomplete: pickle: .*truncated.*\n$/);
    const safe = dumps(new Map([["a", 1]]), { protocol: 2 });
    const s = await run("scan", write("trunc2.pkl", safe.subarray(0, safe.length - 2)));
    expect(s.code).toBe(2);
    expect(s.err).toMatch(/^pt: scan: scan incomplete: pickle: .*truncated.*\n$/);
  });
});

describe("the frame-straddling checkpoint (torch 1.13 runs its builtins.print)", () => {
  const framed = join(FIXTURES, "../../../packages/serialization/fixtures/frames/frame-straddling.pt");
  it("scan flags it (exit 1) naming the global and the frame offsets", async () => {
    const r = await run("scan", framed);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/DANGEROUS\s+builtins\.print/);
    expect(r.out).toMatch(/MISFRAMED\s+data\.pkl: .*past the end \(offset 12\) of the FRAME at offset 2/);
  });
  it("inspect and disasm refuse it naming the offsets", async () => {
    for (const cmd of ["inspect", "disasm"]) {
      const r = await run(cmd, framed);
      expect(r.code, cmd).toBe(2);
      expect(r.err, cmd).toMatch(
        /past the end \(offset 12\) of the FRAME at offset 2 \(SHORT_BINUNICODE at offset 11\)/,
      );
    }
  });
});

describe("whole-file coverage", () => {
  it("scans every pickle of a plain pickle file until EOF, and says when nothing was scanned", async () => {
    const one = dumps(1, { protocol: 2 });
    const evil = dumps(new PyObject(new PyGlobal("os", "system"), tuple(["id"])), { protocol: 2 });
    const r = await scanJson(write("two.pkl", cat(one, one, evil)));
    expect(r.code).toBe(1);
    expect(r.json.globals.map((g) => [g.global, g.where[0]])).toEqual([
      ["os.system", `pickle@${2 * one.length + 2}`],
    ]);
    const z = await run("scan", write("x.7z", cat([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], [0, 4, 1, 2, 3, 4])));
    expect(z.code).toBe(2);
    expect(z.out).toContain("nothing was scanned: 7z archive (not supported)");
  });
  it("scans a NumPy object array's pickle", async () => {
    const py = `import numpy as np,sys,os\nclass E:\n  def __reduce__(self): return (os.system,('id',))\nnp.save(sys.argv[1], np.array([E()], dtype=object), allow_pickle=True)`;
    const f = join(tmp, "evil.npy");
    const p = spawnSync("/usr/bin/python3", ["-c", py, f]);
    expect(p.status, String(p.stderr)).toBe(0);
    const r = await scanJson(f);
    expect(r.json.format).toBe("npy");
    expect(r.json.globals.find((g) => g.global === "posix.system")?.verdict).toBe("dangerous");
    expect(r.code).toBe(1);
  });
});
