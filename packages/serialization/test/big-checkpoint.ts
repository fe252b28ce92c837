/**
 * A 1 GiB torch zip checkpoint written sparsely (the zero bytes of its big storage are holes in the
 * file, so it costs little disk): `big.weight`, float32 [16384, 16384] whose first `dense` bytes
 * are seeded values and the rest zeros, plus two small tensors and a view sharing their storage.
 */
import { closeSync, ftruncateSync, openSync, writeSync } from "node:fs";
import { PyOrderedDict } from "@pt/pickle";
import { dtypes, Storage } from "@pt/storage";
import { Tensor } from "@pt/tensor";
import { pickleForZip, ZipWriter } from "@pt/zip-format";
import { nodeCrc32 } from "@pt/zip-format/node";

export const BIG_ROWS = 16384;
export const BIG_BYTES = BIG_ROWS * BIG_ROWS * 4;

/** Seeded float32 values in [-1, 1) (xorshift32). */
export function seededFloats(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = (x >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

export async function writeBigCheckpoint(path: string, dense = 1 << 20): Promise<void> {
  const head = new Uint8Array(seededFloats(dense / 4, 42).buffer);
  const bigStorage = Storage.lazy(
    dtypes.float32,
    { byteLength: BIG_BYTES, read: async () => new Uint8Array(0) },
    0,
    BIG_BYTES,
  );
  const small = Storage.fromBytes(
    dtypes.float32,
    new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0.5, -0.5, 0]).buffer),
  );
  const sd = new PyOrderedDict<string, unknown>();
  sd.set("big.weight", new Tensor(bigStorage, 0, [BIG_ROWS, BIG_ROWS]));
  sd.set("small.weight", new Tensor(small, 0, [4, 3]));
  sd.set("small.bias", new Tensor(small, 12, [3]));
  sd.set("small.row1", new Tensor(small, 3, [3]));
  const { pickle, storages } = pickleForZip(sd, "2.7");
  const fd = openSync(path, "w");
  let pos = 0;
  try {
    const zeros = new Uint8Array(8 << 20);
    const writer = new ZipWriter(
      {
        write(c) {
          // chunks of the zero buffer become holes
          if (c.buffer !== zeros.buffer) writeSync(fd, c, 0, c.length, pos);
          pos += c.length;
        },
      },
      { prefix: "big", crc32: nodeCrc32 },
    );
    const enc = new TextEncoder();
    await writer.writeRecord("data.pkl", pickle);
    await writer.writeRecord(".format_version", enc.encode("1"));
    await writer.writeRecord(".storage_alignment", enc.encode("64"));
    await writer.writeRecord("byteorder", enc.encode("little"));
    for (const [key, st] of storages) {
      if (st === bigStorage) {
        const chunks = function* () {
          yield head;
          for (let p = head.length; p < BIG_BYTES; p += zeros.length)
            yield zeros.subarray(0, Math.min(zeros.length, BIG_BYTES - p));
        };
        await writer.writeRecord(`data/${key}`, chunks(), BIG_BYTES);
      } else await writer.writeRecord(`data/${key}`, st.bytes, st.nbytes);
    }
    await writer.writeRecord("version", enc.encode("3\n"));
    await writer.writeSerializationId("libstdc++");
    await writer.finish();
    ftruncateSync(fd, pos);
  } finally {
    closeSync(fd);
  }
}
