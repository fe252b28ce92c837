import { readFileSync } from "node:fs";
import { vi } from "vitest";

/**
 * Runs the first ```ts block of the README between `from` and `to` (headings), with its imports
 * bound to `modules`, and returns what it passed to console.log.
 */
export async function runReadmeExample(
  from: string,
  to: string | null,
  modules: Record<string, unknown>,
): Promise<unknown[][]> {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const start = readme.indexOf(from);
  const section = readme.slice(start, to === null ? undefined : readme.indexOf(to, start));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error(`no example under ${from} in the README`);
  const js = code.replace(
    /import \{([^}]*)\} from "([^"]+)";/g,
    (_, names: string, module: string) => `const {${names}} = modules[${JSON.stringify(module)}];`,
  );
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
  return logs;
}
