/**
 * Finding the pickles of a file without loading it: zip records ending in `.pkl` (`data.pkl`
 * first), the five pickles of a legacy stream, the pickles of a tar archive's `sys_info`,
 * `pickle`, `storages` and `tensors` members, or a plain pickle. Nothing is unpickled: `pt scan`
 * and `pt disasm` must work on hostile files that a loader refuses. Every size read from the
 * file is checked against the bytes that exist.
 */
import { inflateRawSync } from "node:zlib";
import { genops } from "@pt/pickle";
import { type ByteSource, dtypeFromStorageClass } from "@pt/storage";
import { CliError } from "./io.js";

/** The container kind, by magic bytes. */
export type ContainerKind = "zip" | "legacy" | "tar" | "pickle";

/** One pickle found in a file. */
export interface PickleSection {
  /** `data.pkl` (zip record name under the prefix), `object` (legacy), `pickle` (tar member)… */
  readonly name: string;
  /** Bytes holding the pickle, which starts at `start` in them. */
  readonly data: Uint8Array;
  /** Offset of the pickle in `data`. */
  readonly start: number;
  /** Offset of `data[0]` in the file (0 for zip records, which are addressed inside the record). */
  readonly fileOffset: number;
}

/** What `pickleSections` found. */
export interface Pickles {
  readonly kind: ContainerKind;
  /** Zip archive prefix (`archive`), when zip. */
  readonly prefix?: string;
  /** Whether a zip archive is a TorchScript archive (has `constants.pkl` or `code/`). */
  readonly torchscript?: boolean;
  readonly sections: PickleSection[];
  /**
   * Set when the pickles could not all be delimited (a malformed pickle in a legacy stream or
   * tar member): `sections` holds those found before it plus the broken one (which disasm prints
   * up to the error).
   */
  readonly error?: Error;
}

/** Limit on one pickle (record or stream window), in bytes. */
const MAX_PICKLE_BYTES = 1 << 30;
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_NAMES = ["magic_number", "protocol_version", "sys_info", "object", "storage_keys"];

function fail(msg: string): never {
  throw new CliError(msg);
}

function read(src: ByteSource, offset: number, length: number): Uint8Array {
  if (offset < 0 || length < 0 || offset + length > src.byteLength)
    fail(`read of ${length} bytes at offset ${offset} is outside the ${src.byteLength}-byte file`);
  if (!src.readSync) fail("source has no synchronous read");
  return src.readSync(offset, length);
}

function u16(b: Uint8Array, i: number): number {
  return (b[i] ?? 0) | ((b[i + 1] ?? 0) << 8);
}
function u32(b: Uint8Array, i: number): number {
  return ((b[i] ?? 0) | ((b[i + 1] ?? 0) << 8) | ((b[i + 2] ?? 0) << 16) | ((b[i + 3] ?? 0) << 24)) >>> 0;
}
function u64(b: Uint8Array, i: number): number {
  const v = u32(b, i) + u32(b, i + 4) * 0x100000000;
  if (!Number.isSafeInteger(v)) fail(`zip: 64-bit field at ${i} is larger than 2^53`);
  return v;
}

/** Detect the container by magic bytes. */
export function detectContainer(head: Uint8Array): ContainerKind {
  if (head[0] === 0x50 && head[1] === 0x4b && (head[2] === 3 || head[2] === 5)) return "zip";
  if (head.length >= 262 && String.fromCharCode(...head.subarray(257, 262)) === "ustar") return "tar";
  // Legacy streams start with a pickle of torch's magic number (LONG1, or LONG in protocol 0/1;
  // protocol 4/5 writers put a FRAME before it).
  try {
    if (pickledInt(head, 0) === LEGACY_MAGIC) return "legacy";
  } catch {
    // not a complete pickle in the first bytes: a plain pickle (or garbage, reported later)
  }
  return "pickle";
}

/** End offset (exclusive) of the pickle starting at `start` of `data`; throws the pickle error when malformed. */
export function pickleEnd(data: Uint8Array, start: number): number {
  const it = genops(data, start);
  for (;;) {
    const r = it.next();
    if (r.done) return r.value;
  }
}

