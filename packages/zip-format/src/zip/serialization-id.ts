/**
 * `.data/serialization_id` exactly as PyTorch 2.x's `PyTorchStreamWriter` computes it
 * (caffe2/serialize/inline_container.cc, `writeSerializationId`):
 *
 * - 20 decimal digits, zero-padded: `hash_combine` over `std::hash<std::string>` of every record
 *   name written so far (names under the prefix), iterated in `std::unordered_set` order;
 * - 20 decimal digits, zero-padded: `hash_combine` over the CRC-32 of every buffer handed to the
 *   output callback whose first 4 bytes are a data-descriptor signature `PK\x07\x08` (the data
 *   descriptors, and — faithfully — any record data or entry name that happens to start with it).
 *
 * Both the string hash and the set's iteration order belong to the C++ standard library torch was
 * built with: `libstdc++` (Linux wheels) and `libc++` (macOS wheels) give different ids for the same
 * records. Both are implemented here.
 */

import { utf8Bytes } from "./utf8.js";

const M64 = (1n << 64n) - 1n;

/** The C++ standard library whose `std::hash` / `std::unordered_set` the id depends on. */
export type CxxStdlib = "libstdc++" | "libc++";

function load64(b: Uint8Array, i: number): bigint {
  let v = 0n;
  for (let k = 7; k >= 0; k--) v = (v << 8n) | BigInt(b[i + k] as number);
  return v;
}
function load32(b: Uint8Array, i: number): bigint {
  return BigInt(
    ((b[i] as number) |
      ((b[i + 1] as number) << 8) |
      ((b[i + 2] as number) << 16) |
      ((b[i + 3] as number) << 24)) >>>
      0,
  );
}

// ---- 64-bit arithmetic on two 32-bit halves (hi, lo): no BigInt per record ----------------
// Results go to RH/RL (no pair object per operation).
let RH = 0;
let RL = 0;

