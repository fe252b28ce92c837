/**
 * A safetensors writer: an 8-byte little-endian header length, a JSON header (each tensor's
 * `dtype` code, `shape` and `data_offsets` into the data section, plus `__metadata__`, a map of
 * strings), padded with spaces to a multiple of 8, then every tensor's values contiguous,
 * row-major, little-endian. Nested containers are flattened to dotted names.
 */
import type { DTypeName } from "@pt/storage";
import { QuantizedTensor, SparseTensor, Tensor } from "@pt/tensor";
import { logicalBytes } from "./hash.js";
import { CliError } from "./io.js";
import { childrenOf, type PathElem, pathText, shortRepr } from "./walk.js";

/** safetensors dtype codes of the dtypes it can represent. */
export const SAFETENSORS_DTYPES: Readonly<Partial<Record<DTypeName, string>>> = {
  float64: "F64",
  float32: "F32",
  float16: "F16",
  bfloat16: "BF16",
  int64: "I64",
  int32: "I32",
  int16: "I16",
  int8: "I8",
  uint8: "U8",
  bool: "BOOL",
  uint16: "U16",
  uint32: "U32",
  uint64: "U64",
  float8_e4m3fn: "F8_E4M3",
  float8_e5m2: "F8_E5M2",
  float8_e8m0fnu: "F8_E8M0",
  complex64: "C64",
};

/** What `toSafetensors` did besides writing tensors. */
export interface SafetensorsReport {
  /** The file bytes. */
  readonly bytes: Uint8Array;
  /** Tensor names in file order. */
  readonly names: string[];
  /** Groups of tensor names that shared one storage in the input (written as separate copies). */
  readonly shared: string[][];
  /** Non-tensor values left out (path text and short value). */
  readonly skipped: string[];
}

interface Entry {
  name: string;
  tensor: Tensor;
}

function nameOf(path: readonly PathElem[]): string {
  return path.map(String).join(".");
}

/** Collect the tensors of `root` under dotted names; refuse what safetensors cannot represent. */
function collect(root: unknown): { entries: Entry[]; skipped: string[] } {
  const entries: Entry[] = [];
  const skipped: string[] = [];
  const names = new Map<string, string>();
  const seen = new Set<object>();
  const visit = (v: unknown, path: PathElem[]) => {
    if (v instanceof Tensor) {
      const name = nameOf(path);
      if (path.length === 0)
        throw new CliError("safetensors: the object is a single tensor with no name; wrap it in a dict");
      if (v instanceof QuantizedTensor)
        throw new CliError(`safetensors cannot represent ${name}: quantized dtype ${v.dtype.name}`);
      if (!SAFETENSORS_DTYPES[v.dtype.name])
        throw new CliError(
          `safetensors cannot represent ${name}: dtype ${v.dtype.name} has no safetensors code`,
        );
      const prev = names.get(name);
      if (prev !== undefined)
        throw new CliError(
          `safetensors: ${pathText(path)} and ${prev} both flatten to the name ${JSON.stringify(name)}`,
        );
      names.set(name, pathText(path));
      entries.push({ name, tensor: v });
      return;
    }
    if (v instanceof SparseTensor)
      throw new CliError(`safetensors cannot represent ${nameOf(path)}: ${v.layout} tensors are not dense`);
    if (typeof v === "object" && v !== null) {
      if (seen.has(v)) return;
      const kids = childrenOf(v);
      if (kids) {
        seen.add(v);
        for (const [k, x] of kids) visit(x, [...path, k]);
        return;
      }
    }
    skipped.push(`${path.length ? nameOf(path) : "<root>"} = ${shortRepr(v, 40)}`);
  };
  visit(root, []);
  return { entries, skipped };
}

function pad8(n: number): number {
  return (8 - (n % 8)) % 8;
}

/**
 * Write the tensors of `value` (a tensor dict, a state dict, nested containers, a module) as a
 * safetensors file. Each tensor's values are written contiguously (views are materialised;
 * storages shared by several tensors are written once per tensor and listed in `shared` and in
 * `__metadata__.shared_storages`). `metadata` entries are added to `__metadata__`; `onProgress`
 * is called after each tensor.
 */
export async function toSafetensors(
  value: unknown,
  metadata: Readonly<Record<string, string>> = {},
  onProgress?: (done: number, total: number) => void,
): Promise<SafetensorsReport> {
  const { entries, skipped } = collect(value);
  const byStorage = new Map<object, string[]>();
  for (const e of entries) {
    const s = e.tensor.storage.base ?? e.tensor.storage;
    const g = byStorage.get(s) ?? [];
    g.push(e.name);
    byStorage.set(s, g);
  }
  const shared = [...byStorage.values()].filter((g) => g.length > 1);
  const header: Record<string, unknown> = {};
  const meta: Record<string, string> = { format: "pt", ...metadata };
  if (shared.length) meta.shared_storages = JSON.stringify(shared);
  header.__metadata__ = meta;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const b = await logicalBytes(e.tensor);
    header[e.name] = {
      dtype: SAFETENSORS_DTYPES[e.tensor.dtype.name],
      shape: [...e.tensor.shape],
      data_offsets: [offset, offset + b.byteLength],
    };
    chunks.push(b);
    offset += b.byteLength;
    onProgress?.(chunks.length, entries.length);
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padding = pad8(json.byteLength);
  if (padding) {
    const p = new Uint8Array(json.byteLength + padding).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let at = 8 + json.byteLength;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return { bytes: out, names: entries.map((e) => e.name), shared, skipped };
}

/** A parsed safetensors header (for tests and `pt inspect` of `.safetensors` files). */
export interface SafetensorsHeader {
  readonly metadata: Record<string, string>;
  readonly tensors: Array<{ name: string; dtype: string; shape: number[]; begin: number; end: number }>;
  /** Offset of the data section in the file. */
  readonly dataOffset: number;
}

/** Parse and check a safetensors file's header (offsets contiguous and inside the file). */
export function readSafetensorsHeader(bytes: Uint8Array): SafetensorsHeader {
  if (bytes.byteLength < 8) throw new CliError("safetensors: file shorter than 8 bytes");
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (n > bytes.byteLength - 8) throw new CliError(`safetensors: header of ${n} bytes runs past the file`);
  const h = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  const tensors: SafetensorsHeader["tensors"] = [];
  let metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (k === "__metadata__") {
      metadata = v as Record<string, string>;
      continue;
    }
    const t = v as { dtype: string; shape: number[]; data_offsets: [number, number] };
    tensors.push({
      name: k,
      dtype: t.dtype,
      shape: t.shape,
      begin: t.data_offsets[0],
      end: t.data_offsets[1],
    });
  }
  const sorted = [...tensors].sort((a, b) => a.begin - b.begin);
  let at = 0;
  for (const t of sorted) {
    if (t.begin !== at || t.end < t.begin)
      throw new CliError(
        `safetensors: tensor ${t.name} data_offsets [${t.begin}, ${t.end}] leave a hole or overlap at ${at}`,
      );
    at = t.end;
  }
  if (8 + n + at !== bytes.byteLength)
    throw new CliError(`safetensors: data section is ${bytes.byteLength - 8 - n} bytes, header covers ${at}`);
  return { metadata, tensors, dataOffset: 8 + n };
}
