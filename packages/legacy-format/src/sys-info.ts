import { type LegacyRecord, LegacySysInfoError } from "./errors.js";
import { describeValue } from "./io.js";

/** The `sys_info` dict torch writes, normalised. */
export interface SysInfo {
  /** 1001 for the legacy stream, 1000 in tar files. */
  readonly protocolVersion: number | null;
  /** Byte order of the machine that wrote the file. */
  readonly littleEndian: boolean;
  /** C type sizes of the writer (`long` is 4 on Windows, 8 elsewhere). */
  readonly typeSizes: { readonly short: number; readonly int: number; readonly long: number };
  /** The dict exactly as loaded. */
  readonly raw: Map<unknown, unknown>;
}

/** What torch writes on little-endian machines (`struct` standard sizes: `long` is 4). */
export const DEFAULT_SYS_INFO: Omit<SysInfo, "raw"> = Object.freeze({
  protocolVersion: 1001,
  littleEndian: true,
  typeSizes: Object.freeze({ short: 2, int: 4, long: 4 }),
});

function intField(v: unknown): number | null {
  if (typeof v === "number" && Number.isSafeInteger(v)) return v;
  if (typeof v === "bigint" && v >= -(2n ** 53n) && v <= 2n ** 53n) return Number(v);
  return null;
}

/**
 * Validate a loaded `sys_info`. Refuses what the stream cannot be read with: a `type_sizes`
 * whose `short` is not 2, `int` not 4, or `long` not 4 or 8 (torch's storage records use
 * fixed-width int64 counts; other sizes mean a writer we know nothing about).
 */
export function parseSysInfo(v: unknown, record: LegacyRecord, offset: number): SysInfo {
  const fields = { record, offset };
  if (!(v instanceof Map)) {
    throw new LegacySysInfoError(
      `sys_info at offset ${offset} must be a dict, got ${describeValue(v)}`,
      fields,
    );
  }
  const pv = v.get("protocol_version");
  const protocolVersion = pv === undefined ? null : intField(pv);
  if (pv !== undefined && protocolVersion === null) {
    throw new LegacySysInfoError(
      `sys_info protocol_version must be an int, got ${describeValue(pv)} (offset ${offset})`,
      fields,
    );
  }
  const le = v.get("little_endian");
  if (le !== undefined && typeof le !== "boolean") {
    throw new LegacySysInfoError(
      `sys_info little_endian must be a bool, got ${describeValue(le)} (offset ${offset})`,
      fields,
    );
  }
  const ts = v.get("type_sizes");
  const sizes = { short: 2, int: 4, long: 4 };
  if (ts !== undefined) {
    if (!(ts instanceof Map)) {
      throw new LegacySysInfoError(
        `sys_info type_sizes must be a dict, got ${describeValue(ts)} (offset ${offset})`,
        fields,
      );
    }
    const allowed: Record<string, readonly number[]> = { short: [2], int: [4], long: [4, 8] };
    for (const name of ["short", "int", "long"] as const) {
      const raw = ts.get(name);
      if (raw === undefined) continue;
      const n = intField(raw);
      if (n === null || !allowed[name]!.includes(n)) {
        throw new LegacySysInfoError(
          `sys_info type_sizes.${name} = ${describeValue(raw)} cannot be honoured (expected ${allowed[name]!.join(" or ")}) (offset ${offset})`,
          fields,
        );
      }
      sizes[name] = n;
    }
  }
  return { protocolVersion, littleEndian: le !== false, typeSizes: sizes, raw: v };
}