/** The last integer pushed by a pickle (for the counts and magic numbers in legacy and tar streams). */
function pickledInt(data: Uint8Array, start: number): bigint | null {
  let last: bigint | null = null;
  for (const { op, arg } of genops(data, start)) {
    if (op.name === "STOP") break;
    if (typeof arg === "number" && Number.isInteger(arg)) last = BigInt(arg);
    else if (typeof arg === "bigint") last = arg;
    else if (typeof arg === "boolean") last = null;
  }
  return last;
}

/**
 * Read the pickle at file offset `offset`: a window that grows until the pickle fits, up to
 * `MAX_PICKLE_BYTES`. Returns the section and its end offset in the file.
 */
function streamPickle(src: ByteSource, name: string, offset: number): [PickleSection, number] {
  let size = Math.min(1 << 20, src.byteLength - offset);
  if (size <= 0) fail(`${name}: no pickle at offset ${offset}: the file ends at ${src.byteLength}`);
  for (;;) {
    const data = read(src, offset, size);
    try {
      const end = pickleEnd(data, 0);
      return [{ name, data, start: 0, fileOffset: offset }, offset + end];
    } catch (e) {
      const truncated = (e as { code?: string }).code === "TRUNCATED" || /truncated/i.test(String(e));
      const room = src.byteLength - offset;
      if (!truncated || size >= room || size >= MAX_PICKLE_BYTES) {
        // Keep the section so that disasm can print what there is; the caller reports the error.
        throw Object.assign(e as object, { section: { name, data, start: 0, fileOffset: offset } });
      }
      size = Math.min(room, size * 4, MAX_PICKLE_BYTES);
    }
  }
}

// ---- zip ------------------------------------------------------------------------------------

interface CdEntry {
  name: string;
  method: number;
  csize: number;
  usize: number;
  local: number;
}

