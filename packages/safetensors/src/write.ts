import { type ByteSink, concatBytes } from "@pt/storage";
import { QuantizedTensor, Tensor } from "@pt/tensor";
import { safetensorsCode } from "./dtypes.js";
import { SafetensorsError } from "./errors.js";

/** Where {@link writeSafetensors} writes: `@pt/storage`'s one {@link ByteSink}. The name stays for existing imports. */
export type SafetensorsSink = ByteSink;

/** Options of {@link writeSafetensors}. */
export interface WriteSafetensorsOptions {
  /** `__metadata__` entries (strings only). */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Largest chunk handed to the sink (default 8 MiB). */
  readonly chunkSize?: number;
  /** Called after each chunk with the bytes written so far and the file's total size. */
  readonly onProgress?: (written: number, total: number) => void;
}

/** The layout {@link planSafetensors} chose. */
export interface SafetensorsPlan {
  /** The 8-byte length and the JSON header, padded with spaces to a multiple of 8. */
  readonly header: Uint8Array;
  /** Tensor names in file order. */
  readonly names: readonly string[];
  /** Size of the whole file. */
  readonly byteLength: number;
}

interface Planned {
  readonly name: string;
  readonly tensor: Tensor;
  readonly nbytes: number;
}

const enc = new TextEncoder();

function entriesOf(tensors: Iterable<readonly [string, Tensor]> | ReadonlyMap<string, Tensor>): Planned[] {
  const out: Planned[] = [];
  const names = new Set<string>();
  for (const [name, tensor] of tensors) {
    if (typeof name !== "string")
      throw new SafetensorsError("InvalidArgument", `tensor names must be strings, not ${typeof name}`);
    if (name === "__metadata__")
      throw new SafetensorsError("InvalidArgument", "the name __metadata__ is reserved for the metadata", {
        tensor: name,
      });
    if (names.has(name))
      throw new SafetensorsError("InvalidArgument", `tensor name ${JSON.stringify(name)} given twice`, {
        tensor: name,
      });
    names.add(name);
    if (!(tensor instanceof Tensor))
      throw new SafetensorsError("Unsupported", `${JSON.stringify(name)} is not a dense Tensor`, {
        tensor: name,
      });
    if (tensor instanceof QuantizedTensor || tensor.dtype.isQuantized)
      throw new SafetensorsError(
        "Unsupported",
        `cannot write ${name}: quantized dtype ${tensor.dtype.name}`,
        {
          tensor: name,
        },
      );
    if (safetensorsCode(tensor.dtype) === undefined)
      throw new SafetensorsError(
        "Unsupported",
        `cannot write ${name}: dtype ${tensor.dtype.name} has no safetensors code`,
        { tensor: name, dtype: tensor.dtype.name },
      );
    out.push({ name, tensor, nbytes: tensor.numel * tensor.dtype.itemSize });
  }
  return out;
}

function headerOf(entries: readonly Planned[], metadata: Readonly<Record<string, string>> | undefined) {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata))
      if (typeof v !== "string")
        throw new SafetensorsError("InvalidArgument", `metadata ${JSON.stringify(k)} is not a string`);
    header.__metadata__ = { ...metadata };
  }
  let offset = 0;
  for (const e of entries) {
    header[e.name] = {
      dtype: safetensorsCode(e.tensor.dtype),
      shape: [...e.tensor.shape],
      data_offsets: [offset, offset + e.nbytes],
    };
    offset += e.nbytes;
  }
  const json = enc.encode(JSON.stringify(header));
  const padded = json.byteLength + ((8 - (json.byteLength % 8)) % 8);
  const out = new Uint8Array(8 + padded).fill(0x20);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return { header: out, dataBytes: offset };
}

/**
 * The header and layout of a safetensors file of `tensors` (no tensor bytes are read): tensors in
 * the given order, contiguous, `__metadata__` first when given.
 */
