/**
 * Progress bars, drawn by `cli-progress` on stderr only when stderr is a terminal (nothing at all
 * on a pipe or file) and only once an operation has run for `delayMs` (short operations stay
 * quiet). Amounts are bytes: the bar shows bytes done of the total, the rate and the ETA.
 */
import { fmtBytes } from "@pt/serialization";
import { SingleBar } from "cli-progress";
import type { Io } from "./io.js";

/** What `cli-progress` writes to: the command's stderr, as a terminal. */
function terminalOf(io: Io): NodeJS.WritableStream {
  return {
    isTTY: true,
    columns: io.columns ?? 80,
    write(text: string) {
      io.err(text);
      return true;
    },
  } as unknown as NodeJS.WritableStream;
}

/** A byte-counting progress bar; `update(done)` is cheap to call often; `finish()` removes it. */
export class Progress {
  private readonly start = Date.now();
  private bar: SingleBar | null = null;
  private done = 0;

  constructor(
    private readonly io: Io,
    private readonly label: string,
    private total: number,
    private readonly delayMs = io.progressDelayMs ?? 500,
  ) {}

  /** Change the total (bytes) once it is known. */
  setTotal(total: number): void {
    this.total = total;
    this.bar?.setTotal(Math.max(1, total));
  }

  /** Report `done` bytes out of the total. */
  update(done: number): void {
    this.done = done;
    if (!this.io.stderrIsTTY) return;
    if (this.bar === null) {
      if (Date.now() - this.start < this.delayMs) return;
      this.bar = new SingleBar({
        stream: terminalOf(this.io),
        format: `${this.label} [{bar}] {percentage}% | {doneText} / {totalText} | {rate} | ETA {eta_formatted}`,
        barsize: Math.max(10, Math.min(30, (this.io.columns ?? 80) - this.label.length - 60)),
        hideCursor: false,
        clearOnComplete: true,
        stopOnComplete: false,
        gracefulExit: false,
        etaBuffer: 50,
        fps: 10,
        synchronousUpdate: true,
      });
      this.bar.start(Math.max(1, this.total), Math.min(done, Math.max(1, this.total)), this.payload());
      return;
    }
    this.bar.update(Math.min(done, Math.max(1, this.total)), this.payload());
  }

  private payload(): Record<string, string> {
    const secs = Math.max(0.001, (Date.now() - this.start) / 1000);
    return {
      doneText: fmtBytes(this.done),
      totalText: fmtBytes(this.total),
      rate: `${fmtBytes(Math.round(this.done / secs))}/s`,
    };
  }

  /** Remove the bar (if it was drawn) and stop its timer. */
  finish(): void {
    if (this.bar) {
      this.bar.stop();
      this.bar = null;
    }
  }
}
