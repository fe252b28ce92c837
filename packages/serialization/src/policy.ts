import { torchGlobals } from "@pt/tensor";
import type { RefusedGlobal } from "./errors.js";
import {
  defaultGlobals,
  GlobalRegistry,
  genops,
  isDangerousGlobal,
  PY2_MODULES_FALLBACK,
  PyGlobal,
} from "./pickle-compat.js";

/** A global as referenced by a pickle. */
export interface GlobalReference {
  readonly module: string;
  readonly name: string;
  readonly offset: number;
  readonly opcode: string;
}

const STRING_OPS = new Set([
  "SHORT_BINUNICODE",
  "BINUNICODE",
  "BINUNICODE8",
  "UNICODE",
  "SHORT_BINSTRING",
  "BINSTRING",
  "STRING",
]);

/**
 * Every global a pickle references (GLOBAL, INST, and STACK_GLOBAL with its two strings tracked
 * through the memo), in order, without resolving or executing anything. `offset` is where the
 * pickle starts; returns the references and where the pickle ended. Stops quietly at a malformed
 * opcode (the loader reports that).
 */
export function scanGlobals(
  data: Uint8Array,
  offset = 0,
): { globals: GlobalReference[]; end: number | null } {
  const out: GlobalReference[] = [];
  const memo = new Map<number, string | null>();
  const recent: Array<string | null> = [];
  let memoIdx = 0;
  let end: number | null = null;
  try {
    for (const { op, arg, pos } of genops(data, offset)) {
      const n = op.name;
      if (n === "GLOBAL" || n === "INST") {
        const s = String(arg);
        const sp = s.indexOf(" ");
        out.push({ module: s.slice(0, sp), name: s.slice(sp + 1), offset: pos, opcode: n });
        recent.push(null);
      } else if (n === "STACK_GLOBAL") {
        const a = recent[recent.length - 2];
        const b = recent[recent.length - 1];
        out.push(
          typeof a === "string" && typeof b === "string"
            ? { module: a, name: b, offset: pos, opcode: n }
            : { module: "?", name: "?", offset: pos, opcode: n },
        );
        recent.push(null);
      } else if (STRING_OPS.has(n)) {
        recent.push(typeof arg === "string" ? arg : null);
      } else if (n === "MEMOIZE") {
        memo.set(memoIdx++, recent[recent.length - 1] ?? null);
      } else if (n === "PUT" || n === "BINPUT" || n === "LONG_BINPUT") {
        memo.set(Number(arg), recent[recent.length - 1] ?? null);
      } else if (n === "GET" || n === "BINGET" || n === "LONG_BINGET") {
        recent.push(memo.get(Number(arg)) ?? null);
      } else if (n === "STOP") {
        end = pos + 1;
        break;
      } else if (n !== "FRAME" && n !== "PROTO") {
        recent.push(null);
      }
      if (recent.length > 64) recent.splice(0, recent.length - 8);
    }
  } catch {
    // malformed input: the references found so far
  }
  return { globals: out, end };
}

/** Parse `allowGlobals` entries: `"module.name"` (split at the last dot) or `[module, name]`. */
export function parseAllowed(
  entries: Iterable<string | readonly [module: string, name: string]>,
): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const e of entries) {
    if (typeof e === "string") {
      const i = e.lastIndexOf(".");
      if (i <= 0 || i === e.length - 1)
        throw new TypeError(`allowGlobals entry ${JSON.stringify(e)} is not module.name`);
      out.push([e.slice(0, i), e.slice(i + 1)]);
    } else out.push([e[0], e[1]]);
  }
  return out;
}

/**
 * torch's `weights_only` allowlist as a registry (FORMAT.md §7): rebuild functions, storage
 * classes, dtypes, `torch.Size`, `torch.device`, `_get_layout`, layouts, qschemes, `torch.Tensor`,
 * `Parameter` (all from `torchGlobals()`), `collections.Counter` (an inert placeholder), on top of `@pt/pickle`'s pure-data allowlist
 * (`OrderedDict`, `set`, `frozenset`, `bytearray`, `complex`, `_codecs.encode`…). Entries of
 * `allowGlobals` are added as inert placeholders (`PyGlobal`: calling one builds a `PyObject`)
 * unless `known` has a real implementation for them.
 */
export function weightsOnlyRegistry(
  allowGlobals: Iterable<string | readonly [string, string]> = [],
  known?: GlobalRegistry,
): GlobalRegistry {
  const r = torchGlobals();
  // in torch's allowlist but without a JS model here: an inert placeholder (a dict subclass)
  r.register("collections", "Counter", new PyGlobal("collections", "Counter"));
  for (const [m, n] of parseAllowed(allowGlobals)) {
    if (known?.has(m, n)) r.register(m, n, known.get(m, n));
    else r.register(m, n, new PyGlobal(m, n));
  }
  return r;
}

/** Whether a registry (plus the built-in pure-data allowlist) resolves `module.name`. */
export function isAllowed(registry: GlobalRegistry, module: string, name: string): boolean {
  if (isDangerousGlobal(module, name)) return false;
  const base = defaultGlobals();
  const alt = PY2_MODULES_FALLBACK.get(module);
  return (
    registry.has(module, name) ||
    base.has(module, name) ||
    (alt !== undefined && (registry.has(alt, name) || base.has(alt, name)))
  );
}

/**
 * The globals of `refs` a policy refuses: not allowed by `registry` (when `opaque` is false), or
 * dangerous. First occurrence of each name.
 */
export function refusedGlobals(
  refs: readonly GlobalReference[],
  registry: GlobalRegistry,
  opaque: boolean,
  record: string,
): RefusedGlobal[] {
  const seen = new Set<string>();
  const out: RefusedGlobal[] = [];
  for (const g of refs) {
    const k = `${g.module}.${g.name}`;
    if (seen.has(k)) continue;
    const dangerous = isDangerousGlobal(g.module, g.name);
    if (dangerous || (!opaque && !isAllowed(registry, g.module, g.name))) {
      seen.add(k);
      out.push({ ...g, record, dangerous });
    }
  }
  return out;
}

export { GlobalRegistry };
