#!/usr/bin/env node
/**
 * Write a checkpoint of about BYTES bytes to PATH (big-check.mjs): `layers.N.weight` float32
 * tensors of 256 MiB (the last one smaller), `steps` int64, `half` float16 and `view` (a
 * transposed view of layer 0's first rows). Values follow `value(name, i)` in big-check.py; with
 * VARIANT 1 one element of layers.0.weight differs. Storages are lazy over a generated source and
 * released once written, so memory stays about one storage.
 *
 *   node big-make.mjs PATH BYTES VARIANT
 */
import { saveTo } from "@pt/serialization";
import { dtypes, Storage } from "@pt/storage";
import { Tensor } from "@pt/tensor";
import { archivePrefix } from "@pt/zip-format";
import { nodeCrc32 } from "@pt/zip-format/node";
import { writeAtomic } from "../dist/sink.js";

const [path, bytesText, variant] = process.argv.slice(2);
const total = Number(bytesText);
const CHUNK = 256 * 2 ** 20;

/** A ByteSource generating each storage's values on read. */
function source(nbytes, fill) {
  return {
    byteLength: nbytes,
    read(offset, length) {
      return Promise.resolve(this.readSync(offset, length));
    },
    readSync(offset, length) {
      const out = new Uint8Array(length);
      fill(out, offset);
      return out;
    },
  };
}

function f32Source(n, layer) {
  return source(n * 4, (out, offset) => {
    const a = new Float32Array(out.buffer);
    const first = offset / 4;
    for (let i = 0; i < a.length; i++) a[i] = ((first + i + layer * 7919) % 65521) / 64;
    if (variant === "1" && layer === 0 && first === 0) a[12345] += 0.5;
  });
}

const value = new Map();
let left = total - 3 * 2 ** 20;
let layer = 0;
while (left > 0) {
  const nbytes = Math.min(CHUNK, left - (left % 4));
  if (nbytes <= 0) break;
  const n = nbytes / 4;
  const s = Storage.lazy(dtypes.float32, f32Source(n, layer), 0, nbytes);
  const cols = 1024;
  value.set(`layers.${layer}.weight`, new Tensor(s, 0, n % cols === 0 ? [n / cols, cols] : [n]));
  left -= nbytes;
  layer++;
}
const steps = Storage.lazy(
  dtypes.int64,
  source(8 * 1000, (out, offset) => {
    const a = new BigInt64Array(out.buffer);
    for (let i = 0; i < a.length; i++) a[i] = BigInt(offset / 8 + i) * 1000000007n;
  }),
  0,
  8000,
);
value.set("steps", new Tensor(steps, 0, [1000]));
const half = Storage.lazy(
  dtypes.float16,
  source(2 * 4096, (out, offset) => {
    const a = new Uint16Array(out.buffer);
    for (let i = 0; i < a.length; i++) a[i] = 0x3c00 + ((offset / 2 + i) % 1024); // 1 + k/1024
  }),
  0,
  8192,
);
value.set("half", new Tensor(half, 0, [64, 64]));
const l0 = value.get("layers.0.weight");
// a non-contiguous view sharing layer 0's storage: rows 0..7, transposed
value.set("view", new Tensor(l0.storage, 0, [l0.shape[1] ?? 1, 8], [1, l0.shape[1] ?? 1]));

// storages are lazy: the CLI's file sink releases each once the next one is being written
const roots = [...new Set([...value.values()].map((t) => t.storage))];
await writeAtomic(
  path,
  null,
  roots,
  (sink) => saveTo(value, sink, { crc32: nodeCrc32, prefix: archivePrefix(path) }),
  1,
);
