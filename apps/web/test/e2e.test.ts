/**
 * End-to-end: the built site (dist/) in a real Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core), opening real files and checking what a person sees. Screenshots of the main
 * views are taken by these tests (into docs/ with PT_WEB_SCREENSHOTS=1, else a temporary folder).
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { main as ptMain } from "@pt/cli";
import { fmtBytes } from "@pt/serialization";
import { loadFile } from "@pt/serialization/node";
import type { Tensor } from "@pt/tensor";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BIG_ROWS,
  seededFloats,
  writeBigCheckpoint,
} from "../../../packages/serialization/test/big-checkpoint.js";
import { type RangeServer, startRangeServer } from "../../../tools/test-support/range-server.js";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const APP = join(HERE, "..");
const ROOT = join(APP, "../..");
const DIST = join(APP, "dist");
const FIXTURES = join(ROOT, "apps/conformance/fixtures");
const CORPUS = join(ROOT, "apps/conformance/corpus/files");
const HOSTILE = join(ROOT, "packages/serialization/fixtures/hostile/files");
const CHROMIUM = process.env.PT_CHROMIUM ?? "/usr/bin/chromium";
const SHOTS =
  process.env.PT_WEB_SCREENSHOTS === "1" ? join(APP, "docs") : mkdtempSync(join(tmpdir(), "pt-web-shots-"));

/** Debian's chromium, installed here if missing (no browser download works in this environment). */
function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  execFileSync("apt-get", ["update"], { stdio: "inherit" });
  execFileSync("apt-get", ["install", "-y", "chromium"], { stdio: "inherit" });
}

/** `pt inspect --json` through the CLI's own entry point. */
async function ptInspect(file: string): Promise<{ code: number; json: Record<string, unknown> | null }> {
  let out = "";
  const code = await ptMain(["inspect", "--json", file], {
    out: (t) => {
      out += t;
    },
    err: () => undefined,
    stderrIsTTY: false,
  });
  return { code, json: code === 0 ? (JSON.parse(out) as Record<string, unknown>) : null };
}

/** The totals line the page shows, from `pt inspect --json`'s totals. */
function totalsText(t: Record<string, number>): string {
  const n = t.tensors as number;
  const s = t.storages as number;
  return `${n} tensor${n === 1 ? "" : "s"}, ${(t.parameters as number).toLocaleString("en-US")} parameters, ${fmtBytes(t.bytes as number)} in ${s} storage${s === 1 ? "" : "s"} (${t.shared_storages} shared)`;
}

/** The page's *Download listing (JSON)* of the document shown, as the browser saved it. */
async function downloadedListing(page: Page): Promise<Record<string, unknown>> {
  const [d] = await Promise.all([page.waitForEvent("download"), page.click("#download-listing")]);
  const path = await d.path();
  return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
}

/**
 * Where a listing differs from `pt inspect --json`'s (format, tensors, totals, records; the CLI
 * computes no `sha256` without `--hash`), or null when they are equal.
 */
function listingDiff(got: Record<string, unknown>, want: Record<string, unknown>): string | null {
  for (const k of ["format", "totals", "records"]) {
    if (!isDeepStrictEqual(got[k], want[k]))
      return `${k}: page ${JSON.stringify(got[k])}, pt inspect ${JSON.stringify(want[k])}`;
  }
  const a = got.tensors as unknown[];
  const b = want.tensors as unknown[];
  if (a.length !== b.length) return `tensors: page ${a.length}, pt inspect ${b.length}`;
  for (const [i, t] of a.entries())
    if (!isDeepStrictEqual(t, b[i]))
      return `tensor ${i}: page ${JSON.stringify(t)}, pt inspect ${JSON.stringify(b[i])}`;
  const extra = Object.keys(got).filter((k) => !["format", "tensors", "totals", "records"].includes(k));
  return extra.length ? `the page's listing has ${extra.join(", ")}` : null;
}

/** 64 equal bins over [min, max] of the finite values (the page's rule), computed here in Node. */
function bins(values: ArrayLike<number>): number[] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  const counts = new Array<number>(64).fill(0);
  const w = (hi - lo) / 64;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) continue;
    const b = w > 0 ? Math.min(63, Math.floor((v - lo) / w)) : 0;
    counts[b] = (counts[b] as number) + 1;
  }
  return counts;
}

/**
 * The safetensors file the page wrote from the 1 GiB checkpoint, checked by streaming it: its
 * header, the small tensors' values, and big.weight's 1 GiB (seeded values, then zeros).
 */
function expectBigSafetensors(path: string): void {
  const fd = openSync(path, "r");
  try {
    const read = (at: number, n: number) => {
      const b = Buffer.alloc(n);
      expect(readSync(fd, b, 0, n, at)).toBe(n);
      return b;
    };
    const n = Number(read(0, 8).readBigUInt64LE(0));
    const header = JSON.parse(read(8, n).toString("utf8")) as Record<
      string,
      { dtype: string; shape: number[]; data_offsets: [number, number] }
    >;
    expect(Object.keys(header)).toEqual([
      "__metadata__",
      "big.weight",
      "small.weight",
      "small.bias",
      "small.row1",
    ]);
    expect(header["big.weight"]).toMatchObject({ dtype: "F32", shape: [BIG_ROWS, BIG_ROWS] });
    const base = 8 + n;
    const values = (k: string) => {
      const [a, b] = header[k]?.data_offsets ?? [0, 0];
      const buf = read(base + a, b - a);
      return Array.from(new Float32Array(buf.buffer, buf.byteOffset, (b - a) / 4));
    };
    expect(values("small.weight")).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(values("small.bias")).toEqual([0.5, -0.5, 0]);
    expect(values("small.row1")).toEqual([4, 5, 6]);
    const [start, end] = header["big.weight"]?.data_offsets ?? [0, 0];
    expect(end - start).toBe(BIG_ROWS * BIG_ROWS * 4);
    const head = Buffer.from(seededFloats(1 << 18, 42).buffer);
    expect(read(base + start, head.length).equals(head)).toBe(true);
    const zeros = Buffer.alloc(8 << 20);
    for (let p = start + head.length; p < end; p += zeros.length) {
      const m = Math.min(zeros.length, end - p);
      if (!read(base + p, m).equals(zeros.subarray(0, m)))
        throw new Error(`big.weight: nonzero bytes in ${p}..${p + m}`);
    }
    const last = Math.max(...Object.values(header).map((h) => h.data_offsets?.[1] ?? 0));
    expect(statSync(path).size).toBe(base + last);
  } finally {
    closeSync(fd);
  }
}

