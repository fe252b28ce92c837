#!/usr/bin/env node
// Sums the per-package vitest summaries ("Tests  12 passed | 1 failed (13)") found in a turbo log
// and prints one closing line: "N passed, N failed[, N skipped]".
import { readFileSync } from "node:fs";

const log = readFileSync(process.argv[2] ?? 0, "utf8").replace(
  new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g"),
  "",
);
let passed = 0;
let failed = 0;
let skipped = 0;
let suites = 0;
for (const line of log.split("\n")) {
  const m = /\bTests\s+(.*)\(\d+\)\s*$/.exec(line);
  if (!m) continue;
  suites++;
  for (const part of m[1].split("|")) {
    const n = /(\d+)\s+(passed|failed|skipped|todo)/.exec(part);
    if (!n) continue;
    const count = Number(n[1]);
    if (n[2] === "passed") passed += count;
    else if (n[2] === "failed") failed += count;
    else skipped += count;
  }
}
if (suites === 0) {
  console.error("test-summary: no vitest summary found in the log");
  process.exit(1);
}
console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
