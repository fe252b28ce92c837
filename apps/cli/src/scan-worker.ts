/** The worker of `pt scan`'s pool: one checkpoint per task, through `scanOne`. */
import type { MessagePort } from "node:worker_threads";
import { type ScanFileResult, type ScanManyOptions, scanOne } from "@pt/serialization";
import { fileScanInput, pathScanInput } from "@pt/serialization/node";

/** A task: a path, what it is (`file`, `dcp`, `sharded`), and the per-file budgets. */
export interface ScanTask {
  readonly path: string;
  readonly kind: "file" | "dcp" | "sharded";
  readonly options: ScanManyOptions;
  /** Told when the task starts (the time limit counts from then, not from the worker's start-up). */
  readonly port?: MessagePort;
}

export default function scanTask(task: ScanTask): Promise<ScanFileResult> {
  task.port?.postMessage("start");
  task.port?.close();
  const input = task.kind === "file" ? fileScanInput(task.path) : pathScanInput(task.path);
  return scanOne(input, task.options);
}
