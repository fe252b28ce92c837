#!/usr/bin/env node
// The benchmark runner of issue 9: ours against torch, alternating fresh processes.

import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { buildFloors, formatFloorsTable, parseProbeOutput } from "./floors.mjs";
import { machineInfo } from "./machine.mjs";
import { formatProfile, summarizeProfile } from "./profile.mjs";
import { compareResults, parseChildOutput } from "./protocol.mjs";
import { buildRow, formatBytes, formatDetailTable, formatSummaryTable } from "./report.mjs";
import { pairOrder } from "./stats.mjs";
import { renderSvg } from "./svg.mjs";
import { selectWorkloads } from "./targets.mjs";

const APP = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const REPO = resolve(APP, "../..");
const CHILD = join(APP, "src", "child.mjs");
const TORCH_CHILD = join(APP, "torch_child.py");
const GENERATE = join(APP, "generate.py");
const TORCH2_PYTHON = join(REPO, "scripts", "torch2-python");
const FLOORS_CHILD = join(APP, "src", "floors-child.mjs");
const TORCH_FLOORS_CHILD = join(APP, "floors_child.py");
/** The workloads `--floors` probes: the small-tensor ones, whose loads are not bound by the disk. */
const FLOOR_WORKLOADS = new Set(["W3", "W4"]);
/** Probe processes per side and workload. */
const FLOOR_PROBES = 3;

/**
 * The generated files a workload reads (manifest ids of generate.py).
 * @param {import("./targets.mjs").Workload} w
 * @returns {string[]}
 */
function neededFiles(w) {
  if (w.fixed) return [];
  if (w.id === "W6" || w.id === "W8" || w.id === "W11") return ["W2"];
  if (w.id === "W9") return ["W2", "W9B"];
  return [w.id];
}

/** Bytes of a file, or of the files directly in a folder (W10's DCP, W12's corpus). @param {string} path */
function sizeOf(path) {
  const s = statSync(path);
  if (!s.isDirectory()) return s.size;
  return readdirSync(path).reduce((a, f) => a + statSync(join(path, f)).size, 0);
}

/**
 * A local HTTP server of one file with range requests (W8), counting the bytes it sends.
 * @param {string} path
 */
async function serveFile(path) {
  const size = statSync(path).size;
  let sent = 0;
  const server = createServer((req, res) => {
    const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? "");
    let start = 0;
    let end = size - 1;
    if (m !== null) {
      if (m[1] === "") start = Math.max(0, size - Number(m[2]));
      else {
        start = Number(m[1]);
        if (m[2] !== "") end = Math.min(size - 1, Number(m[2]));
      }
      if (start > end || start >= size) {
        res.writeHead(416, { "content-range": `bytes */${size}` }).end();
        return;
      }
    }
    const length = end - start + 1;
    const headers = {
      "accept-ranges": "bytes",
      "content-length": String(length),
      "content-type": "application/octet-stream",
      ...(m !== null ? { "content-range": `bytes ${start}-${end}/${size}` } : {}),
    };
    res.writeHead(m !== null ? 206 : 200, headers);
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    const stream = createReadStream(path, { start, end });
    stream.on("data", (chunk) => {
      sent += chunk.length;
    });
    stream.pipe(res);
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(undefined)));
  const address = /** @type {import("node:net").AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${address.port}/${path.split("/").pop()}`,
    /** bytes sent since the last call */
    take() {
      const n = sent;
      sent = 0;
      return n;
    },
    close: () => new Promise((ok) => server.close(() => ok(undefined))),
  };
}

const USAGE = `usage: node apps/bench/src/run.mjs [options]   (pnpm bench runs it with no options)

  --only W1,W3     workloads to run (default all; env PT_BENCH_ONLY)
  --scale S        shrink every workload by S, e.g. 0.05 (default 1; env PT_BENCH_SCALE)
  --pairs N        alternated ours/torch pairs per operation, at least 1 (default 5; env PT_BENCH_PAIRS)
  --warmup N       discarded runs of each side before the pairs (default 1)
  --self-test      torch against torch: checks the machinery (ratios should be ~1)
  --dir D          scratch folder of the workloads (default $TMPDIR/pt-bench/s<scale>; env PT_BENCH_DIR)
  --python P       Python with torch (default /usr/bin/python3; env PT_BENCH_PYTHON)
  --results D      where the JSON and SVG go (default apps/bench/results)
  --name N         their base name (default latest; self-test and partial runs: self-test, partial)
  --timeout S      seconds allowed to one child process (default 900)
  --profile        after the pairs, one more run of ours per operation under V8's CPU profiler (the
                   operation only): the .cpuprofile goes to <results>/profiles/ (open it in Chrome
                   DevTools), its top self times to stdout and the JSON
  --floors         after the pairs of W3 and W4, 3 alternated probe processes per side
                   (src/floors-child.mjs, floors_child.py) measuring what their load and save are
                   made of: cold and warm loads, reading the file into fresh memory, the CRC
                   passes, parsing alone, cold and warm saves; a table of them and the floors
                   they give, in the JSON under "floors"
  --floors-only    the probes alone, no pairs (implies --floors)
`;