/** (ah·2^32 + al) · (bh·2^32 + bl) mod 2^64 → RH, RL. */
function mul64(ah: number, al: number, bh: number, bl: number): void {
  const a0 = al & 0xffff;
  const a1 = al >>> 16;
  const b0 = bl & 0xffff;
  const b1 = bl >>> 16;
  const mid = a0 * b1 + a1 * b0; // < 2^33
  const low = a0 * b0 + (mid % 0x10000) * 0x10000; // < 2^33
  const carry = Math.floor(low / 0x100000000);
  const high = a1 * b1 + Math.floor(mid / 0x10000) + carry; // al·bl's high word (< 2^33)
  RL = low >>> 0;
  RH = (high + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;
}

/** `(hi·2^32 + lo) mod n` for 0 < n < 2^32, exactly (16 bits at a time). */
function mod64(hi: number, lo: number, n: number): number {
  let r = (hi >>> 16) % n;
  r = (r * 0x10000 + (hi & 0xffff)) % n;
  r = (r * 0x10000 + (lo >>> 16)) % n;
  return (r * 0x10000 + (lo & 0xffff)) % n;
}

const MUL_HI = 0xc6a4a793;
const MUL_LO = 0x5bd1e995;

/** `v ^= v >> 47; v *= mul` on RH/RL. */
function shiftMixMul(): void {
  mul64(RH, (RL ^ (RH >>> 15)) >>> 0, MUL_HI, MUL_LO);
}

/** libstdc++ `std::_Hash_bytes(ptr, len, 0xc70f6907)` → RH, RL. */
function libstdcxxHashHalves(bytes: Uint8Array, len = bytes.length): void {
  const aligned = len & ~7;
  mul64(0, len >>> 0, MUL_HI, MUL_LO); // len < 2^32
  let hh = RH;
  let hl = (RL ^ 0xc70f6907) >>> 0;
  for (let p = 0; p < aligned; p += 8) {
    const lo = (bytes[p]! | (bytes[p + 1]! << 8) | (bytes[p + 2]! << 16) | (bytes[p + 3]! << 24)) >>> 0;
    const hi = (bytes[p + 4]! | (bytes[p + 5]! << 8) | (bytes[p + 6]! << 16) | (bytes[p + 7]! << 24)) >>> 0;
    mul64(hi, lo, MUL_HI, MUL_LO);
    shiftMixMul(); // data = shift_mix(load * mul) * mul
    hh = (hh ^ RH) >>> 0;
    hl = (hl ^ RL) >>> 0;
    mul64(hh, hl, MUL_HI, MUL_LO);
    hh = RH;
    hl = RL;
  }
  const rest = len & 7;
  if (rest !== 0) {
    let dl = 0;
    let dh = 0;
    for (let n = rest - 1; n >= 0; n--) {
      // data = (data << 8) + byte, on fewer than 8 bytes
      dh = ((dh << 8) | (dl >>> 24)) >>> 0;
      dl = ((dl << 8) | bytes[aligned + n]!) >>> 0;
    }
    mul64((hh ^ dh) >>> 0, (hl ^ dl) >>> 0, MUL_HI, MUL_LO);
    hh = RH;
    hl = RL;
  }
  RH = hh;
  RL = hl;
  shiftMixMul();
  RL = (RL ^ (RH >>> 15)) >>> 0; // final shift_mix
}

/** libstdc++ `std::_Hash_bytes(ptr, len, 0xc70f6907)` (its `std::hash<std::string>`). */
export function libstdcxxStringHash(bytes: Uint8Array): bigint {
  libstdcxxHashHalves(bytes);
  return u64(RH, RL);
}

/** The 64-bit value `hi·2^32 + lo`. */
function u64(hi: number, lo: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** A 64-bit value in 20 zero-padded decimal digits, as the id writes each half. */
function digits20(hi: number, lo: number): string {
  return u64(hi, lo).toString().padStart(20, "0");
}

/** c10::hash_combine on 64-bit halves: `seed ^= value + 0x9e3779b9 + (seed << 6) + (seed >> 2)` → RH, RL. */
function hashCombineHalves(sh: number, sl: number, vh: number, vl: number): void {
  const shlLo = (sl << 6) >>> 0;
  const shlHi = ((sh << 6) | (sl >>> 26)) >>> 0;
  const shrLo = ((sl >>> 2) | ((sh & 3) << 30)) >>> 0;
  const shrHi = sh >>> 2;
  const sumLo = vl + 0x9e3779b9 + shlLo + shrLo; // < 2^34: exact
  const carry = Math.floor(sumLo / 0x100000000);
  RL = (sl ^ sumLo) >>> 0;
  RH = (sh ^ (vh + shlHi + shrHi + carry)) >>> 0;
}

const K0 = 0xc3a5c85c97cb3127n;
const K1 = 0xb492b66fbe98f273n;
const K2 = 0x9ae16a3b2f90404fn;
const K3 = 0xc949d7c7509e6557n;
const rot = (v: bigint, s: number): bigint =>
  s === 0 ? v : ((v >> BigInt(s)) | (v << BigInt(64 - s))) & M64;
const smix = (v: bigint): bigint => v ^ (v >> 47n);
function hashLen16(u: bigint, v: bigint): bigint {
  const mul = 0x9ddfea08eb382d69n;
  let a = ((u ^ v) * mul) & M64;
  a ^= a >> 47n;
  let b = ((v ^ a) * mul) & M64;
  b ^= b >> 47n;
  return (b * mul) & M64;
}
function weak32(w: bigint, x: bigint, y: bigint, z: bigint, a0: bigint, b0: bigint): [bigint, bigint] {
  let a = (a0 + w) & M64;
  let b = rot((b0 + a + z) & M64, 21);
  const c = a;
  a = (a + x) & M64;
  a = (a + y) & M64;
  b = (b + rot(a, 44)) & M64;
  return [(a + z) & M64, (b + c) & M64];
}
function weak32s(s: Uint8Array, i: number, a: bigint, b: bigint): [bigint, bigint] {
  return weak32(load64(s, i), load64(s, i + 8), load64(s, i + 16), load64(s, i + 24), a, b);
}

/** libc++ `std::hash<std::string>` on 64-bit targets (its CityHash64 variant, default ABI). */
export function libcxxStringHash(s: Uint8Array): bigint {
  const len = s.length;
  const L = BigInt(len);
  if (len <= 16) {
    if (len > 8) {
      const a = load64(s, 0);
      const b = load64(s, len - 8);
      return hashLen16(a, rot((b + L) & M64, len)) ^ b;
    }
    if (len >= 4) {
      const a = load32(s, 0);
      const b = load32(s, len - 4);
      // (a << 3) is computed in 32 bits in the default libc++ ABI.
      return hashLen16((L + ((a << 3n) & 0xffffffffn)) & M64, b);
    }
    if (len > 0) {
      const a = BigInt(s[0] as number);
      const b = BigInt(s[len >> 1] as number);
      const c = BigInt(s[len - 1] as number);
      const y = (a + (b << 8n)) & 0xffffffffn;
      const z = (L + (c << 2n)) & 0xffffffffn;
      return (smix(((y * K2) & M64) ^ ((z * K3) & M64)) * K2) & M64;
    }
    return K2;
  }
  if (len <= 32) {
    const a = (load64(s, 0) * K1) & M64;
    const b = load64(s, 8);
    const c = (load64(s, len - 8) * K2) & M64;
    const d = (load64(s, len - 16) * K0) & M64;
    return hashLen16((rot((a - b) & M64, 43) + rot(c, 30) + d) & M64, (a + rot(b ^ K3, 20) - c + L) & M64);
  }
  if (len <= 64) {
    let z = load64(s, 24);
    let a = (load64(s, 0) + ((L + load64(s, len - 16)) & M64) * K0) & M64;
    let b = rot((a + z) & M64, 52);
    let c = rot(a, 37);
    a = (a + load64(s, 8)) & M64;
    c = (c + rot(a, 7)) & M64;
    a = (a + load64(s, 16)) & M64;
    const vf = (a + z) & M64;
    const vs = (b + rot(a, 31) + c) & M64;
    a = (load64(s, 16) + load64(s, len - 32)) & M64;
    z = (z + load64(s, len - 8)) & M64;
    b = rot((a + z) & M64, 52);
    c = rot(a, 37);
    a = (a + load64(s, len - 24)) & M64;
    c = (c + rot(a, 7)) & M64;
    a = (a + load64(s, len - 16)) & M64;
    const wf = (a + z) & M64;
    const ws = (b + rot(a, 31) + c) & M64;
    const r = smix((((vf + ws) & M64) * K2 + ((wf + vs) & M64) * K0) & M64);
    return (smix((r * K0 + vs) & M64) * K2) & M64;
  }
  let x = load64(s, len - 40);
  let y = (load64(s, len - 16) + load64(s, len - 56)) & M64;
  let z = hashLen16((load64(s, len - 48) + L) & M64, load64(s, len - 24));
  let v = weak32s(s, len - 64, L, z);
  let w = weak32s(s, len - 32, (y + K1) & M64, x);
  x = (x * K1 + load64(s, 0)) & M64;
  let rem = (len - 1) & ~63;
  let p = 0;
  do {
    x = (rot((x + y + v[0] + load64(s, p + 8)) & M64, 37) * K1) & M64;
    y = (rot((y + v[1] + load64(s, p + 48)) & M64, 42) * K1) & M64;
    x ^= w[1];
    y = (y + v[0] + load64(s, p + 40)) & M64;
    z = (rot((z + w[0]) & M64, 33) * K1) & M64;
    v = weak32s(s, p, (v[1] * K1) & M64, (x + w[0]) & M64);
    w = weak32s(s, p + 32, (z + w[1]) & M64, (y + load64(s, p + 16)) & M64);
    const t = z;
    z = x;
    x = t;
    p += 64;
    rem -= 64;
  } while (rem !== 0);
  return hashLen16(
    (hashLen16(v[0], w[0]) + ((smix(y) * K1) & M64) + z) & M64,
    (hashLen16(v[1], w[1]) + x) & M64,
  );
}

// libstdc++'s _Prime_rehash_policy bucket sizes from 17 up (read from GCC 12's libstdc++).
const LIBSTDCXX_PRIMES: readonly number[] = [
  17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 103, 109, 113, 127, 137, 139,
  149, 157, 167, 179, 193, 199, 211, 227, 241, 257, 277, 293, 313, 337, 359, 383, 409, 439, 467, 503, 541,
  577, 619, 661, 709, 761, 823, 887, 953, 1031, 1109, 1193, 1289, 1381, 1493, 1613, 1741, 1879, 2029, 2179,
  2357, 2549, 2753, 2971, 3209, 3469, 3739, 4027, 4349, 4703, 5087, 5503, 5953, 6427, 6949, 7517, 8123, 8783,
  9497, 10273, 11113, 12011, 12983, 14033, 15173, 16411, 17749, 19183, 20753, 22447, 24281, 26267, 28411,
  30727, 33223, 35933, 38873, 42043, 45481, 49201, 53201, 57557, 62233, 67307, 72817, 78779, 85229, 92203,
  99733, 107897, 116731, 126271, 136607, 147793, 159871, 172933, 187091, 202409, 218971, 236897, 256279,
  277261, 299951, 324503, 351061, 379787, 410857, 444487, 480881, 520241, 562841, 608903, 658753, 712697,
  771049, 834181, 902483, 976369, 1056323, 1142821, 1236397, 1337629, 1447153, 1565659, 1693859, 1832561,
  1982627, 2144977, 2320627, 2510653, 2716249, 2938679, 3179303, 3439651, 3721303, 4026031, 4355707, 4712381,
  5098259, 5515729, 5967347, 6456007, 6984629, 7556579, 8175383, 8844859, 9569143, 10352717, 11200489,
  12117689, 13109983, 14183539, 15345007, 16601593, 17961079, 19431899, 21023161, 22744717, 24607243,
  26622317, 28802401, 31160981, 33712729, 36473443, 39460231, 42691603, 46187573, 49969847, 54061849,
  58488943, 63278561, 68460391, 74066549, 80131819, 86693767, 93793069, 101473717, 109783337, 118773397,
  128499677, 139022417, 150406843, 162723577, 176048909, 190465427, 206062531, 222936881, 241193053,
  260944219, 282312799, 305431229, 330442829, 357502601, 386778277, 418451333, 452718089, 489790921,
  529899637, 573292817, 620239453, 671030513, 725980837, 785430967, 849749479, 919334987, 994618837,
  1076067617, 1164186217, 1259520799, 1362662261, 1474249943, 1594975441, 1725587117, 1866894511, 2019773507,
  2185171673, 2364114217, 2557710269, 2767159799, 2993761039, 3238918481, 3504151727, 3791104843, 4101556399,
  4294967291,
];
const FAST_BKT = [2, 2, 2, 3, 5, 5, 7, 7, 11, 11, 11, 11, 13, 13];

interface Node {
  hash: bigint;
  next: Node | null;
}

interface Node64 {
  hi: number;
  lo: number;
  next: Node64 | null;
}

/**
 * Iteration order of a libstdc++ `std::unordered_set<std::string>` after inserting the hashes
 * `his[i]·2^32 + los[i]` in order (returned as the same halves, in iteration order).
 */
function libstdcxxOrder(his: Uint32Array, los: Uint32Array): { his: Uint32Array; los: Uint32Array } {
  const before: Node64 = { hi: 0, lo: 0, next: null };
  let nb = 1;
  let buckets: (Node64 | null)[] = [null];
  let nextResize = 0;
  let count = 0;
  const nextBkt = (n: number): number => {
    if (n < FAST_BKT.length) {
      if (n === 0) return 1;
      const b = FAST_BKT[n] as number;
      nextResize = b;
      return b;
    }
    for (const p of LIBSTDCXX_PRIMES) {
      if (p >= n) {
        nextResize = p;
        return p;
      }
    }
    throw new RangeError(`zip: too many records (${n}) for the serialization id`);
  };
  const rehash = (n: number): void => {
    const nbk: (Node64 | null)[] = new Array<Node64 | null>(n).fill(null);
    let p = before.next;
    before.next = null;
    let bbeginBkt = 0;
    while (p) {
      const next: Node64 | null = p.next;
      const bkt = mod64(p.hi, p.lo, n);
      const head = nbk[bkt];
      if (!head) {
        p.next = before.next;
        before.next = p;
        nbk[bkt] = before;
        if (p.next) nbk[bbeginBkt] = p;
        bbeginBkt = bkt;
      } else {
        p.next = head.next;
        head.next = p;
      }
      p = next;
    }
    buckets = nbk;
    nb = n;
  };
  for (let i = 0; i < his.length; i++) {
    const node: Node64 = { hi: his[i] as number, lo: los[i] as number, next: null };
    if (count + 1 > nextResize) {
      const minBkts = Math.max(count + 1, nextResize ? 0 : 11);
      if (minBkts >= nb) rehash(nextBkt(Math.max(Math.floor(minBkts) + 1, nb * 2)));
      else nextResize = nb;
    }
    const bkt = mod64(node.hi, node.lo, nb);
    const head = buckets[bkt];
    if (head) {
      node.next = head.next;
      head.next = node;
    } else {
      node.next = before.next;
      before.next = node;
      if (node.next) buckets[mod64(node.next.hi, node.next.lo, nb)] = node;
      buckets[bkt] = before;
    }
    count++;
  }
  const outHi = new Uint32Array(his.length);
  const outLo = new Uint32Array(his.length);
  let k = 0;
  for (let p = before.next; p; p = p.next) {
    outHi[k] = p.hi;
    outLo[k++] = p.lo;
  }
  return { his: outHi, los: outLo };
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/** Iteration order of a libc++ `std::unordered_set<std::string>` after inserting `hashes` in order. */
function libcxxOrder(hashes: readonly bigint[]): bigint[] {
  const before: Node = { hash: 0n, next: null };
  let bc = 0;
  let buckets: (Node | null)[] = [];
  let size = 0;
  const constrain = (h: bigint, n: number): number => {
    if ((n & (n - 1)) === 0) return Number(h & BigInt(n - 1));
    return Number(h % BigInt(n));
  };
  const isHashPow2 = (n: number): boolean => n > 2 && (n & (n - 1)) === 0;
  const doRehash = (n: number): void => {
    const nbk: (Node | null)[] = new Array<Node | null>(n).fill(null);
    bc = n;
    buckets = nbk;
    let pp: Node = before;
    let cp = pp.next;
    if (!cp) return;
    let phash = constrain(cp.hash, n);
    nbk[phash] = pp;
    pp = cp;
    for (cp = cp.next; cp; cp = pp.next) {
      const chash = constrain(cp.hash, n);
      if (chash === phash) {
        pp = cp;
      } else if (!nbk[chash]) {
        nbk[chash] = pp;
        pp = cp;
        phash = chash;
      } else {
        const target = nbk[chash] as Node;
        pp.next = cp.next;
        cp.next = target.next;
        target.next = cp;
      }
    }
  };
  const rehash = (n0: number): void => {
    let n = n0;
    if (n === 1) n = 2;
    else if (n & (n - 1)) {
      while (!isPrime(n)) n++;
    }
    if (n > bc) doRehash(n);
    else if (n < bc) {
      const need = Math.ceil(size);
      let m: number;
      if (isHashPow2(bc)) m = need < 2 ? need : 2 ** Math.ceil(Math.log2(need));
      else {
        m = need;
        while (!isPrime(m)) m++;
      }
      n = Math.max(n, m);
      if (n < bc) doRehash(n);
    }
  };
  for (const h of hashes) {
    if (size + 1 > bc || bc === 0) {
      rehash(Math.max(2 * bc + (isHashPow2(bc) ? 0 : 1), Math.ceil(size + 1)));
    }
    const node: Node = { hash: h, next: null };
    const chash = constrain(h, bc);
    const pn = buckets[chash];
    if (!pn) {
      node.next = before.next;
      before.next = node;
      buckets[chash] = before;
      if (node.next) buckets[constrain(node.next.hash, bc)] = node;
    } else {
      node.next = pn.next;
      pn.next = node;
    }
    size++;
  }
  const out: bigint[] = [];
  for (let p = before.next; p; p = p.next) out.push(p.hash);
  return out;
}

const DESCRIPTOR_SIG = [0x50, 0x4b, 0x07, 0x08];

/**
 * Accumulates what PyTorch's writer feeds into the serialization id while records are written.
 * {@link ZipWriter} keeps one; it can also be fed from an existing archive's records to recompute
 * the id it carries.
 */
export class SerializationIdHasher {
  private readonly names: string[] = [];
  private readonly seen = new Set<string>();
  /** The CRC side of the id (a 64-bit hash_combine), as two 32-bit halves: no BigInt per record. */
  private crcHi = 0;
  private crcLo = 0;

  /** `combined = hash_combine(combined, value)` for a 32-bit `value`, on the two halves. */
  private combineCrc(value: number): void {
    hashCombineHalves(this.crcHi, this.crcLo, 0, value);
    this.crcHi = RH;
    this.crcLo = RL;
  }

  /** Feed one buffer the writer's output callback receives (only descriptor-like ones count). */
  private observeWrite(buf: Uint8Array): void {
    if (
      buf.length >= 8 &&
      buf[0] === DESCRIPTOR_SIG[0] &&
      buf[1] === DESCRIPTOR_SIG[1] &&
      buf[2] === DESCRIPTOR_SIG[2] &&
      buf[3] === DESCRIPTOR_SIG[3]
    ) {
      this.combineCrc(Number(load32(buf, 4)));
    }
  }

  /**
   * Record one written record.
   * @param name record name under the prefix
   * @param fullName the entry name as written (prefix + "/" + name)
   * @param size uncompressed size
   * @param crc the CRC-32 written in its data descriptor
   * @param head the first (up to) 8 bytes of its data
   */
  addRecord(name: string, fullName: string, size: number, crc: number, head: Uint8Array): void {
    if (!this.seen.has(name)) {
      this.seen.add(name);
      this.names.push(name);
    }
    // The name's UTF-8 can start with the signature's "P" only if the name does.
    if (fullName.charCodeAt(0) === 0x50) this.observeWrite(utf8Bytes(fullName));
    if (size >= 8) this.observeWrite(head); // only its first 8 bytes are looked at
    // the data descriptor itself: its signature, then the CRC as its second word
    if (size > 0) this.combineCrc(crc >>> 0);
  }

  /** The 40-digit id for the records added so far. */
  digest(stdlib: CxxStdlib = "libstdc++"): string {
    let order: { his: Uint32Array; los: Uint32Array };
    if (stdlib === "libc++") {
      const hashes = libcxxOrder(this.names.map((n) => libcxxStringHash(utf8Bytes(n))));
      order = { his: new Uint32Array(hashes.length), los: new Uint32Array(hashes.length) };
      hashes.forEach((h, i) => {
        order.his[i] = Number(h >> 32n);
        order.los[i] = Number(h & 0xffffffffn);
      });
    } else {
      const n = this.names.length;
      const his = new Uint32Array(n);
      const los = new Uint32Array(n);
      let scratch = new Uint8Array(64);
      for (let i = 0; i < n; i++) {
        const name = this.names[i] as string;
        let len = name.length;
        if (len > scratch.length) scratch = new Uint8Array(2 * len);
        // ASCII names (torch's) into one reused buffer; others encoded
        for (let k = 0; k < len; k++) {
          const c = name.charCodeAt(k);
          if (c >= 0x80) {
            len = -1;
            break;
          }
          scratch[k] = c;
        }
        if (len >= 0) libstdcxxHashHalves(scratch, len);
        else libstdcxxHashHalves(utf8Bytes(name));
        his[i] = RH;
        los[i] = RL;
      }
      order = libstdcxxOrder(his, los);
    }
    // hash_combine over the set's iteration order
    let ch = 0;
    let cl = 0;
    for (let i = 0; i < order.his.length; i++) {
      hashCombineHalves(ch, cl, order.his[i] as number, order.los[i] as number);
      ch = RH;
      cl = RL;
    }
    return `${digits20(ch, cl)}${digits20(this.crcHi, this.crcLo)}`;
  }
}
