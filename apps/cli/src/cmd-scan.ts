import { expectPositionals, parseArgs } from "./args.js";
import { pickleSections } from "./containers.js";
import { openSource } from "./files.js";
import { CliError, type Io } from "./io.js";
import { type GlobalUse, scanSection, summarize } from "./scan.js";

export const SCAN_HELP = `usage: pt scan FILE [--json]

List every global (module.name) the pickles of FILE reference, without unpickling or
executing anything, each marked
  safe        on PyTorch's weights_only allowlist (tensors, storages, dtypes, OrderedDict…)
  unsafe      anything else (user classes, nn.Module classes, numpy…): torch.load with
              weights_only=True refuses the file; our loader needs unsafe: "opaque"
  DANGEROUS   never callable whatever the options (os.system, subprocess, eval, getattr…)
Globals named through STACK_GLOBAL are resolved from the strings and memo before it; a
STACK_GLOBAL whose operands are not literal strings is listed as <unresolved STACK_GLOBAL>.

Exit status: 0 when every global is safe, 1 when any is unsafe or dangerous (even if the rest
of the file cannot be read: the error is printed too), 2 when the file cannot be read and
nothing unsafe was found before the error.

options:
  --json   print {"file", "format", "safe", "globals": [{"global", "verdict", "count",
           "where"}]} instead of the table
`;

/** `pt scan FILE`. */
export async function scanCommand(argv: readonly string[], io: Io): Promise<number> {
  const args = parseArgs(argv, [{ name: "json" }]);
  if (args.options.has("help")) {
    io.out(SCAN_HELP);
    return 0;
  }
  const [file] = expectPositionals(args, ["FILE"]) as [string];
  const src = openSource(file);
  const uses: GlobalUse[] = [];
  let error: Error | undefined;
  let kind = "unknown";
  try {
    const p = pickleSections(src);
    kind = p.kind === "zip" && p.torchscript ? "torchscript" : p.kind;
    for (const s of p.sections) {
      try {
        scanSection(s, (u) => uses.push(u));
      } catch (e) {
        error = new Error(`${s.name}: ${(e as Error).message}`);
        break;
      }
    }
    error ??= p.error;
  } finally {
    src.close();
  }
  const entries = summarize(uses);
  const bad = entries.filter((e) => e.verdict !== "safe");
  if (args.options.has("json")) {
    io.out(
      `${JSON.stringify(
        {
          file,
          format: kind,
          safe: bad.length === 0 && !error,
          globals: entries,
          ...(error ? { error: error.message } : {}),
        },
        null,
        2,
      )}\n`,
    );
  } else {
    const width = Math.max(6, ...entries.map((e) => e.global.length));
    io.out(`${file}: ${kind}, ${entries.length} distinct globals\n`);
    for (const e of entries) {
      const v = e.verdict === "dangerous" ? "DANGEROUS" : e.verdict;
      const more = e.count > e.where.length ? ` (+${e.count - e.where.length})` : "";
      io.out(`  ${v.padEnd(9)}  ${e.global.padEnd(width)}  ×${e.count}  ${e.where.join(" ")}${more}\n`);
    }
    const nd = entries.filter((e) => e.verdict === "dangerous").length;
    io.out(
      bad.length === 0
        ? "all globals are on the weights_only allowlist\n"
        : `${bad.length} not on the weights_only allowlist${nd ? `, ${nd} dangerous` : ""}\n`,
    );
  }
  if (error) {
    // An unsafe global already found is a verdict: exit 1 (with the error line); else the scan failed.
    if (bad.length) {
      io.err(`pt: scan: scan incomplete: ${error.message}\n`);
      return 1;
    }
    throw new CliError(`scan incomplete: ${error.message}`);
  }
  return bad.length ? 1 : 0;
}
