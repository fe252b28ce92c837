import { errorGuard, PtError } from "@pt/errors";
import type { RefusedGlobal } from "@pt/pickle";

export type { RefusedGlobal } from "@pt/pickle";

/** Error codes of `@pt/serialization`. */
export type SerializationErrorCode =
  | "UnsafeGlobal"
  | "UnknownFormat"
  | "FormatUnsupported"
  | "InvalidSource"
  | "InvalidOption"
  | "SaveFailed"
  | "SourceChanged"
  | "ScanBudget";

/** Structured fields of a {@link SerializationError}. */
export interface SerializationErrorDetails {
  readonly offset?: number;
  readonly record?: string;
  readonly cause?: unknown;
}

/** Base class of the errors `@pt/serialization` throws itself (lower layers throw their own typed errors). Messages start with `serialization:`. */
export class SerializationError extends PtError<"serialization", SerializationErrorCode> {
  constructor(code: SerializationErrorCode, message: string, details: SerializationErrorDetails = {}) {
    super("serialization", code, message, details);
  }
}

/**
 * The load policy refused globals. `globals` lists **every** offending `module.name` of the file
 * (each first occurrence, with its pickle `record` and offset), dangerous ones flagged: the same
 * name, shape (`globals: RefusedGlobal[]`) and code (`UnsafeGlobal`) as `@pt/pickle`'s refusal of
 * one global, so `isPtError(e, { code: "UnsafeGlobal" })` recognizes a refusal from either layer.
 */
export class UnsafeGlobalError extends SerializationError {
  constructor(
    readonly globals: readonly (RefusedGlobal & { readonly record: string })[],
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
      "UnsafeGlobal",
      `refused ${globals.length} global${globals.length === 1 ? "" : "s"}: ${list}; ${hint}`,
      first ? { offset: first.offset, record: first.record, ...(cause === undefined ? {} : { cause }) } : {},
    );
  }
}

/** Type guard: `e` is a {@link SerializationError}, optionally with the given code. */
export const isSerializationError = errorGuard(SerializationError);
