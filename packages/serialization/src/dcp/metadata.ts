/**
 * The `.metadata` pickle of a `torch.distributed.checkpoint` directory, read through the same safe
 * unpickler as every checkpoint: its dataclasses are allowlisted **by name** as inert records
 * (`PyObject`s whose BUILD state is read structurally here); nothing is ever executed.
 */
import {
  type GlobalRegistry,
  isTuple,
  loads,
  UnsafeGlobalError as PickleUnsafeGlobalError,
  PyFloat,
  PyGlobal,
  PyObject,
  type PyTuple,
} from "@pt/pickle";
import type { DType } from "@pt/storage";
import { torchGlobals } from "@pt/tensor";
import { SerializationError, UnsafeGlobalError } from "../errors.js";
import { refusedBy } from "../load.js";
import type { PickleSection } from "../pickle-compat.js";
import { scanSections } from "../scan.js";

/** Where one item's bytes are: a range of one file of the directory (`_StorageInfo`). */
export interface DcpStorageInfo {
  /** File name in the checkpoint directory (`__0_0.distcp`); never a path. */
  readonly relativePath: string;
  readonly offset: number;
  readonly length: number;
  /** Storage-layer extensions applied to the bytes (e.g. compression); empty when none. */
  readonly transforms: readonly string[];
}

/** One saved piece of a tensor: its place in the global tensor and where its bytes are. */
export interface DcpChunk {
  readonly offsets: readonly number[];
  readonly sizes: readonly number[];
  readonly storage: DcpStorageInfo;
}

/** A tensor item (`TensorStorageMetadata`): global shape and dtype, and its chunks. */
export interface DcpTensorEntry {
  readonly kind: "tensor";
  readonly fqn: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly requiresGrad: boolean;
  readonly chunks: readonly DcpChunk[];
}

/** A non-tensor item (`BytesStorageMetadata`): a `torch.save`d object stored as bytes. */
export interface DcpBytesEntry {
  readonly kind: "bytes";
  readonly fqn: string;
  readonly storage: DcpStorageInfo;
}

export type DcpEntry = DcpTensorEntry | DcpBytesEntry;

/** The parsed `.metadata` (`torch.distributed.checkpoint.metadata.Metadata`). */
export interface DcpMetadata {
  /** Items by flattened name (`model.0.weight`), in the order torch saved them. */
  readonly entries: ReadonlyMap<string, DcpEntry>;
  /** `planner_data` of the default planner: flattened name → path in the nested state dict. */
  readonly plannerData: ReadonlyMap<string, ReadonlyArray<string | number>> | null;
  /** DCP format version (`"1.0.0"`), null before torch 2.4. */
  readonly version: string | null;
}

const META = "torch.distributed.checkpoint.metadata";
const FS = "torch.distributed.checkpoint.filesystem";

/** The classes a `.metadata` pickle references, allowlisted by name as inert records. */
export const DCP_METADATA_CLASSES: ReadonlyArray<readonly [string, string]> = [
  [META, "Metadata"],
  [META, "TensorStorageMetadata"],
  [META, "ChunkStorageMetadata"],
  [META, "BytesStorageMetadata"],
  [META, "TensorProperties"],
  [META, "_MEM_FORMAT_ENCODING"],
  [META, "MetadataIndex"],
  [META, "StorageMeta"],
  // torch < 2.4 kept TensorProperties with the sharded-tensor metadata
  ["torch.distributed._shard.sharded_tensor.metadata", "TensorProperties"],
  ["torch.distributed._shard.sharded_tensor.metadata", "MEM_FORMAT_ENCODING"],
  [FS, "_StorageInfo"],
  [FS, "_StoragePrefix"],
  ["torch.distributed.checkpoint.planner", "WriteItemType"],
  ["torch.distributed.checkpoint.planner", "LoadItemType"],
  // StorageMeta.checkpoint_id is the path given to dcp.save
  ["pathlib", "PosixPath"],
  ["pathlib", "WindowsPath"],
  ["pathlib", "PurePosixPath"],
  ["pathlib._local", "PosixPath"],
  ["pathlib._local", "WindowsPath"],
];

/** torch's tensor globals plus the DCP dataclasses (inert records). */
export function dcpMetadataRegistry(): GlobalRegistry {
  const r = torchGlobals();
  for (const [m, n] of DCP_METADATA_CLASSES) r.register(m, n, new PyGlobal(m, n));
  return r;
}