let server: RangeServer;
let browser: Browser;
let context: BrowserContext;
let tmp: string;
let big: string;

beforeAll(async () => {
  ensureChromium();
  if (!existsSync(join(DIST, "index.html")))
    execFileSync("pnpm", ["run", "build"], { cwd: APP, stdio: "inherit" });
  tmp = mkdtempSync(join(tmpdir(), "pt-web-e2e-"));
  big = join(tmp, "w2.pt");
  await writeBigCheckpoint(big);
  server = await startRangeServer({ static: DIST });
  server.files.set("/files/w2.pt", { data: { path: big } });
  server.files.set("/norange/nn_cnn_bn_state_dict.zip.pt", {
    data: { path: join(FIXTURES, "nn_cnn_bn_state_dict.zip.pt") },
    ranges: false,
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
  // main-thread long tasks (> 50 ms) of every page, for the "never blocks > 100 ms" check
  await context.addInitScript(() => {
    const w = window as unknown as { __longTasks: number[]; __longTaskStarts: number[] };
    w.__longTasks = [];
    w.__longTaskStarts = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        w.__longTasks.push(e.duration);
        w.__longTaskStarts.push(e.startTime);
      }
    }).observe({ type: "longtask", buffered: true });
  });
  // Where a conversion goes, switchable per page (window.__ptMode): "file" offers a save dialog
  // stubbed to hand back a real FileSystemFileHandle (an OPFS file, written by the worker with
  // createWritable: only the dialog is not the browser's), "opfs" hides the dialog, "memory" hides
  // the private file system too (the page must then fall back to a Blob and say so).
  await context.addInitScript(() => {
    const w = window as unknown as { __ptMode: string; __ptPicked: string[] };
    const real = StorageManager.prototype.getDirectory;
    w.__ptMode = "opfs";
    w.__ptPicked = [];
    const picker = async (o: { suggestedName: string }) => {
      w.__ptPicked.push(o.suggestedName);
      const root = await real.call(navigator.storage);
      return root.getFileHandle(`picked-${o.suggestedName}`, { create: true });
    };
    Object.defineProperty(window, "showSaveFilePicker", {
      configurable: true,
      get: () => (w.__ptMode === "file" ? picker : undefined),
    });
    Object.defineProperty(StorageManager.prototype, "getDirectory", {
      configurable: true,
      get: () => (w.__ptMode === "memory" ? undefined : real),
    });
  });
}, 180_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await server?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  if (process.env.PT_WEB_SCREENSHOTS !== "1") rmSync(SHOTS, { recursive: true, force: true });
});

async function fresh(query = ""): Promise<Page> {
  const page = await context.newPage();
  page.on("pageerror", (e) => {
    throw e;
  });
  await page.goto(`${server.base}/index.html${query}`);
  return page;
}

async function pick(page: Page, ...files: string[]): Promise<void> {
  const before = await page.locator("#docs [role=tab]").count();
  await page.setInputFiles("#file", files);
  await page
    .locator("#docs [role=tab]")
    .nth(before + files.length - 1)
    .waitFor();
  await page.locator("#totals").waitFor();
}

async function shot(page: Page, name: string, fullPage = false): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
}

type Mode = "file" | "opfs" | "memory";

/** Where the page's next conversion goes (see the init script); redraws the convert tab. */
async function convertTo(page: Page, mode: Mode): Promise<void> {
  await page.evaluate((m) => {
    (window as unknown as { __ptMode: string }).__ptMode = m;
  }, mode);
  await page.click("#tab-convert");
  await expect(page.locator("#convert-destination").getAttribute("data-destination")).resolves.toBe(mode);
}

/** Wait until the conversion started on the page ends; its status line. */
async function converted(page: Page): Promise<string> {
  await page.waitForFunction(
    () =>
      /^(saved|wrote|could not|cancelled)/.test(document.querySelector("#convert-status")?.textContent ?? ""),
    undefined,
    { timeout: 300_000, polling: 200 },
  );
  return (await page.locator("#convert-status").textContent()) ?? "";
}

/** The bytes of a file the page's (stubbed) save dialog handed out, read back from the OPFS. */
async function pickedBytes(page: Page, name: string): Promise<Buffer> {
  const bytes = await page.evaluate(async (n) => {
    const root = await navigator.storage.getDirectory();
    const f = await (await root.getFileHandle(`picked-${n}`)).getFile();
    return Array.from(new Uint8Array(await f.arrayBuffer()));
  }, name);
  return Buffer.from(bytes);
}

/** The names in the page's OPFS folder of converted files (empty when none or no folder). */
async function opfsOutputs(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    try {
      const dir = await root.getDirectoryHandle("pt-web-converted");
      const names: string[] = [];
      for await (const k of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(k);
      return names;
    } catch {
      return [];
    }
  });
}

