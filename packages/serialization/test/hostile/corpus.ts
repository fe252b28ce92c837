/**
 * Shared helpers of the hostile-input tests: the generated corpus (fixtures/hostile), the
 * hand-kept known-gaps list, and the rules that decide whether an outcome is acceptable.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { LegacyFormatError } from "@pt/legacy-format";
import { NnError } from "@pt/nn-module";
import { PickleError } from "@pt/pickle";
import { StorageError } from "@pt/storage";
import { Tensor, TensorError } from "@pt/tensor";
import { ZipError } from "@pt/zip-format";
import { SerializationError } from "../../src/index.js";

export const hostileDir = new URL("../../fixtures/hostile/", import.meta.url);

/** A single expected outcome, as written by fixtures/hostile/generate.py. */
export type Expected =
  | { readonly loads: true; readonly check?: string }
  | {
      readonly error: readonly string[];
      readonly messageIncludes?: readonly string[];
      readonly messageMatches?: string;
    }
  | { readonly anyOf: readonly Expected[] };

export interface HostileCase {
  readonly name: string;
  readonly file: string;
  readonly category: string;
  readonly description: string;
  readonly target: "load" | "loads";
  readonly bytes: number;
  readonly sha256: string;
  readonly options?: Record<string, unknown>;
  /** Globals a scan must flag (malicious files); `dangerous: null` means either. */
  readonly scan?: readonly { readonly global: string; readonly dangerous: boolean | null }[];
  readonly expected: Expected;
}

export interface Manifest {
  readonly seed: number;
  readonly cases: readonly HostileCase[];
}

export function readManifest(): Manifest {
  return JSON.parse(readFileSync(new URL("manifest.json", hostileDir), "utf8")) as Manifest;
}

/** Known gaps: case name → why the implementation does not (yet) give the documented outcome. */
export function readKnownGaps(): Record<string, string> {
  const raw = JSON.parse(readFileSync(new URL("known-gaps.json", hostileDir), "utf8")) as {
    gaps: Record<string, { knownGap: string; expected?: string }>;
  };
  return Object.fromEntries(Object.entries(raw.gaps).map(([k, v]) => [k, v.knownGap]));
}

/** The input bytes of a case (gunzipped when committed as .gz), checked against the manifest hash. */
export function caseBytes(c: HostileCase): Uint8Array {
  const stored = readFileSync(fileURLToPath(new URL(`files/${c.file}`, hostileDir)));
  const data = c.file.endsWith(".gz") ? gunzipSync(stored) : stored;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.length !== c.bytes || sha256(bytes) !== c.sha256)
    throw new Error(`${c.file}: bytes differ from manifest.json (rerun generate.py)`);
  return bytes;
}

export function sha256(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Base classes of every typed error our packages throw. */
export const OUR_ERROR_BASES = [
  PickleError,
  ZipError,
  LegacyFormatError,
  StorageError,
  TensorError,
  SerializationError,
  NnError,
] as const;

const LAYER_PREFIX = /^(pickle|zip|legacy|storage|tensor|serialization|nn): /;

/** `e` is one of our typed errors: an instance of a package base class, with a string code and a layer-prefixed message. */
export function isOurError(e: unknown): e is Error & { code: string } {
  return (
    OUR_ERROR_BASES.some((B) => e instanceof B) &&
    typeof (e as { code?: unknown }).code === "string" &&
    LAYER_PREFIX.test((e as Error).message)
  );
}

/** The error and its `cause` chain. */
export function causeChain(e: unknown): unknown[] {
  const out: unknown[] = [];
  let cur: unknown = e;
  while (cur !== undefined && cur !== null && out.length < 16 && !out.includes(cur)) {
    out.push(cur);
    cur = (cur as { cause?: unknown }).cause;
  }
  return out;
}

/** Class names (own class and bases up to Error) and the `code` of one error. */
function namesOf(e: unknown): string[] {
  const names: string[] = [];
  if (typeof e !== "object" || e === null) return names;
  let proto = Object.getPrototypeOf(e) as { constructor?: { name?: string } } | null;
  while (proto && proto !== Error.prototype && proto !== Object.prototype) {
    const n = proto.constructor?.name;
    if (n) names.push(n);
    proto = Object.getPrototypeOf(proto) as typeof proto;
  }
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string") names.push(code);
  return names;
}

/** What happened when a case ran. */
export type Outcome =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: unknown };

function lookup(v: unknown, key: string): unknown {
  if (v instanceof Map) return v.get(key);
  if (typeof v === "object" && v !== null && Object.hasOwn(v, key))
    return (v as Record<string, unknown>)[key];
  return undefined;
}

function isTensorLike(v: unknown): v is Tensor {
  return v instanceof Tensor;
}

