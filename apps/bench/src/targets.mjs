// The workloads and targets of issue 9, and how a measured row is judged against them.

export const MIB = 1 << 20;
export const GIB = 1 << 30;

/**
 * @typedef {"load" | "save" | "list" | "convert" | "diff" | "hash" | "scan"} Op
 * @typedef {"pass" | "miss" | "n/a"} Verdict
 * @typedef {{ kind: "file"; factor: number; extra: number }
 *   | { kind: "torch" }
 *   | { kind: "absolute"; limit: number }} MemoryTarget
 *   `file`: peak rise ≤ factor × file size + extra bytes; `torch`: ≤ torch's peak rise;
 *   `absolute`: ≤ limit bytes.
 * @typedef {object} Workload
 * @property {string} id "W1" … "W12"
 * @property {string} title what the workload is
 * @property {string} file the file in the scratch folder (W6 reads W2's)
 * @property {"zip" | "legacy"} format the format a save writes
 * @property {Op[]} ops the operations measured
 * @property {Partial<Record<Op, number>>} time time targets: ours ÷ torch must be ≤ this
 * @property {Op | null} memoryOp the operation whose peak RSS rise the memory target judges
 * @property {MemoryTarget | null} memory
 * @property {"io" | "tools"} [table] which summary table the workload sits in (default "io":
 *   W1–W6's load/save/memory table; "tools": the per-operation table of W7–W12)
 * @property {string} [against] what the other side runs (tools workloads)
 * @property {string} [other] a second file the operation reads (W9's B)
 * @property {boolean} [http] the file is served by the runner over HTTP (W8)
 * @property {"torch2"} [python] the other side runs under torch 2.x (W10's DCP)
 * @property {number} [fetchedLimit] bytes the operation may fetch over HTTP (W8)
 * @property {boolean} [fixed] the file is not generated and does not scale (W12's corpus)
 * @property {Partial<Record<Op, "wall" | "cpu">>} [judgeOn] which time the target judges
 *   (default wall)
 */

/** @type {MemoryTarget} */
const VIEWS_NOT_COPIES = { kind: "file", factor: 1.1, extra: 16 * MIB };

/**
 * The six workloads of issue 9 with their targets (ours ÷ torch, median of pairs). For W6,
 * torch's side is its full `torch.load`: torch has no lazy listing.
 * @type {readonly Workload[]}
 */
export const WORKLOADS = Object.freeze([
  {
    id: "W1",
    title: "one 1 GiB float32 tensor",
    file: "w1.pt",
    format: "zip",
    ops: ["load", "save"],
    time: { load: 1.0, save: 0.8 },
    judgeOn: { save: "cpu" },
    memoryOp: "load",
    memory: VIEWS_NOT_COPIES,
  },
  {
    id: "W2",
    title: "~1 GiB transformer-like state dict (~400 tensors)",
    file: "w2.pt",
    format: "zip",
    ops: ["load", "save"],
    time: { load: 1.0, save: 0.8 },
    judgeOn: { save: "cpu" },
    memoryOp: "load",
    memory: VIEWS_NOT_COPIES,
  },
  {
    id: "W3",
    title: "50,000 small tensors",
    file: "w3.pt",
    format: "zip",
    ops: ["load", "save"],
    time: { load: 0.3, save: 0.5 },
    judgeOn: { save: "cpu" },
    memoryOp: "load",
    memory: { kind: "torch" },
  },
  {
    id: "W4",
    title: "10,000 views of one storage",
    file: "w4.pt",
    format: "zip",
    ops: ["load", "save"],
    time: { load: 0.5, save: 0.5 },
    judgeOn: { save: "cpu" },
    memoryOp: null,
    memory: null,
  },
  {
    id: "W5",
    title: "W2 in the legacy format",
    file: "w5.pt",
    format: "legacy",
    ops: ["load", "save"],
    time: { load: 1.0, save: 0.8 },
    judgeOn: { save: "cpu" },
    memoryOp: "load",
    memory: VIEWS_NOT_COPIES,
  },
  {
    id: "W6",
    title: "W2 listed lazily (vs torch's full load)",
    file: "w2.pt",
    format: "zip",
    ops: ["list"],
    time: { list: 0.05 },
    memoryOp: "list",
    memory: { kind: "absolute", limit: 64 * MIB },
  },
  {
    id: "W7",
    title: "5 GiB checkpoint → safetensors",
    file: "w7.pt",
    format: "zip",
    ops: ["convert"],
    time: { convert: 0.8 },
    memoryOp: "convert",
    memory: { kind: "absolute", limit: 1.5 * GIB },
    table: "tools",
    against: "torch.load + safetensors-style write (Python)",
  },
  {
    id: "W8",
    title: "list a 1 GiB checkpoint over HTTP",
    file: "w2.pt",
    format: "zip",
    ops: ["list"],
    time: { list: 0.05 },
    memoryOp: null,
    memory: null,
    table: "tools",
    http: true,
    fetchedLimit: MIB,
    against: "download, then torch.load",
  },
  {
    id: "W9",
    title: "diff of two 1 GiB checkpoints",
    file: "w2.pt",
    other: "w9b.pt",
    format: "zip",
    ops: ["diff"],
    time: { diff: 0.5 },
    memoryOp: "diff",
    memory: { kind: "absolute", limit: 256 * MIB },
    table: "tools",
    against: "torch.load both + compare",
  },
  {
    id: "W10",
    title: "consolidate a 4-shard DCP checkpoint",
    file: "w10.dcp",
    format: "zip",
    ops: ["convert"],
    time: { convert: 1.0 },
    memoryOp: null,
    memory: null,
    table: "tools",
    python: "torch2",
    against: "dcp_to_torch_save (torch 2.x)",
  },
  {
    id: "W11",
    title: "hash every tensor of a 1 GiB checkpoint",
    file: "w2.pt",
    format: "zip",
    ops: ["hash"],
    time: { hash: 0.8 },
    memoryOp: "hash",
    memory: { kind: "absolute", limit: 256 * MIB },
    table: "tools",
    against: "torch.load + hashlib per tensor",
  },
  {
    id: "W12",
    title: "scan the conformance corpus for globals",
    file: "apps/conformance/corpus/files",
    format: "zip",
    ops: ["scan"],
    time: {},
    memoryOp: null,
    memory: null,
    table: "tools",
    fixed: true,
    against: "pickletools.genops over each file's pickles",
  },
]);

