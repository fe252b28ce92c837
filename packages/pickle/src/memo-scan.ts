/**
 * A pre-pass over one pickle that finds which memo slots are ever read back (GET, BINGET,
 * LONG_BINGET). CPython's pickler memoizes nearly every object it writes, but most of them are
 * never fetched again; an unpickler that keeps all of them alive until STOP makes every
 * intermediate tuple and argument survive, so the garbage collector copies them again and again.
 * With the set of slots that are read, the unpickler keeps only those. Internal.
 *
 * The scan never throws and never allocates in proportion to anything but the pickle's own memo
 * indices (bounded by `maxIndex`): on anything it does not fully understand (an unknown opcode, a
 * truncated argument, a memo index it cannot predict) it gives up and returns `null`, and the
 * unpickler then keeps every memo entry as before (and reports the real error itself).
 */

// Argument shapes: n >= 0 fixed bytes; the negative codes below; INVALID for non-opcodes.
const INVALID = -1;
const LEN1 = -2; // 1-byte length, then that many bytes
const LEN4 = -3; // 4-byte little-endian length (a negative int32 gives up)
const LEN8 = -4; // 8-byte little-endian length
const LINE = -5; // one newline-terminated line
const LINE2 = -6; // two newline-terminated lines

const ARG = (() => {
  const a = new Int8Array(256).fill(INVALID);
  const set = (chars: string, v: number) => {
    for (const c of chars) a[c.charCodeAt(0)] = v;
  };
  // no argument
  set("(.012N\x88\x89)]}aeldt\x85\x86\x87suRb\x81\x92\x93\x94\x8f\x90\x91Qo\x97\x98", 0);
  set("Kqh\x80\x82", 1); // BININT1 BINPUT BINGET PROTO EXT1
  set("M\x83", 2); // BININT2 EXT2
  set("Jrj\x84", 4); // BININT LONG_BINPUT LONG_BINGET EXT4
  set("G\x95", 8); // BINFLOAT, FRAME (its length only: the frame's opcodes follow inline)
  set("\x8cCU\x8a", LEN1); // SHORT_BINUNICODE SHORT_BINBYTES SHORT_BINSTRING LONG1
  set("XBT\x8b", LEN4); // BINUNICODE BINBYTES BINSTRING LONG4
  set("\x8d\x8e\x96", LEN8); // BINUNICODE8 BINBYTES8 BYTEARRAY8
  set("ILFSVpgP", LINE); // INT LONG FLOAT STRING UNICODE PUT GET PERSID
  set("ci", LINE2); // GLOBAL INST
  return a;
})();

/**
 * Marks of the memo slots read by the pickle starting at `start` (`used[i] === 1` when slot `i`
 * is fetched), or `null` when the scan gives up. Slots at or above `maxIndex` make it give up.
 */
export function scanMemoReads(data: Uint8Array, start: number, maxIndex: number): Uint8Array | null {
  const end = data.length;
  let used = new Uint8Array(64);
  // Memo stores so far, and whether each store used the next index in sequence (then MEMOIZE's
  // implicit index, "the number of entries so far", is that count).
  let stores = 0;
  let sequential = true;
  const mark = (idx: number): boolean => {
    if (!(idx >= 0 && idx < maxIndex)) return false;
    if (idx >= used.length) {
      let n = used.length * 2;
      while (n <= idx) n *= 2;
      const grown = new Uint8Array(Math.min(n, maxIndex));
      grown.set(used);
      used = grown;
    }
    used[idx] = 1;
    return true;
  };
  const u32 = (p: number): number =>
    ((data[p] as number) |
      ((data[p + 1] as number) << 8) |
      ((data[p + 2] as number) << 16) |
      ((data[p + 3] as number) << 24)) >>>
    0;
  const lineInt = (from: number, to: number): number => {
    // a PUT/GET argument: decimal digits (at most 15, so the value stays exact)
    if (to - from < 1 || to - from > 15) return -1;
    let v = 0;
    for (let k = from; k < to; k++) {
      const d = (data[k] as number) - 48;
      if (d < 0 || d > 9) return -1;
      v = v * 10 + d;
    }
    return v;
  };
  let pos = start;
  while (pos < end) {
    const op = data[pos++] as number;
    const kind = ARG[op] as number;
    switch (op) {
      case 0x2e: // STOP
        return used;
      case 0x68: // BINGET
        if (pos >= end || !mark(data[pos] as number)) return null;
        break;
      case 0x6a: // LONG_BINGET
        if (pos + 4 > end || !mark(u32(pos))) return null;
        break;
      case 0x71: // BINPUT
        if (pos >= end) return null;
        if (data[pos] !== stores) sequential = false;
        stores++;
        break;
      case 0x72: // LONG_BINPUT
        if (pos + 4 > end) return null;
        if (u32(pos) !== stores) sequential = false;
        stores++;
        break;
      case 0x94: // MEMOIZE
        if (!sequential) return null;
        stores++;
        break;
      case 0x67: // GET
      case 0x70: {
        // PUT
        const nl = data.indexOf(10, pos);
        if (nl < 0) return null;
        const idx = lineInt(pos, nl);
        if (idx < 0) return null;
        if (op === 0x67) {
          if (!mark(idx)) return null;
        } else {
          if (idx !== stores) sequential = false;
          stores++;
        }
        pos = nl + 1;
        continue;
      }
    }
    if (kind >= 0) pos += kind;
    else if (kind === LEN1) {
      if (pos >= end) return null;
      pos += 1 + (data[pos] as number);
    } else if (kind === LEN4) {
      if (pos + 4 > end) return null;
      const n = u32(pos);
      if (n >= 0x80000000) return null;
      pos += 4 + n;
    } else if (kind === LEN8) {
      if (pos + 8 > end) return null;
      const hi = u32(pos + 4);
      if (hi !== 0) return null;
      pos += 8 + u32(pos);
    } else if (kind === LINE || kind === LINE2) {
      let nl = data.indexOf(10, pos);
      if (nl < 0) return null;
      if (kind === LINE2) {
        nl = data.indexOf(10, nl + 1);
        if (nl < 0) return null;
      }
      pos = nl + 1;
    } else return null; // not an opcode
  }
  return null; // no STOP
}