/** @param {string} name @param {string | undefined} text @param {number} min */
function positive(name, text, min) {
  const v = Number(text);
  if (!Number.isFinite(v) || v < min)
    throw new RangeError(`bench: ${name} must be a number ≥ ${min}, got ${text}`);
  return v;
}

function options() {
  // pnpm/turbo may forward a lone "--" before the options: drop it.
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((a) => a !== "--"),
    options: {
      only: { type: "string" },
      scale: { type: "string" },
      pairs: { type: "string" },
      warmup: { type: "string" },
      "self-test": { type: "boolean", default: false },
      dir: { type: "string" },
      python: { type: "string" },
      results: { type: "string" },
      name: { type: "string" },
      timeout: { type: "string" },
      profile: { type: "boolean", default: false },
      floors: { type: "boolean", default: false },
      "floors-only": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  const env = process.env;
  const scale = positive("--scale", values.scale ?? env.PT_BENCH_SCALE ?? "1", 1e-6);
  if (scale > 4) throw new RangeError(`bench: --scale must be ≤ 4, got ${scale}`);
  const only = values.only ?? env.PT_BENCH_ONLY;
  const selfTest = values["self-test"] === true;
  const partial = scale !== 1 || (only !== undefined && only.trim() !== "");
  return {
    help: values.help === true,
    workloads: selectWorkloads(only),
    only: only ?? null,
    scale,
    pairs: Math.floor(positive("--pairs", values.pairs ?? env.PT_BENCH_PAIRS ?? "5", 1)),
    warmup: Math.floor(positive("--warmup", values.warmup ?? "1", 0)),
    selfTest,
    dir: resolve(values.dir ?? env.PT_BENCH_DIR ?? join(tmpdir(), "pt-bench", `s${scale}`)),
    python: values.python ?? env.PT_BENCH_PYTHON ?? "/usr/bin/python3",
    results: resolve(values.results ?? join(APP, "results")),
    name: values.name ?? (selfTest ? "self-test" : partial ? "partial" : "latest"),
    profile: values.profile === true,
    floors: values.floors === true || values["floors-only"] === true,
    floorsOnly: values["floors-only"] === true,
    timeoutMs: positive("--timeout", values.timeout ?? "900", 1) * 1000,
  };
}

/**
 * Runs one child process and reads its report.
 * @param {string} command
 * @param {string[]} args
 * @param {number} timeoutMs
 */
function runChild(command, args, timeoutMs) {
  return spawnChild(command, args, timeoutMs, parseChildOutput);
}

/**
 * Runs one child process; `parse` reads its output.
 * @template R
 * @param {string} command
 * @param {string[]} args
 * @param {number} timeoutMs
 * @param {(stdout: string, stderr: string, code: number | null, signal: string | null) => R} parse
 * @returns {Promise<R | { ok: false; status: "error"; error: string }>}
 */
function spawnChild(command, args, timeoutMs, parse) {
  return new Promise((resolveRun) => {
    const child = spawn(command, args, { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d) => {
      stderr = (stderr + d).slice(-20_000);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      resolveRun({
        ok: /** @type {const} */ (false),
        status: "error",
        error: `cannot start ${command}: ${e.message}`,
      });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolveRun(parse(stdout, stderr, code, signal));
    });
  });
}

/**
 * Makes sure the scratch folder holds the selected workloads at this scale (generating the
 * missing or stale ones with generate.py) and returns the manifest.
 * @param {ReturnType<typeof options>} o
 */
function ensureWorkloads(o) {
  const manifestPath = join(o.dir, "manifest.json");
  const read = () =>
    existsSync(manifestPath) ? JSON.parse(readFileSync(manifestPath, "utf8")) : { workloads: {} };
  let manifest = read();
  const ids = new Set(o.workloads.flatMap(neededFiles));
  const stale = [...ids].filter((id) => {
    const e = manifest.workloads?.[id];
    if (e === undefined || e.scale !== o.scale) return true;
    const path = join(o.dir, e.file);
    return !existsSync(path) || sizeOf(path) !== e.size;
  });
  // W10 (a DCP folder) is made by torch 2.x; everything else by the oracle's Python
  for (const [python, group] of /** @type {const} */ ([
    [o.python, stale.filter((id) => id !== "W10")],
    [TORCH2_PYTHON, stale.filter((id) => id === "W10")],
  ])) {
    if (group.length === 0) continue;
    process.stderr.write(`bench: generating ${group.join(", ")} at scale ${o.scale} into ${o.dir}\n`);
    const r = spawnSync(
      python,
      [GENERATE, "--out", o.dir, "--scale", String(o.scale), "--only", group.join(",")],
      { stdio: ["ignore", "ignore", "inherit"], cwd: REPO },
    );
    if (r.status !== 0)
      throw new Error(`bench: generate.py failed (exit code ${r.status}, ${r.error ?? ""})`);
    manifest = read();
  }
  return manifest;
}

function libraryInfo() {
  /** @type {{ name: string; version: string | null; commit: string | null }} */
  const info = { name: "@pt/serialization", version: null, commit: null };
  try {
    info.version = JSON.parse(
      readFileSync(join(REPO, "packages/serialization/package.json"), "utf8"),
    ).version;
  } catch {}
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], {
      cwd: REPO,
      encoding: "utf8",
    }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "packages"], {
      cwd: REPO,
      encoding: "utf8",
    });
    info.commit = dirty.trim() === "" ? head : `${head}+dirty`;
  } catch {}
  return info;
}

