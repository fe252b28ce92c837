/**
 * A whole model written by us loads in real torch 1.13 (/usr/bin/python3), and torch's
 * `model.state_dict()` there equals ours: keys, shapes, dtypes, bytes and `_metadata`.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tensor } from "@pt/tensor";
import { afterAll, describe, expect, it } from "vitest";
import * as nn from "../src/index.js";
import { dumpTorch } from "./helpers.js";

class Net extends nn.Module {
  static override readonly pyModule = "models";
  static override readonly pyName = "Net";
  constructor() {
    super();
    this.setAttr("fc1", new nn.Linear(4, 3));
    this.setAttr("act", new nn.ReLU());
    this.setAttr("fc2", new nn.Linear(3, 2, { bias: false }));
    this.registerBuffer("scale", tensor([0.5, 2.0]));
    this.registerBuffer("scratch", tensor([0, 0]), { persistent: false });
  }
}

nn.manualSeed(42);
const cases: Record<string, { model: nn.Module; input?: number[]; output?: number[] }> = {
  mlp: {
    model: new nn.Sequential(new nn.Linear(5, 8), new nn.GELU(), new nn.Dropout(0.1), new nn.Linear(8, 2)),
    input: [2, 5],
    output: [2, 2],
  },
  cnn: {
    model: new nn.Sequential(
      new nn.Conv2d(1, 3, 3, { padding: 1 }),
      new nn.BatchNorm2d(3),
      new nn.SiLU(),
      new nn.MaxPool2d(2),
      new nn.Identity(),
      new nn.AdaptiveAvgPool2d([2, 2]),
      new nn.Flatten(),
      new nn.Linear(12, 4),
      new nn.Softmax(1),
    ),
    input: [1, 1, 6, 6],
    output: [1, 4],
  },
  lstm: {
    model: new nn.LSTM(4, 6, { numLayers: 2, bidirectional: true, projSize: 3 }),
    input: [5, 1, 4],
    output: [5, 1, 6],
  },
  gru: { model: new nn.GRU(3, 4, { batchFirst: true }), input: [2, 5, 3], output: [2, 5, 4] },
  encoder: {
    model: new nn.TransformerEncoder(
      new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, batchFirst: true, activation: "gelu" }),
      2,
      { norm: new nn.LayerNorm(8) },
    ),
    input: [1, 3, 8],
    output: [1, 3, 8],
  },
  misc: {
    model: new nn.ModuleDict([
      ["emb", new nn.Embedding(7, 3, { paddingIdx: 0 })],
      ["bag", new nn.EmbeddingBag(7, 3)],
      ["bil", new nn.Bilinear(2, 3, 4)],
      ["gn", new nn.GroupNorm(2, 4)],
      ["bn1", new nn.BatchNorm1d(4)],
      ["bn3", new nn.BatchNorm3d(2)],
      ["ct", new nn.ConvTranspose1d(2, 4, 3, { stride: 2 })],
      ["ct2", new nn.ConvTranspose2d(2, 4, 3)],
      ["c3", new nn.Conv3d(1, 2, 2)],
      [
        "list",
        new nn.ModuleList([
          new nn.Tanh(),
          new nn.Sigmoid(),
          new nn.LeakyReLU(),
          new nn.ELU(),
          new nn.ReLU6(),
        ]),
      ],
      [
        "pool",
        new nn.ModuleList([
          new nn.AvgPool1d(2),
          new nn.AvgPool2d(2),
          new nn.MaxPool1d(2),
          new nn.AdaptiveAvgPool1d(3),
        ]),
      ],
      ["rnn", new nn.RNN(2, 3, { nonlinearity: "relu" })],
      ["mha", new nn.MultiheadAttention(4, 2, { kdim: 3, vdim: 5, addBiasKv: true })],
      [
        "act",
        new nn.ModuleList([
          new nn.PReLU(),
          new nn.Softplus(),
          new nn.Mish(),
          new nn.Hardtanh(),
          new nn.LogSoftmax(1),
        ]),
      ],
      ["flat", new nn.Unflatten(1, [2, 2])],
    ]),
  },
  user_net: { model: new Net(), input: [3, 4], output: [3, 2] },
};

const dir = mkdtempSync(join(tmpdir(), "nn-module-torch-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface TorchView {
  class: string;
  training: boolean;
  keys: string[];
  shapes: number[][];
  dtypes: string[];
  sha256: string[];
  metadata: Record<string, Record<string, number>>;
  named_modules: string[];
  named_parameters: string[];
  dict_keys: string[];
  output_shape?: number[];
  output_finite?: boolean;
}

describe("torch loads modules we pickled", () => {
  for (const [name, c] of Object.entries(cases)) {
    const { pkl, storages } = dumpTorch(c.model);
    mkdirSync(join(dir, name, "data"), { recursive: true });
    writeFileSync(join(dir, name, "data.pkl"), pkl);
    for (const [i, s] of storages.entries()) writeFileSync(join(dir, name, "data", String(i)), s.bytes);
    if (c.input) writeFileSync(join(dir, name, "input.json"), JSON.stringify(c.input));
  }
  const script = fileURLToPath(new URL("./torch_check.py", import.meta.url));
  const torch = JSON.parse(
    execFileSync("/usr/bin/python3", [script, dir], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }),
  ) as Record<string, TorchView>;

  it.each(Object.keys(cases))("%s", (name) => {
    const { model, output } = cases[name]!;
    const t = torch[name]!;
    const sd = model.stateDict();
    expect(t.class).toBe(`${model.pyClass.module}.${model.pyClass.name}`);
    expect(t.training).toBe(model.training);
    expect(t.keys).toEqual([...sd.keys()]);
    expect(t.shapes).toEqual([...sd.values()].map((v) => [...v.shape]));
    expect(t.dtypes).toEqual([...sd.values()].map((v) => v.dtype.name));
    expect(t.sha256).toEqual(
      [...sd.values()].map((v) => createHash("sha256").update(v.contiguous().data()).digest("hex")),
    );
    const md = sd.attributes!.get("_metadata") as Map<string, Map<string, number>>;
    expect(t.metadata).toEqual(Object.fromEntries([...md].map(([k, v]) => [k, Object.fromEntries(v)])));
    expect(t.named_modules).toEqual([...model.namedModules()].map(([k]) => k));
    expect(t.named_parameters).toEqual([...model.namedParameters()].map(([k]) => k));
    expect(t.dict_keys).toEqual([...model.dict.keys()]);
    if (output) {
      expect(t.output_shape).toEqual(output);
      expect(t.output_finite).toBe(true);
    }
  });
});
