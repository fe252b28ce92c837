import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { parseChildOutput, summarizeProfile } from "../src/index.mjs";

// Our side's child process (src/child.mjs) run against stand-in libraries given through
// PT_BENCH_LIBRARY: the measuring, walking and failure classification, without the real library.

const child = fileURLToPath(new URL("../src/child.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "pt-bench-child-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const input = join(dir, "input.pt");
writeFileSync(input, new Uint8Array(1 << 20).fill(7));

/** A stand-in library whose values hold tensors shaped like @pt/tensor's (shape, dtype.name, storage). */
const fake = join(dir, "fake.mjs");
writeFileSync(
  fake,
  `import { readFile, writeFile } from "node:fs/promises";
const tensor = (shape, bytes) => ({ shape, stride: [], dtype: { name: "float32" }, storage: bytes });
async function value(path) {
  const bytes = new Uint8Array(await readFile(path));
  // ~30 ms of CPU in this function, so the sampling profiler cannot miss it
  const t0 = Date.now();
  let x = 0;
  while (Date.now() - t0 < 30) x += Math.sqrt(x + 1);
  if (x < 0) throw new Error("unreachable");
  const sd = new Map([["a.weight", tensor([4, 8], bytes)], ["a.bias", tensor([8], bytes)]]);
  sd.set("nested", [tensor([2, 3, 5], bytes), new Map([["deep", tensor([], bytes)]])]);
  sd.set("self", sd);
  return sd;
}
export const loadFile = value;
export async function saveFile(v, path) { await writeFile(path, new Uint8Array(12345)); }
export async function openFile(path) { return { value: await value(path), close: async () => {} }; }
`,
);
const notImplemented = join(dir, "ni.mjs");
writeFileSync(
  notImplemented,
  `export async function loadFile() { throw new Error("serialization: loadFile is not implemented yet"); }
export async function openFile() { throw new TypeError("bad file at offset 12"); }
`,
);

async function runChild(library: string, ...args: string[]) {
  const { stdout, stderr } = await promisify(execFile)(process.execPath, ["--expose-gc", child, ...args], {
    env: { ...process.env, PT_BENCH_LIBRARY: library },
  });
  return parseChildOutput(stdout, stderr, 0);
}

describe("our side's child process", () => {
  it("times a load and counts the tensors of Maps and Arrays, once each", async () => {
    const r = await runChild(fake, "--op", "load", "--file", input);
    expect(r).toMatchObject({ ok: true, tensors: 4, elements: 32 + 8 + 30 + 1, listed: null });
    if (!r.ok) return;
    expect(r.seconds).toBeGreaterThan(0);
    expect(r.seconds).toBeLessThan(10);
    expect(["clear_refs", "maxrss"]).toContain(r.peakMethod);
    expect(r.peakRise).toBeGreaterThanOrEqual(0);
  });

  it("profiles the operation alone with --cpu-profile", async () => {
    const path = join(dir, "load.cpuprofile");
    const r = await runChild(fake, "--op", "load", "--file", input, "--cpu-profile", path);
    expect(r.ok).toBe(true);
    const profile = JSON.parse(readFileSync(path, "utf8"));
    expect(profile.samples.length).toBe(profile.timeDeltas.length);
    const names = summarizeProfile(profile, 1000).map((e) => e.name);
    expect(names.some((n) => n.startsWith("value fake.mjs:"))).toBe(true);
    expect(names.some((n) => n.startsWith("parseArgs"))).toBe(false);
  });

  it("lists lazily through openFile", async () => {
    const r = await runChild(fake, "--op", "list", "--file", input);
    expect(r).toMatchObject({ ok: true, tensors: 4, listed: 4 });
  });

  it("saves the loaded value, reports the written size and removes the file", async () => {
    const out = join(dir, "out.pt");
    const r = await runChild(fake, "--op", "save", "--file", input, "--out", out, "--format", "legacy");
    expect(r).toMatchObject({ ok: true, outSize: 12345 });
    expect(existsSync(out)).toBe(false);
  });

  it('reports "not implemented" errors, other errors and absent functions distinctly', async () => {
    expect(await runChild(notImplemented, "--op", "load", "--file", input)).toEqual({
      ok: false,
      status: "not-implemented",
      error: "Error: serialization: loadFile is not implemented yet",
    });
    expect(await runChild(notImplemented, "--op", "list", "--file", input)).toEqual({
      ok: false,
      status: "error",
      error: "TypeError: bad file at offset 12",
    });
    expect(await runChild(notImplemented, "--op", "save", "--file", input, "--out", "x")).toEqual({
      ok: false,
      status: "missing",
      error: "@pt/serialization/node exports no saveFile (not built yet?)",
    });
    const r = await runChild(join(dir, "absent.mjs"), "--op", "load", "--file", input);
    expect(r).toMatchObject({
      ok: false,
      status: "missing",
      error: expect.stringMatching(/ERR_MODULE_NOT_FOUND/),
    });
  });
});
