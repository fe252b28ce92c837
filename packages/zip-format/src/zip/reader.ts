import { BufferSource, type ByteSource } from "@pt/storage";
import { Inflate } from "fflate";
import { type Crc32Function, crc32 as defaultCrc32 } from "./crc32.js";
import {
  ZipError,
  ZipFormatError,
  ZipIntegrityError,
  ZipLimitError,
  ZipNotFoundError,
  ZipUnsupportedError,
} from "./errors.js";
import { SIG_CENTRAL, SIG_LOCAL, SIG_ZIP64_EOCD, SIG_ZIP64_LOCATOR } from "./layout.js";
import { utf8Bytes } from "./utf8.js";

/** Options of {@link ZipReader}. Every limit has a safe default. */
export interface ZipReaderOptions {
  /** Check each record's CRC-32 when it is read (default `true`). A stored CRC of 0 means "not computed" and is accepted. */
  readonly checkCrc?: boolean;
  /** CRC-32 implementation (default: the pure-TypeScript one). */
  readonly crc32?: Crc32Function;
  /** Largest inflated size of one deflated record, in bytes (default 1 GiB). */
  readonly maxInflatedSize?: number;
  /** Largest uncompressed/compressed ratio of a deflated record (default 1100; deflate's own maximum is ≈1032). */
  readonly maxCompressionRatio?: number;
  /** Largest number of entries (default 1,000,000). */
  readonly maxEntries?: number;
  /** Largest central directory, in bytes (default 256 MiB). */
  readonly maxCentralDirectorySize?: number;
  /** Read every local header at open, so every entry's `dataOffset` is known (default `false`: read lazily). */
  readonly readLocalHeaders?: boolean;
  /**
   * Open plain zips whose first entry is not in a folder (default `false`: torch's rule, such an
   * archive has no prefix and is refused): the prefix is then `""` and every entry is a record.
   * For scanners (`.npz` files, other archives).
   */
  readonly allowNoPrefix?: boolean;
  /**
   * List entries the central directory marks encrypted (flags 0x1/0x40) instead of refusing the
   * archive (default `false`). Every regular read of such an entry still refuses it; scanners read
   * them with `readEntryForScanSync` (the flag is sometimes set on plain data to hide it).
   */
  readonly allowEncrypted?: boolean;
}

/**
 * @internal The entries' numbers, in typed arrays indexed by entry (the small fields are read from
 * the central directory bytes themselves). An entry object then holds only its index, name and
 * this table, and is never written after its constructor: 50,000 entries cost a few MiB, not
 * tens, and V8 never changes (and deprecates) their layout on a later write, which would make it
 * migrate each one on its next access.
 */
export class EntryTable {
  /** Offset of each entry's header in `cd`. */
  readonly at: Uint32Array;
  readonly compressedSize: Float64Array;
  readonly uncompressedSize: Float64Array;
  readonly localHeaderOffset: Float64Array;
  /** End of the region each entry may occupy (next local header, or the central directory). */
  readonly limit: Float64Array;
  /** Each entry's data offset once its local header has been read, else -1. */
  readonly dataOffset: Float64Array;
  constructor(
    /** The central directory's bytes. */
    readonly cd: Uint8Array,
    /** `<prefix>/`: the full name of an entry under the prefix is this + its name. */
    readonly under: string,
    n: number,
  ) {
    this.at = new Uint32Array(n);
    this.compressedSize = new Float64Array(n);
    this.uncompressedSize = new Float64Array(n);
    this.localHeaderOffset = new Float64Array(n);
    this.limit = new Float64Array(n);
    this.dataOffset = new Float64Array(n).fill(-1);
  }
}

/** One central-directory entry. */
export class ZipEntry {
  /** @internal the full name when the entry is not under the prefix (else `<prefix>/` + `name`) */
  private readonly _fullName: string | null;
  /** @internal */
  private readonly _table: EntryTable;
  constructor(
    /** Position in the central directory. */
    readonly index: number,
    /** Name under the archive prefix (`data/0`), or the full name for entries outside it. */
    readonly name: string,
    table: EntryTable,
    fullName: string | null,
  ) {
    this._table = table;
    this._fullName = fullName;
  }
  /** Entry name as stored. */
  get fullName(): string {
    return this._fullName ?? `${this._table.under}${this.name}`;
  }
  /** Compression method: 0 stored, 8 deflated. */
  get method(): number {
    return u16(this._table.cd, this._at + 10);
  }
  /** General-purpose bit flags. */
  get flags(): number {
    return u16(this._table.cd, this._at + 8);
  }
  get versionMadeBy(): number {
    return u16(this._table.cd, this._at + 4);
  }
  get versionNeeded(): number {
    return u16(this._table.cd, this._at + 6);
  }
  /** CRC-32 from the central directory (0 may mean "not computed"). */
  get crc32(): number {
    return u32(this._table.cd, this._at + 16);
  }
  get compressedSize(): number {
    return this._table.compressedSize[this.index] as number;
  }
  get uncompressedSize(): number {
    return this._table.uncompressedSize[this.index] as number;
  }
  /** Offset of the local header. */
  get localHeaderOffset(): number {
    return this._table.localHeaderOffset[this.index] as number;
  }
  get externalAttributes(): number {
    return u32(this._table.cd, this._at + 38);
  }
  /** @internal length of the raw name in bytes */
  get nameLength(): number {
    return u16(this._table.cd, this._at + 28);
  }
  /** @internal raw name bytes */
  get nameBytes(): Uint8Array {
    const at = this._at + 46;
    return this._table.cd.subarray(at, at + this.nameLength);
  }
  /** @internal the bytes the raw name is in (the central directory), and where it starts */
  get _nameSource(): Uint8Array {
    return this._table.cd;
  }
  /** @internal */
  get _nameAt(): number {
    return this._at + 46;
  }
  /** @internal this entry's header in the central directory */
  private get _at(): number {
    return this._table.at[this.index] as number;
  }
  /** @internal end of the region this entry may occupy (next local header, or the central directory) */
  get _limit(): number {
    return this._table.limit[this.index] as number;
  }
  set _limit(v: number) {
    this._table.limit[this.index] = v;
  }
  /** @internal */
  get _dataOffset(): number | undefined {
    const v = this._table.dataOffset[this.index] as number;
    return v < 0 ? undefined : v;
  }
  set _dataOffset(v: number | undefined) {
    this._table.dataOffset[this.index] = v ?? -1;
  }
  /** Offset of the first data byte, once the local header has been read (see `readLocalHeaders`). */
  get dataOffset(): number | undefined {
    return this._dataOffset;
  }
  /** Whether the entry is a directory (name ends with `/`). */
  get isDirectory(): boolean {
    return this.name.endsWith("/") || (this._fullName === null && this.name === "");
  }
}

