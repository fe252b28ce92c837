export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv.includes("--help")) {
    process.stdout.write("usage: pt <command> [options]\n");
    return 0;
  }
  process.stderr.write(`pt: unknown command ${argv[0]}\n`);
  return 2;
}
