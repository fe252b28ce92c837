/**
 * The one place the CLI opens checkpoints through @pt/serialization, so that every command loads
 * the same way: lazily over a file descriptor, unknown classes as inert placeholders (nothing is
 * ever executed; `pt scan` says which globals a file uses).
 */
import { isSerializationError, pickleSections, scanSections } from "@pt/serialization";
import { type Checkpoint, type LoadOptions, openFile } from "@pt/serialization/node";
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

/** Open `path` lazily. File-system errors become one-line CLI errors; format errors keep their message. */
export async function openCheckpoint(path: string, options: LoadOptions = CLI_LOAD_OPTIONS): Promise<Opened> {
  let cp: Checkpoint;
  try {
    cp = await openFile(path, options);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === "ENOENT" || code === "EISDIR" || code === "EACCES" || code === "EPERM")
      throw new CliError(`cannot open ${path}: ${fsReason(e)}`);
    // The refusal lists every global itself: its cause (the pickle layer's first refusal) would repeat it.
    if (isSerializationError(e, "UNSAFE_GLOBALS")) throw new CliError(e.message);
    throw e;
  }
  const keys = cp.storageKeys;
  return {
    format: cp.format,
    value: cp.value,
    checkpoint: cp,
    refused: weightsOnlyRefusals(path),
    storageKey: (s) => keys.get(s) ?? (s.base ? keys.get(s.base) : undefined),
    close: () => cp.close(),
  };
}