function zipEntries(src: ByteSource): CdEntry[] {
  const size = src.byteLength;
  if (size < 22) fail(`zip: file of ${size} bytes is too small for an end record`);
  const tailLen = Math.min(size, 22 + 0xffff);
  const tailStart = size - tailLen;
  const tail = read(src, tailStart, tailLen);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (u32(tail, i) === 0x06054b50 && i + 22 + u16(tail, i + 20) === tailLen) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail("zip: no end of central directory record");
  let count = u16(tail, eocd + 10);
  let cdSize = u32(tail, eocd + 12);
  let cdOffset = u32(tail, eocd + 16);
  if (eocd >= 20 && u32(tail, eocd - 20) === 0x07064b50) {
    const z64 = u64(tail, eocd - 20 + 8);
    const rec = read(src, z64, Math.min(56, size - z64));
    if (u32(rec, 0) !== 0x06064b50) fail(`zip: no zip64 end record at offset ${z64}`);
    count = u64(rec, 32);
    cdSize = u64(rec, 40);
    cdOffset = u64(rec, 48);
  }
  if (cdOffset + cdSize > size)
    fail(`zip: central directory (${cdSize} bytes at ${cdOffset}) is outside the file`);
  if (count > cdSize / 46) fail(`zip: ${count} entries cannot fit in a ${cdSize}-byte central directory`);
  const cd = read(src, cdOffset, cdSize);
  const out: CdEntry[] = [];
  let p = 0;
  for (let k = 0; k < count; k++) {
    if (p + 46 > cd.length || u32(cd, p) !== 0x02014b50)
      fail(`zip: bad central directory entry at offset ${cdOffset + p}`);
    const nameLen = u16(cd, p + 28);
    const extraLen = u16(cd, p + 30);
    const commentLen = u16(cd, p + 32);
    if (p + 46 + nameLen + extraLen + commentLen > cd.length)
      fail(`zip: central directory entry at offset ${cdOffset + p} runs past the directory`);
    const name = new TextDecoder().decode(cd.subarray(p + 46, p + 46 + nameLen));
    let usize = u32(cd, p + 24);
    let csize = u32(cd, p + 20);
    let local = u32(cd, p + 42);
    // zip64 extra field: the 0xffffffff fields, in order usize, csize, local offset.
    let q = p + 46 + nameLen;
    const qEnd = q + extraLen;
    while (q + 4 <= qEnd) {
      const id = u16(cd, q);
      const len = u16(cd, q + 2);
      if (id === 1) {
        let r = q + 4;
        if (usize === 0xffffffff && r + 8 <= q + 4 + len) {
          usize = u64(cd, r);
          r += 8;
        }
        if (csize === 0xffffffff && r + 8 <= q + 4 + len) {
          csize = u64(cd, r);
          r += 8;
        }
        if (local === 0xffffffff && r + 8 <= q + 4 + len) local = u64(cd, r);
      }
      q += 4 + len;
    }
    out.push({ name, method: u16(cd, p + 10), csize, usize, local });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

function zipRecord(src: ByteSource, e: CdEntry): Uint8Array {
  const lh = read(src, e.local, Math.min(30, src.byteLength - e.local));
  if (u32(lh, 0) !== 0x04034b50) fail(`zip: no local header for ${e.name} at offset ${e.local}`);
  const dataOffset = e.local + 30 + u16(lh, 26) + u16(lh, 28);
  if (e.csize > MAX_PICKLE_BYTES)
    fail(`zip: record ${e.name} is ${e.csize} bytes, over the ${MAX_PICKLE_BYTES}-byte limit`);
  const raw = read(src, dataOffset, e.csize);
  if (e.method === 0) return raw;
  if (e.method === 8) {
    const limit = Math.min(MAX_PICKLE_BYTES, Math.max(e.usize, 1));
    try {
      return new Uint8Array(inflateRawSync(raw, { maxOutputLength: limit }));
    } catch (err) {
      fail(`zip: record ${e.name} does not inflate within ${limit} bytes: ${(err as Error).message}`);
    }
  }
  return fail(`zip: record ${e.name} uses unsupported compression method ${e.method}`);
}

function zipPickles(src: ByteSource): Pickles {
  const entries = zipEntries(src);
  const first = entries[0];
  const slash = first ? first.name.indexOf("/") : -1;
  const prefix = first && slash > 0 ? first.name.slice(0, slash) : "";
  const under = (e: CdEntry) =>
    prefix && e.name.startsWith(`${prefix}/`) ? e.name.slice(prefix.length + 1) : e.name;
  const pkl = entries.filter((e) => e.name.endsWith(".pkl") && !e.name.endsWith("/"));
  pkl.sort((a, b) => Number(under(b) === "data.pkl") - Number(under(a) === "data.pkl"));
  const torchscript = entries.some((e) => under(e) === "constants.pkl" || under(e).startsWith("code/"));
  const sections = pkl.map((e) => ({ name: under(e), data: zipRecord(src, e), start: 0, fileOffset: 0 }));
  return { kind: "zip", prefix, torchscript, sections };
}

// ---- tar ------------------------------------------------------------------------------------

function octal(b: Uint8Array, at: number, len: number, what: string): number {
  const s = String.fromCharCode(...b.subarray(at, at + len))
    .replace(/[\0 ]+$/, "")
    .trim();
  if (!/^[0-7]*$/.test(s)) fail(`tar: bad ${what} field ${JSON.stringify(s)}`);
  return s ? Number.parseInt(s, 8) : 0;
}

function tarPickles(src: ByteSource): Pickles {
  const sections: PickleSection[] = [];
  try {
    tarSections(src, sections);
  } catch (e) {
    if (e instanceof CliError) throw e;
    return { kind: "tar", sections, error: e as Error };
  }
  return { kind: "tar", sections };
}

function tarSections(src: ByteSource, sections: PickleSection[]): void {
  const members = new Map<string, { offset: number; size: number }>();
  let p = 0;
  while (p + 512 <= src.byteLength) {
    const h = read(src, p, 512);
    if (h.every((x) => x === 0)) break;
    const nameEnd = h.indexOf(0);
    const name = String.fromCharCode(...h.subarray(0, nameEnd < 0 || nameEnd > 100 ? 100 : nameEnd));
    const size = octal(h, 124, 12, "size");
    const type = String.fromCharCode(h[156] ?? 0);
    if (p + 512 + size > src.byteLength)
      fail(`tar: member ${name} (${size} bytes at ${p + 512}) runs past the file`);
    if (type === "0" || type === "\0") members.set(name.replace(/^\.\//, ""), { offset: p + 512, size });
    p += 512 + Math.ceil(size / 512) * 512;
  }
  const member = (n: string) => {
    const m = members.get(n);
    if (!m) fail(`tar: no member ${n}`);
    return m;
  };
  const one = (n: string) => {
    const m = member(n);
    const data = read(src, m.offset, m.size);
    sections.push({ name: n, data, start: 0, fileOffset: m.offset });
    pickleEnd(data, 0);
  };
  one("sys_info");
  one("pickle");
  // storages: count; per storage (key, location, class), int64 count, raw bytes; then the views list.
  {
    const m = member("storages");
    const data = read(src, m.offset, m.size);
    let at = 0;
    const next = (name: string): number => {
      sections.push({ name, data, start: at, fileOffset: m.offset });
      const end = pickleEnd(data, at);
      const s = at;
      at = end;
      return s;
    };
    const count = pickledInt(data, next("storages/count"));
    if (count === null || count < 0n || count > BigInt(data.length)) fail("tar: bad storage count");
    for (let i = 0; i < Number(count); i++) {
      const s = next(`storages/${i}`);
      let cls: string | null = null;
      for (const { op, arg } of genops(data, s))
        if (op.name === "GLOBAL" && typeof arg === "string") cls = arg;
      let itemSize = 1;
      try {
        if (cls) itemSize = dtypeFromStorageClass(cls.slice(cls.indexOf(" ") + 1)).itemSize;
      } catch {
        fail(`tar: storage ${i} has unknown storage class ${cls}`);
      }
      if (at + 8 > data.length) fail(`tar: storage ${i} size runs past the member`);
      const n = u64(data, at);
      at += 8 + n * itemSize;
      if (at > data.length) fail(`tar: storage ${i} (${n} elements) runs past the member`);
    }
    next("storages/views");
  }
  // tensors: count; per tensor (key, storage key, class), int32 ndim, 4 padding, sizes, strides, offset.
  {
    const m = member("tensors");
    const data = read(src, m.offset, m.size);
    let at = 0;
    sections.push({ name: "tensors/count", data, start: at, fileOffset: m.offset });
    const count = pickledInt(data, at);
    at = pickleEnd(data, at);
    if (count === null || count < 0n || count > BigInt(data.length)) fail("tar: bad tensor count");
    for (let i = 0; i < Number(count); i++) {
      sections.push({ name: `tensors/${i}`, data, start: at, fileOffset: m.offset });
      at = pickleEnd(data, at);
      if (at + 8 > data.length) fail(`tar: tensor ${i} header runs past the member`);
      const ndim = u32(data, at);
      at += 8 + ndim * 16 + 8;
      if (at > data.length) fail(`tar: tensor ${i} (${ndim} dims) runs past the member`);
    }
  }
}

// ---- legacy and plain pickles ---------------------------------------------------------------

function legacyPickles(src: ByteSource): Pickles {
  const sections: PickleSection[] = [];
  let at = 0;
  try {
    for (const name of LEGACY_NAMES) {
      const [s, end] = streamPickle(src, name, at);
      sections.push(s);
      if (name === "magic_number" && pickledInt(s.data, 0) !== LEGACY_MAGIC)
        fail("legacy: the first pickle is not torch's magic number");
      at = end;
    }
  } catch (e) {
    return { kind: "legacy", sections: withBroken(sections, e), error: e as Error };
  }
  return { kind: "legacy", sections };
}

function withBroken(sections: PickleSection[], e: unknown): PickleSection[] {
  const broken = (e as { section?: PickleSection }).section;
  return broken ? [...sections, broken] : sections;
}

/**
 * Every pickle of the file behind `src`, by container. Throws `CliError` for a broken container
 * and the pickle's own error (with a `section` field holding what was read) for a broken pickle.
 */
export function pickleSections(src: ByteSource): Pickles {
  const head = read(src, 0, Math.min(src.byteLength, 512));
  if (head.length === 0) fail("the file is empty");
  const kind = detectContainer(head);
  if (kind === "zip") return zipPickles(src);
  if (kind === "tar") return tarPickles(src);
  if (kind === "legacy") return legacyPickles(src);
  try {
    const [s] = streamPickle(src, "pickle", 0);
    return { kind: "pickle", sections: [s] };
  } catch (e) {
    if (e instanceof CliError) throw e;
    return { kind: "pickle", sections: withBroken([], e), error: e as Error };
  }
}
