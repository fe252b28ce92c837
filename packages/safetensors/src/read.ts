import { BufferSource, type ByteSource, type DType, Storage } from "@pt/storage";
import { Tensor } from "@pt/tensor";
import { dtypeOfCode } from "./dtypes.js";
import { SafetensorsError } from "./errors.js";

/** Limits against hostile headers (safe defaults). */
export interface SafetensorsLimits {
  /** Largest JSON header accepted, in bytes (default 100,000,000: the reference implementation's bound). */
  readonly maxHeaderBytes?: number;
  /** Most tensors accepted in one header (default 10,000,000). */
  readonly maxTensors?: number;
  /** Most dimensions of one tensor (default 64). */
  readonly maxDims?: number;
}

/** One tensor's entry in the header. */
export interface SafetensorsEntry {
  readonly name: string;
  /** The safetensors code (`F32`). */
  readonly code: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Byte range in the data section (`data_offsets`). */
  readonly begin: number;
  readonly end: number;
}

/** A checked header. */
export interface SafetensorsHeader {
  /** `__metadata__` (a map of strings), or null when absent. */
  readonly metadata: Readonly<Record<string, string>> | null;
  /** The tensors, in header order. */
  readonly entries: readonly SafetensorsEntry[];
  /** Byte offset of the data section in the file (8 + header length). */
  readonly dataOffset: number;
  /** Size of the whole file. */
  readonly byteLength: number;
}

/** A safetensors file opened lazily: header checked, each tensor's bytes read on first access. */
export interface SafetensorsFile extends SafetensorsHeader {
  /** Tensors by name, in header order, each over its own lazy storage of the source. */
  readonly tensors: Map<string, Tensor>;
}

const DEFAULT_MAX_HEADER = 100_000_000;
const DEFAULT_MAX_TENSORS = 10_000_000;
const DEFAULT_MAX_DIMS = 64;

function bad(message: string, details: Record<string, unknown> = {}): SafetensorsError {
  return new SafetensorsError("HeaderInvalid", message, details);
}

function asSource(src: ByteSource | Uint8Array | ArrayBuffer): ByteSource {
  return src instanceof Uint8Array || src instanceof ArrayBuffer ? new BufferSource(src) : src;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Read and check the header of a safetensors file: the 8-byte little-endian length (within the
 * file and `maxHeaderBytes`), a JSON object whose entries each have a known `dtype`, a `shape`
 * of non-negative integers and `data_offsets` `[begin, end]` with `end - begin` equal to the
 * tensor's size; the ranges, sorted, must tile the data section exactly (no overlap, no hole,
 * nothing past the end). `__metadata__`, when present, must map strings to strings.
 * Only the header bytes are read.
 */
