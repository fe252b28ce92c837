/**
 * The pickles of a zip archive, for scanners: every record torch (or TorchScript) unpickles, plus
 * any other record that parses as a whole pickle (reported as not read by torch). Built on the
 * hardened `ZipReader` (its limits, CRC and local-header checks apply to every read).
 */
import { type PickleSection, scanPickle } from "@pt/pickle";
import type { ZipEntry, ZipReader } from "../zip/reader.js";
import { torchScriptMarkers } from "./load.js";

/** What reads a zip record. */
export const ZIP_ROLES = Object.freeze({
  torchLoad: "unpickled by torch.load",
  torchScript: "unpickled by torch.jit.load (TorchScript)",
  notRead: "not read by torch",
});

/** Options of `zipPickleSections`. */
export interface ZipSectionOptions {
  /** Records torch does not read are tried as pickles up to this size (default 64 MiB). */
  readonly maxOtherSize?: number;
  /** Include the records torch reads (default `true`); `false`: only the others (a loader that has read those itself). */
  readonly torchRecords?: boolean;
}

/** The name of a storage record under a torch archive's prefix (torch.save names them by number). */
const STORAGE_RECORD = /^data\/\d+$/;

/** The role of record `name` (under the prefix) in a plain checkpoint or a TorchScript archive, or null. */
function torchRole(name: string, torchscript: boolean): string | null {
  if (name === "data.pkl") return torchscript ? ZIP_ROLES.torchScript : ZIP_ROLES.torchLoad;
  if (!torchscript) return null;
  if (name === "constants.pkl" || name === "bytecode.pkl" || name.endsWith(".debug_pkl"))
    return ZIP_ROLES.torchScript;
  return null;
}

/**
 * The pickle sections of an opened zip archive (synchronous: the reader's source needs
 * `readSync`). Records torch reads are read (errors propagate: a record torch reads that cannot
 * be read is not a file to call safe); other records are tried when small enough and kept when
 * they hold whole pickles up to their end, except a torch archive's storage records
 * (`data/<number>`: tensor bytes, read raw and never unpickled; skipping them keeps the check
 * cheap for a loader, one that `load` and `scan` share). A record whose local header disagrees with the central
 * directory or marks it encrypted is read as a lenient reader would (`readEntryForScanSync`) and
 * kept, with the refusal as its `error`, when it holds pickles: a scanner never calls such a file
 * safe. Section names are record names under the prefix (full names for entries outside it);
 * `fileOffset` is set for stored records read regularly.
 */
export function zipPickleSections(reader: ZipReader, options: ZipSectionOptions = {}): PickleSection[] {
  const maxOther = options.maxOtherSize ?? 64 << 20;
  const torchRecords = options.torchRecords !== false;
  const torchscript = torchScriptMarkers(reader.records).length > 0;
  const storages = reader.prefix !== "" && (reader.records.has("data.pkl") || torchscript);
  const out: PickleSection[] = [];
  const inPrefix = new Set<ZipEntry>(reader.records.values());
  for (const e of reader.entries) {
    const under = inPrefix.has(e);
    const name = under ? e.name : e.fullName;
    if (name.endsWith("/")) continue;
    // a plain zip (opened with allowNoPrefix) is no torch archive: torch reads none of it
    const role = under && reader.prefix !== "" ? torchRole(e.name, torchscript) : null;
    const fileOffset = (): number | null =>
      e.method === 0 && under ? reader.dataRangeSync(e.name).offset : null;
    if (role !== null) {
      if (!torchRecords) continue;
      let bytes: Uint8Array;
      try {
        bytes = reader.readEntrySync(e);
      } catch (err) {
        // a record torch reads that our reader refuses: the refusal stands unless its bytes,
        // read leniently, hold pickles (then they are scanned, and the refusal reported)
        const lenient = irregularPickles(reader, e);
        if (lenient === null) throw err;
        out.push({
          name,
          bytes: lenient.bytes,
          start: 0,
          fileOffset: null,
          untilEof: false,
          role,
          loaded: true,
          error: lenient.irregular,
        });
        continue;
      }
      out.push({ name, bytes, start: 0, fileOffset: fileOffset(), untilEof: false, role, loaded: true });
      continue;
    }
    if (e.uncompressedSize === 0 || e.uncompressedSize > maxOther) continue;
    // a torch archive's storage records (data/<number>): tensor bytes torch reads raw, never unpickles
    if (storages && under && STORAGE_RECORD.test(e.name)) continue;
    if (e.method === 0 && under && !endsLookLikePickle(reader, e)) continue;
    let read: { bytes: Uint8Array; irregular: Error | null };
    try {
      read = reader.readEntryForScanSync(e);
    } catch {
      continue; // torch never reads it; a record no reader can delimit holds no pickle anyone loads
    }
    if (!looksLikePickles(read.bytes)) continue;
    out.push({
      name,
      bytes: read.bytes,
      start: 0,
      fileOffset: read.irregular === null ? fileOffset() : null,
      untilEof: true,
      role: ZIP_ROLES.notRead,
      loaded: false,
      ...(read.irregular === null ? {} : { error: read.irregular }),
    });
  }
  // data.pkl first (what torch reads first), then the others in central-directory order
  const first = out.findIndex((s) => s.name === "data.pkl");
  if (first > 0) out.unshift(...out.splice(first, 1));
  return out;
}

/** A record read leniently despite a refusal, when it holds pickles (else null). */
function irregularPickles(reader: ZipReader, e: ZipEntry): { bytes: Uint8Array; irregular: Error } | null {
  try {
    const r = reader.readEntryForScanSync(e);
    return r.irregular !== null && looksLikePickles(r.bytes)
      ? { bytes: r.bytes, irregular: r.irregular }
      : null;
  } catch {
    return null;
  }
}

/** For a stored record: whether its first or last byte could be a pickle's (two 1-byte reads instead of the whole record). */
function endsLookLikePickle(reader: ZipReader, e: ZipEntry): boolean {
  const readSync = reader.source.readSync?.bind(reader.source);
  if (!readSync) return true;
  try {
    const r = reader.dataRangeSync(e.name);
    if (r.length < 2) return false;
    return readSync(r.offset, 1)[0] === 0x80 || readSync(r.offset + r.length - 1, 1)[0] === 0x2e;
  } catch {
    return true; // let the full read report it
  }
}

/** Whether `bytes` parse as one or more whole pickles up to their end. */
export function looksLikePickles(bytes: Uint8Array): boolean {
  if (bytes.length < 2) return false;
  if (bytes[0] !== 0x80 && bytes[bytes.length - 1] !== 0x2e) return false;
  const r = scanPickle(bytes, { untilEof: true });
  return r.error === null && r.pickles.length > 0 && (r.pickles.at(-1)?.end ?? 0) === bytes.length;
}
