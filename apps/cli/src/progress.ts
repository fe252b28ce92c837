import type { Io } from "./io.js";

/**
 * A progress bar on stderr, drawn only when stderr is a terminal and only once the work has taken
 * more than `delayMs` (default 1 s). `update(done)` is cheap to call often; `finish()` clears it.
 */
export class Progress {
  private readonly start = Date.now();
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly io: Io,
    private readonly label: string,
    private readonly total: number,
    private readonly delayMs = 1000,
  ) {}

  /** Report `done` units out of the total. */
  update(done: number): void {
    if (!this.io.stderrIsTTY) return;
    const now = Date.now();
    if (now - this.start < this.delayMs || now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const width = Math.max(10, Math.min(40, (this.io.columns ?? 80) - this.label.length - 20));
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 0;
    const fill = Math.round(frac * width);
    const pct = `${Math.floor(frac * 100)}`.padStart(3);
    this.io.err(`\r${this.label} [${"#".repeat(fill)}${"-".repeat(width - fill)}] ${pct}%`);
    this.drawn = true;
  }

  /** Clear the bar (if it was drawn). */
  finish(): void {
    if (this.drawn) this.io.err("\r\x1b[2K");
    this.drawn = false;
  }
}