export async function readSafetensorsHeader(
  source: ByteSource | Uint8Array | ArrayBuffer,
  limits: SafetensorsLimits = {},
): Promise<SafetensorsHeader> {
  const src = asSource(source);
  const size = src.byteLength;
  if (size < 8)
    throw new SafetensorsError(
      "HeaderLength",
      `file of ${size} bytes is shorter than the 8-byte header length`,
      {
        offset: 0,
      },
    );
  const lenBytes = await src.read(0, 8);
  const n64 = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
  const maxHeader = limits.maxHeaderBytes ?? DEFAULT_MAX_HEADER;
  if (n64 > BigInt(maxHeader))
    throw new SafetensorsError(
      "HeaderLength",
      `header length ${n64} is over the limit of ${maxHeader} bytes`,
      {
        offset: 0,
        headerLength: n64,
      },
    );
  const n = Number(n64);
  if (8 + n > size)
    throw new SafetensorsError(
      "HeaderLength",
      `header of ${n} bytes runs past the end of the ${size}-byte file`,
      { offset: 0, headerLength: n, byteLength: size },
    );
  if (n < 2) throw bad(`header of ${n} bytes cannot hold a JSON object`, { offset: 8 });
  const raw = await src.read(8, n);
  if (raw[0] !== 0x7b) throw bad("header does not start with '{'", { offset: 8 });
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
  } catch (e) {
    throw new SafetensorsError("HeaderInvalid", "header is not valid UTF-8", { offset: 8 }, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(
      "HeaderInvalid",
      `header is not valid JSON: ${e instanceof Error ? e.message : String(e)}`,
      { offset: 8 },
      { cause: e },
    );
  }
  if (!isPlainObject(json)) throw bad("header is not a JSON object", { offset: 8 });
  const maxTensors = limits.maxTensors ?? DEFAULT_MAX_TENSORS;
  const maxDims = limits.maxDims ?? DEFAULT_MAX_DIMS;
  const dataOffset = 8 + n;
  const dataSize = size - dataOffset;
  let metadata: Record<string, string> | null = null;
  const entries: SafetensorsEntry[] = [];
  for (const [name, v] of Object.entries(json)) {
    if (name === "__metadata__") {
      if (!isPlainObject(v)) throw bad("__metadata__ is not an object of strings");
      for (const [k, x] of Object.entries(v))
        if (typeof x !== "string") throw bad(`__metadata__[${JSON.stringify(k)}] is not a string`);
      metadata = v as Record<string, string>;
      continue;
    }
    if (entries.length >= maxTensors) throw bad(`more than ${maxTensors} tensors in the header`);
    const where = { tensor: name };
    if (!isPlainObject(v)) throw bad(`entry ${JSON.stringify(name)} is not an object`, where);
    const code = v.dtype;
    if (typeof code !== "string") throw bad(`tensor ${JSON.stringify(name)} has no dtype string`, where);
    const dtype = dtypeOfCode(code);
    if (!dtype)
      throw new SafetensorsError(
        "UnknownDType",
        `tensor ${JSON.stringify(name)} has unknown dtype ${JSON.stringify(code)}`,
        {
          tensor: name,
          dtype: code,
        },
      );
    const shape = v.shape;
    if (!Array.isArray(shape) || shape.length > maxDims)
      throw bad(`tensor ${JSON.stringify(name)}: shape is not a list of at most ${maxDims} sizes`, where);
    let numel = 1;
    for (const d of shape) {
      if (!Number.isSafeInteger(d) || (d as number) < 0)
        throw bad(
          `tensor ${JSON.stringify(name)}: shape ${JSON.stringify(shape)} has an invalid size`,
          where,
        );
      numel *= d as number;
      if (!Number.isSafeInteger(numel))
        throw bad(`tensor ${JSON.stringify(name)}: shape ${JSON.stringify(shape)} is too large`, where);
    }
    const offs = v.data_offsets;
    if (
      !Array.isArray(offs) ||
      offs.length !== 2 ||
      !Number.isSafeInteger(offs[0]) ||
      !Number.isSafeInteger(offs[1])
    )
      throw bad(`tensor ${JSON.stringify(name)}: data_offsets is not a pair of integers`, where);
    const [begin, end] = offs as [number, number];
    const nbytes = numel * dtype.itemSize;
    if (begin < 0 || end < begin || end - begin !== nbytes)
      throw new SafetensorsError(
        "Offsets",
        `tensor ${JSON.stringify(name)}: data_offsets [${begin}, ${end}] do not hold ${nbytes} bytes (${code}${JSON.stringify(shape)})`,
        { tensor: name, begin, end, nbytes },
      );
    if (end > dataSize)
      throw new SafetensorsError(
        "Offsets",
        `tensor ${JSON.stringify(name)}: data_offsets [${begin}, ${end}] run past the ${dataSize}-byte data section (file offset ${dataOffset + end})`,
        { tensor: name, begin, end, offset: dataOffset + begin },
      );
    entries.push({ name, code, dtype, shape: Object.freeze([...(shape as number[])]), begin, end });
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of sorted) {
    if (e.begin !== at)
      throw new SafetensorsError(
        "Offsets",
        `tensor ${JSON.stringify(e.name)}: data_offsets [${e.begin}, ${e.end}] ${e.begin < at ? "overlap the previous tensor" : "leave a hole"} at data offset ${at} (file offset ${dataOffset + at})`,
        { tensor: e.name, begin: e.begin, end: e.end, offset: dataOffset + at },
      );
    at = e.end;
  }
  if (at !== dataSize)
    throw new SafetensorsError(
      "Offsets",
      `the tensors cover ${at} bytes of the ${dataSize}-byte data section (file offset ${dataOffset + at})`,
      { offset: dataOffset + at, covered: at, dataSize },
    );
  return { metadata, entries, dataOffset, byteLength: size };
}

/**
 * Open a safetensors file: its header is read and checked (see {@link readSafetensorsHeader}),
 * and each tensor is a contiguous {@link Tensor} over a lazy {@link Storage} of `source`: nothing
 * else is read until a tensor's bytes are needed (`await tensor.load()`, or synchronous access
 * when the source has `readSync`). Keep the source open while using the tensors.
 */
export async function readSafetensors(
  source: ByteSource | Uint8Array | ArrayBuffer,
  limits: SafetensorsLimits = {},
): Promise<SafetensorsFile> {
  const src = asSource(source);
  const header = await readSafetensorsHeader(src, limits);
  const tensors = new Map<string, Tensor>();
  for (const e of header.entries) {
    const storage = Storage.lazy(e.dtype, src, header.dataOffset + e.begin, e.end - e.begin);
    tensors.set(e.name, new Tensor(storage, 0, e.shape));
  }
  return { ...header, tensors };
}
