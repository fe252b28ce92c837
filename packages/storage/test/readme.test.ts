import { readFileSync } from "node:fs";
// README example (kept verbatim in README.md; the test below checks they match)
// --- example start
import { BufferSource, dtypes, floatToHalf, halfToFloat, Storage } from "@pt/storage";
import { describe, expect, it } from "vitest";

const bytes = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
const eager = Storage.fromBytes(dtypes.float32, bytes); // zero-copy view of `bytes`
const f = eager.typed() as Float32Array; // zero-copy Float32Array
f[0] = 10; // visible in `bytes`

const lazy = Storage.lazy(dtypes.float32, new BufferSource(bytes), 8, 8);
console.log(lazy.isLoaded); // false: nothing read yet
await lazy.load();
console.log([...(lazy.typed() as Float32Array)]); // [3, 4]

console.log(halfToFloat(floatToHalf(0.1))); // 0.0999755859375
// --- example end

describe("README", () => {
  it("example runs and matches README.md", () => {
    expect(new Float32Array(bytes.buffer)[0]).toBe(10);
    expect(lazy.isLoaded).toBe(true);
    const self = readFileSync(new URL(import.meta.url), "utf8");
    const code = self.split("// --- example start\n")[1]!.split("// --- example end")[0]!;
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    expect(readme).toContain(code);
  });
});
