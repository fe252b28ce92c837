import { Pickler, PyStr } from "@pt/pickle";
import type { Storage } from "@pt/storage";
import {
  flavorGlobalRenamer,
  installTorchPickleProtocols,
  savedStorage,
  storagePersistentId,
  torchReducers,
} from "@pt/tensor";
import type { Crc32Function } from "../zip/crc32.js";
import type { CxxStdlib } from "../zip/serialization-id.js";
import { type ZipSink, ZipWriter } from "../zip/writer.js";
import { ZipTorchError } from "./errors.js";
import type { ZipFormatInfo } from "./load.js";

/**
 * Which `torch.save` to reproduce:
 * - `"1.13"`: torch 1.6–2.0 — `data.pkl`, `data/*` (keys in string order), `version`;
 * - `"2.1"`: torch 2.1–2.6 — `data.pkl`, `byteorder`, `data/*` (string order), `version`, `.data/serialization_id`;
 * - `"2.7"`: torch 2.7+ — `data.pkl`, `.format_version`, `.storage_alignment`, `byteorder`,
 *   `data/*` (numeric order), `version`, `.data/serialization_id`.
 */
export type ZipFlavor = "1.13" | "2.1" | "2.7";

/** Options of {@link saveZip}. */
export interface ZipSaveOptions {
  /** Default `"2.7"` (the newest torch). */
  readonly flavor?: ZipFlavor;
  /** Archive prefix (default `"archive"`; torch uses the file name without its last extension, see `archivePrefix`). */
  readonly prefix?: string;
  /** CRC-32 implementation (`nodeCrc32` from `@pt/zip-format/node` is faster in Node). */
  readonly crc32?: Crc32Function;
  /** C++ standard library whose hashes `.data/serialization_id` reproduces (default `"libstdc++"`, Linux torch). */
  readonly stdlib?: CxxStdlib;
  /** Largest chunk handed to the sink for storage bytes (default 8 MiB). */
  readonly chunkSize?: number;
  /** Pickler nesting limit (default 2 000). */
  readonly maxDepth?: number;
  /** Pickle protocol of `data.pkl` (torch.save's `pickle_protocol`, default 2). */
  readonly pickleProtocol?: number;
  /**
   * Write real CRC-32s (default `true`). `false` writes 0 in every header, as torch ≥ 2.6 does with
   * `torch.utils.serialization.config.save.compute_crc32 = False`.
   */
  readonly computeCrc32?: boolean;
  /**
   * torch.save's `_disable_byteorder_record=True` (flavors 2.1 and 2.7): torch's Python side then
   * writes no `byteorder` record first, and its C++ writer adds one at the end, after `version`.
   */
  readonly disableByteorderRecord?: boolean;
  /**
   * Flavor 2.7: `torch.utils.serialization.config.save.storage_alignment` (default 64): every record's
   * data starts at a multiple of it, and `.storage_alignment` says it.
   */
  readonly storageAlignment?: number;
  /**
   * torch's `torch.serialization.skip_data()`: every storage record is written as zeros of its
   * size with CRC 0 (the other records as usual); torch loads such a file as zero-filled tensors.
   */
  readonly skipData?: boolean;
}

/** What {@link saveZip} wrote. */
export interface ZipSaveResult {
  /** Storage keys in first-met order, with their storages. */
  readonly storages: ReadonlyArray<readonly [key: string, storage: Storage]>;
  /** Record names in written order. */
  readonly records: readonly string[];
  /** Total bytes handed to the sink. */
  readonly bytes: number;
}

/** torch's text when two dtypes view one storage. */
export const MULTIPLE_DTYPES_MESSAGE =
  "Cannot save multiple tensors or storages that view the same data as different types";

const enc = new TextEncoder();
/** The 1.13 flavor writes numpy 1's names for numpy 2's globals (torch 1.13 runs beside numpy 1). */
const numpy1Names = flavorGlobalRenamer("1.13") ?? (() => undefined);

/**
 * Pickle `value` as torch's `data.pkl` (protocol 2), collecting storages. Keys are `"0"`, `"1"`, …
 * in first-met order per storage object; two dtypes over one (non-empty) storage are refused with
 * torch's message.
 */
export function pickleForZip(
  value: unknown,
  flavor: ZipFlavor = "2.7",
  maxDepth?: number,
  protocol = 2,
): { pickle: Uint8Array; storages: Array<[string, Storage]> } {
  // One entry per storage: its key, the dtype it is saved as, and the key's own str object —
  // torch's keys are str objects of their own (`str(len(id_map))`): a value string with the same
  // text (`_metadata`'s '0') is a different object, written in full.
  const saved = new Map<Storage, { key: string; dtype: string; keyObject: PyStr }>();
  const storages: Array<[string, Storage]> = [];
  installTorchPickleProtocols(); // torch 1.13's reductions are the classes' own REDUCE methods
  const pickler = new Pickler({
    protocol,
    ...(maxDepth !== undefined ? { maxDepth } : {}),
    ...(flavor === "1.13" ? { renameGlobal: numpy1Names } : { reducers: torchReducers("2.x") }),
    persistentId: (obj: unknown) => {
      // called for every value pickled (as CPython calls persistent_id): primitives leave at once
      if (typeof obj !== "object" || obj === null) return null;
      const s = savedStorage(obj);
      if (!s) return null;
      const st = s.storage;
      const d = s.dtype.name;
      let entry = saved.get(st);
      if (entry === undefined) {
        const key = String(saved.size);
        entry = { key, dtype: d, keyObject: new PyStr(key) };
        saved.set(st, entry);
        storages.push([key, st]);
      } else if (st.nbytes > 0 && entry.dtype !== d)
        throw new ZipTorchError(
          "SaveInvalid",
          `${MULTIPLE_DTYPES_MESSAGE} (a storage of ${st.nbytes} bytes is saved as ${entry.dtype} and as ${d})`,
          { torchMessage: MULTIPLE_DTYPES_MESSAGE },
        );
      const key = entry.key;
      const pid = storagePersistentId(obj, key);
      pid[2] = entry.keyObject;
      return pid;
    },
  });
  return { pickle: pickler.dump(value), storages };
}

