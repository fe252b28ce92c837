/**
 * The one seam for "the pickles of a file" and their globals: format detection, the containers'
 * own section readers (`@pt/zip-format`, `@pt/legacy-format`, `.npy`/`.npz` here) and the one
 * global scanner (`@pt/pickle`'s `scanPickle`), judged by the one policy (`policy.ts`). `scan()`,
 * the loader's refusal messages and every CLI command use it.
 */
import { LEGACY_ROLES, legacyPickleSections } from "@pt/legacy-format";
import type { ByteSource } from "@pt/storage";
import {
  looksLikePickles,
  ZIP_ROLES,
  ZipReader,
  type ZipReaderOptions,
  zipPickleSections,
} from "@pt/zip-format";
import { detectFormat, type Format } from "./detect.js";
import { SerializationError } from "./errors.js";
import { npyPickleSection, npzPickleSections } from "./numpy.js";
import { type GlobalFinding, type GlobalRegistry, type PickleSection, scanPickle } from "./pickle-compat.js";
import { type Verdict, verdictOf, weightsOnlyRegistry } from "./policy.js";

/** What a file is, for scanning: a torch format, a plain pickle, NumPy files, or an unsupported container. */
export type ScanFormat = Format | "pickle" | "npy" | "npz" | "unknown";

/** The roles of sections, as the containers name them (plus plain pickles and NumPy files). */
export const ROLES = Object.freeze({
  ...ZIP_ROLES,
  ...LEGACY_ROLES,
  pickle: "unpickled by pickle.load (and by torch.load, which unpickles the first pickle of a non-zip file)",
  numpy: "unpickled by numpy.load(allow_pickle=True)",
});

/** The pickles of a file (`pickleSections`). */
export interface FileSections {
  readonly format: ScanFormat;
  /** Set when the file is a container we do not read (7z, gzip…): nothing in it was scanned. */
  readonly unsupported: string | null;
  readonly sections: PickleSection[];
  /** What was deliberately not tried (set for async sources: records torch does not read). */
  readonly notTried?: string;
}

const MAGICS: ReadonlyArray<readonly [number[], string]> = [
  [[0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], "7z archive"],
  [[0x1f, 0x8b], "gzip stream"],
  [[0x42, 0x5a, 0x68], "bzip2 stream"],
  [[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], "xz stream"],
  [[0x28, 0xb5, 0x2f, 0xfd], "zstd stream"],
  [[0x52, 0x61, 0x72, 0x21], "rar archive"],
];

function hasMagic(head: Uint8Array, magic: readonly number[]): boolean {
  return head.length >= magic.length && magic.every((b, i) => head[i] === b);
}

/** The format of a file by its first bytes, with NumPy files and unsupported containers named. */
export function detectScanFormat(head: Uint8Array): { format: ScanFormat; unsupported: string | null } {
  if (hasMagic(head, [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59])) return { format: "npy", unsupported: null };
  for (const [m, what] of MAGICS) if (hasMagic(head, m)) return { format: "unknown", unsupported: what };
  return { format: detectFormat(head), unsupported: null };
}

function syncSource(src: ByteSource): ByteSource {
  if (!src.readSync) throw new TypeError("pickleSections needs a source with readSync");
  return src;
}

/** Options of `pickleSections`. */
export interface PickleSectionsOptions {
  /** Zip reader options (limits); CRCs are not checked and plain zips are accepted by default. */
  readonly zip?: ZipReaderOptions;
  /** Also try records torch does not read (default `true`); `false`: only the pickles torch reads. */
  readonly otherRecords?: boolean;
}

/**
 * The pickle sections of a file (synchronous: bytes or a ByteSource with `readSync`). Zip: every
 * record torch or TorchScript unpickles plus any other record holding whole pickles (`.npy`
 * records of `.npz` files: their object-array pickles); legacy: the five pickles; tar: the
 * members' pickles; plain pickle files: every pickle until EOF; `.npy`: the object-array pickle.
 * Container errors (a hostile zip structure) throw the container's typed error.
 */
