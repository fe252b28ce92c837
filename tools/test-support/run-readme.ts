import { readFileSync } from "node:fs";
import { vi } from "vitest";

/**
 * Test support shared by the packages' README tests: runs the first ```ts block of `readme`
 * between the headings `from` and `to` (the whole file when `from` is null), with its imports
 * bound to `modules`, and returns what it passed to console.log.
 */
export async function runReadmeExample(
  readme: URL,
  from: string | null,
  to: string | null,
  modules: Record<string, unknown>,
): Promise<unknown[][]> {
  const text = readFileSync(readme, "utf8");
  const start = from === null ? 0 : text.indexOf(from);
  const section = text.slice(start, to === null ? undefined : text.indexOf(to, start));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error(`no example under ${from ?? "the top"} of ${readme.pathname}`);
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
