#!/usr/bin/env node
/**
 * Consuming the packages before they are published, checked (run after `pnpm build`):
 *
 *   node scripts/pack-check.mjs [--keep]
 *
 * 1. `pnpm pack`s every publishable package (packages/* and apps/cli; `workspace:^` ranges become
 *    real versions) into a temporary folder.
 * 2. Makes a scratch npm project there and `npm install`s all the tarballs together (third-party
 *    dependencies, such as the CLI's cli-progress, come from the npm registry), plus TypeScript.
 * 3. Runs the README examples that are runnable as they stand (@pt/serialization, @pt/safetensors,
 *    @pt/zip-format's container example) and the installed `pt` binary on examples/mlp.pt.
 * 4. Imports `@pt/serialization/node` under the `browser` condition: it must throw the
 *    "Node-only entry" error.
 * 5. Type-checks a consumer that imports every entry point under `moduleResolution` node16 and
 *    bundler (must pass), and node10 (must fail only on the `/node` subpaths, as documented).
 */
import { execFile, execFileSync, spawnSync } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const root = fileURLToPath(new URL("..", import.meta.url));
const keep = process.argv.includes("--keep");
const t0 = Date.now();
const say = (m) => console.log(`pack-check: ${m} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
const fail = (m) => {
  console.error(`pack-check: FAILED: ${m}`);
  process.exitCode = 1;
};

const dirs = [
  ...readdirSync(join(root, "packages")).map((d) => join(root, "packages", d)),
  join(root, "apps/cli"),
];
const pkgs = dirs
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) }))
  .filter((p) => !p.manifest.private);
const work = mkdtempSync(join(tmpdir(), "pt-pack-"));
try {
  // 1. pack
  const tarballs = {};
  const run = promisify(execFile);
  const packed = await Promise.all(
    pkgs.map(({ dir }) => run("pnpm", ["pack", "--pack-destination", work], { cwd: dir, encoding: "utf8" })),
  );
  for (const [i, { manifest }] of pkgs.entries()) {
    const out = packed[i].stdout;
    const file = out
      .trim()
      .split("\n")
      .map((l) => l.trim())
      .reverse()
      .find((l) => l.endsWith(".tgz"));
    if (!file) throw new Error(`pnpm pack printed no tarball for ${manifest.name}:\n${out}`);
    tarballs[manifest.name] = `file:${file.startsWith("/") ? file : join(work, file)}`;
  }
  say(`packed ${Object.keys(tarballs).length} packages`);

  // 2. install together into a scratch project
  const app = join(work, "app");
  mkdirSync(app);
  const rootManifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const typesNode = JSON.parse(
    readFileSync(join(root, "node_modules/@types/node/package.json"), "utf8"),
  ).version;
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify(
      {
        name: "pt-consumer",
        private: true,
        type: "module",
        dependencies: tarballs,
        devDependencies: { typescript: rootManifest.devDependencies.typescript, "@types/node": typesNode },
      },
      null,
      2,
    ),
  );
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], {
    cwd: app,
    stdio: ["ignore", "inherit", "inherit"],
  });
  say("npm install of all tarballs together");

  // 3. README examples, as written
  const block = (readme, from = null) => {
    const text = readFileSync(join(root, readme), "utf8");
    const section = from === null ? text : text.slice(text.indexOf(from));
    const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    if (!code) throw new Error(`no example in ${readme}`);
    return code;
  };
  const examples = [
    ["serialization", block("packages/serialization/README.md")],
    ["safetensors", block("packages/safetensors/README.md")],
    ["zip-format", block("packages/zip-format/README.md", "## Zip container")],
  ];
  for (const [name, code] of examples) {
    const file = join(app, `readme-${name}.mjs`);
    writeFileSync(file, code);
    const r = spawnSync(process.execPath, [file], { cwd: app, encoding: "utf8" });
    if (r.status !== 0) fail(`README example of @pt/${name}:\n${r.stderr}`);
  }
  copyFileSync(join(root, "examples/mlp.pt"), join(app, "mlp.pt"));
  const pt = spawnSync(join(app, "node_modules/.bin/pt"), ["inspect", "mlp.pt"], {
    cwd: app,
    encoding: "utf8",
  });
  if (pt.status !== 0 || !pt.stdout.includes("totals: 9 tensors"))
    fail(`pt inspect mlp.pt:\n${pt.stdout}${pt.stderr}`);
  say(`ran ${examples.length} README examples and the pt binary`);

  // 4. the browser condition of the /node subpaths
  for (const p of ["@pt/serialization", "@pt/storage", "@pt/zip-format"]) {
    const r = spawnSync(process.execPath, ["--conditions=browser", "-e", `await import("${p}/node")`], {
      cwd: app,
      encoding: "utf8",
    });
    if (
      r.status === 0 ||
      !r.stderr.includes(`${p}/node is a Node-only entry`) ||
      !r.stderr.includes(`use ${p}`)
    )
      fail(`${p}/node under the browser condition:\n${r.stderr}`);
  }
  say("browser condition of the /node subpaths");

  // 5. types under each module resolution
  writeFileSync(
    join(app, "consumer.ts"),
    `import { isPtError, PtError } from "@pt/errors";
import { loads } from "@pt/pickle";
import { dtypes, isPtError as storageIsPtError, type ByteSource } from "@pt/storage";
import { tensor } from "@pt/tensor";
import { ZipReader } from "@pt/zip-format";
import { loadLegacy } from "@pt/legacy-format";
import { Module } from "@pt/nn-module";
import { readSafetensors } from "@pt/safetensors";
import { load, py } from "@pt/serialization";
import { loadFile } from "@pt/serialization/node";
import { openFileSource } from "@pt/storage/node";
import { nodeCrc32 } from "@pt/zip-format/node";
import { main } from "@pt/cli";
const t = tensor([1, 2], { dtype: dtypes.float32 });
const n: number = t.numel;
const src: ByteSource = openFileSource("mlp.pt");
const branded: boolean = isPtError(new PtError("consumer", "Checked", "x"), { layer: "consumer" }) && storageIsPtError(null);
export const all = [branded, loads, ZipReader, loadLegacy, Module, readSafetensors, load, py.float(2), loadFile, nodeCrc32, main, n, src];
`,
  );
  const tsc = join(app, "node_modules/typescript/bin/tsc");
  // one full check of our .d.ts files (node16, skipLibCheck off); the others check resolution only
  const check = (module, resolution, libCheck = false) =>
    run(
      process.execPath,
      [
        tsc,
        "--noEmit",
        "--strict",
        "--skipLibCheck",
        libCheck ? "false" : "true",
        "--target",
        "es2022",
        "--lib",
        "es2023,dom",
        "--types",
        "node",
        "--module",
        module,
        "--moduleResolution",
        resolution,
        "consumer.ts",
      ],
      { cwd: app, encoding: "utf8" },
    ).then(
      (r) => ({ status: 0, stdout: r.stdout }),
      (e) => ({ status: e.code ?? 1, stdout: `${e.stdout ?? ""}${e.stderr ?? ""}` }),
    );
  const modes = [
    ["node16", "node16"],
    ["nodenext", "nodenext"],
    ["esnext", "bundler"],
    ["commonjs", "node10"],
  ];
  const checked = await Promise.all(modes.map(([m, r], i) => check(m, r, i === 0)));
  for (const [i, [, resolution]] of modes.slice(0, 3).entries()) {
    const r = checked[i];
    if (r.status !== 0) fail(`types under moduleResolution ${resolution}:\n${r.stdout}`);
  }
  const old = checked[3];
  const errors = old.stdout.split("\n").filter((l) => l.includes("error TS"));
  if (errors.length === 0 || errors.some((l) => !/['"]@pt\/[a-z-]+\/node['"]/.test(l)))
    fail(`node10 should fail on the /node subpaths only:\n${old.stdout}`);
  say("types under node16, nodenext and bundler (node10: only the /node subpaths fail, as documented)");
} finally {
  if (keep) console.log(`pack-check: kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
if (process.exitCode) process.exit(process.exitCode);
say("ok");
