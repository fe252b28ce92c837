/** Messages between the page and its worker (all plain data: structured-cloned). */
import type { ListedTensor, ListingTotals } from "@pt/serialization";
import type { SafetyReport } from "./safety.js";

export interface TreeNode {
  readonly key: string;
  readonly label: string;
  readonly kind: "tensor" | "container" | "leaf" | "placeholder" | "module" | "storage" | "ref";
  /** Index into `Summary.tensors`. */
  readonly tensor?: number;
  /** Index into `Summary.storages` (bare storages). */
  readonly storage?: number;
  readonly children?: TreeNode[];
  /** Children left out (more than the display limit). */
  readonly more?: number;
}

export interface TensorInfo {
  readonly index: number;
  /** `a.b[0]`-style path of its first occurrence. */
  readonly path: string;
  readonly cls: string;
  readonly dtype: string;
  readonly shape: number[];
  readonly stride: number[];
  readonly offset: number;
  readonly numel: number;
  readonly requiresGrad: boolean;
  readonly contiguous: boolean;
  /** Index into `Summary.storages`. */
  readonly storage: number;
  /** Bytes of the storage this tensor's elements lie in: `[byteStart, byteEnd)`. */
  readonly byteStart: number;
  readonly byteEnd: number;
}

export interface StorageInfo {
  readonly index: number;
  readonly key: string | null;
  readonly dtype: string;
  readonly numel: number;
  readonly nbytes: number;
  readonly device: string;
  /** Tensors viewing it. */
  readonly users: number[];
  /** Times it is saved as a value of its own (not through a tensor). */
  readonly bare: number;
}

export interface Totals {
  tensors: number;
  parameters: number;
  bytes: number;
  storages: number;
  shared: number;
  byDtype: Record<string, { tensors: number; parameters: number; bytes: number }>;
}

export interface Summary {
  readonly doc: number;
  readonly name: string;
  readonly size: number;
  readonly format: string;
  readonly details: string[];
  readonly records?: Array<{ name: string; size: number }>;
  /** Set when loading the object failed (the safety report is still there). */
  readonly error?: string;
  readonly note?: string;
  readonly bytesFetched?: number;
  readonly tree: TreeNode | null;
  readonly tensors: TensorInfo[];
  readonly storages: StorageInfo[];
  readonly totals: Totals;
  readonly safety: SafetyReport;
  readonly openMs: number;
}

export interface Stats {
  readonly count: number;
  readonly finite: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly std: number;
  readonly nan: number;
  readonly posInf: number;
  readonly negInf: number;
  readonly zeros: number;
  /** Histogram of the finite values: `bins` equal bins over `[min, max]`. */
  readonly histogram: { lo: number; hi: number; counts: number[] };
  /** 2-D tensors: a grid of cell means (row-major), `rows` × `cols`. */
  readonly heatmap?: { rows: number; cols: number; values: number[] };
  readonly ms: number;
}

export interface DiffRow {
  readonly path: string;
  readonly status: "added" | "removed" | "changed" | "equal" | "dtype/shape";
  readonly a?: string;
  readonly b?: string;
  readonly maxAbsDiff?: number;
}

/**
 * A document's listing, in `pt inspect --json`'s schema (built by the same `listing` of
 * `@pt/serialization`): its format, every tensor with its path elements, dtype, shape, strides,
 * offset, storage and requires_grad, the totals, and the records of a file that has them.
 */
export interface ListingJson {
  readonly format: string;
  readonly tensors: ListedTensor[];
  readonly totals: ListingTotals;
  readonly records?: Array<{ name: string; size: number }>;
}

/** The file name a listing of `docName` is downloaded under. */
export function listingName(docName: string): string {
  return `${docName.replace(/\.[^.]*$/, "") || "checkpoint"}.listing.json`;
}

/** Where a converted file is written (see `output.ts`). */
export type Destination = "file" | "opfs" | "memory";

export type Format = "zip" | "legacy" | "safetensors";

/** The file name a conversion of `docName` to `format` is given. */
export function outputName(docName: string, format: Format): string {
  const stem = docName.replace(/\.[^.]*$/, "") || "checkpoint";
  return `${stem}.${format === "safetensors" ? "safetensors" : format === "zip" ? "pt" : "legacy.pt"}`;
}

export type Request =
  | { type: "open"; req: number; files: File[] }
  | { type: "openUrl"; req: number; url: string }
  | { type: "stats"; req: number; doc: number; tensor: number }
  | { type: "diff"; req: number; a: number; b: number }
  | { type: "listing"; req: number; doc: number }
  | {
      type: "convert";
      req: number;
      doc: number;
      format: Format;
      /** `"file"` with the handle the person chose; else `"opfs"` where the page has it, or `"memory"`. */
      destination: Destination;
      handle?: FileSystemFileHandle;
    }
  | { type: "cancel"; req: number }
  | { type: "close"; doc: number };

export type Reply =
  | { type: "opened"; req: number; summaries: Summary[] }
  | { type: "progress"; req: number; done: number; total: number; phase: string }
  | { type: "stats"; req: number; stats: Stats }
  | { type: "diff"; req: number; rows: DiffRow[] }
  | { type: "listing"; req: number; listing: ListingJson }
  | {
      type: "converted";
      req: number;
      name: string;
      bytes: number;
      /** Where it went (the worker falls back to `"memory"` when it has no private file system). */
      destination: Destination;
      /** The file to hand to the browser as a download (`opfs`: disk-backed; `memory`), or null when saved already. */
      file: Blob | null;
    }
  | { type: "error"; req: number; message: string; cancelled?: boolean };
