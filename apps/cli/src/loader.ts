/**
 * The one place the CLI opens checkpoints through @pt/serialization, so that every command loads
 * the same way: lazily over a file descriptor, unknown classes as inert placeholders (nothing is
 * ever executed; `pt scan` says which globals a file uses).
 */
import { statSync } from "node:fs";
import {
  type DcpMetadata,
  HttpFiles,
  isSerializationError,
  openUrl,
  pickleSections,
  scanSections,
} from "@pt/serialization";
import { type Checkpoint, type LoadOptions, openPath } from "@pt/serialization/node";
import type { Storage } from "@pt/storage";
import { fsReason, openSource } from "./files.js";
import { CliError } from "./io.js";

/** An opened checkpoint with storage keys resolved. */
export interface Opened {
  readonly format: string;
  readonly value: unknown;
  /** The record key of a storage (`data/<key>` in zip files; the legacy key), if known. */
  storageKey(s: Storage): string | undefined;
  readonly checkpoint: Checkpoint;
  /** The size in bytes of a checkpoint opened from an http(s) URL (every file of a DCP folder or sharded index). */
  readonly remoteSize?: number;
  /** What reading a checkpoint opened from an http(s) URL fetched: its files, requests and bytes (so far). */
  readonly http?: HttpFiles;
  /**
   * Every global of the pickles torch reads that `torch.load(weights_only=True)` would refuse
   * (found by the scanner `pt scan` uses, so commands and `pt scan` agree), first use order.
   */
  readonly refused: readonly string[];
  close(): Promise<void>;
}

/** The globals of `path` that torch's weights_only policy refuses (the `pt scan` verdicts). */
export function weightsOnlyRefusals(path: string): string[] {
  const src = openSource(path);
  try {
    // only the pickles torch reads (a lazy open must not read every storage record)
    const r = scanSections(pickleSections(src, { otherRecords: false }));
    return [...new Set(r.globals.filter((g) => g.loaded && g.verdict !== "safe").map((g) => g.global))];
  } catch {
    return []; // the loader reports an unreadable file
  } finally {
    src.close();
  }
}

/**
 * Load options every command uses: never executes anything; user classes are placeholders and
 * TorchScript archives give their `data.pkl` object (the code is never run).
 */
export const CLI_LOAD_OPTIONS: LoadOptions = { unsafe: "opaque", lazy: true, torchscript: "tensors" };

const isRemote = (path: string): boolean => /^https?:\/\//i.test(path);

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

async function openAny(
  path: string,
  options: LoadOptions,
  files: HttpFiles | undefined,
): Promise<{ cp: Checkpoint; remoteSize: number | undefined }> {
  try {
    if (files) {
      // read lazily with HTTP range requests (a file, a DCP folder, a sharded index); the files
      // are kept open by `files`, so the policy pass and the real open fetch them once
      const u = await openUrl(path, { ...options, files });
      return { cp: u as unknown as Checkpoint, remoteSize: files.totalSize };
    }
    // a file, a DCP folder or a sharded index (the latter two look like a Checkpoint to the commands)
    return { cp: (await openPath(path, options)) as Checkpoint, remoteSize: undefined };
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === "ENOENT" || code === "EISDIR" || code === "EACCES" || code === "EPERM")
      throw new CliError(`cannot open ${path}: ${fsReason(e)}`, 2, { code: "Io" });
    // The refusal lists every global itself: its cause (the pickle layer's first refusal) would repeat it.
    if (isSerializationError(e, "UnsafeGlobal")) throw new CliError(e.message);
    throw e;
  }
}

/**
 * The weights_only refusals of an input that is not one local file (a URL, a DCP folder, a
 * sharded index), found by the loader itself: it is opened under torch's weights_only policy
 * first, and a refusal (which the loader explains with the same scanner as `pt scan`) names them.
 */
async function refusalsByLoading(
  path: string,
  options: LoadOptions,
  files: HttpFiles | undefined,
): Promise<string[]> {
  const { unsafe: _unsafe, ...weightsOnly } = options;
  try {
    const { cp } = await openAny(path, weightsOnly, files);
    await cp.close();
    return [];
  } catch (e) {
    const cause = e instanceof CliError ? (e as { cause?: unknown }).cause : e;
    const err = (cause ?? e) as { code?: unknown; globals?: ReadonlyArray<{ module: string; name: string }> };
    if (err.code === "UnsafeGlobal" && err.globals)
      return [...new Set(err.globals.map((g) => `${g.module}.${g.name}`))];
    return []; // any other failure: the opaque open below reports it
  }
}

/** Open `path` lazily. File-system errors become one-line CLI errors; format errors keep their message. */
export async function openCheckpoint(path: string, options: LoadOptions = CLI_LOAD_OPTIONS): Promise<Opened> {
  // a server without range support: each file is downloaded once, noted on stderr
  const files = isRemote(path)
    ? new HttpFiles({ onNote: (m) => process.stderr.write(`note: ${m}\n`) })
    : undefined;
  let cp: Checkpoint;
  let remoteSize: number | undefined;
  let refused: string[];
  try {
    ({ cp, remoteSize } = await openAny(path, options, files));
  } catch (e) {
    files?.close();
    throw e;
  }
  try {
    refused = isFile(path)
      ? weightsOnlyRefusals(path)
      : options.unsafe === "opaque"
        ? await refusalsByLoading(path, options, files)
        : [];
  } catch (e) {
    await cp.close();
    files?.close();
    throw e;
  }
  const keys = cp.storageKeys;
  return {
    format: cp.format,
    value: cp.value,
    checkpoint: cp,
    ...(remoteSize !== undefined ? { remoteSize } : {}),
    ...(files ? { http: files } : {}),
    refused,
    storageKey: (s) => keys.get(s) ?? (s.base ? keys.get(s.base) : undefined),
    close: async () => {
      await cp.close();
      files?.close();
    },
  };
}

/** A line about a DCP or sharded checkpoint's pieces (items, chunks, files), else null. */
export function containerLine(cp: Checkpoint): string | null {
  const c = cp as unknown as {
    format: string;
    metadata?: DcpMetadata;
    files?: readonly string[];
    index?: { files: readonly string[]; totalSize: number | null };
  };
  if (c.format === "dcp" && c.metadata) {
    let tensors = 0;
    let chunks = 0;
    for (const e of c.metadata.entries.values())
      if (e.kind === "tensor") {
        tensors++;
        chunks += e.chunks.length;
      }
    const other = c.metadata.entries.size - tensors;
    return `items: ${tensors} tensor${tensors === 1 ? "" : "s"} in ${chunks} chunk${chunks === 1 ? "" : "s"}, ${other} other value${other === 1 ? "" : "s"}, in ${c.files?.length ?? 0} file${c.files?.length === 1 ? "" : "s"} (${c.files?.join(", ") ?? ""}); DCP version ${c.metadata.version ?? "unknown"}`;
  }
  if (c.format === "sharded" && c.index)
    return `shards: ${c.index.files.length} (${c.index.files.join(", ")})${c.index.totalSize === null ? "" : `; index total_size ${c.index.totalSize}`}`;
  return null;
}
