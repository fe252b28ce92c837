/**
 * `scanMany`: many checkpoints scanned one after another through the one seam (`pickleSections`
 * + `scanSections`), each ending in a verdict or a typed error, within a per-file budget of bytes
 * read and time. Only the pickles are read (zip central directories, pickle records, legacy
 * streams up to their tensor data); tensor bytes never are. DCP folders and sharded indexes are
 * one checkpoint each.
 */
import { BufferSource, type ByteSource } from "@pt/storage";
import {
  type DcpMetadata,
  dcpMetadataRegistry,
  dcpMetadataSection,
  parseDcpMetadata,
} from "./dcp/metadata.js";
import type { FileTree } from "./dcp/read.js";
import { SerializationError } from "./errors.js";
import type { GlobalRegistry, PickleSection } from "./pickle-compat.js";
import { weightsOnlyRegistry } from "./policy.js";
import {
  type FileSections,
  pickleSections,
  type ScanPolicyOptions,
  type ScanProblem,
  scanSections,
} from "./scan.js";
import { parseShardIndex } from "./sharded.js";

/** One checkpoint to scan: a file (a source, or a function opening it), a DCP folder or a sharded index. */
export type ScanInput =
  | {
      readonly path: string;
      readonly kind?: "file";
      readonly open: () => ByteSource | Promise<ByteSource>;
    }
  | { readonly path: string; readonly kind: "dcp"; readonly tree: FileTree }
  | {
      readonly path: string;
      readonly kind: "sharded";
      readonly tree: FileTree;
      /** The index's name in `tree` (`model.safetensors.index.json`). */
      readonly index: string;
    };

/** A file's verdict: `unreadable` when it could not be scanned completely and nothing unsafe was found. */
export type FileVerdict = "safe" | "unsafe" | "dangerous" | "unreadable";

/** Options of {@link scanMany}: the policy and per-file budgets. */
export interface ScanManyOptions extends ScanPolicyOptions {
  /** Most bytes read per checkpoint (default 1 GiB): past it the file is `unreadable` (`ScanBudget`). */
  readonly maxBytes?: number;
  /** Most milliseconds per checkpoint, checked between sections (default 30 000). */
  readonly timeoutMs?: number;
}

/** What {@link scanMany} says of one checkpoint. */
export interface ScanFileResult {
  readonly path: string;
  readonly kind: "file" | "dcp" | "sharded";
  readonly format: string;
  readonly verdict: FileVerdict;
  readonly sections: number;
  readonly pickles: number;
  /** Bytes read from the checkpoint's files. */
  readonly bytesRead: number;
  /** Each distinct global with its verdict, how often, and whether it makes the file unsafe. */
  readonly globals: ReadonlyArray<{
    readonly global: string;
    readonly verdict: "safe" | "unsafe" | "dangerous";
    readonly count: number;
    readonly flagged: boolean;
  }>;
  readonly problems: readonly ScanProblem[];
  /** Why the file could not be (fully) scanned: the typed error's class, code and message. */
  readonly error: { readonly name: string; readonly code: string | null; readonly message: string } | null;
}

/** A ByteSource counting the bytes read through it, refusing reads past a budget. */
class CountingSource implements ByteSource {
  readonly byteLength: number;
  constructor(
    private readonly inner: ByteSource,
    private readonly budget: { read: number; readonly max: number; readonly path: string },
  ) {
    this.byteLength = inner.byteLength;
    if (inner.readSync) this.readSync = (o, n) => inner.readSync?.(o, this.count(o, n)) as Uint8Array;
  }
  readSync?: (offset: number, length: number) => Uint8Array;
  private count(offset: number, length: number): number {
    this.budget.read += length;
    if (this.budget.read > this.budget.max)
      throw new SerializationError(
        "ScanBudget",
        `serialization: scan: ${this.budget.path}: more than ${this.budget.max} bytes would be read (at offset ${offset})`,
        {},
      );
    return length;
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    return this.inner.read(offset, this.count(offset, length));
  }
  close(): void | Promise<void> {
    return this.inner.close?.();
  }
}

async function syncable(src: ByteSource): Promise<ByteSource> {
  if (src.readSync) return src;
  return new BufferSource(await src.read(0, src.byteLength));
}

