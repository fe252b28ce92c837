/**
 * `torch.export` archives (`.pt2`, written by `torch.export.save`): a zip archive whose
 * `archive_format` record says `pt2`, with per model `models/<name>.json` (the exported graph:
 * never run, never interpreted here), `data/weights/model_weights_config.json` and
 * `data/constants/model_constants_config.json` (each tensor's record, dtype, sizes, strides,
 * storage offset, requires_grad) and the flat tensor records they name (tensors sharing a record
 * share its storage). Tensors torch wrote with `use_pickle` (tensor subclasses: `torch.save`
 * inside the archive) are listed but not read (torch loads them with `weights_only=False`).
 */
import { type DType, dtypes, Storage } from "@pt/storage";
import { Parameter, Tensor } from "@pt/tensor";
import type { ZipReader } from "../zip/reader.js";
import { ZipTorchError } from "./errors.js";

/** One weight or constant of a `.pt2` archive. */
export interface Pt2Tensor {
  /** Fully qualified name (`fc.weight`). */
  readonly name: string;
  readonly kind: "weight" | "constant";
  /** The model it belongs to (`model`). */
  readonly model: string;
  /** Its record under the archive prefix (`data/weights/weight_0`). */
  readonly record: string;
  /** null for a dtype code this package does not know (see `problem`). */
  readonly dtype: DType | null;
  readonly shape: readonly number[];
  readonly stride: readonly number[];
  readonly storageOffset: number;
  readonly requiresGrad: boolean;
  /** A `Parameter` in the exported module. */
  readonly isParam: boolean;
  /** The device it was exported on (`cpu`, `cuda:0`); the tensor read here is always in memory. */
  readonly device: string;
  /** Written with `torch.save` (tensor subclasses): not read. */
  readonly pickled: boolean;
  /** Bytes of its record (its whole storage: views of one storage share a record). */
  readonly recordBytes: number;
  /** The tensor (a `Parameter` when `isParam`), or null when it cannot be read (`problem` says why). */
  readonly tensor: Tensor | null;
  readonly problem?: string;
}

/** What {@link loadPt2} finds. */
export interface Pt2Archive {
  readonly prefix: string;
  /** `archive_version` (`0`). */
  readonly archiveVersion: string | null;
  /** Model names (`models/<name>.json`). */
  readonly models: readonly string[];
  readonly weights: readonly Pt2Tensor[];
  readonly constants: readonly Pt2Tensor[];
  /** Every record name under the prefix. */
  readonly records: readonly string[];
}

/** torch.export's `ScalarType` codes (torch/_export/serde/schema.py). */
const SCALAR_TYPES: Readonly<Record<number, DType>> = {
  1: dtypes.uint8,
  2: dtypes.int8,
  3: dtypes.int16,
  4: dtypes.int32,
  5: dtypes.int64,
  6: dtypes.float16,
  7: dtypes.float32,
  8: dtypes.float64,
  9: dtypes.complex32,
  10: dtypes.complex64,
  11: dtypes.complex128,
  12: dtypes.bool,
  13: dtypes.bfloat16,
  28: dtypes.uint16,
  29: dtypes.float8_e4m3fn,
  30: dtypes.float8_e5m2,
  31: dtypes.float8_e4m3fnuz,
  32: dtypes.float8_e5m2fnuz,
  33: dtypes.float8_e8m0fnu,
  34: dtypes.uint32,
  35: dtypes.uint64,
};
/** torch.export's `Layout` code for strided tensors. */
const STRIDED = 7;

/** Whether an opened archive is a `torch.export` archive (`archive_format` says `pt2`). */
export async function isPt2Archive(reader: ZipReader): Promise<boolean> {
  if (!reader.has("archive_format")) return false;
  const e = reader.entry("archive_format");
  if (e.uncompressedSize > 64) return false;
  return new TextDecoder().decode(await reader.read("archive_format")).trim() === "pt2";
}

const fail = (message: string, record?: string) =>
  new ZipTorchError("Pt2Invalid", message, record === undefined ? {} : { record });

function symInt(v: unknown, what: string, record: string): number {
  const n = (v as { as_int?: unknown } | null)?.as_int;
  if (typeof n === "number" && Number.isSafeInteger(n) && n >= 0) return n;
  throw fail(
    `${record}: ${what} must be {"as_int": n} with n a non-negative integer (symbolic sizes are not supported)`,
    record,
  );
}

function ints(v: unknown, what: string, record: string): number[] {
  if (!Array.isArray(v) || v.length > 64)
    throw fail(`${record}: ${what} must be a list of at most 64 sizes`, record);
  return v.map((x, i) => symInt(x, `${what}[${i}]`, record));
}

async function readJson(reader: ZipReader, name: string): Promise<unknown> {
  const e = reader.entry(name);
  if (e.uncompressedSize > 64 << 20)
    throw fail(`${name} is ${e.uncompressedSize} bytes (at most 64 MiB of JSON)`, name);
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(await reader.read(name)));
  } catch (e) {
    if (e instanceof ZipTorchError) throw e;
    throw fail(`${name}: not JSON (${(e as Error).message})`, name);
  }
}

/**
 * List and read the weights and constants of a `.pt2` archive. Nothing in it is run: the graph
 * (`models/*.json`) is not looked at beyond its name, pickled payloads are not unpickled. Throws a
 * `ZipTorchError` (`Pt2Invalid`) for an archive that is not one, or whose configs are malformed.
 */
