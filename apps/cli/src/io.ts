import { PtError } from "@pt/errors";

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

/** Kinds of CLI failure (the layers below throw their own errors, which end a command as they are). */
export type CliErrorCode =
  /** Bad options or arguments. */
  | "Usage"
  /** A file or folder could not be opened, read or written. */
  | "Io"
  /** The command could not do what was asked (an output that cannot represent the input, …). */
  | "Failed";

/**
 * An error that ends a command with a one-line message (`pt: <command>: <reason>`) and an exit
 * code. Meets the `@pt/*` error contract (layer `cli`; its `message` starts with `cli: `).
 */
export class CliError extends PtError<"cli", CliErrorCode> {
  constructor(
    message: string,
    /** Exit status (default 2: 1 is kept for "files differ" / "unsafe globals found"). */
    readonly exitCode = 2,
    options: { readonly code?: CliErrorCode; readonly cause?: unknown } = {},
  ) {
    super("cli", options.code ?? "Failed", message, { cause: options.cause });
  }
  /** The message without its `cli: ` prefix: what `pt` prints after the command's name. */
  get reason(): string {
    return this.message.slice("cli: ".length);
  }
}

/** A usage error (bad options or arguments; exit status 2). */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2, { code: "Usage" });
  }
}