/** Whether the first bytes are a safetensors header (u64 length, then `{`): no pickles, nothing to run. */
export function looksLikeSafetensors(head: Uint8Array, size: number): boolean {
  if (head.length < 9 || head[8] !== 0x7b) return false;
  const n = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
  return n > 1n && n <= BigInt(size - 8);
}

interface Part {
  readonly prefix: string;
  readonly sections: FileSections;
  readonly policy: ScanPolicyOptions;
}

function errorInfo(e: unknown): NonNullable<ScanFileResult["error"]> {
  const err = e instanceof Error ? e : new Error(String(e));
  const code = (err as { code?: unknown }).code;
  return { name: err.name, code: typeof code === "string" ? code : null, message: err.message };
}

/** The parts (sections with their policy) of one checkpoint. */
async function* partsOf(
  input: ScanInput,
  wrap: (s: ByteSource) => ByteSource,
  policy: ScanPolicyOptions,
): AsyncGenerator<Part> {
  if (input.kind === "dcp") {
    const src = wrap(await input.tree.open(".metadata"));
    try {
      const bytes = await src.read(0, src.byteLength);
      const section = dcpMetadataSection(bytes);
      // the DCP dataclasses are allowed here, as torch.distributed.checkpoint allows them
      const registry = dcpMetadataRegistry();
      yield {
        prefix: "",
        sections: { format: "pickle", unsupported: null, sections: [section] },
        policy: { ...policy, registry },
      };
      yield* dcpBytesParts(input.tree, bytes, wrap, policy);
    } finally {
      await src.close?.();
    }
    return;
  }
  if (input.kind === "sharded") {
    const isrc = wrap(await input.tree.open(input.index));
    let text: string;
    try {
      text = new TextDecoder().decode(await isrc.read(0, isrc.byteLength));
    } finally {
      await isrc.close?.();
    }
    const index = parseShardIndex(text, input.index);
    for (const f of index.files) yield* fileParts(f, () => input.tree.open(f), wrap, policy);
    return;
  }
  yield* fileParts("", input.open, wrap, policy);
}

/**
 * The non-tensor items of a DCP folder: `dcp.load` gives each one's bytes (a range of a `.distcp`
 * file, written by `torch.save`) to `torch.load`, so each is scanned as the file it is. A
 * `.metadata` that cannot be parsed leaves them unlocated: a problem, never a silent pass.
 */
async function* dcpBytesParts(
  tree: FileTree,
  metadataBytes: Uint8Array,
  wrap: (s: ByteSource) => ByteSource,
  policy: ScanPolicyOptions,
): AsyncGenerator<Part> {
  let metadata: DcpMetadata;
  try {
    metadata = parseDcpMetadata(metadataBytes);
  } catch (e) {
    const error = e instanceof Error ? e : new Error(String(e));
    const unlocated: PickleSection = {
      name: ".distcp items",
      bytes: new Uint8Array(0),
      start: 0,
      fileOffset: null,
      untilEof: false,
      role: "unpickled by torch.distributed.checkpoint (torch.load of each non-tensor item)",
      loaded: true,
      error: new Error(`the non-tensor items could not be located: ${error.message}`),
    };
    yield { prefix: "", sections: { format: "pickle", unsupported: null, sections: [unlocated] }, policy };
    return;
  }
  for (const entry of metadata.entries.values()) {
    if (entry.kind !== "bytes") continue;
    const { relativePath, offset, length } = entry.storage;
    const src = wrap(await tree.open(relativePath));
    try {
      if (offset + length > src.byteLength)
        throw new SerializationError(
          "FormatUnsupported",
          `dcp: item ${entry.fqn} lies past the end of ${relativePath} (${offset}+${length} > ${src.byteLength})`,
          { record: relativePath },
        );
      const item = new BufferSource(await src.read(offset, length));
      yield { prefix: `${relativePath}[${entry.fqn}]`, sections: pickleSections(item), policy };
    } finally {
      await src.close?.();
    }
  }
}

async function* fileParts(
  prefix: string,
  open: () => ByteSource | Promise<ByteSource>,
  wrap: (s: ByteSource) => ByteSource,
  policy: ScanPolicyOptions,
): AsyncGenerator<Part> {
  const src = wrap(await syncable(await open()));
  try {
    const head = src.readSync?.(0, Math.min(16, src.byteLength)) ?? new Uint8Array(0);
    if (looksLikeSafetensors(head, src.byteLength)) {
      yield { prefix, sections: { format: "safetensors" as never, unsupported: null, sections: [] }, policy };
      return;
    }
    yield { prefix, sections: pickleSections(src), policy };
  } finally {
    await src.close?.();
  }
}

