import { errorGuard, PtError } from "@pt/errors";

/**
 * Typed errors of the pickle codec. Every error is a `PickleError` with a string `code`, the byte
 * `offset` and the `opcode` name (as pickletools names it) where that applies.
 */

/** The kinds of failure, one subclass each. */
export type PickleErrorCode =
  | "UnsafeGlobal"
  | "Truncated"
  | "InvalidOpcode"
  | "Limit"
  | "Stack"
  | "Memo"
  | "InvalidValue"
  | "Unsupported"
  | "Hook"
  | "Unpicklable"
  | "Frame";

/** Structured fields carried by every pickle error. */
export interface PickleErrorFields {
  /** Byte offset of the opcode (or value) concerned, when known. */
  readonly offset?: number | undefined;
  /** Opcode name as `pickletools` prints it, when known. */
  readonly opcode?: string | undefined;
  readonly cause?: unknown;
}

/** Base class of every error thrown by `@pt/pickle`. Messages start with `pickle:`. */
export class PickleError extends PtError<"pickle", PickleErrorCode> {
  /** Opcode name as `pickletools` prints it, when known. */
  readonly opcode: string | undefined;
  constructor(code: PickleErrorCode, message: string, fields: PickleErrorFields = {}) {
    const where =
      fields.offset !== undefined
        ? ` (${fields.opcode !== undefined ? `${fields.opcode} ` : ""}at offset ${fields.offset})`
        : fields.opcode !== undefined
          ? ` (${fields.opcode})`
          : "";
    super("pickle", code, `${message}${where}`, { offset: fields.offset, cause: fields.cause });
    this.opcode = fields.opcode;
  }
}

/**
 * A global a pickle references that was refused: the one shape of a refusal, carried by this
 * package's {@link UnsafeGlobalError} and by `@pt/serialization`'s (which lists every one of a file).
 */
export interface RefusedGlobal {
  readonly module: string;
  /** The qualified name within the module (`OrderedDict`, `Foo.Bar`). */
  readonly name: string;
  /** Byte offset of the opcode that referenced it. */
  readonly offset: number;
  /** The opcode that referenced it (`GLOBAL`, `STACK_GLOBAL`, `INST`, `OBJ`'s class). */
  readonly opcode: string;
  /** True for names that are never allowed whatever the options (`os.system`, `builtins.eval`, ...). */
  readonly dangerous: boolean;
  /** The pickle it occurs in (`data.pkl`, `object`), when the caller knows it. */
  readonly record?: string;
  /** When the caller knows the record is one torch does not read, or reads leniently: what reads it and why it is irregular. */
  readonly note?: string;
}

/** A global outside the allowlist/registry (policy "reject"), or a dangerous one (always). */
export class UnsafeGlobalError extends PickleError {
  /** The refused globals: the one the unpickler met (`@pt/serialization`'s error of the same name lists a file's). */
  readonly globals: readonly RefusedGlobal[];
  constructor(global: RefusedGlobal) {
    const { module, name, dangerous } = global;
    super(
      "UnsafeGlobal",
      `${dangerous ? "dangerous" : "unsafe"} global ${module}.${name} refused${
        dangerous ? " (never loaded whatever the options)" : " (not in the allowlist or registry)"
      }`,
      { offset: global.offset, opcode: global.opcode },
    );
    this.globals = [global];
  }
}

/** The input ended inside an opcode or before STOP. */
export class TruncatedError extends PickleError {
  constructor(
    message: string,
    readonly needed: number,
    readonly available: number,
    fields: PickleErrorFields,
  ) {
    super("Truncated", message, fields);
  }
}

/** A byte that is not an opcode, or an opcode that cannot be used here. */
export class InvalidOpcodeError extends PickleError {
  constructor(message: string, fields: PickleErrorFields) {
    super("InvalidOpcode", message, fields);
  }
}

/** A configured limit (`maxDepth`, `maxMemoEntries`, lengths, allocation) was exceeded. */
export class LimitError extends PickleError {
  constructor(
    /** The option name, e.g. `"maxMemoEntries"`. */
    readonly limit: string,
    readonly value: number,
    readonly max: number,
    fields: PickleErrorFields,
  ) {
    super("Limit", `${limit} exceeded: ${value} > ${max}`, fields);
  }
}

/** Stack or MARK misuse (pop from an empty stack, missing MARK, wrong operand types). */
export class StackError extends PickleError {
  constructor(message: string, fields: PickleErrorFields) {
    super("Stack", message, fields);
  }
}

/** A memo key read before being stored. */
export class MemoError extends PickleError {
  constructor(
    message: string,
    readonly key: number,
    fields: PickleErrorFields,
  ) {
    super("Memo", message, fields);
  }
}

/** An argument that does not parse (bad UTF-8, bad int literal, bad quotes...). */
export class InvalidValueError extends PickleError {
  constructor(message: string, fields: PickleErrorFields) {
    super("InvalidValue", message, fields);
  }
}

/** A valid opcode that needs something not configured (persistentLoad, extension registry, buffers). */
export class UnsupportedError extends PickleError {
  constructor(message: string, fields: PickleErrorFields) {
    super("Unsupported", message, fields);
  }
}

/** A user hook (registry value, persistentLoad, ...) threw; the original error is `cause`. */
export class HookError extends PickleError {
  constructor(message: string, fields: PickleErrorFields) {
    super("Hook", message, fields);
  }
}

/**
 * Protocol-4 framing violated (as CPython's pure-Python `_Unframer` refuses it): an opcode or its
 * argument crossing the end of a FRAME, a FRAME inside an unfinished frame, or STOP before the
 * end of its frame. `frameStart` is the offset of the FRAME opcode, `frameEnd` the offset just past
 * its declared bytes.
 */
export class FrameError extends PickleError {
  constructor(
    message: string,
    readonly frameStart: number,
    readonly frameEnd: number,
    fields: PickleErrorFields,
  ) {
    super("Frame", message, fields);
  }
}

/** The framing error for the opcode at `opPos`..`opEnd` within the frame `frameStart`..`frameEnd` (null when framing holds). */
export function frameViolation(
  opcode: string,
  opPos: number,
  opEnd: number,
  frameStart: number,
  frameEnd: number,
): FrameError | null {
  if (opEnd > frameEnd)
    return new FrameError(
      `an opcode runs to offset ${opEnd}, past the end (offset ${frameEnd}) of the FRAME at offset ${frameStart}`,
      frameStart,
      frameEnd,
      { offset: opPos, opcode },
    );
  if (opcode === "FRAME")
    return new FrameError(
      `a FRAME begins inside the unfinished FRAME at offset ${frameStart} (which ends at offset ${frameEnd})`,
      frameStart,
      frameEnd,
      { offset: opPos, opcode },
    );
  if (opcode === "STOP" && opEnd !== frameEnd)
    return new FrameError(
      `STOP ends the pickle ${frameEnd - opEnd} bytes before the end (offset ${frameEnd}) of the FRAME at offset ${frameStart}`,
      frameStart,
      frameEnd,
      { offset: opPos, opcode },
    );
  return null;
}

/** `dumps` met a value it cannot write. */
export class UnpicklableError extends PickleError {
  constructor(message: string, fields: PickleErrorFields = {}) {
    super("Unpicklable", message, fields);
  }
}

/** Type guard: `e` is a `PickleError`, optionally of the given `code`. */
export const isPickleError = errorGuard(PickleError);
