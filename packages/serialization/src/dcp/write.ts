/**
 * Writing a DCP directory the way `torch_save_to_dcp` (a single-process `dcp.save` with the default
 * planner) does: the state dict flattened (`planner_data` keeps the paths), every tensor one whole
 * chunk `torch.save`d into `__0_0.distcp`, every other value `torch.save`d as a bytes item, and the
 * `.metadata` pickle written last.
 */
import {
  dumps,
  GLOBAL_NAME,
  type GlobalNamed,
  isTuple,
  PyTuple,
  REDUCE,
  type Reduction,
  tuple,
} from "@pt/pickle";
import { QuantizedTensor, SparseTensor, Tensor, TorchLayout, torchSize } from "@pt/tensor";
import { SerializationError } from "../errors.js";
import { type Sink, saveTo } from "../save.js";

/** Where `saveDcp` writes: files of one folder, each created, written in order, then closed. */
export interface DirectoryWriter {
  create(name: string): Promise<Sink & { close(): void | Promise<void> }>;
}

/** Options of {@link saveDcp}. */
export interface DcpSaveOptions {
  /** `StorageMeta.checkpoint_id` (torch records the folder given to `dcp.save`). Default none. */
  readonly checkpointId?: string;
  /** The data file's name (default `__0_0.distcp`, what rank 0's first writer thread names it). */
  readonly fileName?: string;
}

/** What `saveDcp` wrote. */
export interface DcpSaveResult {
  readonly files: readonly string[];
  readonly tensors: number;
  readonly bytesItems: number;
  readonly bytes: number;
}

class ClassRef implements GlobalNamed {
  readonly [GLOBAL_NAME]: { module: string; name: string };
  constructor(module: string, name: string) {
    this[GLOBAL_NAME] = { module, name };
  }
}

const META = "torch.distributed.checkpoint.metadata";
const C = {
  Metadata: new ClassRef(META, "Metadata"),
  TensorStorageMetadata: new ClassRef(META, "TensorStorageMetadata"),
  ChunkStorageMetadata: new ClassRef(META, "ChunkStorageMetadata"),
  BytesStorageMetadata: new ClassRef(META, "BytesStorageMetadata"),
  TensorProperties: new ClassRef(META, "TensorProperties"),
  MemFormat: new ClassRef(META, "_MEM_FORMAT_ENCODING"),
  MetadataIndex: new ClassRef(META, "MetadataIndex"),
  StorageMeta: new ClassRef(META, "StorageMeta"),
  StorageInfo: new ClassRef("torch.distributed.checkpoint.filesystem", "_StorageInfo"),
};

/** A dataclass instance as `pickle` writes it: `cls.__new__(cls)` then BUILD with its state. */
class Record {
  constructor(
    readonly cls: ClassRef,
    readonly state: unknown,
  ) {}
  [REDUCE](): Reduction {
    return this.state === undefined
      ? { func: this.cls, args: [], kind: "newobj" }
      : { func: this.cls, args: [], kind: "newobj", state: this.state };
  }
}

/** An Enum member: `cls(value)`. */
class EnumMember {
  constructor(
    readonly cls: ClassRef,
    readonly value: unknown,
  ) {}
  [REDUCE](): Reduction {
    return { func: this.cls, args: [this.value] };
  }
}

const fieldsOf = (entries: Array<[string, unknown]>) => new Map<string, unknown>(entries);

type Path = Array<string | number>;

/** Python's `str(k)` for the keys a state dict has. */
function keyText(k: unknown): string {
  if (typeof k === "string") return k;
  if (typeof k === "number" || typeof k === "bigint") return String(k);
  if (typeof k === "boolean") return k ? "True" : "False";
  if (k === null) return "None";
  throw new SerializationError("InvalidOption", `dcp: cannot flatten a state dict key of type ${typeof k}`);
}

const isPlainTensor = (v: unknown): v is Tensor => v instanceof Tensor;

/**
 * torch's `traverse_state_dict`: dicts are walked (keys as `str(k)`); a list is walked only when it
 * holds a tensor, dict or such a list somewhere, else it is one value; everything else (tuples
 * included) is one value.
 */
function flatten(sd: Map<unknown, unknown>): Array<{ fqn: string; path: Path; value: unknown }> {
  const out: Array<{ fqn: string; path: Path; value: unknown }> = [];
  const seen = new Set<string>();
  const terminal = (v: unknown): boolean => {
    if (v instanceof Map) return false;
    if (!Array.isArray(v) || isTuple(v) || v instanceof PyTuple) return true;
    for (const e of v) {
      if ((e instanceof Map || (Array.isArray(e) && !isTuple(e))) && !terminal(e)) return false;
      if (isPlainTensor(e)) return false;
    }
    return true;
  };
  const visit = (path: Path, v: unknown, depth: number): void => {
    if (depth > 1000) throw new SerializationError("InvalidOption", "dcp: the state dict nests too deeply");
    if (v instanceof Map) for (const [k, x] of v) visit([...path, keyText(k)], x, depth + 1);
    else if (terminal(v)) {
      const fqn = path.join(".");
      if (seen.has(fqn)) throw new SerializationError("InvalidOption", `dcp: duplicated flatten key ${fqn}`);
      seen.add(fqn);
      out.push({ fqn, path, value: v });
    } else
      (v as unknown[]).forEach((x, i) => {
        visit([...path, i], x, depth + 1);
      });
  };
  for (const [k, v] of sd) visit([keyText(k)], v, 0);
  return out;
}