/** @param {number} s */
function short(s) {
  return s < 1 ? `${(s * 1000).toFixed(0)} ms` : `${s.toFixed(2)} s`;
}

/** `sync`: flush dirty pages to disk (ignored where there is no such command). */
function settle() {
  spawnSync("sync", [], { stdio: "ignore" });
}

async function main() {
  const o = options();
  if (o.help) {
    process.stdout.write(USAGE);
    return;
  }
  mkdirSync(o.dir, { recursive: true });
  const manifest = ensureWorkloads(o);
  settle(); // workloads just written: their writeback must not land on the first runs
  const machine = { ...machineInfo(), torch: manifest.torch ?? null, python: manifest.python ?? null };
  const library = libraryInfo();
  process.stderr.write(
    `bench: ${o.selfTest ? "SELF-TEST torch vs torch" : "ours vs torch"}, ${o.pairs} pairs, scale ${o.scale}, ${machine.cpu} ×${machine.cores}\n`,
  );

  /**
   * @param {"ours" | "torch"} side
   * @param {import("./targets.mjs").Workload} w
   * @param {import("./targets.mjs").Op} op
   * @param {string[]} [childFlags] extra flags for our side's child (src/child.mjs)
   */
  const run = (side, w, op, childFlags = []) => {
    const ext = w.id === "W7" ? "safetensors" : "pt";
    const out = join(o.dir, `out-${side}.${ext}`);
    const common = ["--op", op];
    if (w.http && server !== null) common.push("--url", server.url);
    else common.push("--file", w.fixed ? join(REPO, w.file) : join(o.dir, w.file));
    if (op === "save") common.push("--out", out, "--format", w.format);
    if (op === "convert") common.push("--out", out);
    if (w.other !== undefined) common.push("--other", join(o.dir, w.other));
    const python = w.python === "torch2" ? TORCH2_PYTHON : o.python;
    server?.take();
    const result =
      side === "ours" && !o.selfTest
        ? runChild(process.execPath, ["--expose-gc", CHILD, ...common, ...childFlags], o.timeoutMs)
        : runChild(python, [TORCH_CHILD, ...common], o.timeoutMs);
    return result
      .then((r) => (r.ok && server !== null ? { ...r, fetched: server.take() } : r))
      .finally(() => {
        rmSync(out, { force: true });
        // A save leaves up to a GiB of dirty pages whose writeback would land on whichever run
        // comes next (either side): flushed here, outside every timed region.
        if (op === "save" || op === "convert") settle();
      });
  };
  /** @type {Awaited<ReturnType<typeof serveFile>> | null} */
  let server = null;

  /**
   * One more run of ours under the V8 sampling profiler; its top self times.
   * @param {import("./targets.mjs").Workload} w
   * @param {import("./targets.mjs").Op} op
   */
  const profileOurs = async (w, op) => {
    const dir = join(o.results, "profiles");
    const name = `${o.name}-${w.id}-${op}.cpuprofile`;
    mkdirSync(dir, { recursive: true });
    rmSync(join(dir, name), { force: true });
    const r = await run("ours", w, op, ["--cpu-profile", join(dir, name)]);
    if (!r.ok || !readdirSync(dir).includes(name)) {
      process.stderr.write(`  ${w.id} ${op}: profiling run failed${r.ok ? "" : `: ${r.error}`}\n`);
      return null;
    }
    const top = summarizeProfile(JSON.parse(readFileSync(join(dir, name), "utf8")));
    profileText.push(
      `### ${w.id} ${op}: our top self times (${relative(REPO, join(dir, name))})\n\n\`\`\`\n${formatProfile(top)}\n\`\`\`\n`,
    );
    return top;
  };

  /** @type {import("./floors.mjs").Floors[]} */
  const floors = [];
  /**
   * The floor probes of workload `w`: 3 alternated fresh processes per side.
   * @param {import("./targets.mjs").Workload} w
   */
  const probeFloors = async (w) => {
    const file = join(o.dir, w.file);
    /** @type {Record<string, unknown>[]} */
    const ours = [];
    /** @type {Record<string, unknown>[]} */
    const torch = [];
    for (let i = 0; i < FLOOR_PROBES; i++) {
      for (const side of pairOrder(i)) {
        const out = join(o.dir, `floor-${side}.pt`);
        const r =
          side === "ours"
            ? await spawnChild(
                process.execPath,
                ["--expose-gc", FLOORS_CHILD, "--file", file, "--out", out],
                o.timeoutMs,
                parseProbeOutput,
              )
            : await spawnChild(
                o.python,
                [TORCH_FLOORS_CHILD, "--file", file, "--out", out],
                o.timeoutMs,
                parseProbeOutput,
              );
        rmSync(out, { force: true });
        settle();
        if (!r.ok) {
          process.stderr.write(`  ${w.id} floors ${side}: ${r.error}\n`);
          return null;
        }
        (side === "ours" ? ours : torch).push(r.result);
        const get = (/** @type {string} */ k) => short(Number(r.result[k]) / 1000);
        process.stderr.write(
          `  ${w.id} floors ${i + 1}/${FLOOR_PROBES} ${side}: load cold ${get("load_cold_ms")}, warm ${get("load_warm_ms")}, read ${get("read_ms")}${side === "ours" ? `, first CRC pass ${get("touch_ms")}` : ""}\n`,
        );
      }
    }
    return buildFloors(w.id, ours, torch);
  };

  /** @type {import("./report.mjs").Row[]} */
  const rows = [];
  /** @type {Array<{ workload: string; op: string; top: import("./profile.mjs").ProfileEntry[] }>} */
  const profiles = [];
  /** @type {string[]} */
  const profileText = [];
  const methods = new Set();
  for (const w of o.workloads) {
    const first = neededFiles(w)[0];
    const entry = first === undefined ? { size: sizeOf(join(REPO, w.file)) } : manifest.workloads[first];
    if (w.http) server = await serveFile(join(o.dir, w.file));
    for (const op of o.floorsOnly ? [] : w.ops) {
      /** @type {import("./report.mjs").RowStatus} */
      let status = "ok";
      /** @type {string | null} */
      let note = null;
      const oursRuns = [];
      const torchRuns = [];
      let torchFailed = false;
      const fail = (
        /** @type {"ours" | "torch"} */ side,
        /** @type {{ status: string; error: string }} */ r,
      ) => {
        if (side === "torch") torchFailed = true;
        status = side === "torch" ? "error" : /** @type {typeof status} */ (r.status);
        note = `${side === "ours" && o.selfTest ? "ours (torch)" : side}: ${r.error}`;
        process.stderr.write(`  ${w.id} ${op} ${side}: ${r.status}: ${r.error}\n`);
      };
      const oursActive = () => status === "ok" || status === "mismatch";
      for (let k = 0; k < o.warmup && !torchFailed; k++) {
        for (const side of /** @type {const} */ (["ours", "torch"])) {
          if (side === "ours" && !oursActive()) continue;
          const r = await run(side, w, op);
          if (!r.ok) fail(side, r);
        }
      }
      // Pairs go on without our side when it is missing or failed: torch's absolute figures
      // still fill the report.
      for (let i = 0; i < o.pairs && !torchFailed; i++) {
        /** @type {Record<string, import("./protocol.mjs").ChildResult>} */
        const pair = {};
        for (const side of pairOrder(i)) {
          if (side === "ours" && !oursActive()) continue;
          const r = await run(side, w, op);
          if (!r.ok) {
            fail(side, r);
            if (side === "torch") break;
            continue;
          }
          pair[side] = r;
          methods.add(r.peakMethod);
        }
        if (pair.torch === undefined) break;
        torchRuns.push(pair.torch);
        if (pair.ours !== undefined && oursActive()) {
          oursRuns.push(pair.ours);
          const diff = compareResults(pair.ours, pair.torch);
          if (diff !== null && status === "ok") {
            status = "mismatch";
            note = `ours and torch disagree: ${diff}`;
          }
        }
        const ours = pair.ours ? short(pair.ours.seconds) : "—";
        const cpu = (/** @type {import("./protocol.mjs").ChildResult} */ r) =>
          r.cpuSeconds === null || r.cpuSeconds === undefined ? "" : ` (CPU ${short(r.cpuSeconds)})`;
        const ratio = pair.ours ? ` ratio ${(pair.ours.seconds / pair.torch.seconds).toFixed(3)}` : "";
        process.stderr.write(
          `  ${w.id} ${op} pair ${i + 1}/${o.pairs}: ours ${ours}${pair.ours ? cpu(pair.ours) : ""}, torch ${short(pair.torch.seconds)}${cpu(pair.torch)}${ratio}\n`,
        );
      }
      const row = buildRow({ workload: w, op, fileSize: entry.size, oursRuns, torchRuns, status, note });
      if (op === "save")
        row.outSize = { ours: oursRuns[0]?.outSize ?? null, torch: torchRuns[0]?.outSize ?? null };
      rows.push(row);
      if (o.profile && !o.selfTest && oursActive()) {
        const entries = await profileOurs(w, op);
        if (entries !== null) profiles.push({ workload: w.id, op, top: entries });
      }
    }
    await server?.close();
    server = null;
    if (o.floors && !o.selfTest && FLOOR_WORKLOADS.has(w.id)) {
      const f = await probeFloors(w);
      if (f !== null) floors.push(f);
    }
  }

  const date = new Date().toISOString();
  const report = {
    schema: 1,
    date,
    selfTest: o.selfTest,
    scale: o.scale,
    pairs: o.pairs,
    warmup: o.warmup,
    only: o.only,
    machine,
    library,
    peakMethod: [...methods].sort().join(", ") || null,
    scratch: o.dir,
    rows,
    profiles,
    ...(floors.length > 0 ? { floors } : {}),
  };
  const what = o.selfTest ? "SELF-TEST: torch vs torch" : `${library.name} ${library.version ?? ""} vs torch`;
  const ids = [...new Set(rows.map((r) => r.workload))].join(", ");
  const title = `pt benchmarks ${ids}: time ours ÷ theirs — ${what}${o.scale !== 1 ? ` (scale ${o.scale})` : ""}`;
  const subtitle = [
    `${date.slice(0, 16).replace("T", " ")} UTC · ${o.pairs} pairs · commit ${library.commit ?? "?"}`,
    `${machine.cpu} · ${machine.cores} CPUs · ${formatBytes(machine.memory)} RAM · Linux ${machine.kernel}`,
    `node ${machine.node} · torch ${machine.torch ?? "?"} · Python ${machine.python ?? "?"}${manifest.torch2 ? ` · W10: torch ${manifest.torch2}` : ""}`,
  ];
  mkdirSync(o.results, { recursive: true });
  const jsonPath = join(o.results, `${o.name}.json`);
  const svgPath = join(o.results, `${o.name}.svg`);
  writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(svgPath, renderSvg(rows, { title, subtitle }));

  process.stdout.write(
    [
      `## ${title}`,
      "",
      ...subtitle.map((s) => `${s}  `),
      "",
      formatSummaryTable(rows),
      "",
      formatDetailTable(rows),
      "",
      ...profileText,
      ...(floors.length > 0
        ? [
            "### Floors: what W3 and W4 are made of (medians of the probes, ms)",
            "",
            formatFloorsTable(floors),
            "",
          ]
        : []),
      `peak RSS method: ${report.peakMethod ?? "none measured"}; written ${relative(REPO, jsonPath)}, ${relative(REPO, svgPath)}`,
      "",
    ].join("\n"),
  );
}

main().catch((e) => {
  process.stderr.write(
    `${e instanceof Error ? e.message : String(e)}\n(node apps/bench/src/run.mjs --help for the options)\n`,
  );
  process.exitCode = 1;
});
