#!/usr/bin/env node
// One measured operation of our library in a fresh process (our side of the benchmark pairs).
//
// usage: node --expose-gc apps/bench/src/child.mjs --op load|save|list --file F [--out O] [--format zip|legacy]
//                                                   [--cpu-profile P]
//
//   load  loadFile(F)                                         (timed)
//   save  value = loadFile(F) (not timed); saveFile(value, O)   (timed)
//   list  openFile(F), walk its value for names, dtypes and shapes, close   (timed)
//
// Prints one line `PT_BENCH_RESULT {json}` on stdout, like apps/bench/torch_child.py: seconds of
// the operation only (not the process start or the library import) and the peak RSS rise over
// the RSS just before the operation (VmHWM reset through /proc/self/clear_refs; see
// torch_child.py). A library that is not built, lacks the API or throws "not implemented" is
// reported as such (status "missing" / "not-implemented"), not as a crash.
// --cpu-profile P writes V8's CPU profile of the operation alone to P (a .cpuprofile file).
// PT_BENCH_LIBRARY=/path/to/module.js replaces @pt/serialization/node (used by the tests).
// PT_BENCH_LOAD_OPTIONS={"checkCrc":false} passes options to loadFile (variants, by hand only).

import { readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
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
      "cpu-profile": { type: "string" },
    },
  });
  const { op, file, out, format } = values;
  const profilePath = values["cpu-profile"];
  if ((op !== "load" && op !== "save" && op !== "list") || file === undefined) {
    throw new Error("bench child: usage: --op load|save|list --file F [--out O] [--format zip|legacy]");
  }
  if (op === "save" && out === undefined) throw new Error("bench child: --op save needs --out");
  if (format !== "zip" && format !== "legacy") throw new Error(`bench child: unknown --format ${format}`);

  /** @type {Record<string, unknown>} */
  let api;
  const override = process.env.PT_BENCH_LIBRARY;
  try {
    api = override ? await import(pathToFileURL(override).href) : await import("@pt/serialization/node");
  } catch (e) {
    const code = /** @type {{ code?: unknown }} */ (e).code;
    const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
    emit({ ok: false, status: "missing", error: `cannot import @pt/serialization/node (${code}): ${why}` });
    return;
  }
  const needed = op === "list" ? ["openFile"] : op === "save" ? ["loadFile", "saveFile"] : ["loadFile"];
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
    if (op === "save") value = await loadFile(file);
    gc?.();
    const before = status();
    const exact = resetPeak();
    const profiler = profilePath === undefined ? null : await startProfiler();
    const t0 = performance.now();
    if (op === "load") {
      value = await loadFile(file);
    } else if (op === "save") {
      await saveFile(value, /** @type {string} */ (out), format === "legacy" ? { format: "legacy" } : {});
    } else {
      const handle = await openFile(file);
      listed = summarize(handle.value).listing.length;
      value = handle.value;
      await handle.close();
    }
    const seconds = (performance.now() - t0) / 1000;
    if (profiler !== null)
      writeFileSync(/** @type {string} */ (profilePath), JSON.stringify(await profiler()));
    const after = status();
    const peak = exact ? after.hwm : process.resourceUsage().maxRSS * 1024;
    const { tensors, elements } = summarize(value);
    /** @type {Record<string, unknown>} */
    const result = {
      ok: true,
      op,
      seconds,
      rss_before: before.rss,
      rss_after: after.rss,
      peak_rise: Math.max(0, peak - before.rss),
      peak_method: exact ? "clear_refs" : "maxrss",
      tensors,
      elements,
    };
    if (op === "list") result.listed = listed;
    if (op === "save") {
      result.out_size = statSync(/** @type {string} */ (out)).size;
      unlinkSync(/** @type {string} */ (out));
    }
    emit(result);
  } catch (e) {
    emit({ op, ...failure(e) });
  }
}

await main();
