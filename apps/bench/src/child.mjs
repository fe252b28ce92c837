#!/usr/bin/env node
// One measured operation of our library in a fresh process (our side of the benchmark pairs).
//
// usage: node --expose-gc apps/bench/src/child.mjs --op OP --file F [--out O] [--format zip|legacy]
//                                                   [--other B] [--url U] [--cpu-profile P]
//
//   load  loadFile(F)                                         (timed)
//   save  value = loadFile(F) (not timed); saveFile(value, O)   (timed)
//   list  openFile(F), walk its value for names, dtypes and shapes, close   (timed);
//         with --url U (W8): openUrl(U) from @pt/serialization (lazy, HTTP range requests)
//   convert  `pt convert F O` (W7: O.safetensors; W10: F a DCP folder, O a .pt), in process
//   diff  `pt diff F B --json`, in process
//   hash  `pt inspect F --hash --json`, in process
//   scan  `pt scan F --json`: every file of the folder F in one call (its worker pool), in process
//
// The CLI commands run in this process through apps/cli's `main(argv, io)` (apps/cli/dist must
// be built), so that, as for torch, the figure is the operation and not the interpreter start.
// Saves and converts call fdatasync on the output inside the timed region; `cpu_seconds` is
// process.cpuUsage() (user + system) over the operation.
// Prints one line `PT_BENCH_RESULT {json}` on stdout, like apps/bench/torch_child.py: seconds of
// the operation only (not the process start or the library import) and the peak RSS rise over
// the RSS just before the operation (VmHWM reset through /proc/self/clear_refs; see
// torch_child.py). A library that is not built, lacks the API or throws "not implemented" is
// reported as such (status "missing" / "not-implemented"), not as a crash.
// --cpu-profile P writes V8's CPU profile of the operation alone to P (a .cpuprofile file).
// PT_BENCH_LIBRARY=/path/to/module.js replaces @pt/serialization/node (used by the tests).
// PT_BENCH_LOAD_OPTIONS={"checkCrc":false} passes options to loadFile (variants, by hand only).

import { createHash } from "node:crypto";
import {
  closeSync,
  fdatasyncSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

/** @param {Record<string, unknown>} result */
function emit(result) {
  process.stdout.write(`PT_BENCH_RESULT ${JSON.stringify({ side: "ours", ...result })}\n`);
}

/** VmRSS and VmHWM of this process in bytes, from /proc/self/status. */
function status() {
  const text = readFileSync("/proc/self/status", "utf8");
  const get = (/** @type {string} */ key) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text);
    if (m === null) throw new Error(`bench: no ${key} in /proc/self/status`);
    return Number(m[1]) * 1024;
  };
  return { rss: get("VmRSS"), hwm: get("VmHWM") };
}

/**
 * The result line of a measured operation (`tensors`/`elements` and any extra fields in `counts`).
 * @param {string} op
 * @param {{ seconds: number; cpu: NodeJS.CpuUsage; before: { rss: number }; after: { rss: number }; peak: number; exact: boolean }} m
 *   wall and CPU time, RSS before and after, the peak RSS, and whether the peak is exact (clear_refs) or maxrss
 * @param {Record<string, unknown>} counts
 * @returns {Record<string, unknown>}
 */
function measuredResult(op, m, counts) {
  return {
    ok: true,
    op,
    seconds: m.seconds,
    cpu_seconds: (m.cpu.user + m.cpu.system) / 1e6,
    rss_before: m.before.rss,
    rss_after: m.after.rss,
    peak_rise: Math.max(0, m.peak - m.before.rss),
    peak_method: m.exact ? "clear_refs" : "maxrss",
    ...counts,
  };
}

/**
 * Records the size of the file an operation wrote, then removes it.
 * @param {Record<string, unknown>} result
 * @param {string} out
 */
function takeOutput(result, out) {
  result.out_size = statSync(out).size;
  unlinkSync(out);
}

