import { disassemble, scanPickle } from "@pt/pickle";
import { pickleSections } from "@pt/serialization";
import { expectPositionals, parseArgs } from "./args.js";
import { openSource } from "./files.js";
import { CliError, type Io } from "./io.js";

export const DISASM_HELP = `usage: pt disasm FILE

Print the pickles of FILE as Python's pickletools.dis prints them:
  zip checkpoints   data.pkl, then every other record holding pickles (TorchScript:
                    constants.pkl…), positions as record offsets
  legacy files      the five pickles of the stream (magic number, protocol version,
                    sys_info, the object, the storage keys), positions as file offsets
  tar files         the pickles of the sys_info, pickle, storages and tensors members
  plain pickles     every pickle up to the end of the file
  NumPy files       the pickle of an object array
With several pickles, each is preceded by a line "==> NAME <==" (as python -m pickletools
prints for several files). Nothing is unpickled or executed. A pickle whose FRAMEs disagree
with its opcodes ends in an error naming the offsets.
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
    let p: ReturnType<typeof pickleSections>;
    try {
      p = pickleSections(src);
    } catch (e) {
      throw new CliError((e as Error).message);
    }
    if (p.sections.length === 0)
      throw new CliError(
        `nothing to disassemble: ${p.unsupported ? `${p.unsupported} is not supported` : "no pickle found"}`,
      );
    const zip = p.format === "zip" || p.format === "torchscript" || p.format === "npz";
    const many = p.sections.length > 1;
    for (const s of p.sections) {
      if (many) io.out(`==> ${s.name} <==\n`);
      // Positions: file offsets for streams (as pickletools.dis on the open file), record offsets in zip.
      const delta = zip || s.fileOffset === null ? 0 : s.fileOffset;
      let at = s.start;
      for (;;) {
        try {
          const text = disassemble(s.bytes, { offset: at });
          io.out(delta === 0 ? text : shiftPositions(text, delta));
        } catch (e) {
          const partial = (e as { disassembly?: string }).disassembly;
          if (partial) io.out(`${delta === 0 ? partial : shiftPositions(partial, delta)}\n`);
          throw new CliError(`${many ? `${s.name}: ` : ""}${(e as Error).message}`);
        }
        if (!s.untilEof) break;
        const end = scanPickle(s.bytes, { offset: at }).pickles[0]?.end;
        if (end === undefined || end >= s.bytes.length) break;
        at = end;
      }
      if (s.error) throw new CliError(`${s.name}: ${s.error.message}`);
    }
    return 0;
  } finally {
    src.close();
  }
}
