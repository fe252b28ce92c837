/**
 * The scanning seam of the zip layer: `zipPickleSections` over the hardened reader, and
 * `readEntryForScanSync`, the lenient read of records our reader (and torch's) refuses.
 */
import { BufferSource } from "@pt/storage";
import { describe, expect, it } from "vitest";
import {
  MemorySink,
  ZIP_ROLES,
  ZipReader,
  ZipUnsupportedError,
  ZipWriter,
  zipPickleSections,
} from "../src/index.js";

const enc = new TextEncoder();
/** `os.system('id')`, protocol 0. */
const EVIL = enc.encode("cos\nsystem\n(S'id'\ntR.");
/** `{}` then STOP, protocol 2. */
const BENIGN = new Uint8Array([0x80, 2, 0x7d, 0x2e]);

async function archive(records: Array<[string, Uint8Array]>): Promise<Uint8Array> {
  const sink = new MemorySink();
  const w = new ZipWriter(sink, { prefix: "m" });
  for (const [name, data] of records) await w.writeRecord(name, data);
  await w.finish();
  return sink.bytes();
}

/** Every offset of the local and central headers naming `name`. */
function headers(zip: Uint8Array, name: string): { local: number; central: number } {
  const n = enc.encode(name);
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const found = { local: -1, central: -1 };
  for (let i = 0; i + 46 < zip.length; i++) {
    const sig = view.getUint32(i, true);
    const at = sig === 0x04034b50 ? 30 : sig === 0x02014b50 ? 46 : 0;
    if (at === 0) continue;
    const len = view.getUint16(i + (at === 30 ? 26 : 28), true);
    if (len === n.length && n.every((b, k) => zip[i + at + k] === b)) {
      if (at === 30) found.local = i;
      else found.central = i;
    }
  }
  return found;
}

describe("zipPickleSections", () => {
  it("lists data.pkl and other pickles, not a torch archive's storage records", async () => {
    const zip = await archive([
      ["data.pkl", BENIGN],
      ["data/0", EVIL], // tensor bytes torch reads raw: never unpickled, not tried
      ["extra.pkl", EVIL],
      ["notes.txt", enc.encode("hello")],
    ]);
    const reader = ZipReader.openSync(new BufferSource(zip));
    const s = zipPickleSections(reader);
    expect(s.map((x) => [x.name, x.role, x.loaded])).toEqual([
      ["data.pkl", ZIP_ROLES.torchLoad, true],
      ["extra.pkl", ZIP_ROLES.notRead, false],
    ]);
    expect(zipPickleSections(reader, { torchRecords: false }).map((x) => x.name)).toEqual(["extra.pkl"]);
    // in a plain zip (no data.pkl) a data/0 record is tried like any other
    const plain = ZipReader.openSync(new BufferSource(await archive([["data/0", EVIL]])));
    expect(zipPickleSections(plain).map((x) => x.name)).toEqual(["data/0"]);
  });

  it("reads records marked encrypted leniently for scanners, and reports the refusal", async () => {
    const zip = await archive([
      ["data.pkl", BENIGN],
      ["extra.pkl", EVIL],
    ]);
    const h = headers(zip, "m/extra.pkl");
    const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
    view.setUint16(h.local + 6, view.getUint16(h.local + 6, true) | 1, true);
    view.setUint16(h.central + 8, view.getUint16(h.central + 8, true) | 1, true);
    expect(() => ZipReader.openSync(new BufferSource(zip))).toThrow(ZipUnsupportedError);
    const reader = ZipReader.openSync(new BufferSource(zip), { allowEncrypted: true });
    const entry = reader.entry("extra.pkl");
    expect(() => reader.readEntrySync(entry)).toThrow(/encrypted/);
    const r = reader.readEntryForScanSync(entry);
    expect(r.bytes).toEqual(EVIL);
    expect(r.irregular).toBeInstanceOf(ZipUnsupportedError);
    const s = zipPickleSections(reader);
    expect(s[1]).toMatchObject({ name: "extra.pkl", loaded: false, fileOffset: null });
    expect(s[1]?.error?.message).toMatch(/extra\.pkl: local header marks it encrypted \(flags 0x809\)/);
  });

  it("reads a record whose local header names another file, as a lenient reader does", async () => {
    const zip = await archive([
      ["data.pkl", EVIL],
      ["version", enc.encode("3\n")],
    ]);
    const h = headers(zip, "m/data.pkl");
    zip[h.local + 30 + 2] = "X".charCodeAt(0); // m/Xata.pkl in the local header
    const reader = ZipReader.openSync(new BufferSource(zip));
    expect(() => reader.readSync("data.pkl")).toThrow(/names a different file/);
    // a record torch reads: kept as read (loaded), its refusal reported
    const s = zipPickleSections(reader);
    expect(s).toMatchObject([{ name: "data.pkl", role: ZIP_ROLES.torchLoad, loaded: true }]);
    expect(s[0]?.bytes).toEqual(EVIL);
    expect(s[0]?.error?.message).toMatch(/names a different file/);
    // bytes that are no pickle: the refusal stands
    const junk = await archive([["data.pkl", enc.encode("not a pickle")]]);
    junk[headers(junk, "m/data.pkl").local + 30 + 2] = "X".charCodeAt(0);
    expect(() => zipPickleSections(ZipReader.openSync(new BufferSource(junk)))).toThrow(
      /names a different file/,
    );
  });
});
