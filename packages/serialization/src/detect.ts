/** The container formats `torch.save`/`torch.jit.save` produce. */
/** `"pt2"`: a `torch.export` archive (a zip file whose `archive_format` says `pt2`), known once opened. */
export type Format = "zip" | "legacy" | "tar" | "torchscript" | "pt2";

// 0x1950a86a20f9469cfc6c, the legacy magic number, as pickled by protocol 2+ (LONG1, 10 bytes) …
const MAGIC_LONG1 = [0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
// … and by protocols 0/1 (LONG, decimal text).
const MAGIC_LONG = "L119547037146038801333356L\n";

/**
 * The format of a checkpoint from its first bytes (512 are enough): zip (`PK\x03\x04`; TorchScript
 * archives are zips too — `open` tells them apart), tar (`ustar` at offset 257), legacy (a pickle
 * whose first value is torch's magic number), else `"unknown"`.
 */
export function detectFormat(head: Uint8Array): Format | "unknown" {
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b) {
    if ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6)) return "zip";
  }
  if (head.length >= 262) {
    let tar = true;
    const u = "ustar";
    for (let i = 0; i < 5; i++) if (head[257 + i] !== u.charCodeAt(i)) tar = false;
    if (tar) return "tar";
  }
  if (head.length >= 2 + MAGIC_LONG1.length && head[0] === 0x80 && (head[1] as number) <= 5) {
    // protocol 4/5 streams start with a FRAME opcode (0x95 + 8-byte length) before the number
    const at = head[2] === 0x95 ? 11 : 2;
    if (MAGIC_LONG1.every((b, i) => head[at + i] === b)) return "legacy";
  }
  if (head.length >= MAGIC_LONG.length) {
    let ok = true;
    for (let i = 0; i < MAGIC_LONG.length; i++) if (head[i] !== MAGIC_LONG.charCodeAt(i)) ok = false;
    if (ok) return "legacy";
  }
  return "unknown";
}
