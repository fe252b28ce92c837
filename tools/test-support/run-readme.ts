import { readFileSync } from "node:fs";
import { inspect } from "node:util";
import ts from "typescript";
import { vi } from "vitest";

/** What a README example did when run. */
export interface ReadmeRun {
  /** The example's source, as written in the README. */
  readonly code: string;
  /** The arguments of each `console.log` call, in order. */
  readonly logs: unknown[][];
  /** Each `console.log` line as Node prints it (non-strings through `util.inspect`, joined by spaces). */
  readonly printed: string[];
  /** The `// …` comment ending each `console.log(…);` line of the example, in order. */
  readonly comments: string[];
}

const IMPORT = /import\s+(type\s+)?(\{[^}]*\}|\*\s+as\s+\w+)\s+from\s+"([^"]+)";?/g;

/**
 * The one README-example runner of the packages' README tests: runs the first ```ts or ```js block
 * of `readme` between the headings `from` and `to` (the whole file when `from` is null; `to` null:
 * to the end). TypeScript is transpiled (types removed, nothing type-checked: the typecheck step
 * covers test files, not READMEs), then its imports are bound to `modules` (an import of a module
 * not given fails), and the code runs as an async function (top-level `await` works).
 */
export async function runReadmeExample(
  readme: URL,
  from: string | null,
  to: string | null,
  modules: Record<string, unknown>,
): Promise<ReadmeRun> {
  const text = readFileSync(readme, "utf8");
  const start = from === null ? 0 : text.indexOf(from);
  if (start < 0) throw new Error(`no heading ${from} in ${readme.pathname}`);
  const end = to === null ? -1 : text.indexOf(to, start);
  const section = text.slice(start, end < 0 ? undefined : end);
  const code = /```(?:ts|js)\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error(`no example under ${from ?? "the top"} of ${readme.pathname}`);
  const js = ts
    .transpileModule(code, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    })
    .outputText.replace(IMPORT, (_, typeOnly: string | undefined, what: string, module: string) => {
      if (typeOnly) return "";
      if (!(module in modules))
        throw new Error(`${readme.pathname}: the example imports ${module}, not given`);
      const m = `modules[${JSON.stringify(module)}]`;
      if (what.startsWith("*")) return `const ${what.replace(/^\*\s+as\s+/, "")} = ${m};`;
      return `const ${what.replace(/\btype\s+\w+\s*,?/g, "").replace(/\s+as\s+/g, ": ")} = ${m};`;
    });
  const logs: unknown[][] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
    logs.push(args);
  });
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (
    ...args: string[]
  ) => (...a: unknown[]) => Promise<void>;
  try {
    await new AsyncFunction("modules", js)(modules);
  } finally {
    log.mockRestore();
  }
  const printed = logs.map((args) => args.map((a) => (typeof a === "string" ? a : inspect(a))).join(" "));
  const comments = [...code.matchAll(/console\.log\(.*\);\s*\/\/ (.*)$/gm)].map((m) => m[1] as string);
  return { code, logs, printed, comments };
}