function bad(what: string): SerializationError {
  return new SerializationError("FormatUnsupported", `dcp: .metadata: ${what}`, { record: ".metadata" });
}

function isInstance(v: unknown, name: string): v is PyObject {
  return v instanceof PyObject && v.cls.name === name;
}

/** A dataclass record's fields (BUILD state: a dict, or `(dict, slots)`). */
function fields(o: PyObject, what: string): Map<unknown, unknown> {
  let s = o.state;
  if (isTuple(s) && s.length === 2 && s[1] instanceof Map) s = s[0] ?? s[1];
  if (s === undefined || s === null) return new Map();
  if (!(s instanceof Map)) throw bad(`${what} has no field dict`);
  return s;
}

function int(v: unknown, what: string): number {
  const n = typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0)
    throw bad(`${what} is not a size (${String(v)})`);
  return n;
}

function ints(v: unknown, what: string): number[] {
  if (!Array.isArray(v)) throw bad(`${what} is not a torch.Size`);
  return v.map((x, i) => int(x, `${what}[${i}]`));
}

function str(v: unknown, what: string): string {
  if (typeof v !== "string") throw bad(`${what} is not a string`);
  return v;
}

/** A plain file name of the checkpoint directory: no folders, no `..`, nothing outside it. */
export function checkRelativePath(p: string): string {
  if (p === "" || p === "." || p === ".." || /[/\\\0]/.test(p) || p.length > 255)
    throw bad(`storage file ${JSON.stringify(p)} is not a plain file name of the checkpoint directory`);
  return p;
}

function storageInfo(v: unknown, what: string): DcpStorageInfo {
  if (!isInstance(v, "_StorageInfo")) throw bad(`${what}: expected a _StorageInfo`);
  const f = fields(v, "_StorageInfo");
  const t = f.get("transform_descriptors");
  return {
    relativePath: checkRelativePath(str(f.get("relative_path"), `${what}.relative_path`)),
    offset: int(f.get("offset"), `${what}.offset`),
    length: int(f.get("length"), `${what}.length`),
    transforms: t === null || t === undefined ? [] : (t as unknown[]).map((x) => str(x, `${what}.transform`)),
  };
}

function dtypeOf(props: unknown, what: string): { dtype: DType; requiresGrad: boolean } {
  if (!isInstance(props, "TensorProperties")) throw bad(`${what}.properties is not a TensorProperties`);
  const s = props.state;
  // TensorProperties.__getstate__: (dtype, layout, requires_grad, memory format, pin_memory)
  const tupleState = isTuple(s) ? (s as PyTuple) : null;
  const dt = tupleState ? tupleState[0] : s instanceof Map ? s.get("dtype") : undefined;
  const rg = tupleState ? tupleState[2] : s instanceof Map ? s.get("requires_grad") : false;
  const d = dt as DType | undefined;
  if (!d || typeof d !== "object" || typeof (d as DType).itemSize !== "number")
    throw bad(`${what}.properties.dtype is not a torch dtype`);
  return { dtype: d, requiresGrad: rg === true };
}

function key(fqn: string, offsets: readonly number[] | null): string {
  return offsets === null ? `${fqn}\u0000` : `${fqn}\u0000${offsets.join(",")}`;
}

/** A DCP folder's `.metadata` file as the one pickle section to scan (for `scan()` and refusals). */
export function dcpMetadataSection(bytes: Uint8Array): PickleSection {
  return {
    name: ".metadata",
    bytes,
    start: 0,
    fileOffset: 0,
    untilEof: false,
    role: "unpickled by torch.distributed.checkpoint",
    loaded: true,
  };
}

/**
 * Parse a `.metadata` pickle. Globals outside the DCP allowlist (torch's tensor globals and the
 * DCP dataclasses) are refused with an {@link UnsafeGlobalError} naming each and its offset.
 */
