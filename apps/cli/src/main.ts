/**
 * `pt`: inspect, convert, disassemble, scan and diff PyTorch checkpoints. `main(argv)` runs one
 * command and returns the exit status (it never calls `process.exit`).
 */
import { createRequire } from "node:module";
import { disasmCommand } from "./cmd-disasm.js";
import { scanCommand } from "./cmd-scan.js";
import { CliError, type Io, processIo } from "./io.js";

export type { Io } from "./io.js";
export { CliError } from "./io.js";

type Command = (argv: readonly string[], io: Io) => Promise<number>;

const COMMANDS: ReadonlyMap<string, { run: Command; summary: string }> = new Map([
  ["inspect", { run: lazy("inspect"), summary: "format, records, object tree and tensors of a checkpoint" }],
  ["convert", { run: lazy("convert"), summary: "re-encode a checkpoint as zip, legacy or safetensors" }],
  ["disasm", { run: disasmCommand, summary: "the pickles of a file, as pickletools.dis prints them" }],
  [
    "scan",
    { run: scanCommand, summary: "every global the pickles reference, safe or not (exit 1 if unsafe)" },
  ],
  [
    "diff",
    { run: lazy("diff"), summary: "tensor-by-tensor comparison of two checkpoints (exit 1 if they differ)" },
  ],
]);

function lazy(name: "inspect" | "convert" | "diff"): Command {
  return async (argv, io) => {
    if (name === "inspect") return (await import("./cmd-inspect.js")).inspectCommand(argv, io);
    if (name === "convert") return (await import("./cmd-convert.js")).convertCommand(argv, io);
    return (await import("./cmd-diff.js")).diffCommand(argv, io);
  };
}

/** The top-level help text. */
export function usage(): string {
  const lines = [
    "usage: pt <command> [options]",
    "",
    "commands:",
    ...[...COMMANDS].map(([n, c]) => `  ${n.padEnd(9)}${c.summary}`),
    "",
    "Run `pt <command> --help` for a command's options. Nothing in a file is ever executed.",
    "",
  ];
  return lines.join("\n");
}

/** One line for an error: its message, then the messages of its causes (`a: b: c`). */
export function errorLine(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 4; depth++) {
    const text = cur instanceof CliError ? cur.reason : cur instanceof Error ? cur.message : String(cur);
    const msg = text.split("\n")[0] ?? "";
    if (msg && !parts.some((p) => p.includes(msg))) parts.push(msg);
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return parts.join(": ");
}

/** Run `pt` with `argv` (without the node and script paths); returns the exit status. */
export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.err(usage());
    return 2;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    io.out(usage());
    return 0;
  }
  if (name === "--version") {
    const pkg = createRequire(import.meta.url)("../package.json") as { version: string };
    io.out(`pt ${pkg.version}\n`);
    return 0;
  }
  const cmd = COMMANDS.get(name);
  if (!cmd) {
    io.err(`pt: unknown command ${JSON.stringify(name)} (commands: ${[...COMMANDS.keys()].join(", ")})\n`);
    return 2;
  }
  try {
    return await cmd.run(rest, io);
  } catch (e) {
    const code = e instanceof CliError ? e.exitCode : 2;
    io.err(`pt: ${name}: ${errorLine(e)}\n`);
    return code;
  }
}
