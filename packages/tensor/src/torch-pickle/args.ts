/** The error and the argument checks the torch pickle bindings share. */
import { type HookContext, isTuple, PyFloat, type PyTuple } from "@pt/pickle";
import { ALL_DTYPES, type DType, Storage } from "@pt/storage";
import { TensorError } from "../errors.js";
import { Tensor } from "../tensor.js";

/** An error while interpreting or producing torch pickle values. */
export class TorchPickleError extends TensorError {
  override name = "TorchPickleError";
  constructor(
    message: string,
    details: Readonly<Record<string, unknown>> = {},
    options?: { cause?: unknown },
  ) {
    super("Pickle", message, details, options);
  }
}

export const msg = (e: unknown) => (e instanceof TensorError ? e.torchMessage : (e as Error).message);
export const where = (ctx: HookContext | undefined) =>
  ctx ? ` (${ctx.opcode} at offset ${ctx.offset})` : "";

/** `what` + `suffix` names the argument in the error (two parts: nothing is concatenated unless it throws). */
export function int(v: unknown, what: string, suffix = ""): number {
  if (typeof v === "number" && Number.isSafeInteger(v)) return v;
  if (suffix !== "") what = `${what}${suffix}`;
  if (typeof v === "bigint" && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) {
    return Number(v);
  }
  if (typeof v === "boolean") return v ? 1 : 0;
  throw new TorchPickleError(`${what} must be an integer, got ${describe(v)}`, { what });
}
export function float(v: unknown, what: string): number {
  if (typeof v === "number") return v;
  if (v instanceof PyFloat) return v.value;
  if (typeof v === "bigint") return Number(v);
  throw new TorchPickleError(`${what} must be a number, got ${describe(v)}`, { what });
}
/** Element `i` of an int tuple; its name (`fn` + `suffix` + `[i]`) is only built for the error. */
export function intAt(v: readonly unknown[], i: number, fn: string, suffix: string): number {
  const x: unknown = v[i];
  return typeof x === "number" && Number.isSafeInteger(x) ? x : int(x, `${fn}${suffix}[${i}]`);
}
export function ints(v: unknown, fn: string, suffix = ""): number[] {
  if (!Array.isArray(v)) {
    const what = `${fn}${suffix}`;
    throw new TorchPickleError(`${what} must be a tuple of ints, got ${describe(v)}`, { what });
  }
  const n = v.length;
  // Tensors keep this array (frozen) as their shape/stride: up to 4 dimensions as literals (packed,
  // exactly as long: a pushed array would reserve 16 slots), longer ones preallocated.
  switch (n) {
    case 0:
      return [];
    case 1:
      return [intAt(v, 0, fn, suffix)];
    case 2:
      return [intAt(v, 0, fn, suffix), intAt(v, 1, fn, suffix)];
    case 3:
      return [intAt(v, 0, fn, suffix), intAt(v, 1, fn, suffix), intAt(v, 2, fn, suffix)];
    case 4:
      return [
        intAt(v, 0, fn, suffix),
        intAt(v, 1, fn, suffix),
        intAt(v, 2, fn, suffix),
        intAt(v, 3, fn, suffix),
      ];
  }
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = intAt(v, i, fn, suffix);
  return out;
}
export function describe(v: unknown): string {
  if (v === null) return "None";
  if (Array.isArray(v)) return isTuple(v) ? `a tuple of ${v.length}` : `a list of ${v.length}`;
  if (typeof v === "object") return (v as object).constructor?.name ?? "an object";
  return `${typeof v} ${String(v)}`;
}
export function args(a: PyTuple, min: number, max: number, fn: string, ctx?: HookContext): unknown[] {
  if (a.length < min || a.length > max) {
    throw new TorchPickleError(
      `${fn} takes ${min === max ? min : `${min} to ${max}`} arguments, got ${a.length}${where(ctx)}`,
      { fn, got: a.length },
    );
  }
  return a;
}
export function asStorage(v: unknown, fn: string): Storage {
  if (v instanceof Storage) return v;
  throw new TorchPickleError(`${fn}: expected a storage (from persistent_load), got ${describe(v)}`, { fn });
}
export function asTensor(v: unknown, what: string): Tensor {
  if (v instanceof Tensor) return v;
  throw new TorchPickleError(`${what} must be a tensor, got ${describe(v)}`, { what });
}
export function asDType(v: unknown, what: string): DType {
  if (ALL_DTYPES.includes(v as DType)) return v as DType;
  throw new TorchPickleError(`${what} must be a dtype, got ${describe(v)}`, { what });
}
export function bool(v: unknown): boolean {
  return v === true || v === 1;
}
export function stateToAttributes(state: unknown): Map<string, unknown> | null {
  if (state === null || state === undefined) return null;
  if (state instanceof Map) return state.size ? new Map([...state].map(([k, v]) => [String(k), v])) : null;
  if (isTuple(state) && state.length === 2) {
    const m = new Map<string, unknown>();
    for (const part of state) if (part instanceof Map) for (const [k, v] of part) m.set(String(k), v);
    return m.size ? m : null;
  }
  throw new TorchPickleError(`Invalid serialized state: ${describe(state)}`);
}
