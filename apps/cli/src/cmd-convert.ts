import { findBareStorages, findTensors, parseSize, saveTo } from "@pt/serialization";
import { saveDcpDir, saveShardedDir } from "@pt/serialization/node";
import type { Storage } from "@pt/storage";
import { archivePrefix } from "@pt/zip-format";
import { nodeCrc32 } from "@pt/zip-format/node";
import { expectPositionals, parseArgs } from "./args.js";
import { openInput } from "./input.js";
import { CliError, type Io } from "./io.js";
import { CLI_LOAD_OPTIONS } from "./loader.js";
import { Progress } from "./progress.js";
import { convertToSafetensors } from "./safetensors.js";
import { checkOutputFolder, lazyRootsOf, writeAtomic } from "./sink.js";

export const CONVERT_HELP = `usage: pt convert IN OUT [--format zip|legacy|safetensors|dcp|sharded] [--flavor 1.13|2.1|2.7]
                       [--key PATH] [--max-shard-size SIZE] [--unsafe opaque]

Decode IN (zip, legacy, tar or TorchScript checkpoint, or a safetensors file) into the object
model and encode it again as OUT. This is a real re-encode through the library, not a byte
copy: storages shared in IN stay shared, views keep their strides and offsets, OrderedDict
_metadata is kept. Storages are read and written one at a time, so files larger than memory
convert. IN may also be a DCP folder, a sharded index, or an http(s) URL of any of these (read
lazily with range requests).

options:
  --format   zip (default; safetensors when OUT ends in .safetensors), legacy (the pre-1.6
             stream), or safetensors (tensors only: nested dicts are flattened to dotted
             names, modules to their state_dict() names (conv.weight), each tensor written
             contiguously; dtypes safetensors cannot represent, quantized and sparse tensors
             are refused; shared storages are noted on stderr and in
             __metadata__.shared_storages; non-tensor values are left out, with a note)
  --flavor   which torch's zip layout to write: 1.13 (torch 1.6-2.0), 2.1, or 2.7 (default;
             zip to zip keeps IN's layout unless --flavor is given)
  --key PATH convert only this part of IN (a dotted path: model, state_dict, model.encoder)
  --format dcp      OUT is a folder written as torch_save_to_dcp does (a
             torch.distributed.checkpoint: .metadata and __0_0.distcp)
  --format sharded  OUT is a folder of pytorch_model-0000K-of-0000N.bin shards and
             pytorch_model.bin.index.json, as transformers' save_pretrained writes them
  --max-shard-size  largest shard for --format sharded (default 5GB; 200MB, 10GiB, bytes)
  --unsafe opaque
             convert a file whose globals torch.load(weights_only=True) refuses (user
             classes, whole nn.Modules): they are carried over as inert placeholders, and
             stderr names each one. Without it such files are refused (pt scan lists them).
             Dangerous globals (os.system, eval…) are refused whatever the options.

IN may also be a DCP folder (.metadata and .distcp files: converted to one file, as
dcp_to_torch_save does) or a sharded checkpoint (its *.index.json, or the folder).

A conversion that would write no tensor from an input that holds some fails (exit 2).
OUT is written to a temporary file in the same folder and renamed when complete.
`;

function storageRoots(value: unknown): Storage[] {
  const out = new Set<Storage>();
  for (const f of findTensors(value)) out.add(f.tensor.storage.base ?? f.tensor.storage);
  for (const s of findBareStorages(value)) out.add(s.base ?? s);
  return [...out];
}