export async function loadPt2(reader: ZipReader): Promise<Pt2Archive> {
  if (!(await isPt2Archive(reader)))
    throw fail(
      `archive ${reader.prefix}/ is not a torch.export archive (no archive_format record saying pt2)`,
    );
  const records = [...reader.records.keys()];
  const models = records
    .filter((r) => /^models\/[^/]+\.json$/.test(r))
    .map((r) => r.slice(7, -5))
    .sort();
  const archiveVersion = reader.has("archive_version")
    ? new TextDecoder()
        .decode(await reader.read("archive_version"))
        .trim()
        .slice(0, 20)
    : null;
  const storages = new Map<string, Storage>();
  const weights: Pt2Tensor[] = [];
  const constants: Pt2Tensor[] = [];
  for (const model of models) {
    for (const kind of ["weight", "constant"] as const) {
      const dir = kind === "weight" ? "data/weights/" : "data/constants/";
      const cfgName = `${dir}${model}_${kind === "weight" ? "weights" : "constants"}_config.json`;
      if (!reader.has(cfgName)) {
        if (kind === "weight" && reader.has(`${dir}${model}.pt`))
          throw fail(
            `${reader.prefix}/${dir}${model}.pt: the legacy pt2 weights format (a torch.save file inside the archive) is not supported; re-export with a newer torch.export.save`,
            `${dir}${model}.pt`,
          );
        continue;
      }
      const cfg = (await readJson(reader, cfgName)) as { config?: unknown };
      if (cfg === null || typeof cfg !== "object" || typeof cfg.config !== "object" || cfg.config === null)
        throw fail(`${cfgName}: expected {"config": {name: payload}}`, cfgName);
      for (const [name, raw] of Object.entries(cfg.config as Record<string, unknown>)) {
        const p = raw as {
          path_name?: unknown;
          is_param?: unknown;
          use_pickle?: unknown;
          tensor_meta?: Record<string, unknown> | null;
        };
        if (typeof p?.path_name !== "string" || !/^[A-Za-z0-9_.-]+$/.test(p.path_name))
          throw fail(`${cfgName}: ${JSON.stringify(name)} has no valid path_name`, cfgName);
        const record = `${dir}${p.path_name}`;
        if (!reader.has(record))
          throw fail(`${cfgName}: ${JSON.stringify(name)} names a missing record ${record}`, record);
        const recordBytes = reader.entry(record).uncompressedSize;
        const tm = p.tensor_meta ?? null;
        const pickled = p.use_pickle === true;
        const code = typeof tm?.dtype === "number" ? tm.dtype : -1;
        const dtype = SCALAR_TYPES[code] ?? null;
        const dev = tm?.device as { type?: unknown; index?: unknown } | undefined;
        const device =
          typeof dev?.type === "string"
            ? `${dev.type}${typeof dev.index === "number" ? `:${dev.index}` : ""}`
            : "cpu";
        const base = {
          name,
          kind,
          model,
          record,
          dtype,
          requiresGrad: tm?.requires_grad === true,
          isParam: p.is_param === true,
          device,
          pickled,
          recordBytes,
        };
        const out = kind === "weight" ? weights : constants;
        if (tm === null) {
          out.push({
            ...base,
            shape: [],
            stride: [],
            storageOffset: 0,
            tensor: null,
            problem: "no tensor_meta (a pickled non-tensor constant)",
          });
          continue;
        }
        const shape = ints(tm.sizes, "sizes", cfgName);
        const stride = ints(tm.strides, "strides", cfgName);
        const storageOffset = symInt(tm.storage_offset, "storage_offset", cfgName);
        const geometry = { shape, stride, storageOffset };
        let problem: string | undefined;
        if (pickled)
          problem =
            "written with torch.save (use_pickle: a tensor subclass); torch reads it with weights_only=False, which is never done here";
        else if (dtype === null) problem = `unknown torch.export dtype code ${String(tm.dtype)}`;
        else if (tm.layout !== STRIDED)
          problem = `layout code ${String(tm.layout)}: only strided tensors are read`;
        else if (shape.length !== stride.length)
          problem = `${shape.length} sizes but ${stride.length} strides`;
        else if (recordBytes % dtype.itemSize !== 0)
          problem = `record ${record}: ${recordBytes} bytes is not a multiple of ${dtype.name}'s ${dtype.itemSize}`;
        let tensor: Tensor | null = null;
        if (problem === undefined && dtype !== null) {
          try {
            let st = storages.get(record);
            if (st === undefined) {
              // an empty record is a zero-filled tensor (torch.zeros of its sizes), as torch reads it
              const need = shape.some((d) => d === 0)
                ? 0
                : shape.reduce((a, d, i) => a + (d - 1) * (stride[i] as number), storageOffset + 1);
              if (recordBytes === 0 && need > 1 << 28)
                throw fail(`an empty record standing for ${need} zeros (at most 2^28)`, record);
              st =
                recordBytes === 0
                  ? Storage.allocate(dtype, need)
                  : Storage.fromBytes(dtype, await reader.read(record));
              storages.set(record, st);
            }
            const t = new Tensor(st, storageOffset, Object.freeze(shape), Object.freeze(stride), { dtype });
            tensor = base.isParam ? new Parameter(t, base.requiresGrad) : t;
            if (!base.isParam) tensor.requiresGrad = base.requiresGrad;
          } catch (e) {
            problem = `geometry does not fit record ${record} (${recordBytes} bytes): ${(e as Error).message}`;
          }
        }
        out.push({ ...base, ...geometry, tensor, ...(problem === undefined ? {} : { problem }) });
      }
    }
  }
  return { prefix: reader.prefix, archiveVersion, models, weights, constants, records };
}
