/** Text helpers: UTF-8 with `surrogatepass`, Python reprs, raw-unicode-escape. Internal. */

const ASCII_RUN = new TextDecoder("utf-8");

/** Decode UTF-8 as CPython's `'utf-8', 'surrogatepass'` does; returns `null` on invalid input. */
export function decodeUtf8(buf: Uint8Array, start: number, end: number): string | null {
  let out = "";
  let i = start;
  // Fast path: ASCII runs.
  while (i < end) {
    let j = i;
    while (j < end && (buf[j] as number) < 0x80) j++;
    if (j > i) {
      if (j - i < 13) {
        // short runs: V8 copies strings under 13 characters flat anyway
        for (let k = i; k < j; k++) out += String.fromCharCode(buf[k] as number);
      } else {
        // the platform's decoder on a run of ASCII bytes (exact: they are their own code points);
        // it gives a flat string (a chain of `+=` would make a deep cons string, slow to hash and
        // compare when it becomes a Map key)
        out += ASCII_RUN.decode(buf.subarray(i, j));
      }
      i = j;
      if (i >= end) break;
    }
    const b0 = buf[i] as number;
    let cp: number;
    if (b0 < 0xc2) return null;
    if (b0 < 0xe0) {
      if (i + 1 >= end) return null;
      const b1 = buf[i + 1] as number;
      if ((b1 & 0xc0) !== 0x80) return null;
      cp = ((b0 & 0x1f) << 6) | (b1 & 0x3f);
      i += 2;
    } else if (b0 < 0xf0) {
      if (i + 2 >= end) return null;
      const b1 = buf[i + 1] as number;
      const b2 = buf[i + 2] as number;
      if ((b1 & 0xc0) !== 0x80 || (b2 & 0xc0) !== 0x80) return null;
      cp = ((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f);
      if (cp < 0x800) return null;
      i += 3;
    } else if (b0 < 0xf5) {
      if (i + 3 >= end) return null;
      const b1 = buf[i + 1] as number;
      const b2 = buf[i + 2] as number;
      const b3 = buf[i + 3] as number;
      if ((b1 & 0xc0) !== 0x80 || (b2 & 0xc0) !== 0x80 || (b3 & 0xc0) !== 0x80) return null;
      cp = ((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f);
      if (cp < 0x10000 || cp > 0x10ffff) return null;
      i += 4;
    } else return null;
    out += String.fromCodePoint(cp);
  }
  return out;
}

/** Whether every UTF-16 unit of `s` is ASCII (then its UTF-8 bytes are its char codes). */
export function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** Encode a JS string as UTF-8, lone surrogates as 3-byte sequences (CPython `surrogatepass`). */
export function encodeUtf8(s: string): Uint8Array {
  const n = s.length;
  if (isAscii(s)) {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return Uint8Array.from(out);
}

/** Latin-1 decode. */
export function latin1(buf: Uint8Array, start: number, end: number): string {
  let out = "";
  for (let k = start; k < end; k += 4096) {
    out += String.fromCharCode.apply(null, buf.subarray(k, Math.min(end, k + 4096)) as unknown as number[]);
  }
  return out;
}

/** Decode `raw-unicode-escape` (protocol 0 UNICODE); `null` on a malformed escape. */
export function decodeRawUnicodeEscape(buf: Uint8Array, start: number, end: number): string | null {
  let out = "";
  let i = start;
  while (i < end) {
    const b = buf[i] as number;
    if (b !== 0x5c) {
      out += String.fromCharCode(b);
      i++;
      continue;
    }
    // Count the run of backslashes; only an odd-positioned one escapes.
    let j = i;
    while (j < end && buf[j] === 0x5c) j++;
    const run = j - i;
    const next = buf[j];
    if (run % 2 === 0 || j >= end || (next !== 0x75 && next !== 0x55)) {
      // An even run escapes nothing; a backslash not before u/U is literal.
      out += "\\".repeat(run);
      i = j;
      continue;
    }
    out += "\\".repeat(run - 1);
    const digits = next === 0x75 ? 4 : 8;
    if (j + 1 + digits > end) return null;
    let cp = 0;
    for (let k = j + 1; k < j + 1 + digits; k++) {
      const h = hexVal(buf[k] as number);
      if (h < 0) return null;
      cp = cp * 16 + h;
    }
    if (cp > 0x10ffff) return null;
    out += String.fromCodePoint(cp);
    i = j + 1 + digits;
  }
  return out;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Encode as CPython's pickler writes UNICODE at protocol 0 (raw-unicode-escape plus `\`, NUL, LF, CR, ^Z escaped). */
export function encodeRawUnicodeEscape(s: string): Uint8Array {
  const out: number[] = [];
  const hex = (v: number, w: number) => {
    const t = v.toString(16).padStart(w, "0");
    for (let k = 0; k < t.length; k++) out.push(t.charCodeAt(k));
  };
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (c >= 0x10000) {
      out.push(0x5c, 0x55);
      hex(c, 8);
    } else if (c >= 0x100 || c === 0x5c || c === 0 || c === 0x0a || c === 0x0d || c === 0x1a) {
      out.push(0x5c, 0x75);
      hex(c, 4);
    } else out.push(c);
  }
  return Uint8Array.from(out);
}

/** Python's `codecs.escape_decode` (used for protocol 0 STRING); `null` on a malformed escape. */
export function escapeDecode(buf: Uint8Array, start: number, end: number): Uint8Array | null {
  const out: number[] = [];
  let i = start;
  while (i < end) {
    const b = buf[i++] as number;
    if (b !== 0x5c) {
      out.push(b);
      continue;
    }
    if (i >= end) return null;
    const c = buf[i++] as number;
    switch (c) {
      case 0x0a:
        break;
      case 0x5c:
        out.push(0x5c);
        break;
      case 0x27:
        out.push(0x27);
        break;
      case 0x22:
        out.push(0x22);
        break;
      case 0x62:
        out.push(8);
        break;
      case 0x66:
        out.push(12);
        break;
      case 0x74:
        out.push(9);
        break;
      case 0x6e:
        out.push(10);
        break;
      case 0x72:
        out.push(13);
        break;
      case 0x76:
        out.push(11);
        break;
      case 0x61:
        out.push(7);
        break;
      case 0x78: {
        if (i + 2 > end) return null;
        const h1 = hexVal(buf[i] as number);
        const h2 = hexVal(buf[i + 1] as number);
        if (h1 < 0 || h2 < 0) return null;
        out.push(h1 * 16 + h2);
        i += 2;
        break;
      }
      default:
        if (c >= 0x30 && c <= 0x37) {
          let v = c - 0x30;
          for (let k = 0; k < 2 && i < end; k++) {
            const d = buf[i] as number;
            if (d < 0x30 || d > 0x37) break;
            v = v * 8 + (d - 0x30);
            i++;
          }
          out.push(v & 0xff);
        } else out.push(0x5c, c);
    }
  }
  return Uint8Array.from(out);
}

const NONPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** Python's `repr(str)`. */
export function reprStr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    let ch = s[i] as string;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        ch = s.slice(i, i + 2);
        i++;
      }
    }
    if (ch === quote || ch === "\\") out += `\\${ch}`;
    else if (c === 9) out += "\\t";
    else if (c === 10) out += "\\n";
    else if (c === 13) out += "\\r";
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else if (c < 0x7f) out += ch;
    else if (c !== 0x20 && NONPRINTABLE.test(ch)) {
      if (c < 0x100) out += `\\x${c.toString(16).padStart(2, "0")}`;
      else if (c < 0x10000) out += `\\u${c.toString(16).padStart(4, "0")}`;
      else out += `\\U${c.toString(16).padStart(8, "0")}`;
    } else out += ch;
  }
  return out + quote;
}