/** `pt convert IN OUT`. */
export async function convertCommand(argv: readonly string[], io: Io): Promise<number> {
  const args = parseArgs(argv, [
    { name: "format", value: true, choices: ["zip", "legacy", "safetensors", "dcp", "sharded"] },
    { name: "max-shard-size", value: true },
    { name: "flavor", value: true, choices: ["1.13", "2.1", "2.7"] },
    { name: "key", value: true },
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
  const maxShard = args.options.get("max-shard-size") as string | undefined;
  if (maxShard !== undefined && format !== "sharded")
    throw new CliError("--max-shard-size applies to --format sharded only", 2);
  if ((format === "dcp" || format === "sharded") && flavor)
    throw new CliError("--flavor applies to zip and legacy output only", 2);
  checkOutputFolder(output);
  const key = args.options.get("key") as string | undefined;
  const opaque = args.options.get("unsafe") === "opaque";
  // Without --unsafe opaque: torch's weights_only policy (the file's globals must be allowlisted).
  const { unsafe: _unsafe, ...weightsOnly } = CLI_LOAD_OPTIONS;
  const opened = await openInput(input, key, opaque ? CLI_LOAD_OPTIONS : weightsOnly);
  if (opaque && opened.refused.length)
    io.err(
      `pt: note: carried over ${opened.refused.length} global${opened.refused.length === 1 ? "" : "s"} outside torch's weights_only allowlist as placeholders: ${opened.refused.join(", ")}\n`,
    );
  const bar = new Progress(io, "writing", 0);
  try {
    const inputHolds = () => storageRoots(opened.checkpoint.value).length;
    if (format === "dcp") {
      const r = await saveDcpDir(opened.value, output);
      io.out(
        `${output}: dcp, ${r.tensors} tensors and ${r.bytesItems} other values in ${r.files.join(", ")}\n`,
      );
      return 0;
    }
    if (format === "sharded") {
      let maxShardSize: number;
      try {
        maxShardSize = parseSize(maxShard ?? "5GB");
      } catch (e) {
        throw new CliError((e as Error).message, 2);
      }
      const r = await saveShardedDir(opened.value, output, { maxShardSize });
      io.out(
        `${output}: sharded, ${r.files.length - (r.index ? 1 : 0)} shard${r.files.length === 1 ? "" : "s"}${r.index ? ` indexed by ${r.index}` : ""} (${r.totalSize} bytes of tensors)\n`,
      );
      return 0;
    }
    if (format === "safetensors") {
      const r = await convertToSafetensors(opened.value, output, { source_format: opened.format }, bar);
      bar.finish();
      if (r.names.length === 0 && inputHolds() > 0) {
        const { rm } = await import("node:fs/promises");
        await rm(output, { force: true });
        throw new CliError(
          `${input} holds tensors, but none were found ${key ? `under --key ${key}` : "in its object"} to write (${opened.format}); nothing written`,
        );
      }
      for (const g of r.shared)
        io.err(
          `pt: note: ${g.join(", ")} share one storage in ${input}; safetensors gets a separate copy of each\n`,
        );
      if (r.skipped.length)
        io.err(
          `pt: note: left out ${r.skipped.length} non-tensor value${r.skipped.length === 1 ? "" : "s"}: ${r.skipped.slice(0, 5).join("; ")}${r.skipped.length > 5 ? "; …" : ""}\n`,
        );
      io.out(`${output}: safetensors, ${r.names.length} tensors\n`);
      return 0;
    }
    if (opened.format === "torchscript")
      throw new CliError(
        `${input} is a TorchScript archive: its object holds compiled-code placeholders; only --format safetensors (its tensors) is supported`,
      );
    const roots = storageRoots(opened.value);
    if (roots.length === 0 && inputHolds() > 0)
      throw new CliError(`${input} holds tensors, but none are under --key ${key}; nothing written`);
    bar.setTotal(roots.reduce((n, s) => n + s.nbytes, 0));
    await writeAtomic(output, bar, lazyRootsOf(opened.checkpoint.storages ?? roots), (sink) =>
      saveTo(opened.value, sink, {
        format: format as "zip" | "legacy",
        ...(flavor ? { flavor } : {}),
        crc32: nodeCrc32,
        prefix: archivePrefix(output),
        like: opened.checkpoint, // same format as IN: its layout (flavor, CRCs, byteorder, alignment)
      }),
    );
    bar.finish();
    io.out(`${output}: ${format}${flavor ? ` (torch ${flavor} layout)` : ""}\n`);
    return 0;
  } finally {
    bar.finish();
    await opened.close();
  }
}
