/**
 * Test helper: compares a loaded value with the torch description of the same file
 * (`apps/conformance/corpus/expected/*.json`, `apps/conformance/fixtures/*.json`) through the one
 * describer, `@pt/describe`: the `object` tree and, when the description has one, the `storages`
 * list (storage identity in order of first use, and views of other storages with their offsets).
 */
import { createHash } from "node:crypto";
import { compareDescriptions, describe } from "@pt/describe";

export function sha256(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Compare a loaded value with a description; resolves to the list of differences (empty = equal). */
export async function compareWithDescription(
  description: { object: unknown; storages?: unknown[] },
  value: unknown,
): Promise<string[]> {
  const d = await describe(value);
  return [
    ...compareDescriptions(d.object, description.object),
    ...(description.storages ? compareDescriptions(d.storages, description.storages, "storages") : []),
  ];
}
