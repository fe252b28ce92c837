/**
 * `pnpm conformance`: runs the conformance checks (see runner.ts), prints the table case × check,
 * the failures, and a closing line `N passed, N failed`. Exit status 1 on any unexpected result
 * (a failure not in known-failures.json, or a listed failure that passes).
 *
 * usage: node dist/main.js [--json | --markdown] [--only SUBSTRING]... [--skip-torch] [--skip-corpus]
 *        [--oracle LABEL=COMMAND]...   (default: 1.13=/usr/bin/python3 2.14=scripts/torch2-python)
 * (`--markdown` prints the README section: date, torch version, totals, the table, known failures)
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  type CheckResult,
  formatFailures,
  formatTable,
  type KnownFailures,
  outcome,
  staleKnown,
  summarize,
} from "./results.js";
import { type Oracle, type Paths, runConformance } from "./runner.js";

export * from "./results.js";
export * from "./runner.js";

/**
 * Default paths, from this file's location (src/ or dist/ of apps/conformance): both fixture sets
 * and both oracles, torch 1.13 (`$PT_PYTHON`, default `/usr/bin/python3`) and torch 2.14
 * (`$PT_PYTHON2`, default `scripts/torch2-python`, the forky chroot of `pnpm oracle`).
 */
export function defaultPaths(): Paths {
  const app = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const root = resolve(app, "../..");
  const python = process.env.PT_PYTHON ?? "/usr/bin/python3";
  return {
    root,
    fixtures: join(app, "fixtures"),
    sets: [
      { label: "1.13", dir: join(app, "fixtures"), prefix: "" },
      { label: "2.14", dir: join(app, "fixtures-2.14"), prefix: "2.14/" },
    ],
    corpus: process.env.PT_CORPUS ?? join(app, "corpus"),
    python,
    oracles: [
      { label: "1.13", command: [python] },
      { label: "2.14", command: [process.env.PT_PYTHON2 ?? join(root, "scripts/torch2-python")] },
    ],
  };
}

/** `LABEL=COMMAND` (`2.14=scripts/torch2-python`; the command is split on spaces). */
export function parseOracle(spec: string): Oracle {
  const i = spec.indexOf("=");
  const label = spec.slice(0, i).trim();
  const command = spec
    .slice(i + 1)
    .split(" ")
    .filter((x) => x.length > 0);
  if (i <= 0 || !/^[0-9][0-9.]*$/.test(label) || command.length === 0)
    throw new Error(`--oracle ${spec}: expected LABEL=COMMAND, e.g. 2.14=scripts/torch2-python`);
  return { label, command };
}

/** Read `known-failures.json` (keys starting with `_` are comments). */
export function readKnownFailures(path: string): KnownFailures {
  const raw = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  const out: KnownFailures = {};
  for (const [k, v] of Object.entries(raw)) if (!k.startsWith("_")) out[k] = v as KnownFailures[string];
  return out;
}

function torchVersionOf(oracle: Oracle): string {
  try {
    const [cmd, ...pre] = oracle.command as [string, ...string[]];
    return execFileSync(cmd, [...pre, "-c", "import torch; print(torch.__version__)"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return "unavailable";
  }
}

/** Run from the command line; returns the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  const only: string[] = [];
  let json = false;
  let markdown = false;
  let skipTorch = false;
  let skipCorpus = false;
  const oracles: Oracle[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--json") json = true;
    else if (a === "--markdown") markdown = true;
    else if (a === "--skip-torch") skipTorch = true;
    else if (a === "--skip-corpus") skipCorpus = true;
    else if (a === "--only" && argv[i + 1] !== undefined) only.push(argv[++i] as string);
    else if (a === "--oracle" && argv[i + 1] !== undefined) {
      try {
        oracles.push(parseOracle(argv[++i] as string));
      } catch (e) {
        process.stderr.write(`conformance: ${(e as Error).message}\n`);
        return 2;
      }
    } else {
      process.stderr.write(
        `conformance: unknown argument ${a}\nusage: node dist/main.js [--json | --markdown] [--only SUBSTRING]... [--skip-torch] [--skip-corpus] [--oracle LABEL=COMMAND]...\n`,
      );
      return 2;
    }
  }
  const defaults = defaultPaths();
  const paths: Paths = oracles.length ? { ...defaults, oracles } : defaults;
  const oracleList = paths.oracles ?? [];
  const knownPath = join(paths.root, "apps/conformance/known-failures.json");
  const known = existsSync(knownPath) ? readKnownFailures(knownPath) : {};
  const started = Date.now();
  const { results } = await runConformance(paths, {
    only,
    skipTorch,
    skipCorpus,
    log: (l) => process.stderr.write(`conformance: ${l}\n`),
  });
  const seconds = (Date.now() - started) / 1000;
  const s = summarize(results, known);
  // A partial run (--only/--skip-*) cannot tell stale entries from skipped ones.
  const stale = only.length || skipTorch || skipCorpus ? [] : staleKnown(results, known);
  const versions = oracleList.map((o) => ({ ...o, version: skipTorch ? "not run" : torchVersionOf(o) }));
  const torch = skipTorch ? "not run" : versions.map((o) => `${o.label}: ${o.version}`).join(", ");
  const bad = s.unexpectedFailures + s.unexpectedPasses + stale.length;
  if (json) {
    process.stdout.write(
      `${JSON.stringify(
        {
          date: new Date().toISOString(),
          torch,
          oracles: versions,
          seconds,
          summary: s,
          stale_known_failures: stale,
          results: results.map((r: CheckResult) => ({ ...r, outcome: outcome(r, known) })),
        },
        null,
        1,
      )}\n`,
    );
  } else if (markdown) {
    const date = new Date().toISOString().slice(0, 10);
    const lines = [
      `Last run: ${date}, against ${versions.map((o) => `torch ${o.version} (\`${o.command.join(" ").replace(`${paths.root}/`, "")}\`, columns \`@${o.label}\`)`).join(" and ")}, ${seconds.toFixed(1)} s: **${s.passed} passed, ${s.failed} failed, ${s.skipped} not applicable** (${s.knownFailures} known failures, ${s.unexpectedFailures} unexpected failures, ${s.unexpectedPasses} unexpected passes).`,
      "",
      "```text",
      formatTable(results, known).trimEnd(),
      "```",
      "",
      "Known failures (`known-failures.json`):",
      "",
      ...results
        .filter((r) => outcome(r, known) === "xfail")
        .map((r) => `- \`${r.case}\` ${r.check}: ${known[r.case]?.[r.check]}`),
      "",
    ];
    process.stdout.write(lines.join("\n"));
  } else {
    process.stdout.write(formatTable(results, known));
    process.stdout.write("\n");
    process.stdout.write(formatFailures(results, known));
    for (const st of stale) process.stdout.write(`STALE  ${st}: listed in known-failures.json but not run\n`);
    process.stdout.write(
      `\ntorch ${torch}; ${new Date().toISOString().slice(0, 10)}, ${seconds.toFixed(1)} s; ${s.knownFailures} known failures, ${s.unexpectedFailures} unexpected failures, ${s.unexpectedPasses} unexpected passes, ${s.skipped} not applicable\n`,
    );
    process.stdout.write(`${s.passed} passed, ${s.failed} failed\n`);
  }
  return bad ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`conformance: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 2;
    },
  );
}
