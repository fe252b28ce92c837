import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  ALL_DTYPES,
  BufferSource,
  type ByteSource,
  dtypes,
  isPtError,
  ptErrorLayer,
  Storage,
} from "@pt/storage";
import { Tensor, tensor } from "@pt/tensor";
import { describe, expect, it } from "vitest";
import {
  dtypeOfCode,
  planSafetensors,
  readSafetensors,
  readSafetensorsHeader,
  SAFETENSORS_DTYPE_NAMES,
  SafetensorsError,
  safetensorsCode,
  saveSafetensors,
  writeSafetensors,
} from "../src/index.js";

const FIX = new URL("../fixtures/", import.meta.url);
const basic = new Uint8Array(readFileSync(new URL("basic.safetensors", FIX)));
const expected = JSON.parse(readFileSync(new URL("expected.json", FIX), "utf8")) as {
  metadata: Record<string, string>;
  order: string[];
  tensors: Record<string, { dtype: string; shape: number[]; sha256: string; first: unknown[] }>;
};

function sha(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/** A ByteSource that counts what is read. */
class Counting implements ByteSource {
  reads = 0;
  bytesRead = 0;
  largestRead = 0;
  constructor(private readonly inner: BufferSource) {}
  get byteLength() {
    return this.inner.byteLength;
  }
  read(o: number, n: number) {
    this.reads++;
    this.bytesRead += n;
    this.largestRead = Math.max(this.largestRead, n);
    return this.inner.read(o, n);
  }
  readSync(o: number, n: number) {
    this.reads++;
    this.bytesRead += n;
    return this.inner.readSync(o, n);
  }
}

describe("readSafetensors", () => {
  it("reads the header only, then each tensor on demand, equal to what torch wrote", async () => {
    const src = new Counting(new BufferSource(basic));
    const f = await readSafetensors(src);
    expect(src.bytesRead).toBe(f.dataOffset); // length + header, no tensor bytes
    expect(f.metadata).toEqual(expected.metadata);
    expect([...f.tensors.keys()]).toEqual(expected.order);
    for (const [name, e] of Object.entries(expected.tensors)) {
      const t = f.tensors.get(name) as Tensor;
      expect(t.dtype.name, name).toBe(e.dtype);
      expect([...t.shape], name).toEqual(e.shape);
      await t.load();
      const d = t.data();
      expect(sha(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)), name).toBe(e.sha256);
      const first = t.values().slice(0, 4);
      const got = first.map((v) =>
        typeof v === "bigint"
          ? String(v)
          : typeof v === "object"
            ? [v.re, v.im]
            : t.dtype.isFloatingPoint
              ? v
              : typeof v === "boolean"
                ? v
                : String(v),
      );
      if (t.dtype.isFloatingPoint || t.dtype.isComplex) {
        const flat = (got as Array<number | number[]>).flat();
        const want = (e.first as Array<number | number[]>).flat();
        flat.forEach((x, i) => {
          expect(x as number).toBeCloseTo(want[i] as number, 5);
        });
      } else expect(got, name).toEqual(e.first);
    }
    expect(src.bytesRead).toBe(basic.byteLength);
  });

  it("refuses every hostile file with its typed error", async () => {
    const codes = JSON.parse(readFileSync(new URL("hostile/codes.json", FIX), "utf8")) as Record<
      string,
      string
    >;
    expect(Object.keys(codes).length).toBeGreaterThan(10);
    for (const [name, code] of Object.entries(codes)) {
      const bytes = new Uint8Array(readFileSync(new URL(`hostile/${name}.safetensors`, FIX)));
      const err = await readSafetensors(bytes).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, name).toBeInstanceOf(SafetensorsError);
      expect((err as SafetensorsError).code, name).toBe(code);
      expect((err as Error).message, name).toMatch(/^safetensors: /);
    }
  });

  it("bounds the header length before reading it", async () => {
    const src = new Counting(new BufferSource(basic));
    await expect(readSafetensorsHeader(src, { maxHeaderBytes: 16 })).rejects.toMatchObject({
      code: "HeaderLength",
    });
    expect(src.bytesRead).toBe(8);
  });
});

