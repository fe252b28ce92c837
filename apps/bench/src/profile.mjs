// Where our side spends its time: self time per function from a V8 .cpuprofile (node --cpu-prof).

/**
 * @typedef {object} CpuProfileNode
 * @property {number} id
 * @property {{ functionName: string; url: string; lineNumber: number }} callFrame
 * @typedef {object} CpuProfile
 * @property {CpuProfileNode[]} nodes
 * @property {number[]} samples node id of each sample
 * @property {number[]} timeDeltas microseconds before each sample
 * @typedef {object} ProfileEntry
 * @property {string} name function, file base name and line (1-based)
 * @property {number} ms self time in milliseconds
 * @property {number} share of the profile's sampled time, 0 to 1
 */

/**
 * Self time per function (summed over the call sites of a function), largest first. Idle time
 * is left out; "(garbage collector)" and "(program)" (native code outside JavaScript) stay.
 * @param {CpuProfile} profile
 * @param {number} [limit] how many entries to keep (default 15)
 * @returns {ProfileEntry[]}
 */
export function summarizeProfile(profile, limit = 15) {
  /** @type {Map<number, string>} */
  const names = new Map();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url === "" ? "" : ` ${url.slice(url.lastIndexOf("/") + 1)}:${lineNumber + 1}`;
    names.set(node.id, `${functionName === "" ? "(anonymous)" : functionName}${file}`);
  }
  /** @type {Map<string, number>} */
  const micros = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const name = names.get(id) ?? `(node ${id})`;
    if (name === "(idle)") return;
    const dt = Math.max(0, profile.timeDeltas[i] ?? 0);
    total += dt;
    micros.set(name, (micros.get(name) ?? 0) + dt);
  });
  return [...micros]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, us]) => ({ name, ms: us / 1000, share: total > 0 ? us / total : 0 }));
}

/**
 * The summary as text lines: "  412.3 ms  38.1%  readChunk storage.js:88".
 * @param {readonly ProfileEntry[]} entries
 * @returns {string}
 */
export function formatProfile(entries) {
  return entries
    .map((e) => `${e.ms.toFixed(1).padStart(10)} ms ${(e.share * 100).toFixed(1).padStart(5)}%  ${e.name}`)
    .join("\n");
}
