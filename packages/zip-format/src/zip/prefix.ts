/**
 * The archive prefix torch uses when saving: the file's base name without its last extension
 * (`/models/sd.pt` → `sd`, `ckpt.tar.gz` → `ckpt.tar`, `weights` → `weights`), as
 * `PyTorchStreamWriter`'s `basename` computes it (both `/` and `\` separate folders); `archive`
 * for file objects and when there is no usable name.
 */
export function archivePrefix(target?: string | null): string {
  if (target === undefined || target === null) return "archive";
  let start = 0;
  for (let i = 0; i < target.length; i++) {
    const c = target[i];
    if (c === "/" || c === "\\") start = i + 1;
  }
  if (start >= target.length) return "archive";
  let end = target.length;
  for (let i = target.length; i > start; i--) {
    if (target[i - 1] === ".") {
      end = i - 1;
      break;
    }
  }
  const name = target.slice(start, end);
  return name.length === 0 ? "archive" : name;
}