describe("writeSafetensors", () => {
  it("writes torch's fixture again byte for byte from its own tensors", async () => {
    const f = await readSafetensors(basic);
    const out = await saveSafetensors(f.tensors, { metadata: expected.metadata });
    expect(sha(out)).toBe(sha(basic));
  });

  it("materialises views row-major and round-trips through the reader", async () => {
    const base = tensor(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      { dtype: dtypes.float32 },
    );
    const t = base.t();
    const out = await saveSafetensors(new Map([["t", t]]));
    const back = (await readSafetensors(out)).tensors.get("t") as Tensor;
    expect([...back.shape]).toEqual([3, 2]);
    expect(back.values()).toEqual([1, 4, 2, 5, 3, 6]);
  });

  it("streams lazy tensors chunk by chunk: no storage is loaded, no read is larger than a chunk", async () => {
    // 20 tensors of 4 kB each over one source, written in 1 kB chunks: memory bounded by the chunk
    const n = 20;
    const size = 4096;
    const src = new Counting(new BufferSource(new Uint8Array(n * size).map((_, i) => i % 251)));
    const storages: Storage[] = [];
    const tensors = new Map<string, Tensor>();
    for (let i = 0; i < n; i++) {
      const s = Storage.lazy(dtypes.float32, src, i * size, size);
      storages.push(s);
      tensors.set(`layer${i}.weight`, new Tensor(s, 0, [size / 4]));
    }
    let maxLoaded = 0;
    let maxChunk = 0;
    let total = 0;
    let writes = 0;
    const plan = await writeSafetensors(
      tensors,
      {
        write(c) {
          maxLoaded = Math.max(maxLoaded, storages.filter((s) => s.isLoaded).length);
          if (writes++ > 0) maxChunk = Math.max(maxChunk, c.byteLength); // after the header
          total += c.byteLength;
        },
      },
      { chunkSize: 1024 },
    );
    expect(maxLoaded).toBe(0);
    expect(src.largestRead).toBeLessThanOrEqual(1024);
    expect(maxChunk).toBeLessThanOrEqual(1024);
    expect(storages.every((s) => !s.isLoaded)).toBe(true);
    expect(src.bytesRead).toBe(n * size);
    expect(total).toBe(plan.byteLength);
  });

  it("loads a non-contiguous lazy tensor's storage for that tensor only, then unloads it", async () => {
    const src = new Counting(new BufferSource(new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer)));
    const a = Storage.lazy(dtypes.float32, src, 0, 24);
    const b = Storage.lazy(dtypes.float32, src, 0, 24);
    const loaded: boolean[][] = [];
    const out: Uint8Array[] = [];
    await writeSafetensors(
      new Map([
        ["t", new Tensor(a, 0, [3, 2], [1, 3])],
        ["u", new Tensor(b, 0, [6])],
      ]),
      {
        write(c) {
          loaded.push([a.isLoaded, b.isLoaded]);
          out.push(c.slice());
        },
      },
    );
    // header, t (transposed: loaded for it), u (contiguous: streamed, never loaded)
    expect(loaded).toEqual([
      [false, false],
      [true, false],
      [false, false],
    ]);
    expect([...new Float32Array(out[1]?.slice().buffer as ArrayBuffer)]).toEqual([1, 4, 2, 5, 3, 6]);
    expect(a.isLoaded || b.isLoaded).toBe(false);
  });

  it("plans files past 4 GiB with exact offsets (no byte is read to plan)", () => {
    const huge: ByteSource = {
      byteLength: 6 * 2 ** 30,
      read: () => Promise.reject(new Error("not read")),
    };
    const tensors = new Map<string, Tensor>();
    for (let i = 0; i < 3; i++)
      tensors.set(
        `w${i}`,
        new Tensor(Storage.lazy(dtypes.float32, huge, i * 2 ** 31, 2 ** 31), 0, [2 ** 29]),
      );
    const plan = planSafetensors(tensors);
    const n = Number(new DataView(plan.header.buffer).getBigUint64(0, true));
    const h = JSON.parse(new TextDecoder().decode(plan.header.subarray(8))) as Record<
      string,
      { data_offsets: number[] }
    >;
    expect(h.w2?.data_offsets).toEqual([2 ** 32, 3 * 2 ** 31]);
    expect(plan.byteLength).toBe(8 + n + 3 * 2 ** 31);
  });

  it("refuses what safetensors cannot hold", async () => {
    const q = tensor([1, 2], { dtype: dtypes.float32 });
    await expect(saveSafetensors([["__metadata__", q]])).rejects.toMatchObject({ code: "InvalidArgument" });
    await expect(
      saveSafetensors([
        ["a", q],
        ["a", q],
      ]),
    ).rejects.toMatchObject({ code: "InvalidArgument" });
    const c128 = tensor([1, 2], { dtype: dtypes.complex128 });
    await expect(saveSafetensors([["c", c128]])).rejects.toMatchObject({ code: "Unsupported" });
  });
});

describe("errors", () => {
  it("meet the @pt/* error contract (isPtError from @pt/storage): layer safetensors, its own code", async () => {
    const e = await readSafetensorsHeader(new BufferSource(new Uint8Array(4))).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SafetensorsError);
    expect(ptErrorLayer(e)).toBe("safetensors");
    expect(isPtError(e, { layer: "safetensors", code: (e as SafetensorsError).code })).toBe(true);
    expect((e as Error).message.startsWith("safetensors:")).toBe(true);
  });
});

describe("dtype codes come from the dtype table", () => {
  it("maps every table row with a safetensors code, both ways", () => {
    const withCode = ALL_DTYPES.filter((d) => d.safetensorsCode !== null);
    expect(Object.keys(SAFETENSORS_DTYPE_NAMES).sort()).toEqual(
      withCode.map((d) => d.safetensorsCode).sort(),
    );
    for (const d of ALL_DTYPES) {
      expect(safetensorsCode(d), d.name).toBe(d.safetensorsCode ?? undefined);
      if (d.safetensorsCode) {
        expect(SAFETENSORS_DTYPE_NAMES[d.safetensorsCode]).toBe(d.name);
        expect(dtypeOfCode(d.safetensorsCode)).toBe(d);
      }
    }
    expect(dtypeOfCode("F4")).toBeUndefined();
    expect(dtypeOfCode("constructor")).toBeUndefined();
  });
});
