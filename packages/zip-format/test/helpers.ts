import { readFileSync } from "node:fs";
import type { ByteSource } from "@pt/storage";
import { crc32 } from "../src/index.js";

export const corpusDir = new URL("../../../apps/conformance/corpus/", import.meta.url);
export const fixturesDir = new URL("../fixtures/", import.meta.url);

export function readBytes(url: URL): Uint8Array<ArrayBuffer> {
  return new Uint8Array(readFileSync(url));
}

/** A ByteSource wrapper that counts what is read. */
export class SpySource implements ByteSource {
  bytesRead = 0;
  reads: [number, number][] = [];
  constructor(private readonly inner: ByteSource) {}
  get byteLength(): number {
    return this.inner.byteLength;
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    this.bytesRead += length;
    this.reads.push([offset, length]);
    return this.inner.read(offset, length);
  }
}

/** A huge virtual file: zeros everywhere except the given segments. Sync and async. */
export class SparseSource implements ByteSource {
  constructor(
    readonly byteLength: number,
    private readonly segments: { offset: number; bytes: Uint8Array }[],
  ) {}
  readSync(offset: number, length: number): Uint8Array {
    if (offset < 0 || length < 0 || offset + length > this.byteLength)
      throw new RangeError(`read ${length}@${offset} outside`);
    if (length > 64 * 1024 * 1024) throw new RangeError(`test source refuses a ${length}-byte read`);
    const out = new Uint8Array(length);
    for (const s of this.segments) {
      const a = Math.max(offset, s.offset);
      const b = Math.min(offset + length, s.offset + s.bytes.length);
      if (a < b) out.set(s.bytes.subarray(a - s.offset, b - s.offset), a - offset);
    }
    return out;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    return this.readSync(offset, length);
  }
}

export interface RawEntry {
  name: string;
  data: Uint8Array;
  /** Bytes stored in the file (default: data). */
  stored?: Uint8Array;
  method?: number;
  flags?: number;
  crc?: number;
  usize?: number;
  csize?: number;
  localName?: string;
  /** Override the central directory's local header offset. */
  offset?: number;
  diskStart?: number;
}

/** A plain (non-zip64) zip, with every field controllable — for hostile inputs. */
export function buildZip(
  entries: RawEntry[],
  opts: { comment?: Uint8Array; eocd?: (v: DataView) => void } = {},
): Uint8Array<ArrayBuffer> {
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let pos = 0;
  for (const e of entries) {
    const stored = e.stored ?? e.data;
    const name = enc.encode(e.name);
    const lname = enc.encode(e.localName ?? e.name);
    const h = new Uint8Array(30 + lname.length);
    const v = new DataView(h.buffer);
    v.setUint32(0, 0x04034b50, true);
    v.setUint16(6, e.flags ?? 0x0800, true);
    v.setUint16(8, e.method ?? 0, true);
    v.setUint32(14, e.crc ?? crc32(e.data), true);
    v.setUint32(18, e.csize ?? stored.length, true);
    v.setUint32(22, e.usize ?? e.data.length, true);
    v.setUint16(26, lname.length, true);
    h.set(lname, 30);
    const at = pos;
    parts.push(h, stored);
    pos += h.length + stored.length;
    const c = new Uint8Array(46 + name.length);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(8, e.flags ?? 0x0800, true);
    cv.setUint16(10, e.method ?? 0, true);
    cv.setUint32(16, e.crc ?? crc32(e.data), true);
    cv.setUint32(20, e.csize ?? stored.length, true);
    cv.setUint32(24, e.usize ?? e.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint16(34, e.diskStart ?? 0, true);
    cv.setUint32(42, e.offset ?? at, true);
    c.set(name, 46);
    central.push(c);
  }
  const cdOffset = pos;
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  parts.push(...central);
  const comment = opts.comment ?? new Uint8Array(0);
  const eocd = new Uint8Array(22 + comment.length);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, cdOffset, true);
  ev.setUint16(20, comment.length, true);
  eocd.set(comment, 22);
  opts.eocd?.(ev);
  parts.push(eocd);
  const total = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(total);
  let p = 0;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