/**
 * The workloads named by a selection such as "W3" or "w1,W6" (all when empty or undefined).
 * @param {string | undefined} selection
 * @returns {Workload[]}
 */
export function selectWorkloads(selection) {
  if (selection === undefined || selection.trim() === "") return [...WORKLOADS];
  const wanted = selection
    .split(",")
    .map((s) => s.trim().toUpperCase())
    .filter((s) => s !== "");
  const unknown = wanted.filter((id) => !WORKLOADS.some((w) => w.id === id));
  if (unknown.length > 0) {
    throw new RangeError(`bench: unknown workload ${unknown.join(", ")} (known: W1 to W12)`);
  }
  return WORKLOADS.filter((w) => wanted.includes(w.id));
}

/**
 * Judges a median ratio against a time target.
 * @param {number | null | undefined} ratio median ours ÷ torch, or nothing when not measured
 * @param {number | undefined} target
 * @returns {Verdict}
 */
export function judgeTime(ratio, target) {
  if (ratio === null || ratio === undefined || target === undefined) return "n/a";
  return ratio <= target ? "pass" : "miss";
}

/**
 * The byte limit of a memory target for a file of `fileSize` bytes, given torch's peak rise.
 * @param {MemoryTarget} target
 * @param {number} fileSize
 * @param {number | null} torchRise torch's median peak rise (needed by the `torch` kind)
 * @returns {number | null} the limit, or null when it cannot be known (torch not measured)
 */
export function memoryLimit(target, fileSize, torchRise) {
  switch (target.kind) {
    case "file":
      return Math.round(target.factor * fileSize + target.extra);
    case "torch":
      return torchRise;
    case "absolute":
      return target.limit;
  }
}

/**
 * How a memory target reads in the table (e.g. "≤ 1.1 × file + 16 MiB").
 * @param {MemoryTarget} target
 * @returns {string}
 */
export function describeMemoryTarget(target) {
  switch (target.kind) {
    case "file":
      return `≤ ${target.factor} × file + ${target.extra / MIB} MiB`;
    case "torch":
      return "≤ torch's";
    case "absolute":
      return `≤ ${target.limit / MIB} MiB`;
  }
}

/**
 * Judges our median peak RSS rise against a limit.
 * @param {number | null} rise
 * @param {number | null} limit
 * @returns {Verdict}
 */
export function judgeMemory(rise, limit) {
  if (rise === null || limit === null) return "n/a";
  return rise <= limit ? "pass" : "miss";
}
