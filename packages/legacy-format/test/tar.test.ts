import { dumps, PyGlobal, tuple } from "@pt/pickle";
import { dtypes, Storage } from "@pt/storage";
import { storageClassFor, type Tensor } from "@pt/tensor";
import { describe, expect, it } from "vitest";
import {
  isLegacyError,
  isTar,
  LegacyFormatError,
  loadTar,
  loadTarSync,
  UnsafeTarMemberError,
} from "../src/index.js";

const enc = new TextEncoder();

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function octal(n: number, width: number): Uint8Array {
  return enc.encode(`${n.toString(8).padStart(width - 1, "0")}\0`);
}

interface Member {
  name: string;
  data?: Uint8Array;
  type?: string;
  linkname?: string;
}

/** A POSIX ustar archive (as Python's tarfile writes them, without pax headers). */
function tarFile(members: Member[], { badChecksum = false } = {}): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (const m of members) {
    const data = m.data ?? new Uint8Array(0);
    const h = new Uint8Array(512);
    h.set(enc.encode(m.name).subarray(0, 100), 0);
    h.set(octal(0o644, 8), 100);
    h.set(octal(0, 8), 108);
    h.set(octal(0, 8), 116);
    h.set(octal(data.length, 12), 124);
    h.set(octal(0, 12), 136);
    h.fill(0x20, 148, 156);
    h[156] = (m.type ?? "0").charCodeAt(0);
    if (m.linkname) h.set(enc.encode(m.linkname), 157);
    h.set(enc.encode("ustar\u000000"), 257);
    let sum = 0;
    for (const b of h) sum += b;
    h.set(enc.encode(`${(sum + (badChecksum ? 1 : 0)).toString(8).padStart(6, "0")}\0 `), 148);
    blocks.push(h, data, new Uint8Array((512 - (data.length % 512)) % 512));
  }
  blocks.push(new Uint8Array(1024));
  return concat(blocks);
}

function int64(v: number | bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, BigInt(v), true);
  return b;
}

function int32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  return b;
}

/** torch < 0.1.10's layout: a 4-element root storage 7, a view 8 = root[1:3], a 2x2 tensor 100 on 7. */
function torchTar(
  opts: { count?: bigint; storageCount?: number; extra?: Member[]; omit?: string } = {},
): Uint8Array {
  const values = new Float32Array([1, 2, 3, 4]);
  const storages = concat([
    dumps(opts.storageCount ?? 1),
    dumps(tuple([7, "cpu", storageClassFor(dtypes.float32)])),
    int64(opts.count ?? 4n),
    new Uint8Array(values.buffer),
    dumps([tuple([8, 7, 1, 2])]),
  ]);
  const tensors = concat([
    dumps(1),
    dumps(tuple([100, 7, new PyGlobal("torch", "FloatTensor")])),
    int32(2),
    new Uint8Array(4),
    int64(2),
    int64(2),
    int64(2),
    int64(1),
    int64(0),
  ]);
  const a = { id: "100" };
  const b = { id: "8" };
  const pickle = dumps([a, a, b], {
    persistentId: (v) => (v === a || v === b ? (v as { id: string }).id : null),
  });
  const sysInfo = dumps(
    new Map<string, unknown>([
      ["protocol_version", 1000],
      ["little_endian", true],
      [
        "type_sizes",
        new Map([
          ["short", 2],
          ["int", 4],
          ["long", 8],
        ]),
      ],
    ]),
  );
  const members: Member[] = [
    { name: "sys_info", data: sysInfo },
    { name: "pickle", data: pickle },
    { name: "tensors", data: tensors },
    { name: "storages", data: storages },
    ...(opts.extra ?? []),
  ];
  return tarFile(members.filter((m) => m.name !== opts.omit));
}

function thrown(f: () => unknown): LegacyFormatError {
  try {
    f();
  } catch (e) {
    if (e instanceof LegacyFormatError) return e;
    throw new Error(`expected a LegacyFormatError, got ${String(e)}`, { cause: e });
  }
  throw new Error("expected an error");
}

describe("tar format", () => {
  it("loads storages, storage views, tensors and the pickle with sharing preserved", async () => {
    const bytes = torchTar();
    expect(isTar(bytes)).toBe(true);
    const r = loadTarSync(bytes);
    const [t, u, view] = r.value as [Tensor, Tensor, Storage];
    expect(t).toBe(u);
    expect(t.shape).toEqual([2, 2]);
    expect(t.stride).toEqual([2, 1]);
    expect(t.values()).toEqual([1, 2, 3, 4]);
    expect(view).toBeInstanceOf(Storage);
    expect(view.base).toBe(r.storages.get("7"));
    expect(Array.from(view.typed() as Float32Array)).toEqual([2, 3]);
    (t.storage.typed() as Float32Array)[1] = 20;
    expect(Array.from(view.typed() as Float32Array)).toEqual([20, 3]);
    expect(r.sysInfo?.protocolVersion).toBe(1000);
    expect(r.members.map((m) => m.name)).toEqual(["sys_info", "pickle", "tensors", "storages"]);
    const viaAsync = await loadTar({ byteLength: bytes.length, read: async (o, l) => bytes.slice(o, o + l) });
    expect((viaAsync.value as Tensor[])[0]!.values()).toEqual([1, 2, 3, 4]);
  });

  it("refuses links, devices, FIFOs and traversal names, never using names as paths", () => {
    for (const [type, kind] of [
      ["2", "symbolic link"],
      ["1", "hard link"],
      ["3", "character device"],
      ["4", "block device"],
      ["6", "FIFO"],
    ] as const) {
      const e = thrown(() =>
        loadTarSync(torchTar({ extra: [{ name: "link", type, linkname: "/etc/passwd" }] })),
      );
      expect(e).toBeInstanceOf(UnsafeTarMemberError);
      expect((e as UnsafeTarMemberError).memberType).toBe(kind);
    }
    for (const name of ["../pickle", "/etc/passwd", "a/../../b", "C:/x"]) {
      const e = thrown(() => loadTarSync(torchTar({ extra: [{ name, data: new Uint8Array(3) }] })));
      expect(e.code, name).toBe("UnsafeTarMember");
    }
    // "./pickle" is not "pickle": no path normalisation
    const e = thrown(() =>
      loadTarSync(torchTar({ omit: "pickle", extra: [{ name: "./pickle", data: dumps(1) }] })),
    );
    expect(e.code).toBe("Tar");
    expect(e.message).toContain("no 'pickle' member");
  });

  it("gives clear errors for bad checksums, duplicates, truncation and hostile counts", () => {
    expect(
      thrown(() => loadTarSync(tarFile([{ name: "pickle", data: dumps(1) }], { badChecksum: true }))).message,
    ).toContain("bad checksum");
    expect(
      thrown(() => loadTarSync(torchTar({ extra: [{ name: "pickle", data: dumps(2) }] }))).message,
    ).toContain("appears 2 times");
    const bytes = torchTar();
    for (let cut = 1; cut < bytes.length - 1024; cut += 37) {
      const e = thrown(() => loadTarSync(bytes.subarray(0, cut)));
      expect(isLegacyError(e), `cut ${cut}`).toBe(true);
    }
    let e = thrown(() => loadTarSync(torchTar({ count: 2n ** 60n })));
    expect([e.code, e.key, e.record]).toEqual(["Truncated", "7", "tar:storages"]);
    e = thrown(() => loadTarSync(torchTar({ storageCount: 10 ** 9 })));
    expect(e.code).toBe("Limit");
    e = thrown(() => loadTarSync(torchTar({ storageCount: -1 })));
    expect(e.code).toBe("Storage");
  });
});
