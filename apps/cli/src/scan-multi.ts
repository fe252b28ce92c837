/**
 * `pt scan PATH...` over many files and folders: inputs collected by `@pt/serialization/node`'s
 * walk, scanned on a worker pool (piscina: one worker per core, a heap limit per worker, a hard
 * time limit per file), reported as a table, JSON lines or SARIF 2.1.0.
 */
import { existsSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { MessageChannel } from "node:worker_threads";
import { type ScanFileResult, type ScanManyOptions, scanOne } from "@pt/serialization";
import { collectScanInputs, fileScanInput, pathScanInput, type SkippedPath } from "@pt/serialization/node";
import type { Io } from "./io.js";
import { Progress } from "./progress.js";
import type { ScanTask } from "./scan-worker.js";

/** Options of a many-file scan. */
export interface MultiScanOptions {
  readonly format: "table" | "json" | "sarif";
  /** Workers (default: the machine's cores, at most one per file); 1 still isolates files in a worker. */
  readonly jobs?: number | undefined;
  /** Seconds per file before its worker is stopped (default 30). */
  readonly timeoutS?: number | undefined;
  /** Heap limit of each worker in MiB (default 512). */
  readonly maxMemoryMb?: number | undefined;
  /** Most bytes read per file (default 1 GiB). */
  readonly maxBytes?: number | undefined;
}

/** Totals of a run. */
export interface ScanSummary {
  readonly files: number;
  readonly sections: number;
  readonly pickles: number;
  readonly bytesRead: number;
  readonly safe: number;
  readonly unsafe: number;
  readonly dangerous: number;
  readonly unreadable: number;
  readonly skipped: readonly SkippedPath[];
  /** Every global met, with its verdict, its uses and the number of files using it (most used first). */
  readonly globals: ReadonlyArray<{ global: string; verdict: string; count: number; files: number }>;
}

const WORKER = new URL("./scan-worker.js", import.meta.url);

function failed(task: ScanTask, code: string, name: string, message: string): ScanFileResult {
  return {
    path: task.path,
    kind: task.kind,
    format: "unknown",
    verdict: "unreadable",
    sections: 0,
    pickles: 0,
    bytesRead: 0,
    globals: [],
    problems: [],
    error: { name, code, message },
  };
}

type Pool = import("piscina").Piscina<ScanTask, ScanFileResult>;

/**
 * The worker pool, started before the paths are walked (so the workers load their modules
 * meanwhile), or null when there is no compiled worker (running from TypeScript sources, in
 * tests: files are then scanned in this thread).
 */
async function startPool(
  opts: MultiScanOptions,
  maxJobs: number,
): Promise<{ pool: Pool; jobs: number } | null> {
  if (!existsSync(fileURLToPath(WORKER))) return null;
  const { Piscina } = await import("piscina");
  // default: one worker per core but one, which the main thread keeps (walking folders, reading
  // results, writing output); on 2 cores one worker scanned the corpus faster than two
  const jobs = Math.max(1, Math.min(opts.jobs ?? availableParallelism() - 1, maxJobs));
  const pool = new Piscina<ScanTask, ScanFileResult>({
    filename: WORKER.href,
    minThreads: jobs,
    maxThreads: jobs,
    idleTimeout: 1000,
    resourceLimits: { maxOldGenerationSizeMb: opts.maxMemoryMb ?? 512, maxYoungGenerationSizeMb: 32 },
  });
  return { pool, jobs };
}

/** Results in task order; a window of tasks in flight keeps memory bounded. */
async function* runTasks(
  tasks: readonly ScanTask[],
  opts: MultiScanOptions,
  started: { pool: Pool; jobs: number } | null,
): AsyncGenerator<ScanFileResult> {
  const timeoutMs = Math.max(1, Math.round((opts.timeoutS ?? 30) * 1000));
  if (started === null) {
    for (const t of tasks)
      yield await scanOne(t.kind === "file" ? fileScanInput(t.path) : pathScanInput(t.path), t.options);
    return;
  }
  const { pool, jobs } = started;
  const submit = (t: ScanTask): Promise<ScanFileResult> => {
    // the hard limit counts from the task's start in its worker (told through a port): past it
    // piscina terminates that worker
    const { port1, port2 } = new MessageChannel();
    const stop = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    port1.once("message", () => {
      timer = setTimeout(() => stop.abort(), timeoutMs + 250);
    });
    return pool
      .run({ ...t, port: port2 }, { signal: stop.signal, transferList: [port2] })
      .catch((e: unknown) => {
        const err = e as { name?: string; code?: string; message?: string };
        if (stop.signal.aborted)
          return failed(
            t,
            "ScanTimeout",
            "ScanTimeoutError",
            `no verdict within ${timeoutMs} ms: the worker was stopped`,
          );
        if (err.code === "ERR_WORKER_OUT_OF_MEMORY")
          return failed(
            t,
            "ScanMemory",
            "ScanMemoryError",
            `the worker ran out of its ${opts.maxMemoryMb ?? 512} MiB heap`,
          );
        return failed(t, err.code ?? "WorkerFailed", err.name ?? "Error", err.message ?? String(e));
      })
      .finally(() => {
        clearTimeout(timer);
        port1.close();
      });
  };
  const window = jobs * 8;
  const pending: Promise<ScanFileResult>[] = [];
  let next = 0;
  try {
    while (next < tasks.length || pending.length > 0) {
      while (next < tasks.length && pending.length < window) pending.push(submit(tasks[next++] as ScanTask));
      yield await (pending.shift() as Promise<ScanFileResult>);
    }
  } finally {
    await pool.destroy();
  }
}

function summarize(results: readonly ScanFileResult[], skipped: readonly SkippedPath[]): ScanSummary {
  const g = new Map<string, { global: string; verdict: string; count: number; files: number }>();
  const n = { safe: 0, unsafe: 0, dangerous: 0, unreadable: 0 };
  for (const r of results) {
    n[r.verdict]++;
    for (const x of r.globals) {
      let e = g.get(x.global);
      if (!e) {
        e = { global: x.global, verdict: x.verdict, count: 0, files: 0 };
        g.set(x.global, e);
      }
      e.count += x.count;
      e.files++;
    }
  }
  return {
    files: results.length,
    sections: results.reduce((k, r) => k + r.sections, 0),
    pickles: results.reduce((k, r) => k + r.pickles, 0),
    bytesRead: results.reduce((k, r) => k + r.bytesRead, 0),
    ...n,
    skipped,
    globals: [...g.values()].sort(
      (a, b) => b.files - a.files || b.count - a.count || (a.global < b.global ? -1 : 1),
    ),
  };
}

/** A SARIF `uri`: relative to the working folder when inside it, slash-separated and percent-encoded. */
function uriOf(path: string): string {
  const rel = relative(process.cwd(), path);
  const inside = rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
  const parts = (inside ? rel : resolve(path)).split(sep).map(encodeURIComponent).join("/");
  return inside ? parts : `file://${parts.startsWith("/") ? "" : "/"}${parts}`;
}

const RULES = [
  {
    id: "PT001",
    name: "DangerousGlobal",
    shortDescription: { text: "A pickle references a global that can run code (os.system, eval, getattr…)" },
    defaultConfiguration: { level: "error" },
  },
  {
    id: "PT002",
    name: "UnsafeGlobal",
    shortDescription: { text: "A pickle torch reads references a global off the weights_only allowlist" },
    defaultConfiguration: { level: "warning" },
  },
  {
    id: "PT003",
    name: "MisframedPickle",
    shortDescription: {
      text: "A pickle's FRAMEs disagree with its opcodes (torch's unpickler reads it differently)",
    },
    defaultConfiguration: { level: "error" },
  },
  {
    id: "PT004",
    name: "Unreadable",
    shortDescription: { text: "The file could not be scanned completely" },
    defaultConfiguration: { level: "warning" },
  },
] as const;

/** A SARIF 2.1.0 log of the results. */
export function sarifLog(results: readonly ScanFileResult[], version: string): unknown {
  const out: unknown[] = [];
  const loc = (r: ScanFileResult) => [{ physicalLocation: { artifactLocation: { uri: uriOf(r.path) } } }];
  for (const r of results) {
    for (const g of r.globals.filter((x) => x.flagged)) {
      const dangerous = g.verdict === "dangerous";
      out.push({
        ruleId: dangerous ? "PT001" : "PT002",
        ruleIndex: dangerous ? 0 : 1,
        level: dangerous ? "error" : "warning",
        message: { text: `${g.global} (${g.verdict}, ×${g.count})` },
        locations: loc(r),
      });
    }
    for (const p of r.problems.filter((x) => x.kind === "frame"))
      out.push({
        ruleId: "PT003",
        ruleIndex: 2,
        level: "error",
        message: { text: `${p.section}: ${p.message}` },
        locations: loc(r),
      });
    if (r.verdict === "unreadable" || (r.error && r.verdict !== "safe"))
      out.push({
        ruleId: "PT004",
        ruleIndex: 3,
        level: "warning",
        message: { text: r.error?.message ?? r.problems[0]?.message ?? "not scanned completely" },
        locations: loc(r),
      });
  }
  return {
    $schema: "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
    version: "2.1.0",
    runs: [{ tool: { driver: { name: "pt scan", version, rules: RULES } }, results: out }],
  };
}

/** Exit status: 1 if any file is unsafe or dangerous, else 2 if any is unreadable, else 0. */
export function exitStatus(s: ScanSummary): number {
  return s.unsafe + s.dangerous > 0 ? 1 : s.unreadable > 0 ? 2 : 0;
}

/** Scan paths (files and folders); write the report; return the exit status. */
/** A file's size for the progress bar (0 for folders and what cannot be read: the scan reports those). */
function fileBytes(path: string): number {
  try {
    const st = statSync(path);
    return st.isFile() ? st.size : 0;
  } catch {
    return 0;
  }
}

export async function scanPaths(paths: readonly string[], opts: MultiScanOptions, io: Io): Promise<number> {
  // one worker per file at most when only files are given; as many as asked for folders
  const onlyFiles = paths.every((p) => {
    try {
      return statSync(p).isFile();
    } catch {
      return true;
    }
  });
  const started = await startPool(opts, onlyFiles ? paths.length : Number.POSITIVE_INFINITY);
  const { inputs, skipped } = collectScanInputs(paths);
  for (const s of skipped) io.err(`pt: scan: note: skipped ${s.path}: ${s.reason}\n`);
  const options: ScanManyOptions = {
    timeoutMs: Math.round((opts.timeoutS ?? 30) * 1000),
    maxBytes: opts.maxBytes ?? 2 ** 30,
  };
  const tasks: ScanTask[] = inputs.map((i) => ({ path: i.path, kind: i.kind ?? "file", options }));
  const results: ScanFileResult[] = [];
  // a bar over the files' sizes (on a terminal, past half a second): how much of the set is judged
  const sizes = new Map(tasks.map((t) => [t.path, fileBytes(t.path)]));
  const bar = new Progress(
    io,
    "scanning",
    [...sizes.values()].reduce((a, b) => a + b, 0),
  );
  let done = 0;
  try {
    for await (const r of runTasks(tasks, opts, started)) {
      results.push(r);
      done += sizes.get(r.path) ?? 0;
      bar.update(done);
      if (opts.format === "json") io.out(`${JSON.stringify({ type: "file", ...r })}\n`);
    }
  } finally {
    bar.finish();
  }
  const summary = summarize(results, skipped);
  if (opts.format === "json") io.out(`${JSON.stringify({ type: "summary", ...summary })}\n`);
  else if (opts.format === "sarif") io.out(`${JSON.stringify(sarifLog(results, "0.1.0"), null, 2)}\n`);
  else writeTable(results, summary, io);
  return exitStatus(summary);
}

function writeTable(results: readonly ScanFileResult[], s: ScanSummary, io: Io): void {
  io.out(
    `scanned ${s.files} file${s.files === 1 ? "" : "s"}: ${s.pickles} pickles in ${s.sections} sections, ${s.bytesRead} bytes read${s.skipped.length ? `, ${s.skipped.length} skipped` : ""}\n`,
  );
  io.out(
    `  safe        ${s.safe}\n  unsafe      ${s.unsafe}\n  DANGEROUS   ${s.dangerous}\n  unreadable  ${s.unreadable}\n`,
  );
  const bad = results.filter((r) => r.verdict !== "safe");
  if (bad.length) {
    io.out("\nnot safe:\n");
    for (const r of bad) {
      const flagged = r.globals.filter((g) => g.flagged).map((g) => g.global);
      const why = flagged.length
        ? flagged.slice(0, 3).join(", ") + (flagged.length > 3 ? ` (+${flagged.length - 3})` : "")
        : (r.error?.message ?? r.problems[0]?.message ?? "");
      const v = r.verdict === "dangerous" ? "DANGEROUS" : r.verdict;
      io.out(`  ${v.padEnd(10)}  ${r.path}  ${why}\n`);
    }
  }
  if (s.globals.length) {
    const width = Math.max(6, ...s.globals.map((g) => g.global.length));
    io.out(
      `\n  ${"verdict".padEnd(9)}  ${"global".padEnd(width)}  ${"uses".padStart(6)}  ${"files".padStart(5)}\n`,
    );
    for (const g of s.globals) {
      const v = g.verdict === "dangerous" ? "DANGEROUS" : g.verdict;
      io.out(
        `  ${v.padEnd(9)}  ${g.global.padEnd(width)}  ${String(g.count).padStart(6)}  ${String(g.files).padStart(5)}\n`,
      );
    }
  }
}