export function planSafetensors(
  tensors: Iterable<readonly [string, Tensor]> | ReadonlyMap<string, Tensor>,
  metadata?: Readonly<Record<string, string>>,
): SafetensorsPlan {
  const entries = entriesOf(tensors);
  const { header, dataBytes } = headerOf(entries, metadata);
  return { header, names: entries.map((e) => e.name), byteLength: header.byteLength + dataBytes };
}

/**
 * A tensor's values as contiguous little-endian bytes (a view of the storage when the tensor is
 * contiguous, else a row-major copy). The storage must be loaded.
 */
function tensorBytes(t: Tensor): Uint8Array {
  if (t.numel === 0) return new Uint8Array(0);
  if (t.isContiguous()) {
    const size = t.dtype.itemSize;
    return t.storage.bytes.subarray(t.storageOffset * size, (t.storageOffset + t.numel) * size);
  }
  const d = t.contiguous().data();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/**
 * Write `tensors` (name → dense tensor) as a safetensors file, streaming to `sink`: the header
 * first (computed from dtypes and shapes alone), then each tensor's values in order, in chunks of
 * at most `chunkSize`. A contiguous tensor is streamed from its storage (`Storage.readChunks`:
 * from a file through reused buffers, one chunk read ahead, its zip record's CRC-32 checked;
 * elsewhere piece by piece), never loaded whole: memory bounded by `chunkSize`, whatever the
 * tensor's size; a non-contiguous one loads its storage for its tensor and unloads it right after
 * (memory bounded by the largest such storage). Files over 4 GiB work. Views are materialised
 * (contiguous, row-major); two tensors sharing a storage each get their own copy, as safetensors
 * has no sharing. The sink is closed at the end when it has `close`.
 */
export async function writeSafetensors(
  tensors: Iterable<readonly [string, Tensor]> | ReadonlyMap<string, Tensor>,
  sink: ByteSink,
  options: WriteSafetensorsOptions = {},
): Promise<SafetensorsPlan> {
  const entries = entriesOf(tensors);
  const { header, dataBytes } = headerOf(entries, options.metadata);
  const total = header.byteLength + dataBytes;
  const chunk = options.chunkSize ?? 8 << 20;
  if (!Number.isSafeInteger(chunk) || chunk <= 0)
    throw new SafetensorsError("InvalidArgument", `chunkSize must be a positive integer, not ${chunk}`);
  let written = 0;
  const put = async (b: Uint8Array) => {
    await sink.write(b);
    written += b.byteLength;
    options.onProgress?.(written, total);
  };
  await put(header);
  for (const e of entries) {
    const t = e.tensor;
    const root = t.storage.base ?? t.storage;
    const wasLoaded = root.isLoaded;
    if (e.nbytes > 0 && t.isContiguous()) {
      // streamed: never loaded whole (a file's storage through reused buffers, one chunk read ahead)
      const at = t.storageOffset * t.dtype.itemSize;
      await t.storage.readChunks(put, { offset: at, length: e.nbytes, chunkSize: chunk });
      if (!wasLoaded) root.unload();
    } else if (e.nbytes > 0) {
      await t.storage.load();
      const bytes = tensorBytes(t);
      for (let p = 0; p < bytes.byteLength; p += chunk)
        await put(bytes.subarray(p, Math.min(bytes.byteLength, p + chunk)));
      if (!wasLoaded) root.unload();
    }
  }
  await sink.close?.();
  return { header, names: entries.map((e) => e.name), byteLength: total };
}

/** {@link writeSafetensors} into one `Uint8Array` (small files; stream large ones to a sink). */
export async function saveSafetensors(
  tensors: Iterable<readonly [string, Tensor]> | ReadonlyMap<string, Tensor>,
  options: Omit<WriteSafetensorsOptions, "onProgress"> = {},
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  await writeSafetensors(
    tensors,
    {
      write(c) {
        parts.push(c.slice());
      },
    },
    options,
  );
  return concatBytes(parts);
}
