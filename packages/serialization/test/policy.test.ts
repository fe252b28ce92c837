import { readFileSync } from "node:fs";
import { compareDescriptions, describe } from "@pt/describe";
import { Module } from "@pt/nn-module";
import { PyObject } from "@pt/pickle";
import { writeZip } from "@pt/zip-format";
import { expect, describe as suite, test } from "vitest";
import {
  detectFormat,
  isSerializationError,
  load,
  loadSync,
  open,
  save,
  scan,
  UnsafeGlobalError,
} from "../src/index.js";
import { corpusDir, fixturesDir, readBytes } from "./helpers.js";

const enc = new TextEncoder();
const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** A zip checkpoint whose data.pkl is `pkl`. */
function checkpoint(pkl: Uint8Array): Promise<Uint8Array> {
  return writeZip(
    [
      ["data.pkl", pkl],
      ["version", enc.encode("3\n")],
    ],
    { prefix: "evil" },
  );
}

// protocol 2: os.system('ls')
const osSystem = ascii("\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R.");
// protocol 4: {'a': argparse.Namespace(), 'b': builtins.eval('1'), 'c': collections.OrderedDict()}
const mixed = ascii(
  "\x80\x04}(\x8c\x01a\x8c\x08argparse\x8c\x09Namespace\x93)R\x8c\x01b\x8c\x08builtins\x8c\x04eval\x93\x8c\x011\x85R\x8c\x01c\x8c\x0bcollections\x8c\x0bOrderedDict\x93)Ru.",
);

suite("default policy (weights_only)", () => {
  test("os.system is refused by name, flagged dangerous, with its offset", async () => {
    const err = (await load(await checkpoint(osSystem)).catch((e: unknown) => e)) as UnsafeGlobalError;
    expect(err).toBeInstanceOf(UnsafeGlobalError);
    expect(err.code).toBe("UnsafeGlobal");
    expect(err.globals).toEqual([
      { module: "os", name: "system", offset: 2, opcode: "GLOBAL", record: "data.pkl", dangerous: true },
    ]);
    expect(err.message).toMatch(
      /^serialization: refused 1 global: os\.system \(dangerous, GLOBAL at offset 2 of data\.pkl\)/,
    );
  });

  test("every offending global is listed, dangerous ones marked, allowed ones not", async () => {
    const err = (await load(await checkpoint(mixed)).catch((e: unknown) => e)) as UnsafeGlobalError;
    expect(err.globals.map((g) => [`${g.module}.${g.name}`, g.dangerous, g.opcode])).toEqual([
      ["argparse.Namespace", false, "STACK_GLOBAL"],
      ["builtins.eval", true, "STACK_GLOBAL"],
    ]);
    expect(err.message).toContain("allowGlobals");
    // the same through loadSync
    expect(() => loadSync(new Uint8Array(0))).toThrow(/not a torch checkpoint/);
  });

  test("a whole model is refused, naming the torch.nn classes", async () => {
    const err = (await load(readBytes(new URL("nn_mlp_model.zip.pt", fixturesDir))).catch(
      (e: unknown) => e,
    )) as UnsafeGlobalError;
    expect(err).toBeInstanceOf(UnsafeGlobalError);
    expect(err.globals.map((g) => `${g.module}.${g.name}`)).toEqual([
      "torch.nn.modules.container.Sequential",
      "torch.nn.modules.linear.Linear",
      "torch.nn.modules.activation.ReLU",
      "torch.nn.modules.activation.Tanh",
    ]);
    expect(err.globals.every((g) => !g.dangerous)).toBe(true);
  });

  test("protocol-4/5 pickles load under the safe policy (torch's weights_only refuses them)", async () => {
    for (const f of ["gopickle__t113_int32_proto4_zip.pt", "gopickle__t113_bfloat16_proto5_zip.pt"])
      await expect(load(readBytes(new URL(`files/${f}`, corpusDir)))).resolves.toBeDefined();
  });
});

suite("options", () => {
  test("allowGlobals accepts named classes as inert placeholders", async () => {
    const bytes = await checkpoint(mixed.slice());
    // builtins.eval stays refused whatever the options
    const err = (await load(bytes, { allowGlobals: ["argparse.Namespace", ["builtins", "eval"]] }).catch(
      (e: unknown) => e,
    )) as UnsafeGlobalError;
    expect(err.globals.map((g) => `${g.module}.${g.name}`)).toEqual(["builtins.eval"]);
    const ok = await checkpoint(ascii("\x80\x02cargparse\nNamespace\n)R."));
    const v = await load(ok, { allowGlobals: ["argparse.Namespace"] });
    expect(v).toBeInstanceOf(PyObject);
    expect((v as PyObject).cls.qualifiedName).toBe("argparse.Namespace");
  });

  test('unsafe: "opaque" loads a whole model as modules, never dangerous globals', async () => {
    const bytes = readBytes(new URL("nn_mlp_model.zip.pt", fixturesDir));
    const model = await load(bytes, { unsafe: "opaque" });
    expect(model).toBeInstanceOf(Module);
    const expected = JSON.parse(readFileSync(new URL("nn_mlp_model.zip.pt.json", fixturesDir), "utf8")) as {
      loaded_model_state_dict: { keys: string[] };
    };
    expect([...(model as Module).stateDict().keys()]).toEqual(expected.loaded_model_state_dict.keys);
    const raw = await load(bytes, { unsafe: "opaque", modules: "opaque" });
    expect(raw).toBeInstanceOf(PyObject);
    const err = (await load(await checkpoint(osSystem), { unsafe: "opaque" }).catch(
      (e: unknown) => e,
    )) as UnsafeGlobalError;
    expect(err.policy).toBe("opaque");
    expect(err.globals[0]?.dangerous).toBe(true);
    await expect(load(await checkpoint(osSystem), { weightsOnly: false })).rejects.toThrow(/os\.system/);
  });

  test("invalid options and sources are typed errors", async () => {
    await expect(load(new Uint8Array(4), { unsafe: "yes" as "opaque" })).rejects.toThrow(
      /unknown unsafe mode/,
    );
    await expect(load(42 as unknown as Uint8Array)).rejects.toSatisfy((e) =>
      isSerializationError(e, "InvalidSource"),
    );
    await expect(load(enc.encode("hello world"))).rejects.toSatisfy((e) =>
      isSerializationError(e, "UnknownFormat"),
    );
  });
});

