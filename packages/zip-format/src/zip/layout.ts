/**
 * Byte layout of what PyTorch's writer (caffe2/serialize/inline_container.cc driving miniz with
 * `MZ_ZIP_FLAG_WRITE_ZIP64`, no timestamps) produces. Pure functions, so the zip64 arithmetic can be
 * checked with sizes and offsets far beyond what a test could write.
 */

/** Records start at multiples of this many bytes (torch's `kFieldAlignment`). */
export const FIELD_ALIGNMENT = 64;
const U32_MAX = 0xffffffff;

export const SIG_LOCAL = 0x04034b50;
export const SIG_CENTRAL = 0x02014b50;
export const SIG_DESCRIPTOR = 0x08074b50;
export const SIG_EOCD = 0x06054b50;
export const SIG_ZIP64_EOCD = 0x06064b50;
export const SIG_ZIP64_LOCATOR = 0x07064b50;

/** Where everything of one record lands, for a record written at `cursor`. */
export interface RecordLayout {
  /** Offset of the local header (= the cursor). */
  readonly headerOffset: number;
  /** Whether miniz adds a zip64 extended-information field (size or offset ≥ 0xFFFFFFFF). */
  readonly zip64: boolean;
  /** Bytes of the zip64 extra field in the local header (0, 12, 20 or 28). */
  readonly zip64ExtraLength: number;
  /** Number of `Z` padding bytes in the `FB` extra field. */
  readonly paddingLength: number;
  /** Total extra-field length in the local header (zip64 + 4 + padding). */
  readonly extraLength: number;
  /** Offset of the first data byte: a multiple of the alignment (64 by default). */
  readonly dataOffset: number;
  /** Data descriptor length: 0 for an empty record, 16, or 24 with 64-bit sizes when zip64. */
  readonly descriptorLength: number;
  /** Offset just after the record (where the next one starts). */
  readonly end: number;
}

/**
 * Layout of a record of `size` bytes whose full entry name is `nameLength` bytes long, written at
 * `cursor` — torch's `getPadding` plus miniz's `mz_zip_writer_add_mem_ex_v2`. `alignment`: where data
 * starts (64, or torch ≥ 2.7's `config.save.storage_alignment`).
 */
export function recordLayout(
  cursor: number,
  nameLength: number,
  size: number,
  alignment: number = FIELD_ALIGNMENT,
): RecordLayout {
  const bigSize = size >= U32_MAX;
  const bigOffset = cursor >= U32_MAX;
  const zip64 = bigSize || bigOffset;
  const zip64ExtraLength = zip64 ? 4 + (bigSize ? 16 : 0) + (bigOffset ? 8 : 0) : 0;
  const start = cursor + 30 + nameLength + 4 + zip64ExtraLength;
  const mod = start % alignment;
  const paddingLength = mod === 0 ? 0 : alignment - mod;
  const extraLength = zip64ExtraLength + 4 + paddingLength;
  const dataOffset = start + paddingLength;
  const descriptorLength = size === 0 ? 0 : zip64 ? 24 : 16;
  return {
    headerOffset: cursor,
    zip64,
    zip64ExtraLength,
    paddingLength,
    extraLength,
    dataOffset,
    descriptorLength,
    end: dataOffset + size + descriptorLength,
  };
}

function setU64(v: DataView, at: number, value: number): void {
  v.setUint32(at, value % 0x100000000, true);
  v.setUint32(at + 4, Math.floor(value / 0x100000000), true);
}

/** General-purpose flags miniz sets: UTF-8 names (0x0800), plus a data descriptor (0x0008) for non-empty records. */
export function recordFlags(size: number): number {
  return size > 0 ? 0x0808 : 0x0800;
}

function zip64Extra(
  v: DataView,
  at: number,
  size: number | undefined,
  compressed: number | undefined,
  offset: number | undefined,
): number {
  v.setUint16(at, 0x0001, true);
  let p = at + 4;
  if (size !== undefined) {
    setU64(v, p, size);
    p += 8;
  }
  if (compressed !== undefined) {
    setU64(v, p, compressed);
    p += 8;
  }
  if (offset !== undefined) {
    setU64(v, p, offset);
    p += 8;
  }
  v.setUint16(at + 2, p - at - 4, true);
  return p - at;
}

/**
 * The bytes from the local header up to the first data byte: header (CRC and sizes 0, times 0,
 * version needed 0), name, zip64 extra (sizes known, compressed size 0 as miniz writes it), then
 * `FB` + u16 length + `Z` padding.
 */
export function encodeLocalHeader(nameBytes: Uint8Array, size: number, layout: RecordLayout): Uint8Array {
  const out = new Uint8Array(30 + nameBytes.length + layout.extraLength);
  put32(out, 0, SIG_LOCAL);
  // version needed (4): 0 for stored
  put16(out, 6, recordFlags(size));
  // method 0, time 0, date 0, crc 0, sizes 0
  put16(out, 26, nameBytes.length);
  put16(out, 28, layout.extraLength);
  out.set(nameBytes, 30);
  let p = 30 + nameBytes.length;
  if (layout.zip64) {
    const bigSize = size >= U32_MAX;
    p += zip64Extra(
      new DataView(out.buffer),
      p,
      bigSize ? size : undefined,
      bigSize ? 0 : undefined,
      layout.headerOffset >= U32_MAX ? layout.headerOffset : undefined,
    );
  }
  out[p] = 0x46; // 'F'
  out[p + 1] = 0x42; // 'B'
  put16(out, p + 2, layout.paddingLength);
  out.fill(0x5a, p + 4, p + 4 + layout.paddingLength); // 'Z'
  return out;
}

