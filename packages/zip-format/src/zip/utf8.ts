const encoder = new TextEncoder();

/**
 * The UTF-8 bytes of `s`, as `TextEncoder.encode` gives them: short ASCII strings (record names,
 * written by the ten thousand) are copied in a plain loop, as TextEncoder's per-call cost dominates
 * there; anything else goes through TextEncoder.
 */
export function utf8Bytes(s: string): Uint8Array {
  const n = s.length;
  if (n > 256) return encoder.encode(s);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return encoder.encode(s);
    out[i] = c;
  }
  return out;
}
