import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PyFloat } from "@pt/pickle";
import { expect, it } from "vitest";
import { load, py, save } from "../src/index.js";

it("py.float saves a Python float, a plain 2 an int, py.tuple a tuple (torch reads them so)", async () => {
  const bytes = await save(
    new Map<string, unknown>([
      ["lr", py.float(2)],
      ["epochs", 2],
      ["betas", py.tuple(0.9, 0.999)],
    ]),
  );
  const back = (await load(bytes)) as Map<string, unknown>;
  expect(back.get("lr")).toBeInstanceOf(PyFloat);
  expect(back.get("epochs")).toBe(2);
  const f = join(mkdtempSync(join(tmpdir(), "pt-py-")), "v.pt");
  writeFileSync(f, bytes);
  const r = spawnSync(
    "/usr/bin/python3",
    ["-c", "import sys, torch; print(repr(torch.load(sys.argv[1])))", f],
    {
      encoding: "utf8",
    },
  );
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout.trim()).toBe("{'lr': 2.0, 'epochs': 2, 'betas': (0.9, 0.999)}");
});
