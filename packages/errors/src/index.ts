/**
 * `@pt/errors`: the one error contract of the `@pt/*` packages (ARCHITECTURE.md, "Errors").
 *
 * Every package has one base class built on {@link PtError} (`PickleError`, `StorageError`, …), one
 * subclass per kind of failure, and a guard made by {@link errorGuard}. Each error carries:
 *
 * - the brand `Symbol.for("pt.error")`, whose value is its **layer** (`"pickle"`, `"storage"`,
 *   `"zip"`, …); the message starts with the same word (`pickle: …`);
 * - a PascalCase string **code** from the package's own `XErrorCode` union (each layer's codes its
 *   own: a lower layer's failure is wrapped as `cause` or rethrown as is, never re-coded);
 * - the **where**: `offset` (byte offset in the input) and `record` (the record, section or part
 *   of the input) when known, and `details` for the rest of the numbers.
 *
 * The brand is a well-known symbol, so {@link isPtError} recognizes an error even when two copies
 * of this package are installed side by side.
 */

/** The key of the brand every `@pt/*` error carries: its value is the layer. */
export const PT_ERROR: unique symbol = Symbol.for("pt.error");

/** Structured details of an error beyond its offset and record (sizes, names, limits, …). */
export type PtErrorDetails = Readonly<Record<string, unknown>>;

/** The where-fields and cause a {@link PtError} is built with. */
export interface PtErrorFields {
  /** Byte offset in the input where the failure was found, when known. */
  readonly offset?: number | undefined;
  /** The record, section or part of the input concerned, when known. */
  readonly record?: string | undefined;
  /** Other structured fields (sizes, names, limits). */
  readonly details?: PtErrorDetails | undefined;
  /** The error this one wraps (a lower layer's, or a host error). */
  readonly cause?: unknown;
}

/**
 * Base class of every error thrown by a `@pt/*` package. A package's own base class fixes the
 * layer and the code union: `class PickleError extends PtError<"pickle", PickleErrorCode>`, its
 * constructor calling `super("pickle", code, message, fields)`.
 */
export class PtError<Layer extends string = string, Code extends string = string> extends Error {
  /** The brand (`Symbol.for("pt.error")` → the layer), what {@link isPtError} checks. */
  declare readonly [PT_ERROR]: Layer;
  /** What failed, from the layer's own PascalCase code union. */
  readonly code: Code;
  /** Byte offset in the input where the failure was found, when known. */
  readonly offset: number | undefined;
  /** The record, section or part of the input concerned, when known. */
  readonly record: string | undefined;
  /** Other structured fields (empty when there are none). */
  readonly details: PtErrorDetails;
  constructor(layer: Layer, code: Code, message: string, fields: PtErrorFields = {}) {
    super(`${layer}: ${message}`, fields.cause === undefined ? undefined : { cause: fields.cause });
    Object.defineProperty(this, PT_ERROR, { value: layer });
    this.name = new.target.name;
    this.code = code;
    this.offset = fields.offset;
    this.record = fields.record;
    this.details = fields.details ?? {};
  }
  /** The layer that threw it (`"pickle"`, `"zip"`, …): the brand's value and the message's first word. */
  get layer(): Layer {
    return this[PT_ERROR];
  }
}

/**
 * The type guard of one error class: `isX(e, code?)` is true when `e` is an instance of `cls`
 * (optionally with the given code). Each package exports one for its base class
 * (`export const isPickleError = errorGuard(PickleError)`).
 */
export function errorGuard<E extends PtError>(
  cls: abstract new (...args: never[]) => E,
): (e: unknown, code?: E["code"]) => e is E {
  return (e: unknown, code?: E["code"]): e is E =>
    e instanceof cls && (code === undefined || e.code === code);
}

/**
 * True when `e` is an error of any `@pt/*` package (it carries the brand and a string code),
 * optionally of the given layer and code. Checks the brand, not `instanceof`: an error from another
 * copy of this package counts too.
 */
export function isPtError(e: unknown, where: { layer?: string; code?: string } = {}): e is PtError {
  if (typeof e !== "object" || e === null) return false;
  const layer = (e as { [PT_ERROR]?: unknown })[PT_ERROR];
  const code = (e as { code?: unknown }).code;
  return (
    typeof layer === "string" &&
    typeof code === "string" &&
    (where.layer === undefined || layer === where.layer) &&
    (where.code === undefined || code === where.code)
  );
}

/** The layer of a `@pt/*` error (`"pickle"`, `"zip"`, …), or undefined for any other value. */
export function ptErrorLayer(e: unknown): string | undefined {
  return isPtError(e) ? e[PT_ERROR] : undefined;
}

/** The constructor of a layer's base class made by {@link layerError}. */
export interface LayerErrorClass<Layer extends string, Code extends string> {
  new (
    code: Code,
    message: string,
    details?: PtErrorDetails,
    options?: { readonly cause?: unknown },
  ): PtError<Layer, Code>;
  readonly prototype: PtError<Layer, Code>;
}

/**
 * The base class of a layer whose errors carry their numbers in `details` (no offset or record of
 * their own): `class StorageError extends layerError<"storage", StorageErrorCode>("storage") {}`,
 * whose constructor is `(code, message, details?, { cause? })`.
 */
export function layerError<Layer extends string, Code extends string>(
  layer: Layer,
): LayerErrorClass<Layer, Code> {
  return class extends PtError<Layer, Code> {
    constructor(
      code: Code,
      message: string,
      details?: PtErrorDetails,
      options: { readonly cause?: unknown } = {},
    ) {
      super(layer, code, message, { details, cause: options.cause });
    }
  };
}
