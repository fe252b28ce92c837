#!/usr/bin/env node
/** Run `pt` in this process, then print its peak RSS (`maxRSS <KiB>`) on stderr (big-check.mjs). */
import { main } from "../dist/main.js";

const code = await main(process.argv.slice(2), {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  stderrIsTTY: false,
});
process.stderr.write(`maxRSS ${process.resourceUsage().maxRSS}\n`);
process.exitCode = code;