/** Distinct objects reachable from `v` (by identity), stopping at `cap`. */
function distinctNodes(v: unknown, cap: number): number {
  const seen = new Set<unknown>();
  const todo: unknown[] = [v];
  while (todo.length > 0 && seen.size < cap) {
    const x = todo.pop();
    if (typeof x !== "object" || x === null || seen.has(x)) continue;
    seen.add(x);
    if (x instanceof Tensor) continue;
    if (Array.isArray(x)) for (const y of x) todo.push(y);
    else if (x instanceof Map)
      for (const [k, y] of x) {
        todo.push(k);
        todo.push(y);
      }
  }
  return seen.size;
}

/** Checks named by `expected.check`: return a problem, or null. */
const CHECKS: Record<string, (v: unknown) => string | null> = {
  /** The torch-made base: w (2x3 float32), row = w[1] sharing w's storage at offset 3, b (int64). */
  base(v) {
    const w = lookup(v, "w");
    const row = lookup(v, "row");
    const b = lookup(v, "b");
    if (!isTensorLike(w) || !isTensorLike(row) || !isTensorLike(b)) return "w, row and b are not all tensors";
    if (w.dtype.name !== "float32" || w.shape.join() !== "2,3")
      return `w is ${w.dtype.name} ${w.shape.join("x")}`;
    if (row.storage !== w.storage || row.storageOffset !== 3 || row.shape.join() !== "3")
      return "row does not share w's storage at offset 3";
    if (b.dtype.name !== "int64" || b.shape.join() !== "2")
      return `b is ${b.dtype.name} ${b.shape.join("x")}`;
    return null;
  },
  /** A state dict whose `w` is a 2x3 float32 tensor. */
  w(v) {
    const w = lookup(v, "w");
    if (!isTensorLike(w)) return "w is not a tensor";
    if (w.dtype.name !== "float32" || w.shape.join() !== "2,3")
      return `w is ${w.dtype.name} ${w.shape.join("x")}`;
    return null;
  },
  /** Memo bomb: the value stays a small graph of shared objects. */
  laughs(v) {
    const n = distinctNodes(v, 10_000);
    return n >= 10_000 ? `memo bomb expanded: at least ${n} distinct objects` : null;
  },
  /** No prototype was changed; the keys are ordinary data. */
  proto(v) {
    const problem = prototypeProblem();
    if (problem) return problem;
    if (v instanceof Map && !v.has("__proto__") && !v.has("constructor") && v.size > 0)
      return "the __proto__/constructor keys were dropped";
    return null;
  },
};

/** Non-null when a builtin prototype was polluted. */
export function prototypeProblem(): string | null {
  for (const [label, proto] of [
    ["Object", Object.prototype],
    ["Array", Array.prototype],
    ["Map", Map.prototype],
    ["Function", Function.prototype],
  ] as const) {
    if (Object.hasOwn(proto, "polluted")) return `${label}.prototype was polluted`;
  }
  if (({} as Record<string, unknown>).polluted !== undefined) return "({}).polluted is defined";
  if (Object.prototype.toString !== ORIGINAL_TO_STRING) return "Object.prototype.toString was replaced";
  return null;
}
const ORIGINAL_TO_STRING = Object.prototype.toString;

function describeError(e: unknown): string {
  if (e instanceof Error)
    return `${e.constructor.name}${(e as { code?: unknown }).code ? `[${String((e as { code?: unknown }).code)}]` : ""}: ${e.message}`;
  return String(e);
}

/** Why `outcome` does not satisfy `expected` (null when it does). */
export function mismatch(expected: Expected, outcome: Outcome): string | null {
  if ("anyOf" in expected) {
    const problems = expected.anyOf.map((alt) => mismatch(alt, outcome));
    return problems.includes(null) ? null : `none of the alternatives: ${problems.join(" | ")}`;
  }
  if ("loads" in expected) {
    if (!outcome.ok) return `expected a successful load, got ${describeError(outcome.error)}`;
    return expected.check ? (CHECKS[expected.check]?.(outcome.value) ?? null) : null;
  }
  if (outcome.ok) return `expected ${expected.error.join("/")}, but it loaded`;
  const e = outcome.error;
  if (!isOurError(e)) return `not one of our typed errors: ${describeError(e)}`;
  const chain = causeChain(e);
  const names = new Set(chain.flatMap(namesOf));
  if (!expected.error.some((n) => names.has(n)))
    return `expected ${expected.error.join("/")}, got ${describeError(e)} (chain: ${[...names].join(", ")})`;
  for (const s of expected.messageIncludes ?? [])
    if (!e.message.includes(s)) return `message lacks ${JSON.stringify(s)}: ${e.message}`;
  if (expected.messageMatches !== undefined && !new RegExp(expected.messageMatches).test(e.message))
    return `message does not match /${expected.messageMatches}/: ${e.message}`;
  return null;
}
