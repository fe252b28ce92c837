import { dumps, loads } from "@pt/pickle";
import { describe, expect, it } from "vitest";
import { MEMORY_FORMATS, memoryFormatGlobals, TorchMemoryFormat } from "../src/index.js";

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const latin1 = (b: Uint8Array) => Buffer.from(b).toString("latin1");

describe("torch.memory_format values", () => {
  // torch 1.13 and 2.14: torch.save({"mf": torch.channels_last}, f, pickle_protocol=4)'s data.pkl
  const P4 =
    "\x80\x04\x950\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x02mf\x94\x8c\x0ctorch._utils\x94\x8c\x13torch.channels_last\x94\x93\x94s.";
  // torch 2.14 (Python 3.14), protocol 2: getattr(torch._utils.torch, "channels_last")
  const P2 =
    "\x80\x02}q\x00X\x02\x00\x00\x00mfq\x01c__builtin__\ngetattr\nq\x02ctorch._utils\ntorch\nX\r\x00\x00\x00channels_lastq\x03\x86Rq\x04s.";

  it.each([
    [4, P4],
    [2, P2],
  ])(
    "protocol %i: read as a typed value through memoryFormatGlobals, written back byte for byte",
    (protocol, text) => {
      const v = loads(bytes(text), { globals: memoryFormatGlobals() }) as Map<string, unknown>;
      const mf = v.get("mf");
      expect(mf).toBeInstanceOf(TorchMemoryFormat);
      expect(String(mf)).toBe("torch.channels_last");
      expect(mf).toBe(TorchMemoryFormat.of("channels_last"));
      expect(latin1(dumps(v, { protocol }))).toBe(text);
    },
  );

  it("every format torch has, by either name; others are typed errors", () => {
    expect(MEMORY_FORMATS.map((n) => String(TorchMemoryFormat.of(`torch.${n}`)))).toEqual(
      MEMORY_FORMATS.map((n) => `torch.${n}`),
    );
    expect(() => TorchMemoryFormat.of("nhwc")).toThrow(/unknown memory format 'nhwc'/);
  });

  it("not resolved without the registry (torch's weights_only refuses them too)", () => {
    expect(() => loads(bytes(P4))).toThrow(/torch\._utils\.torch\.channels_last/);
  });
});
