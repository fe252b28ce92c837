// The machine a benchmark ran on, from /proc (Linux) with os.* fallbacks.

import { readFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";

/**
 * @typedef {object} Machine
 * @property {string} cpu CPU model name
 * @property {number} cores logical CPUs
 * @property {number} memory total RAM in bytes
 * @property {string} kernel
 * @property {string} node Node.js version
 */

/**
 * Reads a /proc file, or returns "" where it does not exist.
 * @param {string} path
 */
function readProc(path) {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/**
 * Parses the CPU model and the number of logical CPUs out of /proc/cpuinfo text.
 * @param {string} text
 * @returns {{ cpu: string | null; cores: number }}
 */
export function parseCpuinfo(text) {
  const model = /^model name\s*:\s*(.+)$/m.exec(text);
  const cores = text.match(/^processor\s*:/gm)?.length ?? 0;
  return { cpu: model?.[1]?.trim() ?? null, cores };
}

/**
 * Parses MemTotal (bytes) out of /proc/meminfo text.
 * @param {string} text
 * @returns {number | null}
 */
export function parseMeminfo(text) {
  const m = /^MemTotal:\s+(\d+) kB$/m.exec(text);
  return m === null ? null : Number(m[1]) * 1024;
}

/** @returns {Machine} */
export function machineInfo() {
  const cpuinfo = parseCpuinfo(readProc("/proc/cpuinfo"));
  return {
    cpu: cpuinfo.cpu ?? cpus()[0]?.model ?? "unknown",
    cores: cpuinfo.cores > 0 ? cpuinfo.cores : cpus().length,
    memory: parseMeminfo(readProc("/proc/meminfo")) ?? totalmem(),
    kernel: release(),
    node: process.version,
  };
}
