import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeBigCheckpoint } from "../../../packages/serialization/test/big-checkpoint.js";
import { type RangeServer, startRangeServer } from "../../../packages/storage/test/range-server.js";
import { run } from "./helpers.js";

let server: RangeServer;
let dir: string;
let big: string;
beforeAll(async () => {
  server = await startRangeServer();
  dir = mkdtempSync(join(tmpdir(), "pt-cli-url-"));
  big = join(dir, "w2.pt");
  await writeBigCheckpoint(big);
  server.files.set("/w2.pt", { data: { path: big } });
}, 60_000);
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("pt inspect URL", () => {
  it("prints the same tree for a 1 GiB file over HTTP as for the local file, fetching under 1 MiB", async () => {
    const local = await run("inspect", big);
    server.reset();
    const url = `${server.base}/w2.pt`;
    const remote = await run("inspect", url);
    expect(remote.code).toBe(0);
    expect(remote.err).toBe("");
    expect(remote.out.replace(url, "FILE")).toBe(local.out.replace(big, "FILE"));
    expect(remote.out).toMatch(/big\.weight +Tensor +float32 +\[16384, 16384\]/);
    expect(server.log.bytes).toBeLessThan(1 << 20);
    console.log(`pt inspect over HTTP: ${server.log.bytes} bytes served in ${server.log.requests} requests`);
  });
});