/** A contiguous byte range of the file. */
export interface ByteRange {
  readonly offset: number;
  readonly length: number;
}

type Read = { readonly offset: number; readonly length: number };
type Op<T> = Generator<Read, T, Uint8Array>;

const U16 = 0xffff;
const U32 = 0xffffffff;
const utf8 = new TextDecoder("utf-8");
const DEFAULTS = {
  maxInflatedSize: 1 << 30,
  maxCompressionRatio: 1100,
  maxEntries: 1_000_000,
  maxCentralDirectorySize: 256 * 1024 * 1024,
};

function u16(b: Uint8Array, i: number): number {
  return (b[i] as number) | ((b[i + 1] as number) << 8);
}
function u32(b: Uint8Array, i: number): number {
  return (
    ((b[i] as number) |
      ((b[i + 1] as number) << 8) |
      ((b[i + 2] as number) << 16) |
      ((b[i + 3] as number) << 24)) >>>
    0
  );
}
function u64(b: Uint8Array, i: number, what: string, at: number): number {
  const lo = u32(b, i);
  const hi = u32(b, i + 4);
  if (hi >= 0x200000)
    throw new ZipFormatError("Zip64Invalid", `${what} ${hi}·2^32+${lo} at offset ${at} exceeds 2^53`, {
      offset: at,
    });
  return hi * 0x100000000 + lo;
}
/** Scratch for `latin1`: one array reused for every short name. */
const scratch: number[] = [];
/** Bytes `[from, to)` of `b` as Latin-1 text; a flat string (names become Map keys, hashed and compared often). */
function latin1(b: Uint8Array, from = 0, to = b.length): string {
  if (to - from <= 1024) {
    // one call over a reused plain array: no view object per name
    scratch.length = to - from;
    for (let k = from; k < to; k++) scratch[k - from] = b[k] as number;
    return String.fromCharCode.apply(null, scratch);
  }
  let s = "";
  for (let k = from; k < to; k += 8192)
    s += String.fromCharCode.apply(null, b.subarray(k, Math.min(to, k + 8192)) as unknown as number[]);
  return s;
}

/** Bytes `[from, to)` of `b` as an entry name: UTF-8 when `utf8` (flag bit 11), else Latin-1. */
function decodeName(b: Uint8Array, from: number, to: number, utf8Flag: number): string {
  if (utf8Flag) {
    // ASCII (torch's names) reads the same either way, and Latin-1 is cheaper per short name
    for (let k = from; k < to; k++) if ((b[k] as number) >= 0x80) return utf8.decode(b.subarray(from, to));
  }
  return latin1(b, from, to);
}

/** Whether `a[x, x + n)` equals `b[y, y + n)`. */
function sameBytes(a: Uint8Array, x: number, b: Uint8Array, y: number, n: number): boolean {
  for (let k = 0; k < n; k++) if (a[x + k] !== b[y + k]) return false;
  return true;
}

interface Parsed {
  entries: ZipEntry[];
  prefix: string;
  centralOffset: number;
  centralSize: number;
  zip64: boolean;
  comment: Uint8Array;
  /** Entries under `<prefix>/` that are not directories, by name under the prefix. */
  records: Map<string, ZipEntry>;
}