/** Resets the peak RSS (VmHWM) to the current RSS; false where the kernel refuses. */
function resetPeak() {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a value looks like a @pt/tensor Tensor (shape, dtype with a name, storage).
 * @param {unknown} v
 * @returns {v is { shape: ArrayLike<number | bigint>; dtype: { name: string } }}
 */
function isTensorLike(v) {
  if (typeof v !== "object" || v === null || v instanceof Map || Array.isArray(v)) return false;
  const t = /** @type {{ shape?: unknown; dtype?: unknown; storage?: unknown }} */ (v);
  return (
    t.shape !== undefined &&
    typeof t.dtype === "object" &&
    t.dtype !== null &&
    typeof (/** @type {{ name?: unknown }} */ (t.dtype).name) === "string" &&
    "storage" in t
  );
}

/**
 * Walks dicts (Maps), lists and tuples (Arrays) for tensors: their count, total elements and
 * listing (name, dtype, shape), as torch_child.py's summarize does.
 * @param {unknown} root
 */
function summarize(root) {
  let tensors = 0;
  let elements = 0;
  /** @type {Array<[string, string, number[]]>} */
  const listing = [];
  /** @type {Array<[string, unknown]>} */
  const stack = [["", root]];
  const seen = new Set();
  while (stack.length > 0) {
    const [name, v] = /** @type {[string, unknown]} */ (stack.pop());
    if (isTensorLike(v)) {
      const shape = Array.from(v.shape, Number);
      tensors += 1;
      elements += shape.reduce((a, b) => a * b, 1);
      listing.push([name, v.dtype.name, shape]);
    } else if (v instanceof Map || Array.isArray(v)) {
      if (seen.has(v)) continue;
      seen.add(v);
      const entries = v instanceof Map ? [...v.entries()] : v.map((x, i) => [i, x]);
      for (const [k, x] of entries) stack.push([name === "" ? String(k) : `${name}.${String(k)}`, x]);
    }
  }
  return { tensors, elements, listing };
}

/**
 * Starts V8's sampling profiler on this thread (100 µs interval); the returned function stops
 * it and gives the profile (the .cpuprofile JSON), so that the profile covers the operation only.
 * @returns {Promise<() => Promise<unknown>>}
 */
async function startProfiler() {
  const { Session } = await import("node:inspector/promises");
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
  await session.post("Profiler.start");
  return async () => {
    const { profile } = await session.post("Profiler.stop");
    session.disconnect();
    return profile;
  };
}

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), "../../cli/dist/main.js");
const CLI_OPS = ["convert", "diff", "hash", "scan"];

