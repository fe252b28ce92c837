/**
 * `fn` over `items`, at most `limit` calls at a time (remote files open in parallel, not one round
 * trip after another). Every call settles before this returns: the results in `items`' order, or
 * the first failure (by index) thrown after `cleanup` was given every value that was made.
 */
export async function settleAll<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  cleanup: (made: R[]) => Promise<void> | void = () => undefined,
): Promise<R[]> {
  const results = new Array<PromiseSettledResult<R>>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { status: "fulfilled", value: await fn(items[i] as T, i) };
      } catch (e) {
        results[i] = { status: "rejected", reason: e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  const failed = results.find((r) => r.status === "rejected");
  const made = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  if (failed) {
    await cleanup(made);
    throw failed.reason;
  }
  return made;
}