/** Little-endian u16 at `at` (no DataView: headers are written by the ten thousand). */
function put16(out: Uint8Array, at: number, v: number): void {
  out[at] = v & 0xff;
  out[at + 1] = (v >>> 8) & 0xff;
}

/** Little-endian u32 at `at`. */
function put32(out: Uint8Array, at: number, v: number): void {
  out[at] = v & 0xff;
  out[at + 1] = (v >>> 8) & 0xff;
  out[at + 2] = (v >>> 16) & 0xff;
  out[at + 3] = (v >>> 24) & 0xff;
}

/** The data descriptor after a record's data (empty when the record is empty). */
export function encodeDataDescriptor(crc: number, size: number, layout: RecordLayout): Uint8Array {
  const out = new Uint8Array(layout.descriptorLength);
  if (out.length === 0) return out;
  put32(out, 0, SIG_DESCRIPTOR);
  put32(out, 4, crc >>> 0);
  if (layout.zip64) {
    const v = new DataView(out.buffer);
    setU64(v, 8, size);
    setU64(v, 16, size);
  } else {
    put32(out, 8, size);
    put32(out, 12, size);
  }
  return out;
}

/** Length of one central-directory entry (see {@link encodeCentralEntry}). */
export function centralEntryLength(nameLength: number, size: number, headerOffset: number): number {
  const bigSize = size >= U32_MAX;
  const bigOffset = headerOffset >= U32_MAX;
  return 46 + nameLength + (bigSize || bigOffset ? 4 + (bigSize ? 16 : 0) + (bigOffset ? 8 : 0) : 0);
}

/** One central-directory entry as miniz writes it (version made by 0, external attributes 0, no comment). */
export function encodeCentralEntry(
  nameBytes: Uint8Array,
  size: number,
  crc: number,
  headerOffset: number,
): Uint8Array {
  const out = new Uint8Array(centralEntryLength(nameBytes.length, size, headerOffset));
  writeCentralEntry(out, 0, nameBytes, size, crc, headerOffset);
  return out;
}

/**
 * {@link encodeCentralEntry} written into `out` at `at` (zero-filled there), for a whole central
 * directory in one buffer. Returns the entry's length.
 */
export function writeCentralEntry(
  out: Uint8Array,
  at: number,
  nameBytes: Uint8Array,
  size: number,
  crc: number,
  headerOffset: number,
): number {
  const bigSize = size >= U32_MAX;
  const bigOffset = headerOffset >= U32_MAX;
  const extraLength = bigSize || bigOffset ? 4 + (bigSize ? 16 : 0) + (bigOffset ? 8 : 0) : 0;
  put32(out, at, SIG_CENTRAL);
  // version made by 0, version needed 0
  put16(out, at + 8, recordFlags(size));
  // method 0, time 0, date 0
  put32(out, at + 16, crc >>> 0);
  put32(out, at + 20, Math.min(size, U32_MAX));
  put32(out, at + 24, Math.min(size, U32_MAX));
  put16(out, at + 28, nameBytes.length);
  put16(out, at + 30, extraLength);
  // comment length 0, disk 0, internal attributes 0
  const ext = nameBytes.length > 0 && nameBytes[nameBytes.length - 1] === 0x2f ? 0x10 : 0;
  put32(out, at + 38, ext);
  put32(out, at + 42, Math.min(headerOffset, U32_MAX));
  out.set(nameBytes, at + 46);
  if (extraLength > 0) {
    zip64Extra(
      new DataView(out.buffer, out.byteOffset, out.byteLength),
      at + 46 + nameBytes.length,
      bigSize ? size : undefined,
      bigSize ? size : undefined,
      bigOffset ? headerOffset : undefined,
    );
  }
  return 46 + nameBytes.length + extraLength;
}

/** Zip64 end record + locator + end record, as miniz writes them (always zip64). */
export function encodeEndRecords(entryCount: number, centralOffset: number, centralSize: number): Uint8Array {
  const out = new Uint8Array(56 + 20 + 22);
  const v = new DataView(out.buffer);
  const z64 = centralOffset + centralSize;
  v.setUint32(0, SIG_ZIP64_EOCD, true);
  setU64(v, 4, 44);
  v.setUint16(12, 0x031e, true); // version made by: Unix, 3.0
  v.setUint16(14, 0x002d, true); // version needed: 4.5
  // disk 0, central directory disk 0
  setU64(v, 24, entryCount);
  setU64(v, 32, entryCount);
  setU64(v, 40, centralSize);
  setU64(v, 48, centralOffset);
  v.setUint32(56, SIG_ZIP64_LOCATOR, true);
  // disk with zip64 end record: 0
  setU64(v, 64, z64);
  v.setUint32(72, 1, true); // total disks
  v.setUint32(76, SIG_EOCD, true);
  v.setUint16(84, Math.min(entryCount, 0xffff), true);
  v.setUint16(86, Math.min(entryCount, 0xffff), true);
  v.setUint32(88, Math.min(centralSize, U32_MAX), true);
  v.setUint32(92, Math.min(centralOffset, U32_MAX), true);
  return out;
}
