import { type DType, dtypes, Storage } from "@pt/storage";
import { Tensor } from "@pt/tensor";
import { ZipTorchError } from "./errors.js";

/** One tensor of a TorchScript v1 archive's `model.json` tensor table. */
export interface ModelJsonTensor {
  readonly index: number;
  /** `FLOAT`, `DOUBLE`, `HALF`, `INT8`, `UINT8`, `INT16`, `INT32`, `INT64`, `BOOL`. */
  readonly dataType: string;
  /** The view (`dims`, `strides`, `offset`) over the record's bytes. */
  readonly tensor: Tensor;
  /** Record name under the prefix (`tensors/0`). */
  readonly record: string;
  readonly device: string;
  readonly requiresGrad: boolean;
}

/**
 * A TorchScript v1 archive (`model.json` + `tensors/*`, PyTorch 1.0–1.2), loaded for its tensor
 * table only (`torchscript: "tensors"`): the code and the module structure are not interpreted.
 */
export class TorchScriptV1Model {
  constructor(
    readonly producerName: string | null,
    readonly producerVersion: string | null,
    readonly protoVersion: string | null,
    readonly mainModuleName: string | null,
    readonly tensors: readonly ModelJsonTensor[],
    /** `model.json` as parsed. */
    readonly json: unknown,
  ) {}
}

const DATA_TYPES: Record<string, DType> = {
  FLOAT: dtypes.float32,
  DOUBLE: dtypes.float64,
  HALF: dtypes.float16,
  INT8: dtypes.int8,
  UINT8: dtypes.uint8,
  INT16: dtypes.int16,
  INT32: dtypes.int32,
  INT64: dtypes.int64,
  BOOL: dtypes.bool,
};

function field(o: unknown, k: string): unknown {
  return o !== null && typeof o === "object" && Object.hasOwn(o, k)
    ? (o as Record<string, unknown>)[k]
    : undefined;
}
function str(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}
function int(v: unknown, what: string, i: number): number {
  const n =
    typeof v === "string" && /^-?\d{1,15}$/.test(v) ? Number(v) : typeof v === "number" ? v : Number.NaN;
  if (!Number.isSafeInteger(n))
    throw new ZipTorchError(
      "PersistentIdInvalid",
      `model.json tensor ${i}: ${what} ${JSON.stringify(v)} is not an integer`,
      {
        record: "model.json",
      },
    );
  return n;
}

/**
 * Build the tensor table of a `model.json` archive. `record(name)` returns a record's bytes (and
 * its size check is done here against the view).
 */
export function modelJsonArchive(
  text: string,
  record: (name: string) => Uint8Array,
  has: (name: string) => boolean,
): TorchScriptV1Model {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ZipTorchError("NoDataPkl", `model.json is not valid JSON: ${(e as Error).message}`, {
      record: "model.json",
      cause: e,
    });
  }
  const list = field(json, "tensors");
  const tensors: ModelJsonTensor[] = [];
  const storages = new Map<string, Storage>();
  if (list !== undefined && !Array.isArray(list))
    throw new ZipTorchError("NoDataPkl", "model.json: tensors is not a list", { record: "model.json" });
  for (const [i, t] of (list ?? []).entries()) {
    const dataType = str(field(t, "dataType")) ?? "";
    const dtype = DATA_TYPES[dataType];
    if (!dtype)
      throw new ZipTorchError(
        "PersistentIdInvalid",
        `model.json tensor ${i}: unknown dataType ${JSON.stringify(dataType)}`,
        {
          record: "model.json",
        },
      );
    const key = str(field(field(t, "data"), "key"));
    if (key === null || !has(key))
      throw new ZipTorchError("StorageNotFound", `model.json tensor ${i}: no record ${JSON.stringify(key)}`, {
        record: key ?? "model.json",
      });
    const dims = field(t, "dims");
    const strides = field(t, "strides");
    if (!Array.isArray(dims) || !Array.isArray(strides))
      throw new ZipTorchError("PersistentIdInvalid", `model.json tensor ${i}: dims/strides are not lists`, {
        record: "model.json",
      });
    let storage = storages.get(key);
    if (!storage) {
      const bytes = record(key);
      if (bytes.length % dtype.itemSize !== 0)
        throw new ZipTorchError(
          "StorageSizeMismatch",
          `model.json tensor ${i}: record ${key} holds ${bytes.length} bytes, not a whole number of ${dtype.name} elements`,
          { record: key },
        );
      storage = Storage.fromBytes(dtype, bytes);
      storages.set(key, storage);
    }
    let tensor: Tensor;
    try {
      tensor = new Tensor(
        storage,
        int(field(t, "offset") ?? "0", "offset", i),
        dims.map((d) => int(d, "dim", i)),
        strides.map((s) => int(s, "stride", i)),
        { dtype },
      );
    } catch (e) {
      if (e instanceof ZipTorchError) throw e;
      throw new ZipTorchError(
        "StorageSizeMismatch",
        `model.json tensor ${i} over ${key}: ${(e as Error).message}`,
        {
          record: key,
          cause: e,
        },
      );
    }
    tensor.requiresGrad = field(t, "requiresGrad") === true;
    tensors.push({
      index: i,
      dataType,
      tensor,
      record: key,
      device: str(field(t, "device")) ?? "cpu",
      requiresGrad: tensor.requiresGrad,
    });
  }
  return new TorchScriptV1Model(
    str(field(json, "producerName")),
    str(field(json, "producerVersion")),
    str(field(json, "protoVersion")),
    str(field(field(json, "mainModule"), "name")),
    tensors,
    json,
  );
}