/** Parse the end records and the central directory: reads only the file's tail and the central directory. */
function* parseArchive(size: number, o: Required<Omit<ZipReaderOptions, "crc32">>): Op<Parsed> {
  if (size < 22)
    throw new ZipFormatError(
      "EocdNotFound",
      `no end of central directory record: file is ${size} bytes (< 22)`,
      { offset: 0 },
    );
  const tailLen = Math.min(size, 22 + 0xffff + 20);
  const tailStart = size - tailLen;
  const tail = yield { offset: tailStart, length: tailLen };
  // Every candidate end record whose comment reaches exactly to the end of the file.
  const found: number[] = [];
  for (let i = tailLen - 22; i >= 0; i--) {
    if (
      tail[i] === 0x50 &&
      tail[i + 1] === 0x4b &&
      tail[i + 2] === 0x05 &&
      tail[i + 3] === 0x06 &&
      i + 22 + u16(tail, i + 20) === tailLen
    ) {
      found.push(i);
    }
  }
  if (found.length === 0)
    throw new ZipFormatError(
      "EocdNotFound",
      `no end of central directory record in the last ${tailLen} bytes of a ${size}-byte file`,
      { offset: tailStart },
    );
  if (found.length > 1) {
    throw new ZipFormatError(
      "EocdAmbiguous",
      `${found.length} end records end at the end of the file (at offsets ${found.map((f) => f + tailStart).join(", ")}): an archive hidden in the comment is refused`,
      { offset: (found[1] as number) + tailStart },
    );
  }
  const e = found[0] as number;
  const eocdOffset = e + tailStart;
  const disk = u16(tail, e + 4);
  const cdDisk = u16(tail, e + 6);
  let diskEntries: number = u16(tail, e + 8);
  let entries: number = u16(tail, e + 10);
  let cdSize = u32(tail, e + 12);
  let cdOffset = u32(tail, e + 16);
  const comment = tail.slice(e + 22, tailLen);
  let endStart = eocdOffset;
  let zip64 = false;
  if (e >= 20 && u32(tail, e - 20) === SIG_ZIP64_LOCATOR) {
    zip64 = true;
    const locAt = eocdOffset - 20;
    const z64Disk = u32(tail, e - 16);
    const z64Offset = u64(tail, e - 12, "zip64 end record offset", locAt + 8);
    const totalDisks = u32(tail, e - 4);
    if (z64Disk !== 0 || totalDisks > 1)
      throw new ZipUnsupportedError(
        "MultiDisk",
        `multi-disk archive (zip64 locator: disk ${z64Disk}, ${totalDisks} disks)`,
        { offset: locAt },
      );
    if (z64Offset + 56 > locAt)
      throw new ZipFormatError(
        "Zip64Invalid",
        `zip64 end record at ${z64Offset} does not fit before its locator at ${locAt}`,
        { offset: locAt },
      );
    const z = yield { offset: z64Offset, length: locAt - z64Offset };
    if (u32(z, 0) !== SIG_ZIP64_EOCD)
      throw new ZipFormatError("Zip64Invalid", `no zip64 end record signature at offset ${z64Offset}`, {
        offset: z64Offset,
      });
    const recSize = u64(z, 4, "zip64 end record size", z64Offset + 4);
    if (recSize < 44 || z64Offset + 12 + recSize !== locAt) {
      throw new ZipFormatError(
        "Zip64Invalid",
        `zip64 end record at ${z64Offset} declares ${recSize} bytes but its locator is at ${locAt}`,
        { offset: z64Offset },
      );
    }
    const zDisk = u32(z, 16);
    const zCdDisk = u32(z, 20);
    const zDiskEntries = u64(z, 24, "zip64 entries on disk", z64Offset + 24);
    const zEntries = u64(z, 32, "zip64 entry count", z64Offset + 32);
    const zCdSize = u64(z, 40, "zip64 central directory size", z64Offset + 40);
    const zCdOffset = u64(z, 48, "zip64 central directory offset", z64Offset + 48);
    if (zDisk !== 0 || zCdDisk !== 0)
      throw new ZipUnsupportedError(
        "MultiDisk",
        `multi-disk archive (zip64 end record: disk ${zDisk}, central directory disk ${zCdDisk})`,
        { offset: z64Offset },
      );
    const agree = (v32: number, max: number, v64: number): boolean => v32 === max || v32 === v64;
    if (
      !agree(entries, U16, zEntries) ||
      !agree(diskEntries, U16, zDiskEntries) ||
      !agree(cdSize, U32, zCdSize) ||
      !agree(cdOffset, U32, zCdOffset)
    ) {
      throw new ZipFormatError(
        "EocdInconsistent",
        `end record (${entries} entries, central directory ${cdSize} bytes at ${cdOffset}) disagrees with the zip64 end record (${zEntries} entries, ${zCdSize} bytes at ${zCdOffset})`,
        { offset: eocdOffset },
      );
    }
    entries = zEntries;
    diskEntries = zDiskEntries;
    cdSize = zCdSize;
    cdOffset = zCdOffset;
    endStart = z64Offset;
  } else if (disk !== 0 || cdDisk !== 0) {
    throw new ZipUnsupportedError(
      "MultiDisk",
      `multi-disk archive (disk ${disk}, central directory disk ${cdDisk})`,
      { offset: eocdOffset },
    );
  }
  if (diskEntries !== entries)
    throw new ZipUnsupportedError(
      "MultiDisk",
      `multi-disk archive (${diskEntries} of ${entries} entries on this disk)`,
      { offset: eocdOffset },
    );
  if (cdOffset + cdSize !== endStart) {
    throw new ZipFormatError(
      "CentralDirectoryOutOfBounds",
      `central directory of ${cdSize} bytes at offset ${cdOffset} does not end where the end records start (${endStart})`,
      { offset: cdOffset },
    );
  }
  if (entries > o.maxEntries)
    throw new ZipLimitError("LimitExceeded", `${entries} entries exceed maxEntries ${o.maxEntries}`, {
      offset: eocdOffset,
    });
  if (cdSize > o.maxCentralDirectorySize)
    throw new ZipLimitError(
      "LimitExceeded",
      `central directory of ${cdSize} bytes exceeds maxCentralDirectorySize ${o.maxCentralDirectorySize}`,
      { offset: cdOffset },
    );
  if (entries * 46 > cdSize)
    throw new ZipFormatError(
      "CentralDirectoryInvalid",
      `${entries} entries cannot fit in a ${cdSize}-byte central directory`,
      { offset: cdOffset },
    );
  if (entries === 0)
    throw new ZipFormatError("EmptyArchive", "archive has no entries", { offset: eocdOffset });

  const cd = yield { offset: cdOffset, length: cdSize };
  const { list, records, prefix, ordered } = parseCentral(
    cd,
    cdOffset,
    cdSize,
    entries,
    o.allowNoPrefix,
    o.allowEncrypted,
  );
  // Overlap: sort by local header offset; each entry's minimal extent must end before the next begins.
  const sorted = ordered ? list : [...list].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  for (let k = 0; k < sorted.length; k++) {
    const a = sorted[k] as ZipEntry;
    const next = sorted[k + 1];
    a._limit = next ? next.localHeaderOffset : cdOffset;
    const minEnd = a.localHeaderOffset + 30 + a.nameLength + a.compressedSize;
    if (next && minEnd > next.localHeaderOffset) {
      throw new ZipFormatError(
        "OverlappingEntries",
        `entries ${a.fullName} (local header at ${a.localHeaderOffset}, ${a.compressedSize} bytes) and ${next.fullName} (at ${next.localHeaderOffset}) overlap`,
        { record: next.fullName, offset: next.localHeaderOffset },
      );
    }
  }
  return { entries: list, prefix, centralOffset: cdOffset, centralSize: cdSize, zip64, comment, records };
}

