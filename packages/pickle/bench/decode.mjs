// Benchmark: decode a 1e6-element list of small tuples (protocols 2 and 4) with @pt/pickle
// (../dist, build first) and with CPython's C pickle.loads, alternating, in the same run.
// Usage: node bench/decode.mjs [pairs=5]
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loads } from "../dist/index.js";

const python = "/usr/bin/python3";
const pairs = Number(process.argv[2] ?? 5);
const dir = mkdtempSync(join(tmpdir(), "pt-pickle-bench-"));
const VALUE = "[(i, i * 0.5, 'ab') for i in range(1000000)]";

const pyTime = (file) =>
  Number(
    execFileSync(
      python,
      [
        "-c",
        `import pickle, time, gc, sys
data = open(sys.argv[1], 'rb').read()
gc.disable()
t = time.perf_counter(); pickle.loads(data); print((time.perf_counter() - t) * 1000)`,
        file,
      ],
      { encoding: "utf8" },
    ).trim(),
  );

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

try {
  const results = [];
  for (const protocol of [2, 4]) {
    const file = join(dir, `p${protocol}.pkl`);
    execFileSync(python, [
      "-c",
      `import pickle; open(${JSON.stringify(file)}, 'wb').write(pickle.dumps(${VALUE}, ${protocol}))`,
    ]);
    const data = new Uint8Array(readFileSync(file));
    for (let i = 0; i < 3; i++) loads(data); // warm up the JIT
    const js = [];
    const py = [];
    const ratios = [];
    for (let i = 0; i < pairs; i++) {
      const t = performance.now();
      const v = loads(data);
      const ms = performance.now() - t;
      if (v.length !== 1_000_000) throw new Error("bad decode");
      const p = pyTime(file);
      js.push(ms);
      py.push(p);
      ratios.push(ms / p);
    }
    results.push({
      protocol,
      bytes: data.length,
      jsMs: median(js),
      pythonMs: median(py),
      medianRatio: median(ratios),
    });
  }
  for (const r of results)
    console.log(
      `protocol ${r.protocol}: ${(r.bytes / 1e6).toFixed(1)} MB, @pt/pickle ${r.jsMs.toFixed(1)} ms, CPython ${r.pythonMs.toFixed(1)} ms, median ratio ${r.medianRatio.toFixed(2)}x (${pairs} pairs)`,
    );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
