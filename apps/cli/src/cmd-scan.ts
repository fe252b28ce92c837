import { statSync } from "node:fs";
import { pickleSections, type ScannedGlobal, type ScanResult, scanSections } from "@pt/serialization";
import { parseArgs } from "./args.js";
import { openSource } from "./files.js";
import { CliError, type Io, UsageError } from "./io.js";
import { scanPaths } from "./scan-multi.js";

export const SCAN_HELP = `usage: pt scan FILE [--json]
       pt scan PATH... [--json | --sarif] [--jobs N] [--timeout S] [--max-memory MB] [--max-bytes N]

List every global (module.name) the pickles of FILE reference, without unpickling or
executing anything, each marked
  safe        on PyTorch's weights_only allowlist (tensors, storages, dtypes, OrderedDict…)
  unsafe      anything else (user classes, nn.Module classes, numpy…): torch.load with
              weights_only=True refuses the file; our loader needs unsafe: "opaque"
  DANGEROUS   never callable whatever the options (os.system, subprocess, eval, getattr…,
              under any alias: posix.system, _operator.attrgetter, io.open, pathlib.os.system)
Every pickle is scanned: every record torch or TorchScript unpickles (and, marked "not read
by torch", any other zip record holding pickles), the five pickles of a legacy file, every
pickle of a plain pickle file up to its end, NumPy object arrays (.npy, .npz). Globals named
through STACK_GLOBAL are resolved from the strings and memo before it; a STACK_GLOBAL whose
operands are not literal strings is listed as <unresolved STACK_GLOBAL> (dangerous). A pickle
whose FRAMEs disagree with its opcodes is flagged: torch's C unpickler reads such bytes
differently from a careful reader.

Exit status: 0 when everything scanned is safe, 1 when a global is unsafe or dangerous or a
pickle is mis-framed (even if the rest of the file cannot be read: the error is printed too),
2 when nothing could be scanned (an unsupported container such as 7z, no pickle) or the file
cannot be read and nothing unsafe was found before the error.

Many files (more than one PATH, a folder, a DCP folder, a *.index.json, or --sarif/--jobs):
folders are walked recursively (symbolic links are not followed; files that are not checkpoint,
pickle, NumPy or safetensors files are skipped with a note on stderr); a folder holding
.metadata is one DCP checkpoint (its .metadata pickle is scanned), a *.index.json one sharded
checkpoint (the pickles of its shards). Only pickles are read, never tensor data. Files are
scanned on a pool of worker threads, each file within a time and memory budget; each ends in
a verdict (safe, unsafe, DANGEROUS) or is unreadable (with the typed error). Prints a summary
table; exit 0 when every file is safe, 1 when any is unsafe or dangerous, 2 when any could not
be read and none is unsafe.

options:
  --json   one file: print {"file", "format", "safe", "sections", "globals": [{"global", "verdict",
           "count", "where", "uses", "notReadByTorch"}], "problems"} instead of the table;
           many files: one JSON object per line per file ({"type": "file", "path",
           "verdict", "globals", "problems", "error"…}), then {"type": "summary", …}
           (schema: apps/cli/schemas/scan-json.schema.json)
  --sarif  print a SARIF 2.1.0 log (for code-scanning dashboards)
  --jobs N          worker threads (default: the machine's cores less one, at least 1)
  --timeout S       seconds per file before its worker is stopped (default 30)
  --max-memory MB   heap limit of each worker (default 512)
  --max-bytes N     most bytes read per file (default 1073741824)
`;

/** One line per distinct global: how many times, where, how it is used. */
interface ScanEntry {
  readonly global: string;
  readonly verdict: string;
  readonly count: number;
  /** `section@offset` of each use (first 5): file offsets for streams, record offsets in zip records. */
  readonly where: string[];
  /** How the pickle uses it: called/built/state/argument (imported only when empty). */
  readonly uses: string[];
  /** True when it occurs only in pickles torch never reads. */
  readonly notReadByTorch: boolean;
  readonly flagged: boolean;
}

function where(g: ScannedGlobal, zip: boolean): string {
  return `${g.section}@${zip || g.fileOffset === null ? g.offset : g.fileOffset}`;
}

function summarize(r: ScanResult): ScanEntry[] {
  const zip = r.format === "zip" || r.format === "torchscript" || r.format === "npz";
  const m = new Map<string, { -readonly [K in keyof ScanEntry]: ScanEntry[K] }>();
  for (const g of r.globals) {
    let e = m.get(g.global);
    if (!e) {
      e = {
        global: g.global,
        verdict: g.verdict,
        count: 0,
        where: [],
        uses: [],
        notReadByTorch: !g.loaded,
        flagged: false,
      };
      m.set(g.global, e);
    }
    e.count++;
    if (g.loaded) e.notReadByTorch = false;
    if (g.flagged) e.flagged = true;
    if (e.where.length < 5) e.where.push(where(g, zip));
    for (const u of g.uses) {
      const s = `${u.kind}:${u.opcode}`;
      if (!e.uses.includes(s)) e.uses.push(s);
    }
  }
  return [...m.values()];
}