/**
 * The central directory's entries (a plain function, not part of the generator above: V8 optimizes
 * a loop over 50,000 entries far better outside a generator).
 */
function parseCentral(
  cd: Uint8Array,
  cdOffset: number,
  cdSize: number,
  entries: number,
  allowNoPrefix: boolean,
  allowEncrypted: boolean,
): { list: ZipEntry[]; records: Map<string, ZipEntry>; prefix: string; ordered: boolean } {
  const list: ZipEntry[] = [];
  // made once the prefix is known (after the first entry)
  let table: EntryTable | null = null;
  // Names of entries outside `records` (other folders, directories), for the duplicate check;
  // duplicates among records are found in `records` itself.
  const others = new Set<string>();
  const records = new Map<string, ZipEntry>();
  let under = "";
  let prefix = "";
  // the first entry's raw prefix bytes (`<prefix>/`) and its UTF-8 flag: a later entry with the
  // same flag whose name starts with the same bytes is under the prefix, and only the rest of its
  // name is decoded
  let underEnd = 0;
  let underUtf8 = 0;
  let ordered = true;
  let lastLocal = -1;
  let p = 0;
  for (let i = 0; i < entries; i++) {
    const at = cdOffset + p;
    if (p + 46 > cdSize || u32(cd, p) !== SIG_CENTRAL)
      throw new ZipFormatError(
        "CentralDirectoryInvalid",
        `central directory entry ${i} at offset ${at}: no signature`,
        { offset: at },
      );
    const flags = u16(cd, p + 8);
    const method = u16(cd, p + 10);
    let csize = u32(cd, p + 20);
    let usize = u32(cd, p + 24);
    const nameLen = u16(cd, p + 28);
    const extraLen = u16(cd, p + 30);
    const commentLen = u16(cd, p + 32);
    const diskStart = u16(cd, p + 34);
    let lho = u32(cd, p + 42);
    const varEnd = p + 46 + nameLen + extraLen + commentLen;
    if (varEnd > cdSize)
      throw new ZipFormatError(
        "CentralDirectoryInvalid",
        `central directory entry ${i} at offset ${at} runs past the central directory end (${cdOffset + cdSize})`,
        { offset: at },
      );
    const nameAt = p + 46;
    const utf8Name = flags & 0x800;
    let name: string;
    let inPrefix: boolean;
    let fullName: string | null = null;
    if (i > 0 && utf8Name === underUtf8 && nameLen >= underEnd && sameBytes(cd, 46, cd, nameAt, underEnd)) {
      inPrefix = true;
      name = decodeName(cd, nameAt + underEnd, nameAt + nameLen, utf8Name);
    } else {
      fullName = decodeName(cd, nameAt, nameAt + nameLen, utf8Name);
      inPrefix = i > 0 && fullName.startsWith(under);
      name = inPrefix ? fullName.slice(under.length) : fullName;
    }
    if (i === 0 && fullName !== null) {
      // torch's rule: the prefix is the first entry's text before its first "/"
      const slash = fullName.indexOf("/");
      if (slash < 0 && allowNoPrefix) {
        // a plain zip (scanners read .npz files and other archives): every entry is a record
        prefix = "";
        under = "";
        underEnd = 0;
        underUtf8 = utf8Name;
        inPrefix = true;
        name = fullName;
      } else if (slash < 0) {
        throw new ZipFormatError(
          "NoPrefix",
          `first entry ${JSON.stringify(fullName)} is not in a folder: no archive prefix`,
          {
            record: fullName,
            offset: at,
          },
        );
      } else {
        prefix = fullName.slice(0, slash);
        under = `${prefix}/`;
        underEnd = utf8Name ? utf8Bytes(under).length : under.length;
        underUtf8 = utf8Name;
        inPrefix = true;
        name = fullName.slice(under.length);
      }
    }
    let diskNo = diskStart;
    if (csize === U32 || usize === U32 || lho === U32 || diskStart === U16) {
      let q = p + 46 + nameLen;
      const xe = q + extraLen;
      let done = false;
      while (q + 4 <= xe) {
        const id = u16(cd, q);
        const len = u16(cd, q + 2);
        if (q + 4 + len > xe) break;
        if (id === 1) {
          let r = q + 4;
          const need =
            (usize === U32 ? 8 : 0) +
            (csize === U32 ? 8 : 0) +
            (lho === U32 ? 8 : 0) +
            (diskStart === U16 ? 4 : 0);
          if (len < need)
            throw new ZipFormatError(
              "Zip64Invalid",
              `entry ${fullName ?? under + name}: zip64 extra field of ${len} bytes, ${need} needed`,
              { record: fullName ?? under + name, offset: at },
            );
          if (usize === U32) {
            usize = u64(cd, r, `entry ${fullName ?? under + name} zip64 size`, cdOffset + r);
            r += 8;
          }
          if (csize === U32) {
            csize = u64(cd, r, `entry ${fullName ?? under + name} zip64 compressed size`, cdOffset + r);
            r += 8;
          }
          if (lho === U32) {
            lho = u64(cd, r, `entry ${fullName ?? under + name} zip64 offset`, cdOffset + r);
            r += 8;
          }
          if (diskStart === U16) diskNo = u32(cd, r);
          done = true;
          break;
        }
        q += 4 + len;
      }
      if (!done && !(diskStart === U16 && csize !== U32 && usize !== U32 && lho !== U32)) {
        throw new ZipFormatError(
          "Zip64Invalid",
          `entry ${fullName ?? under + name}: 32-bit fields are 0xFFFFFFFF but no zip64 extra field follows`,
          { record: fullName ?? under + name, offset: at },
        );
      }
    }
    if (diskNo !== 0)
      throw new ZipUnsupportedError(
        "MultiDisk",
        `entry ${fullName ?? under + name} starts on disk ${diskNo}`,
        {
          record: fullName ?? under + name,
          offset: at,
        },
      );
    if (flags & 0x41 && !allowEncrypted)
      throw new ZipUnsupportedError(
        "Encrypted",
        `entry ${fullName ?? under + name} is encrypted (flags 0x${flags.toString(16)})`,
        { record: fullName ?? under + name, offset: at },
      );
    if (method !== 0 && method !== 8)
      throw new ZipUnsupportedError(
        "UnsupportedMethod",
        `entry ${fullName ?? under + name} uses compression method ${method} (only 0 stored and 8 deflated are supported)`,
        { record: fullName ?? under + name, offset: at },
      );
    if (method === 0 && csize !== usize)
      throw new ZipFormatError(
        "CentralDirectoryInvalid",
        `stored entry ${fullName ?? under + name} has compressed size ${csize} != size ${usize}`,
        { record: fullName ?? under + name, offset: at },
      );
    if (lho + 30 + nameLen + csize > cdOffset) {
      throw new ZipFormatError(
        "EntryOutOfBounds",
        `entry ${fullName ?? under + name}: local header at ${lho} + ${30 + nameLen} + ${csize} data bytes runs past the central directory at ${cdOffset}`,
        { record: fullName ?? under + name, offset: lho },
      );
    }
    const isDir = name.endsWith("/") || (inPrefix && name === "");
    if (inPrefix && !isDir ? records.has(name) : others.has(fullName ?? under + name))
      throw new ZipFormatError(
        "DuplicateName",
        `entry name ${fullName ?? under + name} appears twice in the central directory`,
        { record: fullName ?? under + name, offset: at },
      );
    table ??= new EntryTable(cd, under, entries);
    table.at[i] = p;
    table.compressedSize[i] = csize;
    table.uncompressedSize[i] = usize;
    table.localHeaderOffset[i] = lho;
    const entry = new ZipEntry(i, name, table, inPrefix ? null : (fullName ?? name));
    list.push(entry);
    // built here, while the entry is fresh (a second pass over 50,000 entries costs several times more)
    if (inPrefix && !isDir) records.set(name, entry);
    else others.add(fullName ?? under + name);
    if (lho < lastLocal) ordered = false;
    lastLocal = lho;
    p = varEnd;
  }
  if (p !== cdSize)
    throw new ZipFormatError(
      "CentralDirectoryInvalid",
      `central directory has ${cdSize - p} trailing bytes after ${entries} entries`,
      { offset: cdOffset + p },
    );
  return { list, records, prefix, ordered };
}

