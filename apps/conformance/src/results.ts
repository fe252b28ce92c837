/**
 * Results of the conformance checks, the known-failure list, and the table printed at the end.
 */

/**
 * A check: `describe`, `state_dict`, `bytes`, and per oracle (torch version label) `torch:zip@<label>`
 * and `torch:legacy@<label>` (our re-save in that torch's flavor, loaded and compared by that torch).
 */
export type CheckName = string;

/** The checks run against the given oracles, in table column order. */
export function checksFor(oracleLabels: readonly string[]): CheckName[] {
  return [
    "describe",
    "state_dict",
    ...oracleLabels.flatMap((l) => [`torch:zip@${l}`, `torch:legacy@${l}`]),
    "bytes",
  ];
}

/** The columns of the default run (torch 1.13 and torch 2.14). */
export const CHECKS: readonly CheckName[] = checksFor(["1.13", "2.14"]);

/**
 * One check of one case. `ok` false carries a one-line reason. `skipped`: the check does not apply
 * (that torch cannot load the original, or cannot load its own legacy file of this value): neither
 * passed nor failed, with the reason.
 */
export interface CheckResult {
  readonly case: string;
  readonly check: CheckName;
  readonly ok: boolean;
  readonly detail?: string;
  readonly skipped?: string;
}

/** `known-failures.json`: case → check → reason. */
export type KnownFailures = Record<string, Partial<Record<CheckName, string>>>;

/** How a result relates to the known-failure list. */
export type Outcome = "pass" | "fail" | "xfail" | "xpass" | "skip";

export function outcome(r: CheckResult, known: KnownFailures): Outcome {
  if (r.skipped !== undefined) return "skip";
  const isKnown = known[r.case]?.[r.check] !== undefined;
  if (r.ok) return isKnown ? "xpass" : "pass";
  return isKnown ? "xfail" : "fail";
}

/** Entries of the known-failure list that name no case/check the run produced (stale). */
export function staleKnown(results: readonly CheckResult[], known: KnownFailures): string[] {
  const ran = new Set(results.map((r) => `${r.case}\u0000${r.check}`));
  const out: string[] = [];
  for (const [c, checks] of Object.entries(known))
    for (const k of Object.keys(checks)) if (!ran.has(`${c}\u0000${k}`)) out.push(`${c} ${k}`);
  return out;
}

/** Totals of a run. */
export interface Summary {
  passed: number;
  failed: number;
  knownFailures: number;
  unexpectedFailures: number;
  unexpectedPasses: number;
  skipped: number;
}

export function summarize(results: readonly CheckResult[], known: KnownFailures): Summary {
  const s: Summary = {
    passed: 0,
    failed: 0,
    knownFailures: 0,
    unexpectedFailures: 0,
    unexpectedPasses: 0,
    skipped: 0,
  };
  for (const r of results) {
    const o = outcome(r, known);
    if (o === "skip") {
      s.skipped++;
      continue;
    }
    if (r.ok) s.passed++;
    else s.failed++;
    if (o === "xfail") s.knownFailures++;
    if (o === "fail") s.unexpectedFailures++;
    if (o === "xpass") s.unexpectedPasses++;
  }
  return s;
}

const CELL: Record<Outcome, string> = {
  pass: "pass",
  fail: "FAIL",
  xfail: "known",
  xpass: "XPASS",
  skip: "n/a",
};

/**
 * The table: one row per case, one column per check (`pass`, `FAIL`, `known` = a listed known
 * failure, `XPASS` = a listed failure that now passes, `n/a` = skipped with a reason, `-` = not run).
 */
export function formatTable(
  results: readonly CheckResult[],
  known: KnownFailures,
  checks: readonly CheckName[] = columnsOf(results),
): string {
  const CHECKS = checks;
  const rows = new Map<string, Map<CheckName, Outcome>>();
  for (const r of results) {
    let row = rows.get(r.case);
    if (!row) {
      row = new Map();
      rows.set(r.case, row);
    }
    row.set(r.check, outcome(r, known));
  }
  const w = Math.max(4, ...[...rows.keys()].map((k) => k.length));
  const cw = CHECKS.map((c) => Math.max(c.length, 5));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(w) : c.padEnd(cw[i - 1] as number)))
      .join("  ")
      .trimEnd();
  const out = [line(["case", ...CHECKS]), line(["-".repeat(w), ...cw.map((n) => "-".repeat(n))])];
  for (const [c, row] of rows)
    out.push(line([c, ...CHECKS.map((k) => (row.has(k) ? CELL[row.get(k) as Outcome] : "-"))]));
  return `${out.join("\n")}\n`;
}

/** The columns for a set of results: the checks they name, in the order of `checksFor`. */
export function columnsOf(results: readonly CheckResult[]): CheckName[] {
  const labels: string[] = [];
  for (const r of results) {
    const m = /^torch:(?:zip|legacy)@(.+)$/.exec(r.check);
    if (m && !labels.includes(m[1] as string)) labels.push(m[1] as string);
  }
  const cols = checksFor(labels);
  for (const r of results) if (!cols.includes(r.check)) cols.splice(cols.length - 1, 0, r.check);
  return cols;
}

/** Lines explaining every failure and unexpected pass. */
export function formatFailures(results: readonly CheckResult[], known: KnownFailures): string {
  const out: string[] = [];
  for (const r of results) {
    const o = outcome(r, known);
    if (o === "fail") out.push(`FAIL   ${r.case} ${r.check}: ${r.detail ?? "failed"}`);
    else if (o === "xpass")
      out.push(
        `XPASS  ${r.case} ${r.check}: listed as a known failure (${known[r.case]?.[r.check]}) but passes: remove it from known-failures.json`,
      );
    else if (o === "xfail")
      out.push(`known  ${r.case} ${r.check}: ${known[r.case]?.[r.check]}${r.detail ? ` [${r.detail}]` : ""}`);
  }
  return out.length ? `${out.join("\n")}\n` : "";
}
