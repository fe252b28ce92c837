import * as zlib from "node:zlib";
import { type Crc32Function, crc32 as tsCrc32 } from "./zip/crc32.js";

const native = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/**
 * CRC-32 for Node: `zlib.crc32` where Node has it (≥ 20.15 / 22.2), else the TypeScript one.
 * Pass it as the `crc32` option of `ZipWriter` / `ZipReader`.
 */
export const nodeCrc32: Crc32Function =
  typeof native === "function"
    ? (data: Uint8Array, crc = 0): number =>
        // below 128 bytes the call into C++ costs more than the TypeScript loop (checkpoints of
        // many small tensors have tens of thousands of such records)
        data.length < 128 ? tsCrc32(data, crc) : native(data, crc) >>> 0
    : tsCrc32;

/** Whether {@link nodeCrc32} uses Node's native `zlib.crc32`. */
export const hasNativeCrc32: boolean = typeof native === "function";
