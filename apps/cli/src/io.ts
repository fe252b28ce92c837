/** Where a command writes: stdout, stderr, and whether stderr is a terminal (for progress bars). */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Whether stderr is an interactive terminal (progress bars are drawn only then). */
  readonly stderrIsTTY: boolean;
  /** Terminal width for progress bars (default 80). */
  readonly columns?: number;
  /** How long an operation runs before its progress bar appears (default 500 ms; tests set 0). */
  readonly progressDelayMs?: number;
}

/** The process's real streams. A closed stdout (`pt … | head`) ends the process quietly. */
export function processIo(): Io {
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    throw e;
  });
  return {
    out: (t) => {
      process.stdout.write(t);
    },
    err: (t) => {
      process.stderr.write(t);
    },
    stderrIsTTY: process.stderr.isTTY === true,
    columns: process.stderr.columns ?? 80,
  };
}

/** An error that ends a command with a one-line message (`pt: <message>`) and an exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    /** Exit status (default 2: 1 is kept for "files differ" / "unsafe globals found"). */
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** A usage error (bad options or arguments; exit status 2). */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
    this.name = "UsageError";
  }
}