/** @param {string} path */
function fsyncPath(path) {
  const fd = openSync(path, "r");
  try {
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Tensor count and total elements from a safetensors file's header (as torch_child.py reads it).
 * @param {string} path
 */
function safetensorsSummary(path) {
  const fd = openSync(path, "r");
  try {
    const len = Buffer.alloc(8);
    readSync(fd, len, 0, 8, 0);
    const n = Number(len.readBigUInt64LE(0));
    const text = Buffer.alloc(n);
    readSync(fd, text, 0, n, 8);
    /** @type {Record<string, { shape: number[] }>} */
    const header = JSON.parse(text.toString("utf8"));
    delete header.__metadata__;
    const entries = Object.values(header);
    return {
      tensors: entries.length,
      elements: entries.reduce((a, v) => a + v.shape.reduce((x, y) => x * y, 1), 0),
    };
  } finally {
    closeSync(fd);
  }
}

/**
 * Runs one `pt` command in this process; its stdout text and exit status.
 * @param {(argv: string[], io: object) => Promise<number>} main
 * @param {string[]} argv
 */
async function runCli(main, argv) {
  let out = "";
  let err = "";
  const io = {
    out: (/** @type {string} */ t) => {
      out += t;
    },
    err: (/** @type {string} */ t) => {
      err += t;
    },
    stderrIsTTY: false,
    columns: 80,
  };
  const code = await main(argv, io);
  return { code, out, err };
}

/**
 * Classifies a failure: "not-implemented" when the library says so, else "error".
 * @param {unknown} e
 */
function failure(e) {
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  const status = /not (yet )?implemented/i.test(message) ? "not-implemented" : "error";
  return { ok: false, status, error: message.slice(0, 500) };
}

async function main() {
  const { values } = parseArgs({
    options: {
      op: { type: "string" },
      file: { type: "string" },
      out: { type: "string" },
      format: { type: "string", default: "zip" },
      other: { type: "string" },
      url: { type: "string" },
      "cpu-profile": { type: "string" },
    },
  });
  const { op, file, out, format, other, url } = values;
  const profilePath = values["cpu-profile"];
  const ops = ["load", "save", "list", ...CLI_OPS];
  if (op === undefined || !ops.includes(op) || (file === undefined && url === undefined)) {
    throw new Error(
      "bench child: usage: --op load|save|list|convert|diff|hash|scan --file F [--out O] [--format zip|legacy] [--other B] [--url U]",
    );
  }
  if ((op === "save" || op === "convert") && out === undefined)
    throw new Error(`bench child: --op ${op} needs --out`);
  if (op === "diff" && other === undefined) throw new Error("bench child: --op diff needs --other");
  if (CLI_OPS.includes(op)) {
    await cliOp(op, /** @type {string} */ (file), out, other, profilePath);
    return;
  }
  if (format !== "zip" && format !== "legacy") throw new Error(`bench child: unknown --format ${format}`);

  /** @type {Record<string, unknown>} */
  let api;
  const override = process.env.PT_BENCH_LIBRARY;
  try {
    api = override ? await import(pathToFileURL(override).href) : await import("@pt/serialization/node");
    // openUrl lives in the package's root (it is not Node-only)
    if (url !== undefined && !override)
      api = { ...api, openUrl: (await import("@pt/serialization")).openUrl };
  } catch (e) {
    const code = /** @type {{ code?: unknown }} */ (e).code;
    const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
    emit({ ok: false, status: "missing", error: `cannot import @pt/serialization/node (${code}): ${why}` });
    return;
  }
  const needed =
    op === "list"
      ? [url === undefined ? "openFile" : "openUrl"]
      : op === "save"
        ? ["loadFile", "saveFile"]
        : ["loadFile"];
  const absent = needed.filter((f) => typeof api[f] !== "function");
  if (absent.length > 0) {
    emit({
      ok: false,
      status: "missing",
      error: `@pt/serialization/node exports no ${absent.join(", ")} (not built yet?)`,
    });
    return;
  }
  // PT_BENCH_LOAD_OPTIONS='{"checkCrc":false}': options for our loadFile (to measure a variant)
  const loadOptions = JSON.parse(process.env.PT_BENCH_LOAD_OPTIONS ?? "{}");
  const loadFileRaw = /** @type {(path: string, o?: object) => Promise<unknown>} */ (api.loadFile);
  const loadFile = (/** @type {string} */ path) => loadFileRaw(path, loadOptions);
  const saveFile = /** @type {(v: unknown, path: string, o?: object) => Promise<void>} */ (api.saveFile);
  const openFile = /** @type {(path: string) => Promise<{ value: unknown; close(): Promise<void> }>} */ (
    api.openFile
  );
  const gc = /** @type {(() => void) | undefined} */ (globalThis.gc);

  /** @type {unknown} */
  let value;
  let listed = 0;
  try {
    if (op === "save") value = await loadFile(/** @type {string} */ (file));
    gc?.();
    const before = status();
    const exact = resetPeak();
    const profiler = profilePath === undefined ? null : await startProfiler();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    if (op === "load") {
      value = await loadFile(/** @type {string} */ (file));
    } else if (op === "save") {
      await saveFile(value, /** @type {string} */ (out), format === "legacy" ? { format: "legacy" } : {});
      fsyncPath(/** @type {string} */ (out));
    } else {
      const handle =
        url === undefined
          ? await openFile(/** @type {string} */ (file))
          : await /** @type {(u: string) => Promise<{ value: unknown; close(): Promise<void> }>} */ (
              api.openUrl
            )(url);
      listed = summarize(handle.value).listing.length;
      value = handle.value;
      await handle.close();
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(c0);
    if (profiler !== null)
      writeFileSync(/** @type {string} */ (profilePath), JSON.stringify(await profiler()));
    const after = status();
    const peak = exact ? after.hwm : process.resourceUsage().maxRSS * 1024;
    const { tensors, elements } = summarize(value);
    const result = measuredResult(op, { seconds, cpu, before, after, peak, exact }, { tensors, elements });
    if (op === "list") result.listed = listed;
    if (op === "save") takeOutput(result, /** @type {string} */ (out));
    emit(result);
  } catch (e) {
    emit({ op, ...failure(e) });
  }
}

/**
 * One `pt` command measured in this process.
 * @param {string} op
 * @param {string} file
 * @param {string | undefined} out
 * @param {string | undefined} other
 * @param {string | undefined} profilePath
 */
async function cliOp(op, file, out, other, profilePath) {
  /** @type {(argv: string[], io: object) => Promise<number>} */
  let main;
  try {
    main = (await import(pathToFileURL(process.env.PT_BENCH_CLI ?? CLI).href)).main;
    if (typeof main !== "function") throw new Error("no main export");
  } catch (e) {
    const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
    emit({
      op,
      ok: false,
      status: "missing",
      error: `cannot import apps/cli/dist/main.js: ${why} (pnpm build)`,
    });
    return;
  }
  const gc = /** @type {(() => void) | undefined} */ (globalThis.gc);
  try {
    gc?.();
    const before = status();
    const exact = resetPeak();
    const profiler = profilePath === undefined ? null : await startProfiler();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    /** @type {{ code: number; out: string; err: string }[]} */
    const runs = [];
    if (op === "convert") {
      runs.push(await runCli(main, ["convert", file, /** @type {string} */ (out)]));
      if (runs[0]?.code === 0) fsyncPath(/** @type {string} */ (out));
    } else if (op === "diff") {
      runs.push(await runCli(main, ["diff", file, /** @type {string} */ (other), "--json"]));
    } else if (op === "hash") {
      runs.push(await runCli(main, ["inspect", file, "--hash", "--json"]));
    } else {
      runs.push(await runCli(main, ["scan", file, "--json"]));
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(c0);
    if (profiler !== null)
      writeFileSync(/** @type {string} */ (profilePath), JSON.stringify(await profiler()));
    const after = status();
    const peak = exact ? after.hwm : process.resourceUsage().maxRSS * 1024;
    // exit status 1 means "they differ" (diff) or "unsafe" (scan): a result, not a failure
    const failed = runs.find((r) => r.code !== 0 && !(r.code === 1 && (op === "diff" || op === "scan")));
    if (failed !== undefined && op !== "scan") {
      if (op === "convert" && statSync(file).isDirectory()) {
        // W10: the DCP reader is being written on another branch; this turns on by itself
        const why = failed.err.trim().split("\n").slice(-1).join("");
        emit({
          op,
          ok: false,
          status: "missing",
          error: `not available on this branch (pt convert DIR out.pt: ${why})`,
        });
        return;
      }
      const message = `pt ${op} exited ${failed.code}: ${failed.err.trim().split("\n").slice(-2).join(" | ")}`;
      emit({ op, ...failure(new Error(message)) });
      return;
    }
    let tensors = 0;
    let elements = 0;
    /** @type {Record<string, unknown>} */
    const extra = {};
    if (op === "convert") {
      if (/** @type {string} */ (out).endsWith(".safetensors"))
        ({ tensors, elements } = safetensorsSummary(/** @type {string} */ (out)));
    } else if (op === "diff") {
      const d = JSON.parse(/** @type {{ out: string }} */ (runs[0]).out);
      /** @type {Array<{ differing: number }>} */
      const values = (d.values ?? []).filter((/** @type {{ differing: number }} */ v) => v.differing > 0);
      tensors = values.length;
      elements = values.reduce((a, v) => a + v.differing, 0);
    } else if (op === "hash") {
      const d = JSON.parse(/** @type {{ out: string }} */ (runs[0]).out);
      /** @type {Array<{ shape: number[]; sha256: string }>} */
      const ts = d.tensors ?? [];
      tensors = ts.length;
      elements = ts.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
      const digests = ts.map((t) => t.sha256).sort();
      extra.digest = createHash("sha256").update(digests.join("\n")).digest("hex");
    } else {
      // the last JSON line is the summary of the whole call
      const lines = /** @type {{ out: string }} */ (runs[0]).out.trim().split("\n");
      const summary = JSON.parse(/** @type {string} */ (lines.at(-1)));
      tensors = summary.files;
      extra.failed_files = summary.unreadable;
    }
    const result = measuredResult(
      op,
      { seconds, cpu, before, after, peak, exact },
      { tensors, elements, ...extra },
    );
    if (op === "convert") takeOutput(result, /** @type {string} */ (out));
    emit(result);
  } catch (e) {
    emit({ op, ...failure(e) });
  }
}

await main();