export function parseDcpMetadata(bytes: Uint8Array): DcpMetadata {
  const registry = dcpMetadataRegistry();
  let root: unknown;
  try {
    root = loads(bytes, { globals: registry, policy: "reject", floats: "number" });
  } catch (e) {
    if (e instanceof PickleUnsafeGlobalError) {
      // the refusal names every global, found by the one scanner (as `scan()` would)
      const sections = {
        format: "pickle" as const,
        unsupported: null,
        sections: [dcpMetadataSection(bytes)],
      };
      throw new UnsafeGlobalError(refusedBy(scanSections(sections, { registry })), "weightsOnly", e);
    }
    throw new SerializationError(
      "FormatUnsupported",
      `dcp: .metadata is not a readable pickle: ${(e as Error).message}`,
      {
        record: ".metadata",
        cause: e,
      },
    );
  }
  if (!isInstance(root, "Metadata")) throw bad("the pickle is not a torch.distributed.checkpoint Metadata");
  const f = fields(root, "Metadata");
  const sdm = f.get("state_dict_metadata");
  if (!(sdm instanceof Map)) throw bad("state_dict_metadata is not a dict");
  const sd = f.get("storage_data");
  const storage = new Map<string, DcpStorageInfo>();
  if (sd instanceof Map) {
    for (const [k, v] of sd) {
      if (!isInstance(k, "MetadataIndex")) throw bad("a storage_data key is not a MetadataIndex");
      const kf = fields(k, "MetadataIndex");
      const fqn = str(kf.get("fqn"), "MetadataIndex.fqn");
      const off = kf.get("offset");
      storage.set(
        key(fqn, off === undefined || off === null ? null : ints(off, `MetadataIndex(${fqn}).offset`)),
        storageInfo(v, `storage_data[${fqn}]`),
      );
    }
  } else if (sd !== null && sd !== undefined) throw bad("storage_data is not a dict");
  const find = (fqn: string, offsets: readonly number[] | null): DcpStorageInfo => {
    const s = storage.get(key(fqn, offsets));
    if (!s)
      throw bad(
        `no storage_data entry for ${fqn}${offsets ? ` chunk at offsets [${offsets.join(", ")}]` : ""}`,
      );
    return s;
  };
  const entries = new Map<string, DcpEntry>();
  for (const [k, v] of sdm) {
    const fqn = str(k, "a state_dict_metadata key");
    if (isInstance(v, "BytesStorageMetadata")) {
      entries.set(fqn, { kind: "bytes", fqn, storage: find(fqn, null) });
      continue;
    }
    if (!isInstance(v, "TensorStorageMetadata"))
      throw bad(`${fqn}: unknown storage metadata ${v instanceof PyObject ? v.cls.qualifiedName : typeof v}`);
    const tf = fields(v, "TensorStorageMetadata");
    const { dtype, requiresGrad } = dtypeOf(tf.get("properties"), fqn);
    const shape = ints(tf.get("size"), `${fqn}.size`);
    const rawChunks = tf.get("chunks");
    if (!Array.isArray(rawChunks)) throw bad(`${fqn}.chunks is not a list`);
    const chunks = rawChunks.map((c, i): DcpChunk => {
      if (!isInstance(c, "ChunkStorageMetadata"))
        throw bad(`${fqn}.chunks[${i}] is not a ChunkStorageMetadata`);
      const cf = fields(c, "ChunkStorageMetadata");
      const offsets = ints(cf.get("offsets"), `${fqn}.chunks[${i}].offsets`);
      const sizes = ints(cf.get("sizes"), `${fqn}.chunks[${i}].sizes`);
      if (offsets.length !== shape.length || sizes.length !== shape.length)
        throw bad(`${fqn}.chunks[${i}] has ${offsets.length} dimensions, the tensor ${shape.length}`);
      for (let d = 0; d < shape.length; d++)
        if ((offsets[d] as number) + (sizes[d] as number) > (shape[d] as number))
          throw bad(
            `${fqn}.chunks[${i}] (offsets [${offsets.join(", ")}], sizes [${sizes.join(", ")}]) lies outside the tensor's shape [${shape.join(", ")}]`,
          );
      return { offsets, sizes, storage: find(fqn, offsets) };
    });
    entries.set(fqn, { kind: "tensor", fqn, dtype, shape, requiresGrad, chunks });
  }
  const pd = f.get("planner_data");
  let plannerData: Map<string, Array<string | number>> | null = null;
  if (pd instanceof Map) {
    plannerData = new Map();
    for (const [k, v] of pd) {
      if (typeof k !== "string" || !Array.isArray(v) || v.length === 0) continue;
      plannerData.set(
        k,
        v.map((p, i) => {
          if (typeof p === "string") return p;
          if (typeof p === "number" || typeof p === "bigint" || p instanceof PyFloat)
            return int(typeof p === "object" ? p.value : p, `planner_data[${k}][${i}]`);
          throw bad(`planner_data[${k}][${i}] is neither a key nor an index`);
        }),
      );
    }
  }
  const version = f.get("version");
  return { entries, plannerData, version: typeof version === "string" ? version : null };
}
