import { disassemble } from "@pt/pickle";
import { expectPositionals, parseArgs } from "./args.js";
import { pickleSections } from "./containers.js";
import { openSource } from "./files.js";
import { CliError, type Io } from "./io.js";

export const DISASM_HELP = `usage: pt disasm FILE

Print the pickles of FILE as Python's pickletools.dis prints them:
  zip checkpoints   data.pkl, then every other .pkl record (TorchScript: constants.pkl…)
  legacy files      the five pickles of the stream (magic number, protocol version,
                    sys_info, the object, the storage keys), positions as file offsets
  tar files         the pickles of the sys_info, pickle, storages and tensors members
  plain pickles     the one pickle
With several pickles, each is preceded by a line "==> NAME <==" (as python -m pickletools
prints for several files). Nothing is unpickled or executed.
`;

/** Add `delta` to the `%5d:` positions that start each opcode line and to the `(MARK at N)` that end some. */
function shiftPositions(text: string, delta: number): string {
  return text
    .replace(/^ *(\d+):/gm, (_m, n: string) => `${String(Number(n) + delta).padStart(5)}:`)
    .replace(/\(MARK at (\d+)\)$/gm, (_m, n: string) => `(MARK at ${Number(n) + delta})`);
}

/** `pt disasm FILE`. */
export async function disasmCommand(argv: readonly string[], io: Io): Promise<number> {
  const args = parseArgs(argv, []);
  if (args.options.has("help")) {
    io.out(DISASM_HELP);
    return 0;
  }
  const [file] = expectPositionals(args, ["FILE"]) as [string];
  const src = openSource(file);
  try {
    const p = pickleSections(src);
    const many = p.sections.length > 1;
    for (const s of p.sections) {
      if (many) io.out(`==> ${s.name} <==\n`);
      try {
        // Positions: file offsets for streams (as pickletools.dis on the open file), record offsets in zip.
        const text = disassemble(s.data, { offset: s.start });
        io.out(s.fileOffset === 0 ? text : shiftPositions(text, s.fileOffset));
      } catch (e) {
        const partial = (e as { disassembly?: string }).disassembly;
        if (partial) io.out(`${partial}\n`);
        throw new CliError(`${s.name}: ${(e as Error).message}`);
      }
    }
    if (p.error) throw new CliError(p.error.message);
    return 0;
  } finally {
    src.close();
  }
}