export function pickleSections(source: ByteSource, options: PickleSectionsOptions = {}): FileSections {
  const zipOptions = options.zip ?? {};
  const src = syncSource(source);
  const head = src.readSync?.(0, Math.min(512, src.byteLength)) ?? new Uint8Array(0);
  const { format, unsupported } = detectScanFormat(head);
  if (unsupported !== null) return { format, unsupported, sections: [] };
  if (format === "npy") {
    // the header first: the array's data is read only when its dtype holds objects (a pickle)
    const pre = src.readSync?.(0, Math.min(12, src.byteLength)) as Uint8Array;
    const view = new DataView(pre.buffer, pre.byteOffset, pre.byteLength);
    const lenBytes = pre[6] === 1 ? 2 : 4;
    const headerLen =
      pre.length < 8 + lenBytes ? 0 : lenBytes === 2 ? view.getUint16(8, true) : view.getUint32(8, true);
    const headEnd = Math.min(src.byteLength, 8 + lenBytes + headerLen);
    if (npyPickleSection(src.readSync?.(0, headEnd) as Uint8Array, "array.npy", 0) === null)
      return { format, unsupported: null, sections: [] };
    const all = src.readSync?.(0, src.byteLength) as Uint8Array;
    const s = npyPickleSection(all, "array.npy", 0);
    return { format, unsupported: null, sections: s ? [s] : [] };
  }
  if (format === "zip" || format === "torchscript") {
    // CRCs unchecked, plain zips and encrypted-marked entries accepted: a scanner reads what a lenient reader would run
    const reader = ZipReader.openSync(src, {
      checkCrc: false,
      allowNoPrefix: true,
      allowEncrypted: true,
      ...zipOptions,
    });
    const sections = zipSections(reader, { others: options.otherRecords !== false });
    const isNpz =
      sections.some((s) => s.role === ROLES.numpy) ||
      [...reader.entries].some((e) => e.fullName.endsWith(".npy"));
    const torchscript = sections.some((s) => s.role === ZIP_ROLES.torchScript);
    return {
      format: isNpz && !sections.some((s) => s.loaded) ? "npz" : torchscript ? "torchscript" : "zip",
      unsupported: null,
      sections,
    };
  }
  if (format === "legacy" || format === "tar")
    return { format, unsupported: null, sections: legacyPickleSections(src, format) };
  // Not a torch container: a plain pickle file (every pickle until EOF) when it looks like one.
  const all = src.readSync?.(0, src.byteLength) as Uint8Array;
  if (all.length > 0 && (all[0] === 0x80 || looksLikePickles(all) || startsLikePickle(all)))
    return {
      format: "pickle",
      unsupported: null,
      sections: [
        {
          name: "pickle",
          bytes: all,
          start: 0,
          fileOffset: 0,
          untilEof: true,
          role: ROLES.pickle,
          loaded: true,
        },
      ],
    };
  return { format: "unknown", unsupported: null, sections: [] };
}

/**
 * The pickle sections of an opened zip archive: `zipPickleSections` (records torch reads, other
 * records holding pickles) and, with `others`, the object-array pickles of `.npy` records. With
 * `torchRecords: false`, only what torch does not read: what `load` checks after loading.
 */
export function zipSections(
  reader: ZipReader,
  options: { readonly others: boolean; readonly torchRecords?: boolean },
): PickleSection[] {
  const torchRecords = options.torchRecords !== false;
  const sections = zipPickleSections(reader, {
    torchRecords,
    ...(options.others ? {} : { maxOtherSize: 0 }),
  });
  return options.others ? [...sections, ...npzPickleSections(reader)] : sections;
}

/** Protocol 0/1 pickles start with an opcode that pushes something (`(`, `c`, `}`, `]`, `N`…). */
function startsLikePickle(b: Uint8Array): boolean {
  const c = b[0] as number;
  return "(c}]NIJKLSVXFGUTd)lt.ip".includes(String.fromCharCode(c)) && b.includes(0x2e);
}