let plainRegistry: GlobalRegistry | null = null;

/** The policy's registry; the plain weights_only one (no `allowGlobals`) is built once per thread. */
function defaultRegistry(options: ScanPolicyOptions): GlobalRegistry {
  if (options.allowGlobals !== undefined) return weightsOnlyRegistry(options.allowGlobals);
  plainRegistry ??= weightsOnlyRegistry([]);
  return plainRegistry;
}

/** Scan one checkpoint (see {@link scanMany}). */
export async function scanOne(input: ScanInput, options: ScanManyOptions = {}): Promise<ScanFileResult> {
  // the registry is built once per file, not once per section
  if (!options.registry) options = { ...options, registry: defaultRegistry(options) };
  const budget = { read: 0, max: options.maxBytes ?? 2 ** 30, path: input.path };
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const kind = input.kind ?? "file";
  const counts = new Map<string, { global: string; verdict: FileVerdict; count: number; flagged: boolean }>();
  const problems: ScanProblem[] = [];
  let format = kind === "file" ? "unknown" : kind;
  let sections = 0;
  let pickles = 0;
  let error: ScanFileResult["error"] = null;
  let unscannable = false;
  let frames = false;
  try {
    for await (const part of partsOf(input, (s) => new CountingSource(s, budget), options)) {
      if (kind === "file") format = part.sections.format;
      if (part.sections.unsupported !== null) {
        unscannable = true;
        error = {
          name: "SerializationError",
          code: "FormatUnsupported",
          message: `${part.sections.unsupported} is not supported: nothing was scanned`,
        };
      }
      const isSafetensors = (part.sections.format as string) === "safetensors";
      if (!isSafetensors && part.sections.sections.length === 0 && part.sections.unsupported === null) {
        unscannable = true;
        error ??= { name: "SerializationError", code: "UnknownFormat", message: "no pickle found" };
      }
      // one section at a time, so the time budget is checked between sections
      for (const s of part.sections.sections) {
        if (Date.now() > deadline)
          throw new SerializationError(
            "ScanBudget",
            `serialization: scan: ${input.path}: over ${options.timeoutMs ?? 30_000} ms (before section ${s.name})`,
            { record: s.name },
          );
        const r = scanSections({ ...part.sections, sections: [s] }, part.policy);
        sections += 1;
        pickles += r.sections[0]?.pickles ?? 0;
        for (const g of r.globals) {
          let e = counts.get(g.global);
          if (!e) {
            e = { global: g.global, verdict: g.verdict, count: 0, flagged: false };
            counts.set(g.global, e);
          }
          e.count++;
          if (g.flagged) e.flagged = true;
        }
        for (const p of r.problems) {
          problems.push(part.prefix ? { ...p, section: `${part.prefix}:${p.section}` } : p);
          if (p.kind === "frame") frames = true;
        }
      }
    }
  } catch (e) {
    error = errorInfo(e);
    unscannable = true;
  }
  const globals = [...counts.values()] as Array<ScanFileResult["globals"][number]>;
  const verdict: FileVerdict = globals.some((g) => g.flagged && g.verdict === "dangerous")
    ? "dangerous"
    : globals.some((g) => g.flagged) || frames
      ? "unsafe"
      : unscannable || problems.length > 0
        ? "unreadable"
        : "safe";
  return {
    path: input.path,
    kind,
    format,
    verdict,
    sections,
    pickles,
    bytesRead: budget.read,
    globals,
    problems,
    error,
  };
}

/**
 * Scan many checkpoints, one after another, yielding one result per input in order. Each ends in
 * a verdict (`safe`, `unsafe`, `dangerous`) or `unreadable` with the typed error that stopped it;
 * no input can throw out of the iterator. Budgets are per input: bytes read (`maxBytes`) and
 * time (`timeoutMs`, checked between sections; a worker pool enforces hard limits, see `pt scan`).
 */
export async function* scanMany(
  inputs: Iterable<ScanInput> | AsyncIterable<ScanInput>,
  options: ScanManyOptions = {},
): AsyncGenerator<ScanFileResult> {
  for await (const input of inputs) yield await scanOne(input, options);
}