suite("formats", () => {
  test("detectFormat by magic bytes", () => {
    expect(detectFormat(readBytes(new URL("dtype_bool.zip.pt", fixturesDir)))).toBe("zip");
    expect(detectFormat(readBytes(new URL("dtype_bool.legacy.pt", fixturesDir)))).toBe("legacy");
    expect(detectFormat(readBytes(new URL("files/gopickle__t15_float32_proto1.pt", corpusDir)))).toBe(
      "legacy",
    );
    expect(
      detectFormat(readBytes(new URL("files/pytorch__2017-03_legacy_serialized_TAR.pt", corpusDir))),
    ).toBe("tar");
    expect(detectFormat(enc.encode("\x80\x02}q\x00."))).toBe("unknown");
    expect(detectFormat(new Uint8Array(0))).toBe("unknown");
  });

  test("TorchScript archives are refused by default and opened with torchscript: 'tensors'", async () => {
    const bytes = readBytes(new URL("files/pytorch__pytq-2020-04_conv2d.scripted.pt", corpusDir));
    await expect(load(bytes)).rejects.toThrow(/TorchScript archive.*never run/);
    const cp = await open(bytes, { torchscript: "tensors" });
    expect(cp.format).toBe("torchscript");
    expect(cp.storages.length).toBe(2);
  });

  test("legacy files go to @pt/legacy-format", async () => {
    const bytes = readBytes(new URL("dtype_all_in_one.legacy.pt", fixturesDir));
    const expected = JSON.parse(
      readFileSync(new URL("dtype_all_in_one.legacy.pt.json", fixturesDir), "utf8"),
    ) as {
      object: unknown;
    };
    expect(compareDescriptions((await describe(await load(bytes))).object, expected.object)).toEqual([]);
    expect(compareDescriptions((await describe(loadSync(bytes))).object, expected.object)).toEqual([]);
    // legacy whole models are refused by default too, naming their classes
    const err = (await load(readBytes(new URL("nn_mlp_model.legacy.pt", fixturesDir))).catch(
      (e: unknown) => e,
    )) as UnsafeGlobalError;
    expect(err.globals.map((g) => g.name)).toEqual(["Sequential", "Linear", "ReLU", "Tanh"]);
    expect(err.globals[0]?.record).toBe("object");
    // saving in the legacy format: torch's bytes again
    const again = await save(await load(bytes), { format: "legacy" });
    expect(Buffer.compare(again, bytes)).toBe(0);
  });

  test("scan lists globals without loading, flagging dangerous and refused ones", async () => {
    const s = await scan(await checkpoint(mixed));
    expect(s.format).toBe("zip");
    expect(
      s.globals.map((g) => [
        `${g.module}.${g.name}`,
        g.verdict === "dangerous",
        g.verdict === "safe",
        g.offset,
      ]),
    ).toEqual([
      ["argparse.Namespace", false, false, 28],
      ["builtins.eval", true, false, 50],
      ["collections.OrderedDict", false, true, 85],
    ]);
    const tar = await scan(readBytes(new URL("files/pytorch__2017-03_legacy_serialized_TAR.pt", corpusDir)));
    expect(tar.format).toBe("tar");
    // every pickle of the members (storage classes in `storages`), all on the allowlist
    expect(tar.globals.length).toBeGreaterThan(0);
    expect(tar.globals.every((g) => g.verdict === "safe")).toBe(true);
    expect(tar.safe).toBe(true);
    const legacy = await scan(readBytes(new URL("nn_mlp_model.legacy.pt", fixturesDir)));
    expect(legacy.globals.filter((g) => g.verdict !== "safe").map((g) => g.name)).toEqual([
      "Sequential",
      "Linear",
      "ReLU",
      "Tanh",
    ]);
    const m = await scan(readBytes(new URL("nn_mlp_model.zip.pt", fixturesDir)));
    expect(m.globals.filter((g) => g.verdict !== "safe").map((g) => g.name)).toEqual([
      "Sequential",
      "Linear",
      "ReLU",
      "Tanh",
    ]);
  });
});
