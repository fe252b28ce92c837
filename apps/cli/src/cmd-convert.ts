import { rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { saveFile } from "@pt/serialization/node";
import { expectPositionals, parseArgs } from "./args.js";
import { fsReason } from "./files.js";
import { CliError, type Io } from "./io.js";
import { CLI_LOAD_OPTIONS, openCheckpoint } from "./loader.js";
import { Progress } from "./progress.js";
import { toSafetensors } from "./safetensors.js";

export const CONVERT_HELP = `usage: pt convert IN OUT [--format zip|legacy|safetensors] [--flavor 1.13|2.1|2.7] [--unsafe opaque]

Decode IN (zip, legacy or tar checkpoint) into the object model and encode it again as OUT.
This is a real re-encode through the library, not a byte copy: storages shared in IN stay
shared, views keep their strides and offsets, OrderedDict _metadata is kept.

options:
  --format   zip (default; safetensors when OUT ends in .safetensors), legacy (the pre-1.6
             stream), or safetensors (tensors only: nested dicts are flattened to dotted
             names, each tensor written contiguously; dtypes safetensors cannot represent,
             quantized and sparse tensors are refused; shared storages are noted on stderr
             and in __metadata__.shared_storages; non-tensor values are left out, with a note)
  --flavor   which torch's zip layout to write: 1.13 (torch 1.6-2.0), 2.1, or 2.7 (default)
  --unsafe opaque
             convert a file whose globals torch.load(weights_only=True) refuses (user
             classes, whole nn.Modules): they are carried over as inert placeholders, and
             stderr names each one. Without it such files are refused (pt scan lists them).
             Dangerous globals (os.system, eval…) are refused whatever the options.

OUT is written to a temporary file in the same folder and renamed when complete.
`;

async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new CliError(`cannot write ${path}: ${fsReason(e)}`);
  }
}

/** `pt convert IN OUT`. */
export async function convertCommand(argv: readonly string[], io: Io): Promise<number> {
  const args = parseArgs(argv, [
    { name: "format", value: true, choices: ["zip", "legacy", "safetensors"] },
    { name: "flavor", value: true, choices: ["1.13", "2.1", "2.7"] },
    { name: "unsafe", value: true, choices: ["opaque"] },
  ]);
  if (args.options.has("help")) {
    io.out(CONVERT_HELP);
    return 0;
  }
  const [input, output] = expectPositionals(args, ["IN", "OUT"]) as [string, string];
  const format =
    (args.options.get("format") as string | undefined) ??
    (output.endsWith(".safetensors") ? "safetensors" : "zip");
  const flavor = args.options.get("flavor") as "1.13" | "2.1" | "2.7" | undefined;
  if (format === "safetensors" && flavor)
    throw new CliError("--flavor applies to zip and legacy output only", 2);
  const opaque = args.options.get("unsafe") === "opaque";
  // Without --unsafe opaque: torch's weights_only policy (the file's globals must be allowlisted).
  const { unsafe: _unsafe, ...weightsOnly } = CLI_LOAD_OPTIONS;
  const opened = await openCheckpoint(input, opaque ? CLI_LOAD_OPTIONS : weightsOnly);
  if (opaque && opened.refused.length)
    io.err(
      `pt: note: carried over ${opened.refused.length} global${opened.refused.length === 1 ? "" : "s"} outside torch's weights_only allowlist as placeholders: ${opened.refused.join(", ")}\n`,
    );
  try {
    if (format === "safetensors") {
      const bar = new Progress(io, "writing", 1);
      const r = await toSafetensors(opened.value, { source_format: opened.format }, (done, total) =>
        bar.update(done / total),
      );
      bar.finish();
      for (const g of r.shared)
        io.err(
          `pt: note: ${g.join(", ")} share one storage in ${input}; safetensors gets a separate copy of each\n`,
        );
      if (r.skipped.length)
        io.err(
          `pt: note: left out ${r.skipped.length} non-tensor value${r.skipped.length === 1 ? "" : "s"}: ${r.skipped.slice(0, 5).join("; ")}${r.skipped.length > 5 ? "; …" : ""}\n`,
        );
      await writeAtomic(output, r.bytes);
      io.out(`${output}: safetensors, ${r.names.length} tensors\n`);
      return 0;
    }
    if (opened.format === "torchscript")
      throw new CliError(
        `${input} is a TorchScript archive: its object holds compiled-code placeholders; only --format safetensors (its tensors) is supported`,
      );
    await saveFile(opened.value, output, {
      format: format as "zip" | "legacy",
      ...(flavor ? { flavor } : {}),
    });
    io.out(`${output}: ${format}${flavor ? ` (torch ${flavor} layout)` : ""}\n`);
    return 0;
  } finally {
    await opened.close();
  }
}
