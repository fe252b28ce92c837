/** torch's legacy magic number, `0x1950a86a20f9469cfc6c`. */
export const MAGIC_NUMBER = 0x1950a86a20f9469cfc6cn;
/** The legacy stream's protocol version. */
export const PROTOCOL_VERSION = 1001;

const MAGIC_LE = (() => {
  const out = new Uint8Array(10);
  let v = MAGIC_NUMBER;
  for (let i = 0; i < 10; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
})();
const MAGIC_DECIMAL = MAGIC_NUMBER.toString();

/**
 * Whether `head` (the first bytes of a file; 32 are enough) starts a legacy stream: a pickle of
 * the magic number, as LONG1 (protocol ≥ 2, possibly after a FRAME) or as a protocol-0/1 LONG.
 */
export function isLegacy(head: Uint8Array): boolean {
  let i = 0;
  if (head[0] === 0x80) {
    i = 2;
    if (head[i] === 0x95) i += 9; // FRAME + 8-byte length
  }
  if (head[i] === 0x8a) {
    if (head[i + 1] !== 10) return false;
    for (let k = 0; k < 10; k++) if (head[i + 2 + k] !== MAGIC_LE[k]) return false;
    return true;
  }
  if (head[i] === 0x4c) {
    // LONG: 'L' decimal ['L'] '\n'
    for (let k = 0; k < MAGIC_DECIMAL.length; k++) {
      if (head[i + 1 + k] !== MAGIC_DECIMAL.charCodeAt(k)) return false;
    }
    let j = i + 1 + MAGIC_DECIMAL.length;
    if (head[j] === 0x4c) j++;
    return head[j] === 0x0a;
  }
  return false;
}

/** Whether `head` (at least 262 bytes) is a POSIX/GNU tar header (`ustar` at offset 257). */
export function isTar(head: Uint8Array): boolean {
  if (head.length < 262) return false;
  const magic = "ustar";
  for (let k = 0; k < magic.length; k++) if (head[257 + k] !== magic.charCodeAt(k)) return false;
  return true;
}
