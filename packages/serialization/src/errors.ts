/** Error codes of `@pt/serialization`. */
export type SerializationErrorCode =
  | "UNSAFE_GLOBALS"
  | "UNKNOWN_FORMAT"
  | "FORMAT_UNSUPPORTED"
  | "INVALID_SOURCE"
  | "INVALID_OPTION"
  | "SAVE_FAILED"
  | "SOURCE_CHANGED"
  | "SCAN_BUDGET";

/** A global a pickle references that the policy refused. */
export interface RefusedGlobal {
  readonly module: string;
  readonly name: string;
  /** Byte offset of the opcode in its pickle (`record`, or the legacy stream). */
  readonly offset: number;
  /** Opcode that referenced it (`GLOBAL`, `STACK_GLOBAL`, `INST`). */
  readonly opcode: string;
  /** Pickle it occurs in: `data.pkl` for zip files, `stream` for legacy files. */
  readonly record: string;
  /** Never allowed whatever the options (`os.system`, `builtins.eval`, …). */
  readonly dangerous: boolean;
  /** When the record is one torch does not read, or one read leniently: what reads it and why it is irregular. */
  readonly note?: string;
}

/** Structured fields of a {@link SerializationError}. */
export interface SerializationErrorDetails {
  readonly offset?: number;
  readonly record?: string;
  readonly cause?: unknown;
}

/** The key of the brand every `@pt/*` error carries (ARCHITECTURE.md, "Errors"): its value is the layer. */
const PT_ERROR: unique symbol = Symbol.for("pt.error");

/** Base class of the errors `@pt/serialization` throws itself (lower layers throw their own typed errors). Messages start with `serialization:`. */
export class SerializationError extends Error {
  /** The `@pt/*` error brand (`Symbol.for("pt.error")` → `"serialization"`), what `isPtError` checks. */
  declare readonly [PT_ERROR]: "serialization";
  static {
    Object.defineProperty(SerializationError.prototype, PT_ERROR, { value: "serialization" });
  }
  readonly code: SerializationErrorCode;
  readonly offset: number | undefined;
  readonly record: string | undefined;
  constructor(code: SerializationErrorCode, message: string, details: SerializationErrorDetails = {}) {
    super(`serialization: ${message}`, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = code;
    this.offset = details.offset;
    this.record = details.record;
  }
}

/**
 * The load policy refused globals. `globals` lists **every** offending `module.name` of the file
 * (each first occurrence, with its offset), dangerous ones flagged.
 */
export class UnsafeGlobalsError extends SerializationError {
  constructor(
    readonly globals: readonly RefusedGlobal[],
    readonly policy: "weightsOnly" | "opaque",
    cause?: unknown,
  ) {
    const list = globals
      .map(
        (g) =>
          `${g.module ? `${g.module}.` : ""}${g.name} (${g.dangerous ? "dangerous, " : ""}${g.opcode} at offset ${g.offset} of ${g.record}${g.note ? `, ${g.note}` : ""})`,
      )
      .join(", ");
    const dangerous = globals.some((g) => g.dangerous);
    const hint =
      policy === "weightsOnly"
        ? dangerous && globals.every((g) => g.dangerous)
          ? "dangerous globals are never loaded whatever the options"
          : `outside the weights_only allowlist; pass allowGlobals: [...] for classes you trust, or unsafe: "opaque" to load them as inert placeholders${dangerous ? " (dangerous globals are never loaded whatever the options)" : ""}`
        : "dangerous globals are never loaded whatever the options";
    const first = globals[0];
    super(
      "UNSAFE_GLOBALS",
      `refused ${globals.length} global${globals.length === 1 ? "" : "s"}: ${list}; ${hint}`,
      first ? { offset: first.offset, record: first.record, ...(cause === undefined ? {} : { cause }) } : {},
    );
  }
}

/** Type guard: `e` is a {@link SerializationError}, optionally with the given code. */
export function isSerializationError(e: unknown, code?: SerializationErrorCode): e is SerializationError {
  return e instanceof SerializationError && (code === undefined || e.code === code);
}
