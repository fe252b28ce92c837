import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, test } from "vitest";

// A save killed midway (SIGKILL: no cleanup code runs) must leave the previous file intact.
// The child runs the built package (turbo builds it before `test`), as a user's process would.
const dist = fileURLToPath(new URL("../dist/node.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "pt-serialization-kill-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("a save killed midway leaves the old file intact", async () => {
  expect(existsSync(dist), `${dist} is built by the test task's dependency on build`).toBe(true);
  const target = join(dir, "model.pt");
  writeFileSync(target, "the previous checkpoint");
  const script = `
    import { saveFile } from ${JSON.stringify(dist)};
    import { fromTypedArray } from "@pt/tensor";
    const big = new Float32Array(64 << 20); // 256 MiB, written in chunks
    const sd = new Map([["w", fromTypedArray(big)]]);
    // the parent kills this process while the temporary file is being written
    await saveFile(sd, ${JSON.stringify(target)});
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += String(d);
  });
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  // wait until a temporary file beside the target has data in it, then kill without warning
  const deadline = Date.now() + 15_000;
  let killedDuringWrite = false;
  while (Date.now() < deadline && child.exitCode === null) {
    const tmp = readdirSync(dir).find((f) => f.startsWith(".model.pt.") && f.endsWith(".tmp"));
    if (tmp) {
      const size = statSync(join(dir, tmp), { throwIfNoEntry: false })?.size ?? 0;
      if (size > 1 << 20 && size < 200 << 20) {
        child.kill("SIGKILL");
        killedDuringWrite = true;
        break;
      }
    }
    await sleep(2);
  }
  await exited;
  expect(stderr).toBe("");
  expect(killedDuringWrite).toBe(true);
  // the target is still the old file (the first save never reached its rename)
  expect(readFileSync(target, "utf8")).toBe("the previous checkpoint");
}, 30_000);
