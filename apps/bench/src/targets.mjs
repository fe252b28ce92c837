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
 * A load-and-save workload of the io table (W1–W5): saves judged on CPU time, the memory target
 * (if any) on the load.
 * @param {string} id
 * @param {string} title
 * @param {string} file
 * @param {"zip" | "legacy"} format
 * @param {Partial<Record<Op, number>>} time
 * @param {MemoryTarget | null} memory
 * @returns {Workload}
 */
function loadSave(id, title, file, format, time, memory) {
  return {
    id,
    title,
    file,
    format,
    ops: ["load", "save"],
    time,
    judgeOn: { save: "cpu" },
    memoryOp: memory ? "load" : null,
    memory,
  };
}

/**
 * A one-operation workload of the tools table (W7–W12) on zip files.
 * @param {string} id
 * @param {string} title
 * @param {string} file
 * @param {Op} op
 * @param {number | null} target ours ÷ torch time target, or null when not judged
 * @param {number | null} memoryLimit peak RSS rise limit in bytes, or null when not judged
 * @param {Partial<Workload>} extra the workload's other fields (`against`, `http`…)
 * @returns {Workload}
 */
function tool(id, title, file, op, target, memoryLimit, extra) {
  return {
    id,
    title,
    file,
    format: "zip",
    ops: [op],
    time: target === null ? {} : { [op]: target },
    memoryOp: memoryLimit === null ? null : op,
    memory: memoryLimit === null ? null : { kind: "absolute", limit: memoryLimit },
    table: "tools",
    ...extra,
  };
}

/**
 * The six workloads of issue 9 with their targets (ours ÷ torch, median of pairs). For W6,
 * torch's side is its full `torch.load`: torch has no lazy listing.
 * @type {readonly Workload[]}
 */
export const WORKLOADS = Object.freeze([
  loadSave("W1", "one 1 GiB float32 tensor", "w1.pt", "zip", { load: 1.0, save: 0.8 }, VIEWS_NOT_COPIES),
  loadSave(
    "W2",
    "~1 GiB transformer-like state dict (~400 tensors)",
    "w2.pt",
    "zip",
    { load: 1.0, save: 0.8 },
    VIEWS_NOT_COPIES,
  ),
  loadSave("W3", "50,000 small tensors", "w3.pt", "zip", { load: 0.3, save: 0.5 }, { kind: "torch" }),
  loadSave("W4", "10,000 views of one storage", "w4.pt", "zip", { load: 0.5, save: 0.5 }, null),
  loadSave("W5", "W2 in the legacy format", "w5.pt", "legacy", { load: 1.0, save: 0.8 }, VIEWS_NOT_COPIES),
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
  tool("W7", "5 GiB checkpoint → safetensors", "w7.pt", "convert", 0.8, 1.5 * GIB, {
    against: "torch.load + safetensors-style write (Python)",
  }),
  tool("W8", "list a 1 GiB checkpoint over HTTP", "w2.pt", "list", 0.05, null, {
    http: true,
    fetchedLimit: MIB,
    against: "download, then torch.load",
  }),
  tool("W9", "diff of two 1 GiB checkpoints", "w2.pt", "diff", 0.5, 256 * MIB, {
    other: "w9b.pt",
    against: "torch.load both + compare",
  }),
  tool("W10", "consolidate a 4-shard DCP checkpoint", "w10.dcp", "convert", 1.0, null, {
    python: "torch2",
    against: "dcp_to_torch_save (torch 2.x)",
  }),
  tool("W11", "hash every tensor of a 1 GiB checkpoint", "w2.pt", "hash", 0.8, 256 * MIB, {
    against: "torch.load + hashlib per tensor",
  }),
  tool(
    "W12",
    "scan the conformance corpus for globals",
    "apps/conformance/corpus/files",
    "scan",
    null,
    null,
    {
      fixed: true,
      against: "pickletools.genops over each file's pickles",
    },
  ),
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