/**
 * torch (`/usr/bin/python3`) loads `b` equal to `a`: the same keys in the same order, every tensor
 * of the same dtype, shape, stride and values, and tensors that share a storage in `a` share one in
 * `b`. Returns the number of tensors.
 */
function torchLoadsEqual(a: string, b: string, sortedKeys = false): number {
  const check = spawnSync(
    "/usr/bin/python3",
    [
      "-c",
      [
        "import sys, torch",
        "a = torch.load(sys.argv[1]); b = torch.load(sys.argv[2])",
        `ka, kb = (sorted(a), sorted(b)) if ${sortedKeys ? "True" : "False"} else (list(a), list(b))`,
        "assert ka == kb, (ka, kb)",
        "for k in a: assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and a[k].stride() == b[k].stride() and torch.equal(a[k], b[k]), k",
        "ptr = lambda d, k: d[k].storage().data_ptr()",
        "for k in a:",
        "    for j in a:",
        "        assert (ptr(a, k) == ptr(a, j)) == (ptr(b, k) == ptr(b, j)), ('sharing', k, j)",
        "print(len(a))",
      ].join("\n"),
      a,
      b,
    ],
    { maxBuffer: 1 << 20 },
  );
  expect(check.status, String(check.stderr)).toBe(0);
  return Number(String(check.stdout).trim());
}

/**
 * Samples the JS memory of the page and of its worker (CDP `Runtime.getHeapUsage` on each target:
 * the V8 heap plus ArrayBuffer backing stores, where a file's bytes would be) every 100 ms until
 * stopped; the peak of their sum.
 */
async function heapSampler(
  page: Page,
): Promise<{ stop(): Promise<{ peak: number; pagePeak: number; workerPeak: number; samples: number }> }> {
  const pageSession = await context.newCDPSession(page);
  const bs = await browser.newBrowserCDPSession();
  const { targetInfos } = (await bs.send("Target.getTargets")) as {
    targetInfos: Array<{ targetId: string; type: string; url: string }>;
  };
  const workers = targetInfos.filter((t) => t.type === "worker" && t.url.startsWith(server.base));
  expect(workers.length).toBeGreaterThan(0);
  let id = 0;
  const waiting = new Map<number, (r: { result?: Record<string, number> }) => void>();
  bs.on("Target.receivedMessageFromTarget", (ev: { message: string }) => {
    const m = JSON.parse(ev.message) as { id?: number; result?: Record<string, number> };
    if (m.id !== undefined) waiting.get(m.id)?.(m);
  });
  const sessions: string[] = [];
  for (const w of workers) {
    const r = (await bs.send("Target.attachToTarget", { targetId: w.targetId, flatten: false })) as {
      sessionId: string;
    };
    sessions.push(r.sessionId);
  }
  const usage = (u: Record<string, number> | undefined) =>
    (u?.usedSize ?? 0) + (u?.backingStorageSize ?? 0) + (u?.embedderHeapUsedSize ?? 0);
  const workerHeap = (sessionId: string) =>
    new Promise<number>((resolve) => {
      const i = ++id;
      waiting.set(i, (m) => {
        waiting.delete(i);
        resolve(usage(m.result));
      });
      void bs.send("Target.sendMessageToTarget", {
        sessionId,
        message: JSON.stringify({ id: i, method: "Runtime.getHeapUsage" }),
      });
    });
  let peak = 0;
  let pagePeak = 0;
  let workerPeak = 0;
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const [p, ...ws] = await Promise.all([
        pageSession.send("Runtime.getHeapUsage").then((u) => usage(u as unknown as Record<string, number>)),
        ...sessions.map(workerHeap),
      ]);
      const w = ws.reduce((a, b) => a + b, 0);
      peak = Math.max(peak, (p as number) + w);
      pagePeak = Math.max(pagePeak, p as number);
      workerPeak = Math.max(workerPeak, w);
      samples++;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await bs.detach();
      await pageSession.detach();
      return { peak, pagePeak, workerPeak, samples };
    },
  };
}

