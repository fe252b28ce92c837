/**
 * End-to-end: the built site (dist/) in a real Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core), opening real files and checking what a person sees. Screenshots of the main
 * views are taken by these tests (into docs/ with PT_WEB_SCREENSHOTS=1, else a temporary folder).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { main as ptMain } from "@pt/cli";
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

function fmtBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)} ${units[u]}`;
}

/** The totals line the page shows, from `pt inspect --json`'s totals. */
function totalsText(t: Record<string, number>): string {
  const n = t.tensors as number;
  const s = t.storages as number;
  return `${n} tensor${n === 1 ? "" : "s"}, ${(t.parameters as number).toLocaleString("en-US")} parameters, ${fmtBytes(t.bytes as number)} in ${s} storage${s === 1 ? "" : "s"} (${t.shared_storages} shared)`;
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
    await page.click("#tab-convert");
    for (const format of ["zip", "legacy"] as const) {
      const [download] = await Promise.all([page.waitForEvent("download"), page.click(`#convert-${format}`)]);
      const out = join(tmp, `converted.${format}.pt`);
      await download.saveAs(out);
      const check = spawnSync("/usr/bin/python3", [
        "-c",
        [
          "import sys, torch",
          "a = torch.load(sys.argv[1]); b = torch.load(sys.argv[2])",
          "assert list(a) == list(b), (list(a), list(b))",
          "for k in a: assert a[k].dtype == b[k].dtype and a[k].stride() == b[k].stride() and torch.equal(a[k], b[k]), k",
          "print(len(a))",
        ].join("\n"),
        a,
        out,
      ]);
      expect(check.status, String(check.stderr)).toBe(0);
      expect(String(check.stdout).trim()).toBe("9");
    }
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#convert-safetensors")]);
    const st = join(tmp, "converted.safetensors");
    await download.saveAs(st);
    const bytes = readFileSync(st);
    const n = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString("utf8")) as Record<
      string,
      { dtype: string; shape: number[]; data_offsets: number[] }
    >;
    expect(header["4.weight"]).toEqual({ dtype: "F32", shape: [2, 27], data_offsets: expect.any(Array) });
    const sd = (await loadFile(a)) as Map<string, Tensor>;
    const [s0, s1] = (header["4.weight"]?.data_offsets ?? []) as number[];
    expect(new Uint8Array(bytes.subarray(8 + n + (s0 as number), 8 + n + (s1 as number)))).toEqual(
      (sd.get("4.weight") as Tensor).storage.bytes,
    );
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
    const check = spawnSync("/usr/bin/python3", [
      "-c",
      "import sys, torch\na = torch.load(sys.argv[1]); b = torch.load(sys.argv[2])\nassert sorted(a) == sorted(b)\nassert all(torch.equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a)\nprint(len(b))",
      full,
      out,
    ]);
    expect(check.status, String(check.stderr)).toBe(0);
    expect(String(check.stdout).trim()).toBe("9");
    await page.close();
  });

  it("opens every fixture and corpus file with the totals `pt inspect` gives", async () => {
    const files = [
      ...readdirSync(FIXTURES)
        .filter((f) => f.endsWith(".pt"))
        .map((f) => join(FIXTURES, f)),
      ...readdirSync(CORPUS).map((f) => join(CORPUS, f)),
    ].filter((f) => statSync(f).isFile());
    expect(files.length).toBeGreaterThan(200);
    let page = await fresh();
    const mismatches: string[] = [];
    for (const [i, f] of files.entries()) {
      if (i % 40 === 0) {
        await page.close();
        page = await fresh();
      }
      await pick(page, f);
      const { code, json } = await ptInspect(f);
      const shown = await page.locator("#totals").textContent();
      const error = await page.locator("#load-error").count();
      if (code === 0) {
        const want = totalsText(json?.totals as Record<string, number>);
        if (shown !== want || error)
          mismatches.push(`${f}: page "${shown}"${error ? " (error)" : ""}, pt inspect "${want}"`);
      } else if (!error) mismatches.push(`${f}: pt inspect fails, the page shows no error`);
    }
    await page.close();
    expect(mismatches).toEqual([]);
  }, 600_000);

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
    // offline: the service worker serves the page's own files
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
    await page.reload();
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
    await context.setOffline(true);
    try {
      await page.reload();
      await page.locator("#open-button").waitFor();
      await pick(page, join(FIXTURES, "handmade_state_dict.zip.pt"));
      expect(await page.locator("#totals").textContent()).toBe(
        "3 tensors, 9 parameters, 40 B in 3 storages (0 shared)",
      );
    } finally {
      await context.setOffline(false);
    }
    await page.close();
  });
});
