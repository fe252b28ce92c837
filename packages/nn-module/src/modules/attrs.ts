/** Readers of constructor attributes from a module's `__dict__`, shared by the module classes. */
import { PyFloat, type PyTuple, tuple } from "@pt/pickle";
import type { Parameter, Tensor } from "@pt/tensor";
import { NnError } from "../errors.js";
import type { Module } from "../module.js";

export function num(m: Module, key: string): number {
  const v = m.dict.get(key);
  if (typeof v === "number") return v;
  if (v instanceof PyFloat) return v.value;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "boolean") return v ? 1 : 0;
  throw new NnError("InvalidState", `${m.className}.${key} is not a number`, { key });
}
export function numOrNull(m: Module, key: string): number | null {
  const v = m.dict.get(key);
  return v === null || v === undefined ? null : num(m, key);
}
export function bool(m: Module, key: string): boolean {
  const v = m.dict.get(key);
  if (typeof v === "boolean") return v;
  if (typeof v === "number") return v !== 0;
  throw new NnError("InvalidState", `${m.className}.${key} is not a bool`, { key });
}
export function str(m: Module, key: string): string {
  const v = m.dict.get(key);
  if (typeof v === "string") return v;
  throw new NnError("InvalidState", `${m.className}.${key} is not a str`, { key });
}
export function toNum(v: unknown): number {
  if (typeof v === "number") return v;
  if (v instanceof PyFloat) return v.value;
  if (typeof v === "bigint") return Number(v);
  return Number.NaN;
}
/** An int-or-tuple attribute as an array of numbers (`3` → `[3]`). */
export function ints(m: Module, key: string): number[] {
  const v = m.dict.get(key);
  if (Array.isArray(v)) return v.map(toNum);
  if (typeof v === "number" || typeof v === "bigint" || v instanceof PyFloat) return [toNum(v)];
  throw new NnError("InvalidState", `${m.className}.${key} is not an int or a tuple of ints`, { key });
}
/** An int-or-tuple attribute as stored (a number, an array of numbers, or null). */
export function intOrTuple(m: Module, key: string): number | number[] | null {
  const v = m.dict.get(key);
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) return v.map(toNum);
  if (typeof v === "string") throw new NnError("InvalidState", `${m.className}.${key} is a str`, { key });
  return toNum(v);
}
export function tensorParam(m: Module, key: string): Parameter | null {
  return (m.parametersDict.get(key) ?? null) as Parameter | null;
}
export function buffer(m: Module, key: string): Tensor | null {
  return m.buffersDict.get(key) ?? null;
}
export const ntuple = (v: number | readonly number[], n: number): PyTuple<number> =>
  tuple(typeof v === "number" ? new Array<number>(n).fill(v) : v.slice());

/** Set several `__dict__` attributes in order (plain attributes, as `self.x = …` does). */
export function setAll(m: Module, entries: ReadonlyArray<readonly [string, unknown]>): void {
  for (const [k, v] of entries) m.setAttr(k, v);
}