describe("apps/web in Chromium", () => {
  it("shows the tree, totals and tensor details of a zip checkpoint, navigable by keyboard", async () => {
    const page = await fresh();
    await shot(page, "empty");
    const file = join(FIXTURES, "nn_cnn_bn_state_dict.zip.pt");
    await pick(page, file);
    const { json } = await ptInspect(file);
    expect(await page.locator("#totals").textContent()).toBe(
      totalsText(json?.totals as Record<string, number>),
    );
    const paths = await page
      .locator("[role=treeitem][data-path]")
      .evaluateAll((els) => els.map((e) => e.getAttribute("data-path")));
    expect(paths).toEqual(((json?.tensors ?? []) as Array<{ path: string[] }>).map((t) => t.path.join(".")));
    await expect(page.locator("[data-path='4.weight'] > .row").textContent()).resolves.toContain(
      'Tensor float32 [2, 27] stride [27, 1] offset 0 storage "7"',
    );
    // keyboard: "/" focuses the filter, typing filters, ArrowDown + Enter selects
    await page.keyboard.press("/");
    await page.keyboard.type("running");
    await expect(page.locator("#match-count").textContent()).resolves.toBe("2 of 9 tensors match “running”");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.press("Enter");
    await expect(page.locator("#detail h3").textContent()).resolves.toBe("1.running_mean");
    await page.fill("#search", "");
    // tree: arrows move, Enter selects
    await page.locator("[role=treeitem]").first().focus();
    for (let i = 0; i < 8; i++) await page.keyboard.press("ArrowDown");
    await page.keyboard.press("Enter");
    await expect(page.locator("#detail h3").textContent()).resolves.toBe("4.weight");
    await shot(page, "tree");
    // End/Home jump to the last/first item; ← on a tensor goes to its parent, ← again collapses
    // it, → expands it again
    await page.keyboard.press("End");
    expect(await page.evaluate(() => document.activeElement?.getAttribute("data-path"))).toBe("4.bias");
    await page.keyboard.press("ArrowLeft");
    const root = page.locator("[role=treeitem]").first();
    expect(await page.evaluate(() => document.activeElement?.getAttribute("aria-level"))).toBe("1");
    await page.keyboard.press("ArrowLeft");
    await expect(root.getAttribute("aria-expanded")).resolves.toBe("false");
    expect(
      await page
        .locator("[role=treeitem][data-path]")
        .evaluateAll((e) => e.filter((x) => (x as HTMLElement).offsetParent).length),
    ).toBe(0);
    await page.keyboard.press("ArrowRight");
    await expect(root.getAttribute("aria-expanded")).resolves.toBe("true");
    await page.keyboard.press("Home");
    expect(await page.evaluate(() => document.activeElement?.getAttribute("aria-level"))).toBe("1");
    // Tab walks the page's controls in order
    await page.focus("#open-button");
    const order: string[] = [];
    for (let i = 0; i < 3; i++) {
      await page.keyboard.press("Tab");
      order.push(
        await page.evaluate(() => document.activeElement?.id || document.activeElement?.textContent || ""),
      );
    }
    expect(order).toEqual(["url", "Open URL", "theme"]);
    // the per-dtype table: tensors and parameters per dtype, as pt inspect lists the tensors
    const perDtype = new Map<string, [number, number]>();
    for (const t of (json?.tensors ?? []) as Array<{ dtype: string; shape: number[] }>) {
      const [n, p] = perDtype.get(t.dtype) ?? [0, 0];
      perDtype.set(t.dtype, [n + 1, p + t.shape.reduce((a, b) => a * b, 1)]);
    }
    const rows = await page
      .locator("table.dtypes tbody tr")
      .evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll("td"), (td) => td.textContent)));
    expect(rows.map((r) => [r[0], Number(r[1]), Number(String(r[2]).replace(/,/g, ""))])).toEqual(
      [...perDtype].map(([d, [n, p]]) => [d, n, p]),
    );
    await page.close();
  });

  it("computes statistics, a histogram with the right counts and a heat-map in the worker", async () => {
    const page = await fresh();
    const file = join(FIXTURES, "nn_cnn_bn_state_dict.zip.pt");
    await pick(page, file);
    await page.locator("[data-path='4.weight'] > .row").click();
    await page.click("#compute");
    await page.locator("#histogram").waitFor();
    const counts = (await page.locator("#histogram").getAttribute("data-counts"))?.split(",").map(Number);
    const sd = (await loadFile(file)) as Map<string, Tensor>;
    const t = sd.get("4.weight") as Tensor;
    const values = Array.from(t.storage.typed() as Float32Array);
    expect(counts).toEqual(bins(values));
    expect(counts?.reduce((a, b) => a + b, 0)).toBe(54);
    const min = Math.min(...values);
    expect(await page.locator("#stats tr", { hasText: "min" }).first().textContent()).toContain(
      min.toPrecision(6),
    );
    expect(await page.locator("#heatmap").getAttribute("width")).toBe("27");
    await shot(page, "stats", true);
    await page.close();
  });

  it("opens legacy and tar files, and shows storage sharing", async () => {
    const page = await fresh();
    const legacy = join(FIXTURES, "nested_shared.legacy.pt");
    const tar = join(CORPUS, "pytorch__2017-03_legacy_serialized_TAR.pt");
    await pick(page, legacy, tar);
    expect(await page.locator("#meta").textContent()).toMatch(/^tar checkpoint/);
    await page.locator("#docs [role=tab]").first().click();
    expect(await page.locator("#meta").textContent()).toMatch(/^legacy checkpoint/);
    const { json } = await ptInspect(legacy);
    expect(await page.locator("#totals").textContent()).toBe(
      totalsText(json?.totals as Record<string, number>),
    );
    await page.click("#tab-storages");
    const shared = page.locator("#storages .storage.shared").first();
    await expect(shared.locator(".users li").count()).resolves.toBe(2);
    await expect(shared.locator(".users").textContent()).resolves.toMatch(
      /a\[0\] — bytes 0–12 .*c\[2\]\[1\] — bytes 4–12/,
    );
    await shot(page, "storages");
    await page.close();
  });

  it("gives the safety verdict of a hostile file without running it", async () => {
    const page = await fresh();
    await pick(page, join(HOSTILE, "global_os_system.pt"));
    await page.click("#tab-safety");
    await expect(page.locator("#verdict").textContent()).resolves.toMatch(/^DANGEROUS/);
    await expect(page.locator("#globals tbody tr").first().textContent()).resolves.toMatch(
      /os\.system\s*dangerous/,
    );
    await expect(page.locator("#torch-load").textContent()).resolves.toMatch(
      /refuses to load it: "Unsupported global: GLOBAL os\.system/,
    );
    await expect(page.locator("#load-error").textContent()).resolves.toMatch(/os\.system/);
    await shot(page, "safety");
    await page.click("#docs [role=tab]");
    await pick(page, join(FIXTURES, "handmade_state_dict.zip.pt"));
    await page.click("#tab-safety");
    await expect(page.locator("#verdict").textContent()).resolves.toMatch(/^SAFE/);
    await expect(page.locator("#torch-load").textContent()).resolves.toBe("loads it");
    await page.close();
  });

  it("opens files dropped on the page, several at once", async () => {
    const page = await fresh();
    const files = [join(FIXTURES, "nn_cnn_bn_state_dict.zip.pt"), join(FIXTURES, "nested_shared.legacy.pt")];
    const dt = await page.evaluateHandle(
      (ps) => {
        const d = new DataTransfer();
        for (const p of ps) d.items.add(new File([new Uint8Array(p.bytes)], p.name));
        return d;
      },
      files.map((f) => ({ name: basename(f), bytes: [...readFileSync(f)] })),
    );
    await page.dispatchEvent("main", "dragover", { dataTransfer: dt });
    expect(await page.evaluate(() => document.body.classList.contains("dragging"))).toBe(true);
    await page.dispatchEvent("main", "drop", { dataTransfer: dt });
    await page.locator("#docs [role=tab]").nth(1).waitFor();
    expect(await page.evaluate(() => document.body.classList.contains("dragging"))).toBe(false);
    expect(await page.locator("#docs [role=tab]").allTextContents()).toEqual(files.map((f) => basename(f)));
    for (const [i, f] of files.entries()) {
      await page.locator("#docs [role=tab]").nth(i).click();
      const { json } = await ptInspect(f);
      expect(await page.locator("#totals").textContent()).toBe(
        totalsText(json?.totals as Record<string, number>),
      );
    }
    expect(await page.locator("#drop-hint").isHidden()).toBe(true);
    await page.close();
  });

  it("marks placeholders (classes outside the allowlist, never run) in the tree and the safety report", async () => {
    const page = await fresh();
    await pick(page, join(FIXTURES, "numpy_scalars.zip.pt"));
    const badges = page.locator(".node.kind-placeholder > .row .badge.warn");
    expect(await badges.count()).toBeGreaterThan(0);
    await expect(badges.first().textContent()).resolves.toBe("placeholder");
    await expect(page.locator(".node.kind-placeholder > .row .label").first().textContent()).resolves.toMatch(
      /^numpy\.core\.multiarray\.scalar\(…\)$/,
    );
    await page.click("#tab-safety");
    await expect(page.locator("#verdict").textContent()).resolves.toMatch(/^UNSAFE/);
    await expect(page.locator("#globals tr.g-refused").first().textContent()).resolves.toMatch(
      /^numpy\.core\.multiarray\.scalarrefused/,
    );
    await expect(page.locator("#torch-load").textContent()).resolves.toMatch(/refuses to load it/);
    await page.close();
  });

  it("computes min/max/mean/std, NaN/Inf counts and zeros like torch, and a heat-map of the cell values", async () => {
    const file = join(tmp, "specials.pt");
    // written by torch: seeded normal values with a NaN, +Inf, -Inf and four zeros; torch's own
    // statistics of the finite values come back as JSON
    const py = spawnSync("/usr/bin/python3", [
      "-c",
      [
        "import sys, json, torch",
        "w = torch.randn(8, 16, generator=torch.Generator().manual_seed(7))",
        "w[0, 0] = float('nan'); w[1, 1] = float('inf'); w[2, 2] = float('-inf'); w[3, :4] = 0",
        "torch.save({'w': w}, sys.argv[1])",
        "f = w[torch.isfinite(w)].double()",
        "print(json.dumps(dict(min=f.min().item(), max=f.max().item(), mean=f.mean().item(), std=f.std().item(), finite=f.numel(),",
        "  nan=int(torch.isnan(w).sum()), posinf=int((w == float('inf')).sum()), neginf=int((w == float('-inf')).sum()), zeros=int((w == 0).sum()))))",
      ].join("\n"),
      file,
    ]);
    expect(py.status, String(py.stderr)).toBe(0);
    const want = JSON.parse(String(py.stdout)) as Record<string, number>;
    const page = await fresh();
    await pick(page, file);
    await page.locator("[data-path='w'] > .row").click();
    await page.click("#compute");
    await page.locator("#histogram").waitFor();
    const cell = async (k: string) =>
      (await page.locator("#stats tr", { hasText: k }).first().locator("td").textContent()) ?? "";
    for (const k of ["min", "max", "mean", "std"] as const) {
      const shown = Number(await cell(k));
      expect(Math.abs(shown - (want[k] as number)), `${k}: ${shown} vs ${want[k]}`).toBeLessThan(
        1e-5 * Math.max(1, Math.abs(want[k] as number)),
      );
    }
    expect(await cell("NaN")).toBe(String(want.nan));
    expect(await cell("+Inf / −Inf")).toBe(`${want.posinf} / ${want.neginf}`);
    expect(await cell("zeros")).toMatch(new RegExp(`\\(${want.zeros}\\)$`));
    const counts = ((await page.locator("#histogram").getAttribute("data-counts")) ?? "")
      .split(",")
      .map(Number);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(want.finite);
    // the heat-map: an 8×16 matrix gives 8×16 cells of one value each, coloured blue < 0 < red
    // (scaled by the largest |value|; non-finite cells white)
    const sd = (await loadFile(file)) as Map<string, Tensor>;
    const values = Array.from((sd.get("w") as Tensor).storage.typed() as Float32Array);
    const m = Math.max(...values.filter(Number.isFinite).map(Math.abs));
    const expected = values.flatMap((v) => {
      const x = Number.isFinite(v) ? v / m : 0;
      return [
        x > 0 ? 255 : Math.round(255 * (1 + x)),
        Math.round(255 * (1 - Math.abs(x))),
        x < 0 ? 255 : Math.round(255 * (1 - x)),
        255,
      ];
    });
    const pixels = await page.evaluate(() => {
      const c = document.querySelector("#heatmap") as HTMLCanvasElement;
      return [c.width, c.height, ...(c.getContext("2d")?.getImageData(0, 0, c.width, c.height).data ?? [])];
    });
    expect(pixels.slice(0, 2)).toEqual([16, 8]);
    const off = pixels.slice(2).map((p, i) => Math.abs(p - (expected[i] as number)));
    expect(Math.max(...off)).toBeLessThanOrEqual(1);
    await page.close();
  });

  it("diffs two checkpoints and converts one to a file torch loads equal", async () => {
    const page = await fresh();
    const a = join(FIXTURES, "nn_cnn_bn_state_dict.zip.pt");
    const b = join(tmp, "changed.pt");
    // B: A with one tensor changed by a known amount and one removed, written by torch itself
    const py = spawnSync("/usr/bin/python3", [
      "-c",
      "import sys, torch; sd = torch.load(sys.argv[1]); sd['0.bias'] = sd['0.bias'] + 0.25; del sd['4.bias']; torch.save(sd, sys.argv[2])",
      a,
      b,
    ]);
    expect(py.status, String(py.stderr)).toBe(0);
    await pick(page, a, b);
    await page.locator("#docs [role=tab]").first().click();
    await page.click("#tab-diff");
    await page.click("#diff-run");
    await page.locator("#diff-summary").waitFor();
    expect(await page.locator("#diff-summary").textContent()).toBe(
      "7 equal, 1 changed, 0 with another dtype/shape, 1 removed, 0 added",
    );
    expect(await page.locator("tr.d-changed").textContent()).toMatch(
      /^0\.biaschangedfloat32 \[3\]float32 \[3\]0\.25/,
    );
    await shot(page, "diff");
    // zip: to the file chosen in the save dialog, written by the worker through its handle
    await convertTo(page, "file");
    await page.click("#convert-zip");
    expect(await converted(page)).toMatch(/^saved nn_cnn_bn_state_dict\.zip\.pt \(\d/);
    expect(await page.evaluate(() => (window as unknown as { __ptPicked: string[] }).__ptPicked)).toEqual([
      "nn_cnn_bn_state_dict.zip.pt",
    ]);
    const zip = join(tmp, "converted.zip.pt");
    writeFileSync(zip, await pickedBytes(page, "nn_cnn_bn_state_dict.zip.pt"));
    expect(torchLoadsEqual(a, zip)).toBe(9);
    // legacy: to the private file system, then downloaded (a disk-backed File)
    await convertTo(page, "opfs");
    const [legacyDownload] = await Promise.all([
      page.waitForEvent("download"),
      page.click("#convert-legacy"),
    ]);
    expect(await converted(page)).toMatch(
      /^wrote nn_cnn_bn_state_dict\.zip\.legacy\.pt \(.*\) to the browser's private storage; downloading it$/,
    );
    expect(legacyDownload.suggestedFilename()).toBe("nn_cnn_bn_state_dict.zip.legacy.pt");
    expect(await opfsOutputs(page)).toEqual(["nn_cnn_bn_state_dict.zip.legacy.pt"]);
    const legacy = join(tmp, "converted.legacy.pt");
    await legacyDownload.saveAs(legacy);
    expect(torchLoadsEqual(a, legacy)).toBe(9);
    // safetensors: neither exists here, so a Blob, and the page says the file is held in memory
    await convertTo(page, "memory");
    await expect(page.locator("#convert-destination").textContent()).resolves.toMatch(
      /neither to a file you choose nor to its private storage: the converted file is built in memory/,
    );
    await shot(page, "convert-memory");
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#convert-safetensors")]);
    expect(await converted(page)).toMatch(/^wrote nn_cnn_bn_state_dict\.zip\.safetensors \(.*\) in memory/);
    const st = join(tmp, "converted.safetensors");
    await download.saveAs(st);
    const bytes = readFileSync(st);
    const n = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString("utf8")) as Record<
      string,
      { dtype: string; shape: number[]; data_offsets: number[] }
    >;
    const sd = (await loadFile(a)) as Map<string, Tensor>;
    expect(Object.keys(header)).toEqual(["__metadata__", ...sd.keys()]);
    for (const [k, t] of sd) {
      const h = header[k];
      expect(h?.shape, k).toEqual(t.shape);
      const [s0, s1] = (h?.data_offsets ?? []) as number[];
      expect(new Uint8Array(bytes.subarray(8 + n + (s0 as number), 8 + n + (s1 as number))), k).toEqual(
        t.storage.bytes.subarray(
          t.storageOffset * t.dtype.itemSize,
          (t.storageOffset + t.numel) * t.dtype.itemSize,
        ),
      );
    }
    expect(header["4.weight"]).toEqual({ dtype: "F32", shape: [2, 27], data_offsets: expect.any(Array) });
    await convertTo(page, "opfs");
    await shot(page, "convert");
    await page.close();
  });

  it("joins a sharded checkpoint by its index and converts it to one file torch loads equal", async () => {
    const full = join(FIXTURES, "nn_cnn_bn_state_dict.zip.pt");
    const dir = join(tmp, "sharded");
    mkdirSync(dir, { recursive: true });
    // two shards and the index, as the Hugging Face libraries write them (made by torch here)
    const py = spawnSync("/usr/bin/python3", [
      "-c",
      [
        "import sys, json, torch",
        "sd = torch.load(sys.argv[1]); keys = list(sd); half = len(keys) // 2",
        "parts = [keys[:half], keys[half:]]; wm = {}",
        "for i, ks in enumerate(parts):",
        "    name = f'pytorch_model-0000{i + 1}-of-00002.bin'",
        "    torch.save({k: sd[k] for k in ks}, f'{sys.argv[2]}/{name}')",
        "    wm.update({k: name for k in ks})",
        "json.dump({'metadata': {'total_size': 0}, 'weight_map': wm}, open(f'{sys.argv[2]}/pytorch_model.bin.index.json', 'w'))",
      ].join("\n"),
      full,
      dir,
    ]);
    expect(py.status, String(py.stderr)).toBe(0);
    const page = await fresh();
    await page.setInputFiles("#file", [
      join(dir, "pytorch_model.bin.index.json"),
      join(dir, "pytorch_model-00001-of-00002.bin"),
      join(dir, "pytorch_model-00002-of-00002.bin"),
    ]);
    await page.locator("#docs [role=tab]").nth(2).waitFor();
    await expect(page.locator(".summary h2").textContent()).resolves.toBe("pytorch_model.bin.index.json");
    const { json } = await ptInspect(full);
    expect(await page.locator("#totals").textContent()).toBe(
      totalsText(json?.totals as Record<string, number>),
    );
    await expect(page.locator(".note").textContent()).resolves.toBe(
      "2 shards: pytorch_model-00001-of-00002.bin, pytorch_model-00002-of-00002.bin",
    );
    await page.click("#tab-convert");
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#convert-zip")]);
    const out = join(tmp, "joined.pt");
    await download.saveAs(out);
    expect(torchLoadsEqual(full, out, true)).toBe(9);
    await page.close();
  });

  it("opens every fixture and corpus file with the tensors and totals `pt inspect --json` gives", async () => {
    const files = [
      ...readdirSync(FIXTURES)
        .filter((f) => f.endsWith(".pt"))
        .map((f) => join(FIXTURES, f)),
      ...readdirSync(CORPUS).map((f) => join(CORPUS, f)),
    ].filter((f) => statSync(f).isFile());
    expect(files.length).toBeGreaterThan(200);
    let page = await fresh();
    const mismatches: string[] = [];
    let listed = 0;
    let tensors = 0;
    for (const [i, f] of files.entries()) {
      if (i % 40 === 0) {
        await page.close();
        page = await fresh();
      }
      await pick(page, f);
      const { code, json } = await ptInspect(f);
      const shown = await page.locator("#totals").textContent();
      const error = await page.locator("#load-error").count();
      if (code !== 0) {
        if (!error) mismatches.push(`${f}: pt inspect fails, the page shows no error`);
        continue;
      }
      const want = totalsText(json?.totals as Record<string, number>);
      if (shown !== want || error) {
        mismatches.push(`${f}: page "${shown}"${error ? " (error)" : ""}, pt inspect "${want}"`);
        continue;
      }
      // every tensor, not only those the capped, lazily expanded tree shows: the page's download
      const listing = await downloadedListing(page);
      const diff = listingDiff(listing, json as Record<string, unknown>);
      if (diff) mismatches.push(`${f}: ${diff}`);
      listed++;
      tensors += (listing.tensors as unknown[]).length;
    }
    await page.close();
    console.log(`listings of ${listed} files (${tensors} tensors) equal pt inspect --json's`);
    expect(mismatches).toEqual([]);
    expect(listed).toBeGreaterThan(200);
  }, 900_000);

  it("opens a 1 GiB checkpoint by URL fetching under 1 MiB, and by file; its histogram never blocks the page", async () => {
    // by URL: only the first block, the central directory and data.pkl come over the wire
    const url = `${server.base}/files/w2.pt`;
    const page = await fresh(`?url=${encodeURIComponent(url)}`);
    await page.locator("#totals").waitFor({ timeout: 60_000 });
    expect(await page.locator("[data-path='big.weight']").count()).toBe(1);
    const sent = server.sent.get("/files/w2.pt") ?? 0;
    expect(sent).toBeLessThan(1 << 20);
    expect(await page.locator("#meta").textContent()).toMatch(/zip checkpoint .* 1\.07 GB .* fetched/);
    console.log(`1 GiB by URL: ${sent} bytes served; ${await page.locator("#meta").textContent()}`);
    await shot(page, "url");
    await page.close();

    // by file: tree first, then a histogram of the largest tensor computed in the worker
    const p2 = await fresh();
    const now = () => p2.evaluate(() => Math.round(performance.now()));
    const marks: Record<string, number> = { loaded: await now() };
    await pick(p2, big);
    marks.opened = await now();
    console.log(`1 GiB by file: ${await p2.locator("#meta").textContent()}`);
    await p2.locator("[data-path='big.weight'] > .row").click();
    marks.selected = await now();
    await p2.click("#compute");
    marks.computing = await now();
    await p2.locator("#histogram").waitFor({ timeout: 240_000 });
    marks.histogram = await now();
    const counts = ((await p2.locator("#histogram").getAttribute("data-counts")) ?? "")
      .split(",")
      .map(Number);
    // the file holds 2^18 seeded values in [-1, 1), then zeros: their bin holds the rest
    const head = seededFloats(1 << 18, 42);
    const want = bins(head);
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const v of head) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    const zeroBin = Math.min(63, Math.floor((0 - lo) / ((hi - lo) / 64)));
    want[zeroBin] = (want[zeroBin] as number) + BIG_ROWS * BIG_ROWS - (1 << 18);
    expect(counts).toEqual(want);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(BIG_ROWS * BIG_ROWS);
    expect(await p2.locator("#heatmap").getAttribute("width")).toBe("64");
    const longTasks = await p2.evaluate(() => (window as unknown as { __longTasks: number[] }).__longTasks);
    const starts = await p2.evaluate(
      () => (window as unknown as { __longTaskStarts: number[] }).__longTaskStarts,
    );
    const draws = await p2.evaluate(() =>
      performance.getEntriesByName("pt:draw").map((e) => [Math.round(e.startTime), Math.round(e.duration)]),
    );
    console.log(
      `main-thread long tasks (ms) while loading, opening and computing: ${JSON.stringify(longTasks.map(Math.round))} starting at ${JSON.stringify(starts.map(Math.round))}; marks ${JSON.stringify(marks)}; draws (start, ms) ${JSON.stringify(draws)}`,
    );
    // The 100 ms bound is a wall-clock measurement: it is asserted on an idle machine
    // (PT_WEB_STRICT_TIMING=1, as the README's figures were taken), not on a shared CI runner,
    // where another process can stretch any task. Always: the observer ran and every long task
    // was recorded with its start (the work itself is in the worker: the counts above came from it).
    expect(Array.isArray(longTasks) && longTasks.length === starts.length).toBe(true);
    if (process.env.PT_WEB_STRICT_TIMING === "1") expect(Math.max(0, ...longTasks)).toBeLessThanOrEqual(100);
    console.log(
      `1 GiB histogram: ${await p2.locator("#stats tr", { hasText: "computed in" }).textContent()}`,
    );
    await shot(p2, "big-stats", true);
    await p2.close();
  }, 600_000);

  it("converts the 1 GiB checkpoint to safetensors and zip streamed to disk, with page+worker memory far below its size; cancellable", async () => {
    const page = await fresh();
    await pick(page, big);
    // statistics of the 1 GiB tensor, cancelled part-way: the worker stops and the page says so
    await page.locator("[data-path='big.weight'] > .row").click();
    await page.click("#compute");
    await page.waitForFunction(
      () => ((document.querySelector("#progress") as HTMLProgressElement | null)?.value ?? 0) > 0.01,
      undefined,
      { timeout: 120_000, polling: 50 },
    );
    await page.click("#cancel");
    await expect(page.locator("#stats-error").textContent()).resolves.toBe("cancelled");
    expect(await page.locator("#histogram").count()).toBe(0);
    await convertTo(page, "opfs");
    // the bound: a quarter of the 1 GiB output (the writers hand 8 MiB chunks to the file)
    const BOUND = 256 << 20;
    const mib = (n: number) => `${(n / (1 << 20)).toFixed(1)} MiB`;

    let sampler = await heapSampler(page);
    const [stDownload] = await Promise.all([
      page.waitForEvent("download", { timeout: 300_000 }),
      page.click("#convert-safetensors"),
    ]);
    expect(await converted(page)).toMatch(
      /^wrote w2\.safetensors \(1\.07 GB\) to the browser's private storage/,
    );
    let mem = await sampler.stop();
    console.log(
      `1 GiB to safetensors: page+worker JS memory peak ${mib(mem.peak)} (page ${mib(mem.pagePeak)}, worker ${mib(mem.workerPeak)}) over ${mem.samples} samples`,
    );
    expect(mem.samples).toBeGreaterThan(2);
    expect(mem.peak).toBeLessThan(BOUND);
    expectBigSafetensors(await stDownload.path());
    await stDownload.delete();

    sampler = await heapSampler(page);
    const [zipDownload] = await Promise.all([
      page.waitForEvent("download", { timeout: 300_000 }),
      page.click("#convert-zip"),
    ]);
    expect(await converted(page)).toMatch(/^wrote w2\.pt \(1\.07 GB\) to the browser's private storage/);
    mem = await sampler.stop();
    console.log(
      `1 GiB to zip: page+worker JS memory peak ${mib(mem.peak)} (page ${mib(mem.pagePeak)}, worker ${mib(mem.workerPeak)}) over ${mem.samples} samples`,
    );
    expect(mem.samples).toBeGreaterThan(2);
    expect(mem.peak).toBeLessThan(BOUND);
    expect(torchLoadsEqual(big, await zipDownload.path())).toBe(4);
    await zipDownload.delete();

    // cancelled part-way: the progress bar moved, and nothing is left in the private file system
    await page.click("#convert-zip");
    await page.waitForFunction(
      () => ((document.querySelector("#convert-progress") as HTMLProgressElement | null)?.value ?? 0) > 0.05,
      undefined,
      { timeout: 120_000, polling: 50 },
    );
    await page.click("#convert-cancel");
    expect(await converted(page)).toBe("cancelled: what was written is removed");
    expect(await opfsOutputs(page)).toEqual([]);
    await page.close();
  }, 900_000);

  it("falls back to one download, with a note, when the server has no range support", async () => {
    const url = `${server.base}/norange/nn_cnn_bn_state_dict.zip.pt`;
    const page = await fresh(`?url=${encodeURIComponent(url)}`);
    await page.locator("#totals").waitFor();
    await expect(page.locator(".note").textContent()).resolves.toMatch(
      /does not support range requests.*downloading the whole file/,
    );
    await page.close();
  });

  it("reads in the dark theme and keeps working offline once loaded", async () => {
    const page = await fresh();
    await page.click("#theme");
    const theme = await page.evaluate(() => document.documentElement.dataset.theme);
    await pick(page, join(FIXTURES, "nn_cnn_bn_model.zip.pt"));
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(bg).toBe(theme === "dark" ? "rgb(13, 17, 23)" : "rgb(255, 255, 255)");
    if (theme !== "dark") await page.click("#theme");
    await shot(page, "dark");
    await page.close();
    // offline: the service worker serves the page's own files. The page comes from a server of
    // its own, which is then stopped: nothing but the service worker's cache can answer the reload
    const own = await startRangeServer({ static: DIST });
    const p2 = await context.newPage();
    p2.on("pageerror", (e) => {
      throw e;
    });
    try {
      await p2.goto(`${own.base}/index.html`);
      await p2.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
      await p2.reload();
      expect(await p2.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
      await own.close();
      expect(
        await fetch(`${own.base}/index.html`).then(
          () => "up",
          () => "down",
        ),
      ).toBe("down");
      await p2.reload();
      await p2.locator("#open-button").waitFor();
      await pick(p2, join(FIXTURES, "handmade_state_dict.zip.pt"));
      expect(await p2.locator("#totals").textContent()).toBe(
        "3 tensors, 9 parameters, 40 B in 3 storages (0 shared)",
      );
    } finally {
      await own.close().catch(() => undefined);
      await p2.close();
    }
  });
});