/** Read and check an entry's local header; sets its data offset. */
function* resolveLocal(en: ZipEntry): Op<number> {
  if (en._dataOffset !== undefined) return en._dataOffset;
  const h = yield { offset: en.localHeaderOffset, length: 30 + en.nameLength };
  return checkLocal(en, h);
}

/** {@link resolveLocal} without a generator, for sources with `readSync` (hot when loading many records). */
function resolveLocalSync(en: ZipEntry, src: ByteSource): number {
  if (!src.readSync) throw new ZipFormatError("SyncUnsupported", "the byte source has no readSync");
  if (en._dataOffset !== undefined) return en._dataOffset;
  if (src instanceof BufferSource) {
    // in memory: checked where it lies, without a view object per header
    checkRange(en.localHeaderOffset, 30 + en.nameLength, src.byteLength);
    return checkLocal(en, src.bytes, en.localHeaderOffset);
  }
  return checkLocal(en, readSyncChecked(src, en.localHeaderOffset, 30 + en.nameLength));
}

/** Check an entry's local header `h` (its fixed part and name) and set its data offset. */
function checkLocal(en: ZipEntry, h: Uint8Array, base = 0): number {
  const n = en.nameLength;
  if (u32(h, base) !== SIG_LOCAL)
    throw new ZipFormatError(
      "LocalHeaderMismatch",
      `entry ${en.fullName}: no local header signature at offset ${en.localHeaderOffset}`,
      localWhere(en),
    );
  const method = u16(h, base + 8);
  const flags = u16(h, base + 6);
  const nameLen = u16(h, base + 26);
  const extraLen = u16(h, base + 28);
  if (nameLen !== n || !sameBytes(h, base + 30, en._nameSource, en._nameAt, n)) {
    throw new ZipFormatError(
      "LocalHeaderMismatch",
      `entry ${en.fullName}: local header at ${en.localHeaderOffset} names a different file (${nameLen}-byte name)`,
      localWhere(en),
    );
  }
  if (method !== en.method)
    throw new ZipFormatError(
      "LocalHeaderMismatch",
      `entry ${en.fullName}: local header method ${method} != central directory method ${en.method}`,
      localWhere(en),
    );
  if ((flags | en.flags) & 0x41)
    throw new ZipUnsupportedError(
      "Encrypted",
      `entry ${en.fullName}: ${flags & 0x41 ? "local header" : "central directory"} marks it encrypted (flags 0x${(flags & 0x41 ? flags : en.flags).toString(16)})`,
      localWhere(en),
    );
  const dataOffset = en.localHeaderOffset + 30 + n + extraLen;
  if (dataOffset + en.compressedSize > en._limit) {
    throw new ZipFormatError(
      "OverlappingEntries",
      `entry ${en.fullName}: data at ${dataOffset} + ${en.compressedSize} bytes runs past ${en._limit} (the next entry or the central directory)`,
      { record: en.fullName, offset: dataOffset },
    );
  }
  en._dataOffset = dataOffset;
  return dataOffset;
}