/** Python's `repr(bytes)` (without a prefix when `prefix` is empty). */
export function reprBytes(b: Uint8Array, prefix = "b"): string {
  let hasSingle = false;
  let hasDouble = false;
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x27) hasSingle = true;
    else if (b[i] === 0x22) hasDouble = true;
  }
  const quote = hasSingle && !hasDouble ? 0x22 : 0x27;
  let out = prefix + String.fromCharCode(quote);
  for (let i = 0; i < b.length; i++) {
    const c = b[i] as number;
    if (c === quote || c === 0x5c) out += `\\${String.fromCharCode(c)}`;
    else if (c === 9) out += "\\t";
    else if (c === 10) out += "\\n";
    else if (c === 13) out += "\\r";
    else if (c < 0x20 || c >= 0x7f) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else out += String.fromCharCode(c);
  }
  return out + String.fromCharCode(quote);
}

/** Python's `repr(float)`. */
export function reprFloat(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Number.POSITIVE_INFINITY) return "inf";
  if (x === Number.NEGATIVE_INFINITY) return "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const sign = x < 0 ? "-" : "";
  const e = Math.abs(x).toExponential();
  const m = /^(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(e);
  if (!m) return String(x);
  const digits = (m[1] as string) + (m[2] ?? "");
  const exp = Number(m[3]);
  const decpt = exp + 1;
  if (decpt <= -4 || decpt > 16) {
    const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const ae = Math.abs(exp);
    return `${sign}${mant}e${exp < 0 ? "-" : "+"}${ae < 10 ? `0${ae}` : ae}`;
  }
  if (decpt <= 0) return `${sign}0.${"0".repeat(-decpt)}${digits}`;
  if (decpt >= digits.length) return `${sign}${digits}${"0".repeat(decpt - digits.length)}.0`;
  return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
}
