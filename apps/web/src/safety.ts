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
    const name = `${g.module}.${g.name}`;
    const k = `${g.record}:${name}`;
    if (seen.has(k)) continue;
    seen.add(k);
    globals.push({
      name,
      record: g.record,
      offset: g.offset,
      opcode: g.opcode,
      verdict: g.dangerous ? "dangerous" : g.allowed ? "allowed" : "refused",
      why: g.dangerous
        ? "can run code when unpickled (a plain torch.load would call it); refused here whatever the options"
        : g.allowed
          ? "on torch's weights_only allowlist"
          : "not on torch's weights_only allowlist; shown here as an inert placeholder, never constructed",
    });
  }
  const dangerous = globals.some((g) => g.verdict === "dangerous");
  const refused = globals.filter((g) => g.verdict !== "allowed");
  const first = refused[0];
  return {
    verdict:
      r.format === "unknown" ? "unknown" : dangerous ? "dangerous" : refused.length ? "unsafe" : "safe",
    format: r.format,
    globals,
    torchLoad:
      r.format === "unknown"
        ? "not a torch checkpoint"
        : first
          ? `refuses to load it: "Unsupported global: GLOBAL ${first.name} was not an allowed global by default"${refused.length > 1 ? ` (and ${refused.length - 1} more)` : ""}`
          : "loads it",
  };
}
