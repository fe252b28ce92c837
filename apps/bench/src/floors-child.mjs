#!/usr/bin/env node
// The floor probe of one workload file, our side (`run.mjs --floors`): what the bench's figures
// are made of, each part measured on its own in one fresh process.
//
// usage: node --expose-gc apps/bench/src/floors-child.mjs --file F --out O
//
// In this order (so that the first load is as cold as the bench's own child):
//   load_cold   loadFile(F), the first call in the process (V8 has compiled nothing yet)
//   save_cold   saveFile(value, O) + fdatasync, the first call; CPU beside it
//   read        F read into fresh memory (a new Uint8Array of its size, one readSync): what any
//               eager load pays before parsing anything (the kernel's copy into pages this
//               process has never touched)
//   touch       zlib.crc32 over those bytes, the first pass (their first read from user space)
//   crc         the same CRC-32 again, the pages now warm: the checksum's own cost
//   load_warm   the fastest of 5 more loadFile(F) calls (JIT warm; each still reads into fresh memory)
//   parse_warm  the fastest of 3 `load(bytes, { checkCrc: false })` over the bytes already read:
//               unpickling and building the tensors, warm, nothing read or checksummed
//   save_warm   the fastest of 3 more saveFile(value, O) + fdatasync; CPU beside it
// Prints `PT_BENCH_RESULT {json}` with milliseconds (and `*_cpu_ms`).

import { closeSync, fdatasyncSync, openSync, readSync, statSync, unlinkSync } from "node:fs";
import { parseArgs } from "node:util";
import { crc32 } from "node:zlib";

const { values } = parseArgs({ options: { file: { type: "string" }, out: { type: "string" } } });
const file = values.file;
const out = values.out;
if (file === undefined || out === undefined) throw new Error("floors child: usage: --file F --out O");

const gc = /** @type {() => void} */ (/** @type {{ gc?: () => void }} */ (globalThis).gc ?? (() => {}));

/**
 * Wall and CPU milliseconds of `body`, after a garbage collection.
 * @param {() => Promise<unknown> | unknown} body
 */
async function timed(body) {
  gc();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await body();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { ms, cpuMs: (c.user + c.system) / 1000 };
}

/** @param {string} path */
function fsyncPath(path) {
  const fd = openSync(path, "r");
  try {
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The fastest of `n` runs of `body`.
 * @param {number} n
 * @param {() => Promise<unknown> | unknown} body
 */
async function fastest(n, body) {
  let best = { ms: Number.POSITIVE_INFINITY, cpuMs: Number.POSITIVE_INFINITY };
  for (let i = 0; i < n; i++) {
    const r = await timed(body);
    if (r.ms < best.ms) best = r;
  }
  return best;
}

const node = await import("@pt/serialization/node");
const { load } = await import("@pt/serialization");
/** @type {Record<string, number>} */
const r = {};
/** @param {string} key @param {{ ms: number; cpuMs: number }} t */
const put = (key, t) => {
  r[`${key}_ms`] = t.ms;
  r[`${key}_cpu_ms`] = t.cpuMs;
};

/** @type {unknown} */
let value;
put(
  "load_cold",
  await timed(async () => {
    value = await node.loadFile(file);
  }),
);
const save = async () => {
  await node.saveFile(value, out);
  fsyncPath(out);
};
put("save_cold", await timed(save));

const size = statSync(file).size;
/** @type {Uint8Array} */
let bytes = new Uint8Array(0);
put(
  "read",
  await timed(() => {
    bytes = new Uint8Array(size);
    const fd = openSync(file, "r");
    try {
      let done = 0;
      while (done < size) {
        const n = readSync(fd, bytes, done, size - done, done);
        if (n === 0) throw new Error(`floors child: ${file} shrank while being read`);
        done += n;
      }
    } finally {
      closeSync(fd);
    }
  }),
);
put("touch", await timed(() => crc32(bytes)));
put("crc", await timed(() => crc32(bytes)));
put(
  "load_warm",
  await fastest(5, async () => {
    value = await node.loadFile(file);
  }),
);
put("parse_warm", await fastest(3, () => load(bytes, { checkCrc: false })));
put("save_warm", await fastest(3, save));
unlinkSync(out);
process.stdout.write(`PT_BENCH_RESULT ${JSON.stringify({ ok: true, side: "ours", size, ...r })}\n`);
