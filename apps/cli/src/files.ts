import { type FileSource, openFileSource } from "@pt/storage/node";
import { CliError } from "./io.js";

/** Open `path` as a ByteSource, turning file-system errors into one-line CLI errors. */
export function openSource(path: string): FileSource {
  try {
    return openFileSource(path);
  } catch (e) {
    throw new CliError(`cannot open ${path}: ${fsReason(e)}`, 2, { code: "Io" });
  }
}

/** A short reason for a Node file-system error. */
export function fsReason(e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code === "ENOENT") return "no such file";
  if (code === "EISDIR") return "is a directory";
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  return e instanceof Error ? e.message : String(e);
}
