import { BufferSource } from "@pt/storage";
import { deflateSync } from "fflate";
import { describe, expect, test } from "vitest";
import {
  isZipError,
  writeZip,
  ZipError,
  type ZipErrorCode,
  ZipReader,
  type ZipReaderOptions,
} from "../src/index.js";
import { buildZip, fixturesDir, readBytes } from "./helpers.js";

const enc = new TextEncoder();

async function openAndReadAll(bytes: Uint8Array, options: ZipReaderOptions = {}): Promise<ZipReader> {
  const r = await ZipReader.open(new BufferSource(bytes), options);
  for (const name of r.records.keys()) await r.read(name);
  return r;
}

async function expectCode(
  p: Promise<unknown> | (() => unknown),
  code: ZipErrorCode,
): Promise<ZipError<string>> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    if (!isZipError(e)) throw e;
    expect(e.code).toBe(code);
    expect(e.message.startsWith("zip: ")).toBe(true);
    return e;
  }
  throw new Error(`expected ${code}, nothing thrown`);
}

const base = await writeZip([
  ["data.pkl", enc.encode("pickle bytes here")],
  ["data/0", new Uint8Array(100).map((_, i) => i)],
  ["version", enc.encode("3\n")],
]);

describe("truncation", () => {
  test("a torch file truncated at every offset gives a typed error, never a crash", async () => {
    const bytes = readBytes(new URL("torch/state_dict.pt", fixturesDir));
    const t0 = Date.now();
    for (let n = 0; n < bytes.length; n++) {
      const cut = bytes.subarray(0, n);
      try {
        await openAndReadAll(cut);
        throw new Error(`truncation at ${n} was accepted`);
      } catch (e) {
        if (!isZipError(e)) throw e;
      }
      try {
        ZipReader.openSync(new BufferSource(cut));
      } catch (e) {
        if (!isZipError(e)) throw e;
      }
    }
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
  test("a torch file truncated inside the central directory names the problem", async () => {
    const e = await expectCode(openAndReadAll(base.subarray(0, base.length - 1)), "EocdNotFound");
    expect(e.offset).toBeTypeOf("number");
  });
});

describe("integrity", () => {
  test("a corrupted data byte fails the CRC check, naming the record and offset", async () => {
    const bytes = base.slice();
    const r0 = await ZipReader.open(new BufferSource(bytes));
    const range = await r0.dataRange("data/0");
    (bytes[range.offset + 5] as number) ^= 0xff;
    const e = await expectCode(openAndReadAll(bytes), "CrcMismatch");
    expect(e.record).toBe("data/0");
    expect(e.offset).toBe(range.offset);
    // the check can be turned off
    await openAndReadAll(bytes, { checkCrc: false });
  });
  test("a stored CRC of 0 means 'not computed' and is accepted", async () => {
    const z = buildZip([{ name: "a/x", data: enc.encode("hello"), crc: 0 }]);
    expect(await (await openAndReadAll(z)).read("x")).toEqual(enc.encode("hello"));
  });
  test("a wrong CRC in the central directory is refused", async () => {
    await expectCode(
      openAndReadAll(buildZip([{ name: "a/x", data: enc.encode("hello"), crc: 1234 }])),
      "CrcMismatch",
    );
  });
});

describe("structure lies", () => {
  test("no end record", async () => {
    await expectCode(ZipReader.open(new BufferSource(new Uint8Array(1000))), "EocdNotFound");
    await expectCode(ZipReader.open(new BufferSource(new Uint8Array(3))), "EocdNotFound");
  });
  test("an archive hidden in the comment is refused", async () => {
    const inner = buildZip([{ name: "evil/data.pkl", data: enc.encode("boom") }]);
    // the outer end record's comment is the whole inner archive: two end records reach EOF
    await expectCode(
      openAndReadAll(buildZip([{ name: "a/data.pkl", data: enc.encode("ok") }], { comment: inner })),
      "EocdAmbiguous",
    );
  });
  test("a comment that merely contains an end-record signature is fine", async () => {
    const comment = enc.encode("PK\x05\x06 not really");
    const r = await openAndReadAll(buildZip([{ name: "a/data.pkl", data: enc.encode("ok") }], { comment }));
    expect(r.comment).toEqual(comment);
  });
  test("central directory out of bounds", async () => {
    await expectCode(
      openAndReadAll(
        buildZip([{ name: "a/x", data: enc.encode("x") }], { eocd: (v) => v.setUint32(16, 1_000_000, true) }),
      ),
      "CentralDirectoryOutOfBounds",
    );
    await expectCode(
      openAndReadAll(
        buildZip([{ name: "a/x", data: enc.encode("x") }], { eocd: (v) => v.setUint32(12, 1, true) }),
      ),
      "CentralDirectoryOutOfBounds",
    );
  });
  test("more entries declared than fit", async () => {
    await expectCode(
      openAndReadAll(
        buildZip([{ name: "a/x", data: enc.encode("x") }], {
          eocd: (v) => {
            v.setUint16(8, 500, true);
            v.setUint16(10, 500, true);
          },
        }),
      ),
      "CentralDirectoryInvalid",
    );
  });
  test("multi-disk archives are refused", async () => {
    await expectCode(
      openAndReadAll(
        buildZip([{ name: "a/x", data: enc.encode("x") }], { eocd: (v) => v.setUint16(4, 1, true) }),
      ),
      "MultiDisk",
    );
    await expectCode(
      openAndReadAll(buildZip([{ name: "a/x", data: enc.encode("x"), diskStart: 2 }])),
      "MultiDisk",
    );
  });
  test("entry outside the file", async () => {
    await expectCode(
      openAndReadAll(buildZip([{ name: "a/x", data: enc.encode("x"), offset: 5000 }])),
      "EntryOutOfBounds",
    );
    await expectCode(
      openAndReadAll(buildZip([{ name: "a/x", data: enc.encode("x"), csize: 999, usize: 999 }])),
      "EntryOutOfBounds",
    );
  });
  test("local header signature or name differing from the central directory", async () => {
    await expectCode(
      openAndReadAll(buildZip([{ name: "a/x", data: enc.encode("x"), localName: "a/y" }])),
      "LocalHeaderMismatch",
    );
    const z = buildZip([{ name: "a/x", data: enc.encode("x") }]);
    z[0] = 0;
    await expectCode(openAndReadAll(z), "LocalHeaderMismatch");
  });
  test("overlapping entries (two names over the same bytes)", async () => {
    const data = new Uint8Array(200).fill(7);
    const z = buildZip([
      { name: "a/x", data },
      { name: "a/y", data, offset: 20 },
    ]);
    await expectCode(openAndReadAll(z), "OverlappingEntries");
  });
  test("an entry whose local extra field pushes its data into the next entry", async () => {
    const z = buildZip([
      { name: "a/x", data: enc.encode("abc") },
      { name: "a/y", data: enc.encode("def") },
    ]);
    new DataView(z.buffer).setUint16(28, 10, true); // local extra length of a/x
    await expectCode(openAndReadAll(z), "OverlappingEntries");
  });
  test("duplicate names are refused; lookups are case-sensitive", async () => {
    await expectCode(
      openAndReadAll(
        buildZip([
          { name: "a/x", data: enc.encode("1") },
          { name: "a/x", data: enc.encode("2") },
        ]),
      ),
      "DuplicateName",
    );
    const r = await openAndReadAll(
      buildZip([
        { name: "a/X", data: enc.encode("1") },
        { name: "a/x", data: enc.encode("2") },
      ]),
    );
    expect(await r.read("x")).toEqual(enc.encode("2"));
    await expectCode(r.read("DATA.PKL"), "RecordNotFound");
  });
  test("a first entry outside any folder: no prefix", async () => {
    await expectCode(openAndReadAll(buildZip([{ name: "data.pkl", data: enc.encode("1") }])), "NoPrefix");
  });
  test("encrypted entries and unknown methods", async () => {
    await expectCode(
      openAndReadAll(buildZip([{ name: "a/x", data: enc.encode("1"), flags: 0x0801 }])),
      "Encrypted",
    );
    await expectCode(
      openAndReadAll(buildZip([{ name: "a/x", data: enc.encode("1"), method: 12 }])),
      "UnsupportedMethod",
    );
  });
  test("data descriptors are irrelevant: sizes come from the central directory", async () => {
    // local header with zero sizes and crc, like torch writes
    const z = buildZip([{ name: "a/x", data: enc.encode("hello") }]);
    new DataView(z.buffer).setUint32(18, 0, true);
    new DataView(z.buffer).setUint32(22, 0, true);
    new DataView(z.buffer).setUint32(14, 0, true);
    expect(await (await openAndReadAll(z)).read("x")).toEqual(enc.encode("hello"));
  });
  test("insane zip64 fields", async () => {
    const z = buildZip([{ name: "a/x", data: enc.encode("x"), csize: 0xffffffff, usize: 0xffffffff }]);
    await expectCode(openAndReadAll(z), "Zip64Invalid");
    // zip64 locator pointing nowhere
    const t = base.slice();
    const v = new DataView(t.buffer);
    v.setUint32(t.length - 22 - 20 + 8, 0xfffffff0, true);
    v.setUint32(t.length - 22 - 20 + 12, 0x7fffffff, true);
    await expectCode(openAndReadAll(t), "Zip64Invalid");
    // zip64 end record disagreeing with the end record
    const u = base.slice();
    new DataView(u.buffer).setUint32(u.length - 22 + 16, 12, true);
    await expectCode(openAndReadAll(u), "EocdInconsistent");
  });
});

describe("inflate bombs", () => {
  const zeros = new Uint8Array(16 * 1024 * 1024);
  const bomb = deflateSync(zeros, { level: 9 });
  test("a huge declared ratio is refused before inflating", async () => {
    const t0 = Date.now();
    // declares 2 GiB from a few KiB: over the ratio (and the absolute) limit
    const z = buildZip([
      { name: "a/bomb", data: zeros, stored: bomb, method: 8, crc: 0, usize: 2 ** 31 - 1 },
    ]);
    const e = await expectCode(openAndReadAll(z), "InflateLimit");
    expect(e.record).toBe("bomb");
    expect(Date.now() - t0).toBeLessThan(10_000); // a hang detector: the refusal's work is bounded above
  });
  test("a real maximal-ratio deflate bomb is refused by a ratio or size limit", async () => {
    const t0 = Date.now();
    const z = buildZip([{ name: "a/bomb", data: zeros, stored: bomb, method: 8, crc: 0 }]);
    await expectCode(openAndReadAll(z, { maxCompressionRatio: 100 }), "InflateLimit");
    await expectCode(openAndReadAll(z, { maxInflatedSize: 1024 * 1024 }), "InflateLimit");
    // within the defaults (deflate cannot exceed ≈1032:1) it inflates, bounded by its declared size
    expect((await (await openAndReadAll(z)).read("bomb")).length).toBe(zeros.length);
    expect(Date.now() - t0).toBeLessThan(10_000); // a hang detector: the refusal's work is bounded above
  });
  test("a record that inflates to more than it declares stops early", async () => {
    const t0 = Date.now();
    const z = buildZip([
      { name: "a/bomb", data: new Uint8Array(1000), stored: bomb, method: 8, crc: 0, usize: 1000 },
    ]);
    await expectCode(openAndReadAll(z), "SizeMismatch");
    expect(Date.now() - t0).toBeLessThan(10_000); // a hang detector: the refusal's work is bounded above
  });
  test("invalid deflate data", async () => {
    const z = buildZip([
      {
        name: "a/x",
        data: new Uint8Array(10),
        stored: new Uint8Array([0xff, 0xff, 0xff]),
        method: 8,
        crc: 0,
      },
    ]);
    await expectCode(openAndReadAll(z), "InflateFailed");
  });
  test("ordinary deflated records inflate and are CRC-checked", async () => {
    const text = enc.encode("hello hello hello hello hello");
    const z = buildZip([{ name: "a/x", data: text, stored: deflateSync(text), method: 8 }]);
    const r = await openAndReadAll(z);
    expect(await r.read("x")).toEqual(text);
    await expectCode(r.dataRange("x"), "NotStored");
  });
});

test("limits: entries and central directory size", async () => {
  await expectCode(openAndReadAll(base, { maxEntries: 2 }), "LimitExceeded");
  await expectCode(openAndReadAll(base, { maxCentralDirectorySize: 10 }), "LimitExceeded");
});

test("errors are ZipError instances with structured fields", async () => {
  const e = await expectCode(ZipReader.open(new BufferSource(new Uint8Array(30))), "EocdNotFound");
  expect(e).toBeInstanceOf(ZipError);
  expect(e.name).toBe("ZipFormatError");
});

test("random byte mutations of a torch file end in a result or a ZipError, never anything else", async () => {
  const bytes = readBytes(new URL("torch/state_dict.pt", fixturesDir));
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  let rejected = 0;
  const t0 = Date.now();
  for (let k = 0; k < 1500; k++) {
    const m = bytes.slice();
    const flips = 1 + rand(4);
    // bias half of the mutations to the headers and end records, where structure lives
    for (let f = 0; f < flips; f++) {
      const at = k % 2 ? rand(m.length) : m.length - 1 - rand(Math.min(m.length, 700));
      m[at] = rand(256);
    }
    try {
      await openAndReadAll(m);
    } catch (e) {
      if (!isZipError(e)) throw e;
      rejected++;
    }
  }
  expect(rejected).toBeGreaterThan(500);
  expect(Date.now() - t0).toBeLessThan(10_000);
});