/**
 * The tensor as torch's `_SerialCpuLoader` saves it: as is (strides kept) when its storage holds
 * exactly its elements, else a clone (`clone()` keeps dense strides), so a view never drags its
 * whole storage along. Always a plain tensor (torch saves `tensor.detach()`).
 */
async function standalone(t: Tensor): Promise<Tensor> {
  await t.load();
  const exact = !t.storage.base && t.storage.nbytes === t.numel * t.dtype.itemSize;
  const c = exact ? t : t.clone();
  return new Tensor(c.storage, c.storageOffset, c.shape, c.stride, { dtype: c.dtype });
}

/** Counts the bytes going to a sink. */
class Counting implements Sink {
  bytes = 0;
  constructor(private readonly sink: Sink) {}
  write(chunk: Uint8Array): void | Promise<void> {
    this.bytes += chunk.length;
    return this.sink.write(chunk);
  }
}

/**
 * Save a state dict (a `Map`) as a DCP checkpoint into `dir`, as `torch_save_to_dcp` does: readable
 * by `torch.distributed.checkpoint.load` and `dcp_to_torch_save`.
 */
export async function saveDcp(
  value: unknown,
  dir: DirectoryWriter,
  options: DcpSaveOptions = {},
): Promise<DcpSaveResult> {
  if (!(value instanceof Map))
    throw new SerializationError(
      "InvalidOption",
      "dcp: a distributed checkpoint holds a state dict (a dict at the top)",
    );
  const items = flatten(value);
  for (const it of items)
    if (it.value instanceof QuantizedTensor || it.value instanceof SparseTensor)
      throw new SerializationError(
        "InvalidOption",
        `dcp: ${it.fqn}: quantized and sparse tensors are not supported in DCP checkpoints`,
      );
  const fileName = options.fileName ?? "__0_0.distcp";
  const file = await dir.create(fileName);
  const counting = new Counting(file);
  const storageData = new Map<unknown, unknown>();
  const writeItem = async (fqn: string, obj: unknown, offsets: number[] | null) => {
    const start = counting.bytes;
    await saveTo(obj, counting, { prefix: "archive" });
    const idx = new Record(
      C.MetadataIndex,
      fieldsOf(
        offsets === null
          ? [
              ["fqn", fqn],
              ["index", null],
            ]
          : [
              ["fqn", fqn],
              ["index", 0],
              ["offset", torchSize(offsets)],
            ],
      ),
    );
    storageData.set(
      idx,
      new Record(
        C.StorageInfo,
        fieldsOf([
          ["relative_path", fileName],
          ["offset", start],
          ["length", counting.bytes - start],
        ]),
      ),
    );
  };
  let tensors = 0;
  let bytesItems = 0;
  try {
    // torch writes a file's bytes items first, then its tensors
    for (const it of items)
      if (!isPlainTensor(it.value)) {
        await writeItem(it.fqn, it.value, null);
        bytesItems++;
      }
    for (const it of items)
      if (isPlainTensor(it.value)) {
        await writeItem(
          it.fqn,
          await standalone(it.value),
          it.value.shape.map(() => 0),
        );
        tensors++;
      }
  } finally {
    await file.close();
  }
  const sdm = new Map<string, unknown>();
  for (const it of items) {
    if (!isPlainTensor(it.value)) {
      sdm.set(it.fqn, new Record(C.BytesStorageMetadata, undefined));
      continue;
    }
    const t = it.value;
    const props = new Record(
      C.TensorProperties,
      tuple([t.dtype, TorchLayout.of("strided"), t.requiresGrad, new EnumMember(C.MemFormat, 0), false]),
    );
    const chunk = new Record(
      C.ChunkStorageMetadata,
      fieldsOf([
        ["offsets", torchSize(t.shape.map(() => 0))],
        ["sizes", torchSize(t.shape)],
      ]),
    );
    sdm.set(
      it.fqn,
      new Record(
        C.TensorStorageMetadata,
        fieldsOf([
          ["properties", props],
          ["size", torchSize(t.shape)],
          ["chunks", [chunk]],
        ]),
      ),
    );
  }
  const plannerData = new Map(items.map((it) => [it.fqn, tuple(it.path)]));
  const storageMeta = new Record(
    C.StorageMeta,
    fieldsOf([
      ["checkpoint_id", options.checkpointId ?? null],
      ["save_id", globalThis.crypto?.randomUUID?.() ?? null],
      ["load_id", null],
      ["modules", []],
    ]),
  );
  const metadata = new Record(
    C.Metadata,
    fieldsOf([
      ["state_dict_metadata", sdm],
      ["planner_data", plannerData],
      ["storage_data", storageData],
      ["storage_meta", storageMeta],
      ["version", "1.0.0"],
    ]),
  );
  const pickle = dumps(metadata, { protocol: 4 });
  const meta = await dir.create(".metadata");
  try {
    await meta.write(pickle);
  } finally {
    await meta.close();
  }
  return { files: [fileName, ".metadata"], tensors, bytesItems, bytes: counting.bytes + pickle.length };
}
