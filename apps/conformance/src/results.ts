/**
 * Results of the conformance checks, the known-failure list, and the table printed at the end.
 */

/** The checks, in table column order. */
export const CHECKS = ["describe", "state_dict", "torch:zip", "torch:legacy", "bytes"] as const;
export type CheckName = (typeof CHECKS)[number];

/** One check of one case. `ok` false carries a one-line reason. */
export interface CheckResult {
  readonly case: string;
  readonly check: CheckName;
  readonly ok: boolean;
  readonly detail?: string;
}

/** `known-failures.json`: case → check → reason. */
export type KnownFailures = Record<string, Partial<Record<CheckName, string>>>;

/** How a result relates to the known-failure list. */
export type Outcome = "pass" | "fail" | "xfail" | "xpass";

export function outcome(r: CheckResult, known: KnownFailures): Outcome {
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
}

export function summarize(results: readonly CheckResult[], known: KnownFailures): Summary {
  const s: Summary = { passed: 0, failed: 0, knownFailures: 0, unexpectedFailures: 0, unexpectedPasses: 0 };
  for (const r of results) {
    const o = outcome(r, known);
    if (r.ok) s.passed++;
    else s.failed++;
    if (o === "xfail") s.knownFailures++;
    if (o === "fail") s.unexpectedFailures++;
    if (o === "xpass") s.unexpectedPasses++;
  }
  return s;
}

const CELL: Record<Outcome, string> = { pass: "pass", fail: "FAIL", xfail: "known", xpass: "XPASS" };

/**
 * The table: one row per case, one column per check (`pass`, `FAIL`, `known` = a listed known
 * failure, `XPASS` = a listed failure that now passes, `-` = not applicable).
 */
export function formatTable(results: readonly CheckResult[], known: KnownFailures): string {
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
