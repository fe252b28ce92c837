import { createHash } from "node:crypto";
import type { Tensor } from "@pt/tensor";

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

/**
 * SHA-256 (hex) of {@link logicalBytes}. A lazy storage read for it is released afterwards, so
 * hashing a whole checkpoint holds one storage at a time.
 */
export async function tensorSha256(t: Tensor): Promise<string> {
  const root = t.storage.base ?? t.storage;
  const wasLoaded = root.isLoaded;
  try {
    return createHash("sha256")
      .update(await logicalBytes(t))
      .digest("hex");
  } finally {
    if (!wasLoaded) root.unload();
  }
}