/** One global of a scan: the finding, its section, and the verdict of the scan's policy. */
export interface ScannedGlobal extends GlobalFinding {
  /** The section (`data.pkl`, `object`, `pickle`…). */
  readonly section: string;
  readonly role: string;
  /** Whether torch reads the section (its verdict decides whether the file is safe). */
  readonly loaded: boolean;
  readonly verdict: Verdict;
  /** Offset of the opcode in the file, when the section's bytes are in the file as is; else null (then `offset` is in the record). */
  readonly fileOffset: number | null;
  /** Whether this global makes the file unsafe: not allowed in a section torch reads, or dangerous anywhere. */
  readonly flagged: boolean;
}

/** A problem that keeps a section from being verified (a malformed pickle, a framing violation). */
export interface ScanProblem {
  /** `frame`: a framing violation (torch's C unpickler reads such bytes differently); `malformed`: the scan stopped there; `container`: the section could not be delimited. */
  readonly kind: "frame" | "malformed" | "container";
  readonly section: string;
  readonly loaded: boolean;
  readonly message: string;
  readonly offset: number | null;
}

/** What `scan` finds. */
export interface ScanResult {
  readonly format: ScanFormat;
  /** Set when the file is a container we do not read (7z…): nothing was scanned. */
  readonly unsupported: string | null;
  /** Every section with its role and how many pickles were read in it. */
  readonly sections: ReadonlyArray<{
    readonly name: string;
    readonly role: string;
    readonly loaded: boolean;
    readonly pickles: number;
  }>;
  readonly globals: readonly ScannedGlobal[];
  readonly problems: readonly ScanProblem[];
  /**
   * True only when something was scanned, every section was read completely (no malformed
   * pickle, no framing violation), every global of a section torch reads is on the policy's
   * allowlist, and no section holds a dangerous global.
   */
  readonly safe: boolean;
  /**
   * Set when part of the file was deliberately not tried (async sources: records torch does not
   * read). `safe` still speaks for everything torch reads.
   */
  readonly notTried?: string;
}

/** Options of `scan`: the policy to judge by (default: torch's weights_only allowlist). */
export interface ScanPolicyOptions {
  readonly allowGlobals?: Iterable<string | readonly [module: string, name: string]>;
  /** `"opaque"`: only dangerous globals flag (what `load(..., { unsafe: "opaque" })` refuses). */
  readonly unsafe?: "opaque";
  /** The registry to judge by (overrides `allowGlobals`). */
  readonly registry?: GlobalRegistry;
}

/** Scan sections with the one scanner and judge every global by the policy. */
export function scanSections(files: FileSections, options: ScanPolicyOptions = {}): ScanResult {
  const registry = options.registry ?? weightsOnlyRegistry(options.allowGlobals ?? []);
  const opaque = options.unsafe === "opaque";
  const globals: ScannedGlobal[] = [];
  const problems: ScanProblem[] = [];
  const sections: Array<ScanResult["sections"][number]> = [];
  for (const s of files.sections) {
    const r = scanPickle(s.bytes, { offset: s.start, untilEof: s.untilEof });
    sections.push({ name: s.name, role: s.role, loaded: s.loaded, pickles: r.pickles.length });
    const abs = (o: number | null | undefined) =>
      o == null ? null : s.fileOffset === null ? null : s.fileOffset + o;
    for (const g of r.globals) {
      const verdict = verdictOf(registry, g.module, g.name);
      globals.push({
        ...g,
        section: s.name,
        role: s.role,
        loaded: s.loaded,
        verdict,
        fileOffset: abs(g.offset),
        flagged: verdict === "dangerous" || (s.loaded && !opaque && verdict !== "safe"),
      });
    }
    // Offsets of problems are in the section's bytes (as the pickle errors say).
    for (const e of r.frameErrors)
      problems.push({
        kind: "frame",
        section: s.name,
        loaded: s.loaded,
        message: e.message,
        offset: e.offset ?? null,
      });
    if (r.error)
      problems.push({
        kind: "malformed",
        section: s.name,
        loaded: s.loaded,
        message: r.error.message,
        offset: r.error.offset ?? null,
      });
    else if (s.error)
      problems.push({
        kind: "container",
        section: s.name,
        loaded: s.loaded,
        message: s.error.message,
        offset: null,
      });
  }
  const scanned = sections.length > 0 && files.unsupported === null;
  const safe = scanned && !globals.some((g) => g.flagged) && problems.length === 0;
  return {
    format: files.format,
    unsupported: files.unsupported,
    sections,
    globals,
    problems,
    safe,
    ...(files.notTried ? { notTried: files.notTried } : {}),
  };
}

