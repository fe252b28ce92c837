import type { PickleSection } from "@pt/pickle";
import type { ZipReader } from "@pt/zip-format";

/** numpy files that carry pickles: `.npy` object arrays and `.npz` archives of them (for the scanner). */

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

/**
 * The pickle of a `.npy` file's object array (`descr` `'|O'`: numpy writes the array with
 * `pickle.dump`, read back by `numpy.load(allow_pickle=True)`), or null for other arrays. The
 * header is checked against the bytes that exist.
 */
export function npyPickleSection(
  bytes: Uint8Array,
  name: string,
  fileOffset: number | null,
): PickleSection | null {
  if (bytes.length < 10 || !NPY_MAGIC.every((b, i) => bytes[i] === b)) return null;
  const major = bytes[6] as number;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) return null;
  const headerLen = lenBytes === 2 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataAt = 8 + lenBytes + headerLen;
  if (dataAt > bytes.length) return null;
  let header = "";
  for (let i = 8 + lenBytes; i < dataAt; i++) header += String.fromCharCode(bytes[i] as number);
  // 'descr': '|O' (or '<O', 'O'), possibly inside a structured dtype: any object field pickles
  if (
    !/'descr'\s*:\s*['"][|<>=]?O['"]/.test(header) &&
    !/\(\s*['"][^'"]*['"]\s*,\s*['"][|<>=]?O['"]/.test(header)
  )
    return null;
  return {
    name,
    bytes,
    start: dataAt,
    fileOffset,
    untilEof: false,
    role: "unpickled by numpy.load(allow_pickle=True)",
    loaded: false,
  };
}

/** The object-array pickles of the `.npy` records of a zip (`.npz`) archive. */
export function npzPickleSections(reader: ZipReader, maxSize = 64 << 20): PickleSection[] {
  const out: PickleSection[] = [];
  for (const e of reader.entries) {
    if (!e.fullName.endsWith(".npy") || e.uncompressedSize > maxSize) continue;
    let bytes: Uint8Array;
    try {
      bytes = reader.readEntryForScanSync(e).bytes;
    } catch {
      continue;
    }
    const s = npyPickleSection(bytes, e.fullName, null);
    if (s) out.push(s);
  }
  return out;
}
