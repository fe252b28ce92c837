import { describe, expect, it } from "vitest";
import {
  ALL_DTYPES,
  DTYPE_TABLE,
  type DTypeName,
  type DTypeRow,
  dtypeFromName,
  dtypeFromNumpyCode,
  dtypeFromSafetensorsCode,
  dtypeFromStorageClass,
  dtypes,
  isFloat8Encoding,
  numberView,
} from "../src/index.js";

describe("the dtype table is the one place a dtype is described", () => {
  it("builds every DType from its row, in table order", () => {
    expect(ALL_DTYPES.map((d) => d.name)).toEqual(Object.keys(DTYPE_TABLE));
    for (const [name, row] of Object.entries(DTYPE_TABLE) as [DTypeName, DTypeRow][]) {
      const d = dtypes[name];
      expect(d.name).toBe(name);
      expect(d.itemSize, name).toBe(row.itemSize);
      expect(d.arrayKind, name).toBe(row.arrayKind);
      expect(d.element, name).toBe(row.element);
      expect(d.kind, name).toBe(row.kind);
      expect(d.isSigned, name).toBe(row.signed);
      expect(d.isFloatingPoint, name).toBe(row.kind === "float");
      expect(d.isComplex, name).toBe(row.kind === "complex");
      expect(d.isQuantized, name).toBe(row.kind === "quantized");
      expect(d.storageClass, name).toBe(row.storage === null ? null : `${row.storage}Storage`);
      expect(d.tensorTypeName, name).toBe(row.tensorType === null ? null : `torch.${row.tensorType}Tensor`);
      expect(d.safetensorsCode, name).toBe(row.safetensors);
      expect(d.numpyCode, name).toBe(row.numpy);
      expect(d.onnxType, name).toBe(row.onnx);
      expect(d.aliases, name).toEqual(row.aliases);
      // every lookup finds the row's dtype by the row's own columns
      expect(dtypeFromName(name)).toBe(d);
      for (const a of row.aliases) expect(dtypeFromName(a)).toBe(d);
      if (d.storageClass) expect(dtypeFromStorageClass(d.storageClass)).toBe(d);
      if (row.safetensors) expect(dtypeFromSafetensorsCode(row.safetensors)).toBe(d);
      if (row.numpy) expect(dtypeFromNumpyCode(row.numpy)).toBe(d);
    }
  });

  it("has consistent columns (unique codes, sizes that match the typed array and encoding)", () => {
    const lane: Record<string, number> = {
      Float64Array: 8,
      Float32Array: 4,
      Int32Array: 4,
      Int16Array: 2,
      Int8Array: 1,
      Uint8Array: 1,
      Uint16Array: 2,
      Uint32Array: 4,
      BigInt64Array: 8,
      BigUint64Array: 8,
    };
    for (const col of ["safetensors", "numpy", "onnx", "storage", "tensorType"] as const) {
      const vals = Object.values(DTYPE_TABLE)
        .map((r) => r[col])
        .filter((v) => v !== null);
      expect(new Set(vals).size, col).toBe(vals.length);
    }
    for (const d of ALL_DTYPES) {
      expect(d.itemSize, d.name).toBe(lane[d.arrayKind]! * d.lanes);
      expect(d.isComplex, d.name).toBe(d.element === "complex" || d.element === "complex-half");
      if (isFloat8Encoding(d.element)) expect(d.arrayKind).toBe("Uint8Array");
      if (d.element === "half-bits" || d.element === "bfloat16-bits") expect(d.arrayKind).toBe("Uint16Array");
    }
    expect(dtypeFromSafetensorsCode("__proto__")).toBeUndefined();
    expect(dtypeFromNumpyCode("f16")).toBeUndefined();
  });

  it("reads numbers of every dtype by its encoding (numberView)", () => {
    const bytes = new Uint8Array(16);
    const dv = new DataView(bytes.buffer);
    dv.setUint16(0, 0x3c00, true); // float16 1.0 / bfloat16 2^-7… / int16 15360
    for (const d of ALL_DTYPES) {
      const v = numberView(bytes, d);
      if (d.isComplex || d.valuesPerItem !== 1) {
        expect(v, d.name).toBeNull();
        continue;
      }
      expect(v!.length, d.name).toBe(16 / d.itemSize);
    }
    expect(numberView(bytes, dtypes.float16)![0]).toBe(1);
    expect(numberView(bytes, dtypes.int16)![0]).toBe(0x3c00);
    dv.setBigInt64(8, -5n, true);
    expect(numberView(bytes, dtypes.int64)![1]).toBe(-5);
    expect(numberView(bytes.subarray(1, 9), dtypes.uint8)!.length).toBe(8); // unaligned: copied
  });

  it("refuses, at type-check time, a row that forgets a column", () => {
    const full = DTYPE_TABLE.float32 satisfies DTypeRow;
    const { numpy: _numpy, ...withoutNumpy } = full;
    // @ts-expect-error a row without its numpy column is not a DTypeRow
    const bad: DTypeRow = withoutNumpy;
    expect(bad).not.toHaveProperty("numpy");
    const { safetensors: _s, ...withoutSafetensors } = full;
    // @ts-expect-error nor one without its safetensors column
    const bad2: DTypeRow = withoutSafetensors;
    expect(bad2).not.toHaveProperty("safetensors");
  });
});