/** Thrown by the on-demand view of {@link fetchPickleSections} for bytes not fetched yet. */
class NotFetched extends Error {}

/** At most this many fetch-and-retry passes over an async source (each fetches a new range). */
const MAX_FETCH_PASSES = 4096;

/**
 * The pickle sections of any source: `pickleSections` itself for sources with `readSync`; for
 * async-only ones (HTTP, Blob) it runs over a synchronous view of the bytes fetched so far, and a
 * read of bytes not fetched yet ends the pass: those bytes (at least 64 KiB, more as the pass
 * count grows, so sequential streams need few passes) are fetched and the pass runs again. A
 * pass counts only when it asked for nothing unfetched, so a reader that swallows an error cannot
 * hide a gap. Async sources are not read whole: records torch does not read are not tried there
 * (that would fetch the ends of every storage record); the scan says so in `notTried`.
 */
export async function fetchPickleSections(
  source: ByteSource,
  options: PickleSectionsOptions = {},
): Promise<FileSections> {
  if (source.readSync) return pickleSections(source, options);
  const chunks: Array<{ start: number; bytes: Uint8Array }> = [];
  let missing: { offset: number; length: number } | null = null;
  const view: ByteSource = {
    byteLength: source.byteLength,
    read: (offset, length) => source.read(offset, length),
    readSync(offset, length) {
      for (const c of chunks)
        if (offset >= c.start && offset + length <= c.start + c.bytes.length)
          return c.bytes.subarray(offset - c.start, offset - c.start + length);
      missing ??= { offset, length };
      throw new NotFetched(`bytes ${offset}..${offset + length} are not fetched yet`);
    },
  };
  let fetched = 0;
  for (let pass = 0; pass < MAX_FETCH_PASSES; pass++) {
    missing = null;
    let result: FileSections | null = null;
    let error: unknown = null;
    try {
      result = pickleSections(view, { ...options, otherRecords: false });
    } catch (e) {
      error = e;
    }
    const gap = missing as { offset: number; length: number } | null;
    if (gap === null) {
      if (result === null) throw error;
      return { ...result, notTried: "records torch does not read (an async source is not read whole)" };
    }
    const want = Math.max(gap.length, 64 << 10, Math.min(fetched >> 2, 16 << 20));
    const end = Math.min(source.byteLength, gap.offset + want);
    const bytes = await source.read(gap.offset, end - gap.offset);
    fetched += bytes.length;
    chunks.push({ start: gap.offset, bytes });
  }
  throw new SerializationError(
    "InvalidSource",
    `scan: the pickles of this source still need more bytes after ${MAX_FETCH_PASSES} reads`,
  );
}

/**
 * Scan a file's pickles without loading anything (like torch's `get_unsafe_globals_in_checkpoint`
 * and picklescan): every global of every pickle of the file, with its offset, opcode, uses and
 * verdict. Async-only sources are read on demand ({@link fetchPickleSections}), never whole.
 */
export async function scanSource(source: ByteSource, options: ScanPolicyOptions = {}): Promise<ScanResult> {
  return scanSections(await fetchPickleSections(source), options);
}
