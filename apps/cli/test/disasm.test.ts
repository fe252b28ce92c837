import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { corpusFile, FIXTURES, run } from "./helpers.js";

/**
 * What CPython's pickletools prints for the same pickles: zip records (data.pkl first, then the
 * other .pkl records) each disassembled from its own bytes; legacy streams disassembled in
 * place (five pickletools.dis calls on the open file, so positions are file offsets).
 */
const PY = `
import pickletools, sys, zipfile, io
path = sys.argv[1]
out = io.StringIO()
if zipfile.is_zipfile(path):
    z = zipfile.ZipFile(path)
    names = [n for n in z.namelist() if n.endswith('.pkl')]
    names.sort(key=lambda n: n.split('/', 1)[1] != 'data.pkl')
    for n in names:
        if len(names) > 1: out.write('==> %s <==\\n' % n.split('/', 1)[1])
        pickletools.dis(z.read(n), out)
elif sys.argv[2] == 'legacy':
    f = open(path, 'rb')
    for name in ['magic_number', 'protocol_version', 'sys_info', 'object', 'storage_keys']:
        out.write('==> %s <==\\n' % name)
        pickletools.dis(f, out)
else:
    pickletools.dis(open(path, 'rb'), out)
sys.stdout.write(out.getvalue())
`;

function pickletools(path: string, kind: string): string {
  const r = spawnSync("/usr/bin/python3", ["-c", PY, path, kind], { encoding: "utf8", maxBuffer: 1 << 28 });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

describe("pt disasm", () => {
  const cases: Array<[string, string]> = [
    [corpusFile("burn__bool.pt"), "zip"],
    [corpusFile("gopickle__t113_float64_proto5.pt"), "legacy"],
    [corpusFile("gopickle__t15_float32_proto1.pt"), "legacy"],
    [corpusFile("bumblebee__2022-05_storage_view.legacy.pt"), "legacy"],
    [join(FIXTURES, "python_values.zip.pt"), "zip"],
    [join(FIXTURES, "nn_user_net_model.legacy.pt"), "legacy"],
    [join(FIXTURES, "recursive_list.legacy.pt"), "legacy"],
  ];
  for (const [file, kind] of cases) {
    it(`matches python -m pickletools on ${file.split("/").pop()}`, async () => {
      const r = await run("disasm", file);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect(r.out).toBe(pickletools(file, kind));
    });
  }

  it("disassembles every pickle of a TorchScript archive", async () => {
    const f = corpusFile("burn__bool.pt");
    const r = await run("disasm", f);
    expect(r.out.startsWith("    0: \\x80 PROTO      2\n")).toBe(true);
  });

  it("a plain pickle file, and a broken one: prints up to the error, then one error line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pt-disasm-"));
    const ok = join(dir, "ok.pkl");
    writeFileSync(ok, new Uint8Array([0x80, 2, 0x4b, 7, 0x2e]));
    const r = await run("disasm", ok);
    expect(r.out).toBe(pickletools(ok, "pickle"));
    const bad = join(dir, "bad.pkl");
    writeFileSync(bad, new Uint8Array([0x80, 2, 0x4b, 7, 0xff]));
    const b = await run("disasm", bad);
    expect(b.code).toBe(2);
    expect(b.out).toContain("BININT1    7");
    expect(b.err).toMatch(/^pt: disasm: pickle: .*opcode.*\n$/);
  });
});