/**
 * Where a lenient reader finds an entry's data: after the local header's own name and extra
 * field, whatever they say; null when there is no local header there or the data would run past
 * the entry's region.
 */
function lenientDataOffset(en: ZipEntry, src: ByteSource): number | null {
  const at = en.localHeaderOffset;
  if (at + 30 > src.byteLength) return null;
  const h = readSyncChecked(src, at, 30);
  if (u32(h, 0) !== SIG_LOCAL) return null;
  const dataOffset = at + 30 + u16(h, 26) + u16(h, 28);
  return dataOffset + en.compressedSize > en._limit ? null : dataOffset;
}

function localWhere(en: ZipEntry): { record: string; offset: number } {
  return { record: en.fullName, offset: en.localHeaderOffset };
}

/** One synchronous read, checked as `runSync` checks each of its reads (no closure: hot per record). */
function readSyncChecked(src: ByteSource, offset: number, length: number): Uint8Array {
  if (!src.readSync) throw new ZipFormatError("SyncUnsupported", "the byte source has no readSync");
  checkRange(offset, length, src.byteLength);
  let b: Uint8Array;
  try {
    b = src.readSync(offset, length);
  } catch (e) {
    throw readFailed(e, offset, length);
  }
  return checkLength(b, offset, length);
}

function runSync<T>(op: Op<T>, src: ByteSource): T {
  const readSync = src.readSync?.bind(src);
  if (!readSync) throw new ZipFormatError("SyncUnsupported", "the byte source has no readSync");
  let r = op.next();
  while (!r.done) {
    const { offset, length } = r.value;
    r = op.next(checkedRead(() => readSync(offset, length), offset, length, src.byteLength));
  }
  return r.value;
}

async function runAsync<T>(op: Op<T>, src: ByteSource): Promise<T> {
  let r = op.next();
  while (!r.done) {
    const { offset, length } = r.value;
    checkRange(offset, length, src.byteLength);
    let bytes: Uint8Array;
    try {
      bytes = await src.read(offset, length);
    } catch (e) {
      throw readFailed(e, offset, length);
    }
    r = op.next(checkLength(bytes, offset, length));
  }
  return r.value;
}

function checkedRead(fn: () => Uint8Array, offset: number, length: number, size: number): Uint8Array {
  checkRange(offset, length, size);
  let b: Uint8Array;
  try {
    b = fn();
  } catch (e) {
    throw readFailed(e, offset, length);
  }
  return checkLength(b, offset, length);
}

function checkRange(offset: number, length: number, size: number): void {
  if (offset < 0 || length < 0 || offset + length > size) {
    throw new ZipFormatError(
      "EntryOutOfBounds",
      `read of ${length} bytes at offset ${offset} is outside the ${size}-byte file`,
      { offset },
    );
  }
}

