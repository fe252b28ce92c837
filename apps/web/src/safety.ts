/**
 * The ONE place the page uses `@pt/serialization`'s scanning API: everything else reads the
 * `SafetyReport` below, so re-pointing the page at another scanner touches this file only.
 */
import { type Source, scan } from "@pt/serialization";

export interface SafetyGlobal {
  readonly name: string;
  readonly record: string;
  readonly offset: number;
  readonly opcode: string;
  readonly verdict: "allowed" | "refused" | "dangerous";
  readonly why: string;
}

export interface SafetyReport {
  /** `safe`: torch.load(weights_only=True) loads it; `unsafe`: it refuses; `dangerous`: a plain torch.load would run code. */
  readonly verdict: "safe" | "unsafe" | "dangerous" | "unknown";
  readonly format: string;
  readonly globals: SafetyGlobal[];
  /** What `torch.load(f, weights_only=True)` would do. */
  readonly torchLoad: string;
  readonly error?: string;
}

/** Scan the pickles of `source` (nothing is loaded or executed). */
export async function safetyReport(source: Source): Promise<SafetyReport> {
  let r: Awaited<ReturnType<typeof scan>>;
  try {
    r = await scan(source);
  } catch (e) {
    return {
      verdict: "unknown",
      format: "unknown",
      globals: [],
      torchLoad: "cannot tell: the file could not be scanned",
      error: e instanceof Error ? e.message : String(e),
    };
  }
  const seen = new Set<string>();
  const globals: SafetyGlobal[] = [];
  for (const g of r.globals) {
    const k = `${g.section}:${g.global}`;
    if (seen.has(k)) continue;
    seen.add(k);
    const verdict = g.verdict === "dangerous" ? "dangerous" : g.verdict === "safe" ? "allowed" : "refused";
    globals.push({
      name: g.global,
      record: g.section,
      offset: g.offset,
      opcode: g.opcode,
      verdict,
      why:
        verdict === "dangerous"
          ? "can run code when unpickled (a plain torch.load would call it); refused here whatever the options"
          : verdict === "allowed"
            ? "on torch's weights_only allowlist"
            : g.loaded
              ? "not on torch's weights_only allowlist; shown here as an inert placeholder, never constructed"
              : `not on torch's weights_only allowlist, in ${g.section}, which torch does not read (${g.role})`,
    });
  }
  const problems = r.problems.map((p) => `${p.section}: ${p.message}`);
  const scanned = r.unsupported === null && r.sections.length > 0;
  const dangerous = globals.some((g) => g.verdict === "dangerous");
  // what torch.load(weights_only=True) refuses: any global outside its allowlist in a pickle it reads
  const refused = [
    ...new Set(r.globals.filter((g) => g.loaded && g.verdict !== "safe").map((g) => g.global)),
  ];
  const first = refused[0];
  return {
    verdict: !scanned ? "unknown" : dangerous ? "dangerous" : r.safe ? "safe" : "unsafe",
    format: r.format,
    globals,
    torchLoad: !scanned
      ? r.unsupported
        ? `not scanned: ${r.unsupported} is not a format torch.load reads`
        : "nothing was scanned: no pickle found"
      : problems.length
        ? `cannot be verified: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ""}`
        : first
          ? `refuses to load it: "Unsupported global: GLOBAL ${first} was not an allowed global by default"${refused.length > 1 ? ` (and ${refused.length - 1} more)` : ""}`
          : dangerous
            ? "loads what it reads, but a record torch does not read holds a dangerous global"
            : `loads it${r.notTried ? ` (not tried here: ${r.notTried})` : ""}`,
    ...(problems.length ? { error: problems.join("; ") } : {}),
  };
}
