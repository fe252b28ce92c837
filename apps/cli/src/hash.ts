import { createHash } from "node:crypto";
import { QuantizedTensor, type Tensor } from "@pt/tensor";

/**
 * The tensor's logical values in row-major order as contiguous little-endian bytes: bool 1 byte,
 * float16/bfloat16 2 bytes (their bits), complex as real then imaginary, quantized tensors as
 * their integer representation. Reads the storage (loading a lazy one).
 */
export async function logicalBytes(t: Tensor): Promise<Uint8Array> {
  if (t.numel === 0) return new Uint8Array(0);
  await t.storage.load();
  const a = t.data();
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Chunk of the streamed hash: big enough that the per-chunk overheads vanish, small enough to stay in cache. */
const HASH_CHUNK = 2 << 20;

/**
 * SHA-256 (hex) of {@link logicalBytes}. A contiguous tensor is hashed as its storage's bytes
 * stream past (`Storage.readChunks`: a lazy storage of a file is read in reused chunks, the next
 * one read while this one is hashed and CRC-checked, and is never loaded); any other tensor from
 * its loaded bytes. A lazy storage loaded for it is released afterwards, so hashing a whole
 * checkpoint holds at most one storage at a time.
 */
export async function tensorSha256(t: Tensor): Promise<string> {
  const root = t.storage.base ?? t.storage;
  const wasLoaded = root.isLoaded;
  try {
    const h = createHash("sha256");
    if (t.numel > 0 && t.isContiguous() && !(t instanceof QuantizedTensor) && !t.dtype.isQuantized) {
      const size = t.dtype.itemSize;
      await t.storage.readChunks(
        (c) => {
          h.update(c);
        },
        { offset: t.storageOffset * size, length: t.numel * size, chunkSize: HASH_CHUNK },
      );
    } else h.update(await logicalBytes(t));
    return h.digest("hex");
  } finally {
    if (!wasLoaded) root.unload();
  }
}