function readFailed(e: unknown, offset: number, length: number): ZipFormatError {
  return new ZipFormatError(
    "EntryOutOfBounds",
    `read of ${length} bytes at offset ${offset} failed: ${(e as Error).message}`,
    { offset, cause: e },
  );
}

function checkLength(b: Uint8Array, offset: number, length: number): Uint8Array {
  if (b.length !== length)
    throw new ZipFormatError(
      "EntryOutOfBounds",
      `read of ${length} bytes at offset ${offset} returned ${b.length}`,
      { offset },
    );
  return b;
}

/**
 * Reads a zip archive through a {@link ByteSource}: end records (zip64 included), central directory,
 * records under the archive prefix. Opening reads only the file's tail and the central directory;
 * local headers are read when a record is first read (or at open with `readLocalHeaders`).
 */
export class ZipReader {
  /** The archive prefix: text before the first `/` of the first central-directory entry. */
  readonly prefix: string;
  /** Every entry, in central-directory order. */
  readonly entries: readonly ZipEntry[];
  /** Entries under `<prefix>/`, keyed by the name under the prefix (case-sensitive), in central-directory order. */
  readonly records: ReadonlyMap<string, ZipEntry>;
  /** Offset and size of the central directory. */
  readonly centralDirectory: ByteRange;
  /** Whether the archive has zip64 end records. */
  readonly zip64: boolean;
  /** The archive comment (raw bytes). */
  readonly comment: Uint8Array;
  private readonly opts: Required<Omit<ZipReaderOptions, "crc32">>;
  private readonly crcFn: Crc32Function;

  private constructor(
    readonly source: ByteSource,
    parsed: Parsed,
    opts: Required<Omit<ZipReaderOptions, "crc32">>,
    crcFn: Crc32Function,
  ) {
    this.prefix = parsed.prefix;
    this.entries = parsed.entries;
    this.records = parsed.records;
    this.centralDirectory = { offset: parsed.centralOffset, length: parsed.centralSize };
    this.zip64 = parsed.zip64;
    this.comment = parsed.comment;
    this.opts = opts;
    this.crcFn = crcFn;
  }

  private static options(o: ZipReaderOptions): Required<Omit<ZipReaderOptions, "crc32">> {
    return {
      checkCrc: o.checkCrc ?? true,
      maxInflatedSize: o.maxInflatedSize ?? DEFAULTS.maxInflatedSize,
      maxCompressionRatio: o.maxCompressionRatio ?? DEFAULTS.maxCompressionRatio,
      maxEntries: o.maxEntries ?? DEFAULTS.maxEntries,
      maxCentralDirectorySize: o.maxCentralDirectorySize ?? DEFAULTS.maxCentralDirectorySize,
      readLocalHeaders: o.readLocalHeaders ?? false,
      allowNoPrefix: o.allowNoPrefix ?? false,
      allowEncrypted: o.allowEncrypted ?? false,
    };
  }

  /** Open an archive. */
  static async open(source: ByteSource, options: ZipReaderOptions = {}): Promise<ZipReader> {
    const o = ZipReader.options(options);
    const parsed = await runAsync(parseArchive(source.byteLength, o), source);
    const r = new ZipReader(source, parsed, o, options.crc32 ?? defaultCrc32);
    if (o.readLocalHeaders) for (const e of r.entries) await runAsync(resolveLocal(e), source);
    return r;
  }

  /** Open an archive synchronously (the source must implement `readSync`). */
  static openSync(source: ByteSource, options: ZipReaderOptions = {}): ZipReader {
    const o = ZipReader.options(options);
    const parsed = runSync(parseArchive(source.byteLength, o), source);
    const r = new ZipReader(source, parsed, o, options.crc32 ?? defaultCrc32);
    if (o.readLocalHeaders) for (const e of r.entries) runSync(resolveLocal(e), source);
    return r;
  }

  /** Whether a record `name` (under the prefix) exists. Case-sensitive. */
  has(name: string): boolean {
    return this.records.has(name);
  }

  /** The entry of record `name` (under the prefix). Throws {@link ZipNotFoundError}. */
  entry(name: string): ZipEntry {
    const e = this.records.get(name);
    if (!e)
      throw new ZipNotFoundError(
        "RecordNotFound",
        `no record ${JSON.stringify(name)} under prefix ${this.prefix}/`,
        { record: name },
      );
    return e;
  }

  /** Byte range of a stored record's data in the file, for lazy or zero-copy access. */
  async dataRange(name: string): Promise<ByteRange> {
    const e = this.storedEntry(name);
    const offset = await runAsync(resolveLocal(e), this.source);
    return { offset, length: e.compressedSize };
  }

  /** Synchronous {@link dataRange}. */
  dataRangeSync(name: string): ByteRange {
    const e = this.storedEntry(name);
    const offset = resolveLocalSync(e, this.source);
    return { offset, length: e.compressedSize };
  }

  private storedEntry(name: string): ZipEntry {
    const e = this.entry(name);
    if (e.method !== 0)
      throw new ZipUnsupportedError(
        "NotStored",
        `record ${name} is compressed (method ${e.method}): it has no byte range`,
        { record: name, offset: e.localHeaderOffset },
      );
    return e;
  }

