import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  type RemoteFixtures,
  startRemoteFixtures,
} from "../../../packages/serialization/test/remote-setup.js";
import type { RangeServer } from "../../../tools/test-support/range-server.js";
import { run } from "./helpers.js";

let fx: RemoteFixtures;
let server: RangeServer;
let tmp: string;
beforeAll(async () => {
  fx = await startRemoteFixtures();
  server = fx.server;
  tmp = mkdtempSync(join(tmpdir(), "pt-cli-url-"));
}, 60_000);
afterAll(async () => {
  await fx.close();
  rmSync(tmp, { recursive: true, force: true });
});

const BLOCK = 64 * 1024;
const local = (prefix: string) => fx.local[prefix] as string;

/** `pt inspect` of the local path and of the URL print the same, but for the name. */
async function sameAsLocal(path: string, url: string, ...flags: string[]) {
  const l = await run("inspect", path, ...flags);
  expect(l.code, l.err).toBe(0);
  server.reset();
  const r = await run("inspect", url, ...flags);
  expect(r.code, r.err).toBe(0);
  expect(r.err).toBe("");
  // a URL's listing ends with what it fetched: exactly what the server sent
  const fetched = /^fetched: ([\d,]+) bytes in (\d+) requests? from \d+ files? of .*\n/m;
  if (!flags.includes("--json")) {
    const m = fetched.exec(r.out);
    expect(m, r.out).not.toBeNull();
    expect(Number(m?.[1]?.replaceAll(",", ""))).toBe(server.log.bytes);
  }
  expect(r.out.replaceAll(url, "FILE").replace(fetched, "")).toBe(l.out.replaceAll(path, "FILE"));
  return r;
}

describe("pt inspect URL", () => {
  it("prints the same tree for a 1 GiB file over HTTP as for the local file, fetching under 1 MiB", async () => {
    const url = `${server.base}/w2.pt`;
    const remote = await sameAsLocal(local("/w2.pt"), url);
    expect(remote.out).toMatch(/big\.weight +Tensor +float32 +\[16384, 16384\]/);
    expect(server.log.bytes).toBeLessThan(1 << 20);
    console.log(`pt inspect over HTTP: ${server.log.bytes} bytes served in ${server.log.requests} requests`);
  });

  it("lists DCP folders by URL as the local folders, fetching only .metadata, non-tensor items and first blocks", async () => {
    for (const name of ["dcp", "dtensor-4"]) {
      const dir = local(`/${name}/`);
      const r = await sameAsLocal(dir, `${server.base}/${name}/`);
      expect(r.out).toMatch(/dcp checkpoint/);
      const files = (/in (\d+) files? \(/.exec(r.out)?.[1] ?? "0") as string;
      expect(Number(files)).toBeGreaterThan(0);
      // each file once, though the command opens the checkpoint twice (policy, then placeholders)
      expect(server.log.bytes).toBeLessThanOrEqual(
        statSync(join(dir, ".metadata")).size + 2 * BLOCK * Number(files),
      );
      console.log(
        `pt inspect DCP ${name} over HTTP: ${server.log.bytes} bytes in ${server.log.requests} requests`,
      );
    }
    expect(server.log.bytes).toBeLessThan(fx.dataBytes / 16);
    // tensor values read remotely equal local: the SHA-256 of every tensor
    await sameAsLocal(local("/dtensor-4/"), `${server.base}/dtensor-4/`, "--json", "--hash");
  });

  it("lists sharded indexes by URL (the index or its folder) as the local ones, reading shard metadata only", async () => {
    const idx = join(local("/sharded/"), "pytorch_model.bin.index.json");
    await sameAsLocal(idx, `${server.base}/sharded/pytorch_model.bin.index.json`);
    expect(server.log.bytes).toBeLessThan(fx.dataBytes / 8);
    const r = await sameAsLocal(local("/st/"), `${server.base}/st/`);
    expect(r.out).toMatch(/sharded checkpoint/);
    expect(server.log.bytes).toBeLessThan(fx.dataBytes / 32);
    const h = await sameAsLocal(local("/st/"), `${server.base}/st/`, "--json", "--hash");
    expect(h.out).toMatch(/"sha256": "[0-9a-f]{64}"/);
  });

  it("pt diff and pt convert take URLs of DCP folders and sharded indexes", async () => {
    const d = await run("diff", `${server.base}/fsdp2-2/`, join(local("/fsdp2-2/"), "..", "fsdp2-2.pt"));
    expect(d.code, d.out + d.err).toBe(0);
    const out = join(tmp, "from-url.pt");
    const c = await run("convert", `${server.base}/sharded/pytorch_model.bin.index.json`, out);
    expect(c.code, c.err).toBe(0);
    expect((await run("diff", out, local("/st/"))).code).toBe(0);
  });

  it("a server without range support: a note per file on stderr, the same tree", async () => {
    const paths = server.mount("/norange-st/", local("/st/"), { ranges: false });
    const notes: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((m) => {
      notes.push(String(m));
      return true;
    });
    try {
      const url = `${server.base}/norange-st/`;
      const l = await run("inspect", local("/st/"));
      const r = await run("inspect", url);
      expect(r.code, r.err).toBe(0);
      expect(r.out.replaceAll(url, "FILE").replace(/^fetched: .*\n/m, "")).toBe(
        l.out.replaceAll(local("/st/"), "FILE"),
      );
    } finally {
      spy.mockRestore();
    }
    expect(notes.length).toBe(paths.length);
    for (const n of notes) expect(n).toMatch(/^note: .* does not support range requests/);
  });

  it("a missing shard is a one-line error naming its URL", async () => {
    const paths = server.mount("/broken/", local("/sharded/"));
    const shard = paths.filter((p) => p.endsWith(".bin"))[1] as string;
    expect(shard).toBeDefined();
    server.files.delete(shard);
    const r = await run("inspect", `${server.base}/broken/`);
    expect(r.code).toBe(2);
    expect(r.err.trim().split("\n").length).toBe(1);
    expect(r.err).toContain(`${server.base}${shard} answered HTTP 404`);
  });
});