/** `pt scan FILE`. */
export async function scanCommand(argv: readonly string[], io: Io): Promise<number> {
  const args = parseArgs(argv, [
    { name: "json" },
    { name: "sarif" },
    { name: "jobs", value: true },
    { name: "timeout", value: true },
    { name: "max-memory", value: true },
    { name: "max-bytes", value: true },
  ]);
  if (args.options.has("help")) {
    io.out(SCAN_HELP);
    return 0;
  }
  if (args.positionals.length === 0) throw new UsageError("missing FILE");
  if (args.options.has("json") && args.options.has("sarif"))
    throw new UsageError("--json and --sarif cannot be combined");
  const num = (name: string, min: number): number | undefined => {
    const v = args.options.get(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min)
      throw new UsageError(`option --${name}: ${JSON.stringify(v)} is not a number >= ${min}`);
    return n;
  };
  const multi = {
    jobs: num("jobs", 1),
    timeoutS: num("timeout", 0.001),
    maxMemoryMb: num("max-memory", 16),
    maxBytes: num("max-bytes", 1),
  };
  const [file] = args.positionals as [string];
  if (
    args.positionals.length > 1 ||
    args.options.has("sarif") ||
    Object.values(multi).some((v) => v !== undefined) ||
    file.endsWith(".index.json") ||
    isDirectory(file)
  )
    return scanPaths(
      args.positionals,
      { format: args.options.has("sarif") ? "sarif" : args.options.has("json") ? "json" : "table", ...multi },
      io,
    );
  const src = openSource(file);
  let r: ScanResult;
  try {
    r = scanSections(pickleSections(src));
  } catch (e) {
    throw new CliError(`cannot scan: ${(e as Error).message}`);
  } finally {
    src.close();
  }
  const entries = summarize(r);
  const flagged = entries.filter((e) => e.flagged);
  const frames = r.problems.filter((p) => p.kind === "frame");
  const other = r.problems.filter((p) => p.kind !== "frame");
  const pickles = r.sections.reduce((k, s) => k + s.pickles, 0);
  if (args.options.has("json")) {
    io.out(
      `${JSON.stringify(
        {
          file,
          format: r.format,
          safe: r.safe,
          ...(r.unsupported ? { unsupported: r.unsupported } : {}),
          sections: r.sections,
          globals: entries.map(({ flagged: _f, ...e }) => e),
          problems: r.problems,
          ...(other.length ? { error: `${other[0]?.section}: ${other[0]?.message}` } : {}),
        },
        null,
        2,
      )}\n`,
    );
  } else {
    const width = Math.max(6, ...entries.map((e) => e.global.length));
    io.out(
      `${file}: ${r.format}, ${entries.length} distinct globals in ${pickles} pickle${pickles === 1 ? "" : "s"} of ${r.sections.length} section${r.sections.length === 1 ? "" : "s"}\n`,
    );
    for (const s of r.sections.filter((x) => !x.loaded)) io.out(`  section ${s.name}: ${s.role}\n`);
    for (const e of entries) {
      const v = e.verdict === "dangerous" ? "DANGEROUS" : e.verdict;
      const more = e.count > e.where.length ? ` (+${e.count - e.where.length})` : "";
      const note = e.notReadByTorch ? "  (not read by torch)" : "";
      io.out(
        `  ${v.padEnd(9)}  ${e.global.padEnd(width)}  ×${e.count}  ${e.where.join(" ")}${more}${note}\n`,
      );
    }
    for (const p of frames) io.out(`  MISFRAMED  ${p.section}: ${p.message}\n`);
    if (r.sections.length === 0)
      io.out(
        `nothing was scanned: ${r.unsupported ? `${r.unsupported} (not supported)` : "no pickle found"}\n`,
      );
    else {
      const bad = entries.filter((e) => e.verdict !== "safe");
      const nd = entries.filter((e) => e.verdict === "dangerous").length;
      io.out(
        bad.length === 0
          ? "all globals are on the weights_only allowlist\n"
          : `${bad.length} not on the weights_only allowlist${nd ? `, ${nd} dangerous` : ""}\n`,
      );
    }
  }
  if (flagged.length || frames.length) {
    if (other.length) io.err(`pt: scan: scan incomplete: ${other[0]?.message}\n`);
    return 1;
  }
  if (other.length) throw new CliError(`scan incomplete: ${other[0]?.message}`);
  if (r.sections.length === 0)
    throw new CliError(
      `nothing was scanned: ${r.unsupported ? `${r.unsupported} is not supported` : "no pickle found"}`,
    );
  return 0;
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