  /**
   * The bytes of record `name`. Stored records come straight from the source (a zero-copy view when
   * the source is in memory); deflated ones are inflated within the limits. CRC-checked by default.
   */
  async read(name: string): Promise<Uint8Array> {
    const e = this.entry(name);
    const offset = await runAsync(resolveLocal(e), this.source);
    this.checkInflateLimits(e);
    const raw = await runAsync(readOp(offset, e.compressedSize), this.source);
    return this.finish(e, raw);
  }

  /** Synchronous {@link read}. */
  readSync(name: string): Uint8Array {
    return this.readEntrySync(this.entry(name));
  }

  /** {@link readSync} of an entry already looked up (one of this reader's `entries`). */
  readEntrySync(e: ZipEntry): Uint8Array {
    const offset = resolveLocalSync(e, this.source);
    this.checkInflateLimits(e);
    const raw = readSyncChecked(this.source, offset, e.compressedSize);
    return this.finish(e, raw);
  }

  /**
   * For scanners: the bytes of entry `e` as a lenient reader (Python's `zipfile`, picklescan) takes
   * them. The CRC is not checked, and when the local header disagrees with the central directory
   * (another name or method) or marks the entry encrypted, the data after the local header's own
   * name and extra field is read anyway, the refusal given as `irregular` (our reader, like torch's
   * for encrypted records, refuses such an entry). Bounds, overlap and inflate limits still apply;
   * when the lenient read fails too, the first error is thrown.
   */
  readEntryForScanSync(e: ZipEntry): { bytes: Uint8Array; irregular: ZipError | null } {
    let offset: number;
    let irregular: ZipError | null = null;
    try {
      offset = resolveLocalSync(e, this.source);
    } catch (err) {
      if (!(err instanceof ZipError)) throw err;
      const lenient = lenientDataOffset(e, this.source);
      if (lenient === null) throw err;
      offset = lenient;
      irregular = err;
    }
    this.checkInflateLimits(e);
    const raw = readSyncChecked(this.source, offset, e.compressedSize);
    return { bytes: e.method === 8 ? inflateBounded(raw, e) : raw, irregular };
  }

  private checkInflateLimits(e: ZipEntry): void {
    if (e.method !== 8) return;
    const where = { record: e.name, offset: e.localHeaderOffset };
    if (e.uncompressedSize > this.opts.maxInflatedSize) {
      throw new ZipLimitError(
        "InflateLimit",
        `record ${e.name} inflates to ${e.uncompressedSize} bytes, over maxInflatedSize ${this.opts.maxInflatedSize}`,
        where,
      );
    }
    if (
      e.uncompressedSize > Math.max(e.compressedSize, 1) * this.opts.maxCompressionRatio &&
      e.uncompressedSize > 4096
    ) {
      throw new ZipLimitError(
        "InflateLimit",
        `record ${e.name}: ${e.compressedSize} bytes inflating to ${e.uncompressedSize} exceed the ratio limit ${this.opts.maxCompressionRatio}`,
        where,
      );
    }
  }

  private finish(e: ZipEntry, raw: Uint8Array): Uint8Array {
    const data = e.method === 8 ? inflateBounded(raw, e) : raw;
    if (this.opts.checkCrc && e.crc32 !== 0) {
      const c = this.crcFn(data);
      if (c !== e.crc32) {
        throw new ZipIntegrityError(
          "CrcMismatch",
          `record ${e.name}: CRC-32 0x${c.toString(16).padStart(8, "0")} != 0x${e.crc32.toString(16).padStart(8, "0")} stored`,
          { record: e.name, offset: e._dataOffset ?? e.localHeaderOffset },
        );
      }
    }
    return data;
  }
}

function* readOp(offset: number, length: number): Op<Uint8Array> {
  return yield { offset, length };
}

/** Inflate, never producing more than the declared size (input fed in small slices). */
function inflateBounded(raw: Uint8Array, e: ZipEntry): Uint8Array {
  const want = e.uncompressedSize;
  const out = new Uint8Array(want);
  let got = 0;
  let over = false;
  let ended = false;
  const inf = new Inflate((chunk, final) => {
    if (got + chunk.length > want) {
      over = true;
    } else {
      out.set(chunk, got);
    }
    got += chunk.length;
    if (final) ended = true;
  });
  const STEP = 16384;
  const where = { record: e.name, offset: e._dataOffset ?? e.localHeaderOffset };
  try {
    for (let p = 0; p < raw.length && !over && !ended; p += STEP) {
      const end = Math.min(raw.length, p + STEP);
      inf.push(raw.subarray(p, end), end === raw.length);
    }
    if (raw.length === 0) inf.push(raw, true);
  } catch (err) {
    if (err instanceof ZipError) throw err;
    throw new ZipIntegrityError(
      "InflateFailed",
      `record ${e.name}: invalid deflate data (${(err as Error).message})`,
      { ...where, cause: err },
    );
  }
  if (over)
    throw new ZipIntegrityError(
      "SizeMismatch",
      `record ${e.name} inflates to more than its declared ${want} bytes`,
      where,
    );
  if (!ended || got !== want)
    throw new ZipIntegrityError(
      "SizeMismatch",
      `record ${e.name} inflated to ${got} bytes, ${want} declared`,
      where,
    );
  return out;
}
