import { UsageError } from "./io.js";

/** One option a command accepts. */
export interface OptionSpec {
  /** Long name without dashes (`json` for `--json`). */
  readonly name: string;
  /** Whether the option takes a value (`--format zip` or `--format=zip`). */
  readonly value?: boolean;
  /** Allowed values (checked). */
  readonly choices?: readonly string[];
  /** One-letter alias (`-j`). */
  readonly short?: string;
}

/** Parsed command line: positionals in order, options by long name (`true` for flags). */
export interface ParsedArgs {
  readonly positionals: string[];
  readonly options: Map<string, string | true>;
}

/**
 * Parse `argv` against `specs`: `--name`, `--name value`, `--name=value`, `-x`, and `--` (everything
 * after it is positional). Unknown options, missing values, values not in `choices` and repeated
 * options are usage errors. `--help`/`-h` is always accepted.
 */
export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[]): ParsedArgs {
  const all: OptionSpec[] = [...specs, { name: "help", short: "h" }];
  const byLong = new Map(all.map((s) => [s.name, s]));
  const byShort = new Map(all.filter((s) => s.short).map((s) => [s.short as string, s]));
  const positionals: string[] = [];
  const options = new Map<string, string | true>();
  let i = 0;
  while (i < argv.length) {
    const a = argv[i++] as string;
    if (a === "--") {
      positionals.push(...argv.slice(i));
      break;
    }
    let spec: OptionSpec | undefined;
    let inline: string | undefined;
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      if (eq >= 0) inline = a.slice(eq + 1);
      spec = byLong.get(name);
      if (!spec) throw new UsageError(`unknown option --${name}`);
    } else if (a.startsWith("-") && a.length === 2) {
      spec = byShort.get(a.slice(1));
      if (!spec) throw new UsageError(`unknown option ${a}`);
    } else {
      positionals.push(a);
      continue;
    }
    if (options.has(spec.name)) throw new UsageError(`option --${spec.name} given twice`);
    if (spec.value) {
      const v = inline ?? argv[i++];
      if (v === undefined) throw new UsageError(`option --${spec.name} needs a value`);
      if (spec.choices && !spec.choices.includes(v))
        throw new UsageError(
          `option --${spec.name}: ${JSON.stringify(v)} is not one of ${spec.choices.join(", ")}`,
        );
      options.set(spec.name, v);
    } else {
      if (inline !== undefined) throw new UsageError(`option --${spec.name} takes no value`);
      options.set(spec.name, true);
    }
  }
  return { positionals, options };
}

/** Check the number of positionals; `names` are used in the message. */
export function expectPositionals(args: ParsedArgs, names: readonly string[]): string[] {
  if (args.positionals.length !== names.length) {
    const what = args.positionals.length < names.length ? "missing" : "too many arguments";
    throw new UsageError(
      args.positionals.length < names.length
        ? `${what} ${names.slice(args.positionals.length).join(" ")}`
        : `${what} (expected ${names.join(" ")})`,
    );
  }
  return args.positionals;
}
