/**
 * The one place the CLI opens checkpoints through @pt/serialization, so that every command loads
 * the same way: lazily over a file descriptor, unknown classes as inert placeholders (nothing is
 * ever executed; `pt scan` says which globals a file uses).
 */
import { type DcpMetadata, openUrl } from "@pt/serialization";
import { type Checkpoint, type LoadOptions, openPath } from "@pt/serialization/node";
import type { Storage } from "@pt/storage";
import { fsReason } from "./files.js";
import { CliError } from "./io.js";

/** An opened checkpoint with storage keys resolved. */
export interface Opened {
  readonly format: string;
  readonly value: unknown;
  /** The record key of a storage (`data/<key>` in zip files; the legacy key), if known. */
  storageKey(s: Storage): string | undefined;
  readonly checkpoint: Checkpoint;
  /** The size in bytes of a checkpoint opened from an http(s) URL. */
  readonly remoteSize?: number;
  close(): Promise<void>;
}

/**
 * Load options every command uses: never executes anything; user classes are placeholders and
 * TorchScript archives give their `data.pkl` object (the code is never run).
 */
export const CLI_LOAD_OPTIONS: LoadOptions = { unsafe: "opaque", lazy: true, torchscript: "tensors" };

/** Open `path` lazily. File-system errors become one-line CLI errors; format errors keep their message. */
export async function openCheckpoint(path: string, options: LoadOptions = CLI_LOAD_OPTIONS): Promise<Opened> {
  let cp: Checkpoint;
  let remoteSize: number | undefined;
  try {
    if (/^https?:\/\//i.test(path)) {
      // read lazily with HTTP range requests; a server without them is downloaded once (noted)
      const u = await openUrl(path, {
        ...options,
        http: { onNote: (m) => process.stderr.write(`note: ${m}\n`) },
      });
      remoteSize = u.source.byteLength;
      cp = u;
    }
    // a file, a DCP folder or a sharded index (the latter two look like a Checkpoint to the commands)
    else cp = (await openPath(path, options)) as Checkpoint;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === "ENOENT" || code === "EISDIR" || code === "EACCES" || code === "EPERM")
      throw new CliError(`cannot open ${path}: ${fsReason(e)}`);
    throw e;
  }
  const keys = cp.storageKeys;
  return {
    format: cp.format,
    value: cp.value,
    checkpoint: cp,
    ...(remoteSize !== undefined ? { remoteSize } : {}),
    storageKey: (s) => keys.get(s) ?? (s.base ? keys.get(s.base) : undefined),
    close: () => cp.close(),
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
