/**
 * The pickles of a legacy file, for scanners, found with this package's own readers: the five
 * pickles of a legacy stream (magic number, protocol version, sys_info, the object, the storage
 * keys) and the pickles of a tar archive's members (`pickle`; `storages` and `tensors`, where
 * pickles and raw fields alternate; `sys_info`, which torch never reads). Nothing is unpickled
 * but the counts of the tar members' records (plain ints).
 */
import { genops, loads, type PickleError, type PickleSection, scanPickle, TruncatedError } from "@pt/pickle";
import { dtypeFromStorageClass, type Op } from "@pt/storage";
import { LegacyTruncatedError } from "./errors.js";
import { asByteSource, type LegacySource, type Prefix, runAsync, runSync, startPrefix } from "./io.js";
import { tarMembers } from "./tar.js";

/** What reads a legacy file's pickles. */
export const LEGACY_ROLES = Object.freeze({
  torchLoad: "unpickled by torch.load",
  notRead: "not read by torch",
});

const STREAM = ["magic_number", "protocol_version", "sys_info", "object", "storage_keys"] as const;

/** Where the pickle at `start` ends (reading more of the file as needed), or the error that ends it. */
function* pickleEnd(prefix: Prefix, start: number): Op<{ end: number } | { error: PickleError }> {
  for (;;) {
    try {
      // framing is the scanner's business: find the end as CPython's C unpickler would
      const g = genops(prefix.buf, start, { onFrameError: () => undefined });
      for (;;) {
        const r = g.next();
        if (r.done) return { end: r.value };
      }
    } catch (e) {
      if (e instanceof TruncatedError && !prefix.complete) {
        yield* prefix.grow(prefix.buf.length - e.available + e.needed);
        continue;
      }
      return { error: e as PickleError };
    }
  }
}

function* streamSections(src: LegacySource): Op<PickleSection[]> {
  const prefix = yield* startPrefix(src);
  const out: PickleSection[] = [];
  let at = 0;
  for (const name of STREAM) {
    const r = yield* pickleEnd(prefix, at);
    const base = {
      name,
      start: 0,
      fileOffset: at,
      untilEof: false,
      role: LEGACY_ROLES.torchLoad,
      loaded: true,
    };
    if ("error" in r) {
      out.push({ ...base, bytes: prefix.buf.subarray(at), error: r.error });
      break;
    }
    out.push({ ...base, bytes: prefix.buf.subarray(at, r.end) });
    at = r.end;
  }
  return out;
}

/** A count pickled as a plain int, or null. */
function count(bytes: Uint8Array, at: number): number | null {
  try {
    const v = loads(bytes, { offset: at });
    return typeof v === "number" && Number.isSafeInteger(v) && v >= 0 && v <= 1_000_000 ? v : null;
  } catch {
    return null;
  }
}

function* tarSections(src: LegacySource): Op<PickleSection[]> {
  const bs = asByteSource(src);
  const members = yield* tarMembers(bs.byteLength);
  const out: PickleSection[] = [];
  for (const m of members) {
    if (m.type === "5" || m.type === "D") continue;
    if (!["sys_info", "pickle", "storages", "tensors"].includes(m.name)) continue;
    const [data] = m.size > 0 ? yield [{ offset: m.offset, length: m.size }] : [new Uint8Array(0)];
    const bytes = data as Uint8Array;
    const role = m.name === "sys_info" ? LEGACY_ROLES.notRead : LEGACY_ROLES.torchLoad;
    const section = (i: number, start: number, error?: Error): PickleSection => ({
      name: i < 0 ? `tar:${m.name}` : `tar:${m.name}[${i}]`,
      bytes,
      start,
      fileOffset: m.offset,
      untilEof: false,
      role,
      loaded: m.name !== "sys_info",
      ...(error ? { error } : {}),
    });
    if (m.name === "sys_info" || m.name === "pickle") {
      out.push(section(-1, 0));
      continue;
    }
    // storages: n, then n × (pickle (key, location, storage_type), int64 count, raw data), then the views;
    // tensors: n, then n × (pickle (key, storage_id, type), int32 ndim, 4 bytes, 16·ndim, int64 offset).
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const stop = (i: number, at: number, why: string) =>
      section(
        i,
        at,
        new LegacyTruncatedError(`tar member '${m.name}': ${why} at offset ${m.offset + at}`, {
          record: m.name === "storages" ? "tar:storages" : "tar:tensors",
          offset: m.offset + at,
        }),
      );
    let at = 0;
    out.push(section(0, 0));
    const n = count(bytes, 0);
    const first = scanPickle(bytes);
    if (n === null || first.error) {
      out[out.length - 1] = stop(0, 0, "the record count is not a plain int");
      continue;
    }
    at = first.pickles[0]?.end ?? 0;
    let ok = true;
    for (let i = 1; i <= n && ok; i++) {
      const r = scanPickle(bytes, { offset: at });
      out.push(section(i, at));
      const end = r.pickles[0]?.end;
      if (r.error || end === undefined) {
        ok = false;
        break;
      }
      if (m.name === "storages") {
        const cls = r.globals.at(-1);
        let itemSize = 0;
        try {
          itemSize =
            cls?.module && cls.name ? dtypeFromStorageClass(`${cls.module}.${cls.name}`).itemSize : 0;
        } catch {
          itemSize = 0;
        }
        if (itemSize === 0 || end + 8 > bytes.length) {
          out.push(stop(i, end, "a storage record cannot be delimited"));
          ok = false;
          break;
        }
        const c = Number(view.getBigInt64(end, true));
        if (!(c >= 0) || end + 8 + c * itemSize > bytes.length) {
          out.push(stop(i, end, `a storage of ${c} elements does not fit`));
          ok = false;
          break;
        }
        at = end + 8 + c * itemSize;
      } else {
        if (end + 8 > bytes.length) {
          out.push(stop(i, end, "a tensor record is cut short"));
          ok = false;
          break;
        }
        const ndim = view.getInt32(end, true);
        const next = end + 8 + 16 * ndim + 8;
        if (ndim < 0 || next > bytes.length) {
          out.push(stop(i, end, `a tensor record of ${ndim} dimensions does not fit`));
          ok = false;
          break;
        }
        at = next;
      }
    }
    if (ok && m.name === "storages") out.push(section(n + 1, at)); // the storage views
  }
  return out;
}

/**
 * The pickle sections of a legacy stream or tar file (detected by its first bytes by the caller):
 * `kind` `"legacy"` or `"tar"`. Synchronous: the source must be bytes or have `readSync`.
 */
export function legacyPickleSections(source: LegacySource, kind: "legacy" | "tar"): PickleSection[] {
  return runSync(kind === "tar" ? tarSections(source) : streamSections(source), asByteSource(source));
}

/** {@link legacyPickleSections} for any source (reads asynchronously). */
export function legacyPickleSectionsAsync(
  source: LegacySource,
  kind: "legacy" | "tar",
): Promise<PickleSection[]> {
  return runAsync(kind === "tar" ? tarSections(source) : streamSections(source), asByteSource(source));
}