/** A loaded storage's bytes in chunks of at most `size` (one buffer when it fits). */
function loadedChunks(bytes: Uint8Array, size: number): Uint8Array | Uint8Array[] {
  if (bytes.length <= size) return bytes;
  const out: Uint8Array[] = [];
  for (let p = 0; p < bytes.length; p += size) out.push(bytes.subarray(p, Math.min(bytes.length, p + size)));
  return out;
}

function* zeroChunks(n: number, size: number): Generator<Uint8Array> {
  const z = new Uint8Array(Math.min(n, size));
  for (let p = 0; p < n; p += size) yield p + size <= n ? z : z.subarray(0, n - p);
}

/**
 * Write `value` as `torch.save` writes it, streaming to `sink`: `data.pkl` first, then each storage
 * record chunk by chunk (never one buffer for the whole file), then the trailing records of the
 * chosen {@link ZipFlavor}. Byte-identical to torch for the same value, flavor and prefix. The sink
 * is closed at the end (if it has `close`); on error nothing more is written and the error is thrown.
 */
export async function saveZip(
  value: unknown,
  sink: ZipSink,
  options: ZipSaveOptions = {},
): Promise<ZipSaveResult> {
  const flavor = options.flavor ?? "2.7";
  if (flavor !== "1.13" && flavor !== "2.1" && flavor !== "2.7")
    throw new ZipTorchError("SaveInvalid", `unknown flavor ${String(flavor)} (expected 1.13, 2.1 or 2.7)`);
  const chunkSize = options.chunkSize ?? 8 << 20;
  const { pickle, storages } = pickleForZip(value, flavor, options.maxDepth, options.pickleProtocol ?? 2);
  let total = 0;
  const counting: ZipSink = {
    write(c) {
      total += c.length;
      return sink.write(c);
    },
    ...(sink.close ? { close: () => (sink.close as () => void | Promise<void>).call(sink) } : {}),
  };
  const alignment = options.storageAlignment ?? 64;
  if (alignment !== 64 && flavor !== "2.7")
    throw new ZipTorchError(
      "SaveInvalid",
      `storageAlignment ${alignment} needs the 2.7 flavor (torch ≥ 2.7)`,
    );
  if (!Number.isSafeInteger(alignment) || alignment < 1 || alignment > 1 << 30)
    throw new ZipTorchError("SaveInvalid", `invalid storageAlignment ${String(alignment)}`);
  const byteorderLast = flavor !== "1.13" && options.disableByteorderRecord === true;
  const writer = new ZipWriter(counting, {
    ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
    ...(options.crc32 ? { crc32: options.crc32 } : {}),
    ...(options.computeCrc32 === false ? { computeCrc: false } : {}),
    ...(alignment !== 64 ? { alignment } : {}),
  });
  await writer.writeRecord("data.pkl", pickle);
  if (flavor === "2.7") {
    await writer.writeRecord(".format_version", enc.encode("1"));
    await writer.writeRecord(".storage_alignment", enc.encode(String(alignment)));
  }
  if (flavor !== "1.13" && !byteorderLast) await writer.writeRecord("byteorder", enc.encode("little"));
  const ordered =
    flavor === "2.7" ? storages : [...storages].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [key, st] of ordered) {
    if (options.skipData) {
      await writer.writeRecord(`data/${key}`, zeroChunks(st.nbytes, chunkSize), st.nbytes, {
        computeCrc: false,
      });
      continue;
    }
    // an unloaded lazy storage is read piece by piece (never loaded whole: memory stays bounded
    // by chunkSize whatever the storage's size)
    const data = st.isLoaded ? loadedChunks(st.bytes, chunkSize) : st.chunks(chunkSize);
    await writer.writeRecord(`data/${key}`, data, st.nbytes);
  }
  await writer.writeRecord("version", enc.encode("3\n"));
  if (byteorderLast) await writer.writeRecord("byteorder", enc.encode("little"));
  if (flavor !== "1.13") await writer.writeSerializationId(options.stdlib ?? "libstdc++");
  await writer.finish();
  return { storages, records: writer.recordNames, bytes: total };
}

/**
 * The save options that reproduce a loaded archive's layout ("like the input"): its flavor, CRCs
 * off when it has none, the byteorder record's place, its storage alignment, its pickle protocol. Null when the archive
 * matches no writer this package reproduces (TorchScript, other record sets).
 */
export function zipSaveOptionsLike(format: ZipFormatInfo): ZipSaveOptions | null {
  if (format.flavor === null) return null;
  return {
    flavor: format.flavor,
    ...(format.crc32Computed ? {} : { computeCrc32: false }),
    ...(format.crc32Computed && format.dataSkipped ? { skipData: true } : {}),
    ...(format.byteorderRecordLast ? { disableByteorderRecord: true } : {}),
    ...(format.storageAlignment !== null && format.storageAlignment !== 64
      ? { storageAlignment: format.storageAlignment }
      : {}),
    ...(format.pickleProtocol !== null && format.pickleProtocol !== 2
      ? { pickleProtocol: format.pickleProtocol }
      : {}),
  };
}
