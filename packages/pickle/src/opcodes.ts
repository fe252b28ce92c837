/**
 * The opcode table of protocols 0-5, as `pickletools` describes it: name, byte, argument kind,
 * protocol, and stack effect (used by the disassembler).
 */

/** How an opcode's inline argument is encoded. */
export type ArgKind =
  | "none"
  | "uint1"
  | "uint2"
  | "int4"
  | "uint4"
  | "uint8"
  | "decimalnl_short"
  | "decimalnl_long"
  | "long1"
  | "long4"
  | "floatnl"
  | "float8"
  | "stringnl"
  | "stringnl_noescape"
  | "stringnl_noescape_pair"
  | "string1"
  | "string4"
  | "bytes1"
  | "bytes4"
  | "bytes8"
  | "bytearray8"
  | "unicodestringnl"
  | "unicodestring1"
  | "unicodestring4"
  | "unicodestring8";

/** One opcode. `before`/`after` count stack items besides the MARK; `markBefore` is the number of items below the MARK that are popped. */
export interface OpcodeInfo {
  readonly name: string;
  readonly code: number;
  readonly arg: ArgKind;
  readonly proto: number;
  /** Items popped (not counting MARK and the slice above it). */
  readonly pop: number;
  /** Whether the opcode consumes everything down to the topmost MARK. */
  readonly mark: boolean;
  /** Items pushed. */
  readonly push: number;
  /** Whether it pushes a MARK. */
  readonly pushesMark: boolean;
}

const table: Array<[string, string, ArgKind, number, number, boolean, number]> = [
  ["INT", "I", "decimalnl_short", 0, 0, false, 1],
  ["BININT", "J", "int4", 1, 0, false, 1],
  ["BININT1", "K", "uint1", 1, 0, false, 1],
  ["BININT2", "M", "uint2", 1, 0, false, 1],
  ["LONG", "L", "decimalnl_long", 0, 0, false, 1],
  ["LONG1", "\x8a", "long1", 2, 0, false, 1],
  ["LONG4", "\x8b", "long4", 2, 0, false, 1],
  ["STRING", "S", "stringnl", 0, 0, false, 1],
  ["BINSTRING", "T", "string4", 1, 0, false, 1],
  ["SHORT_BINSTRING", "U", "string1", 1, 0, false, 1],
  ["BINBYTES", "B", "bytes4", 3, 0, false, 1],
  ["SHORT_BINBYTES", "C", "bytes1", 3, 0, false, 1],
  ["BINBYTES8", "\x8e", "bytes8", 4, 0, false, 1],
  ["BYTEARRAY8", "\x96", "bytearray8", 5, 0, false, 1],
  ["NEXT_BUFFER", "\x97", "none", 5, 0, false, 1],
  ["READONLY_BUFFER", "\x98", "none", 5, 1, false, 1],
  ["NONE", "N", "none", 0, 0, false, 1],
  ["NEWTRUE", "\x88", "none", 2, 0, false, 1],
  ["NEWFALSE", "\x89", "none", 2, 0, false, 1],
  ["UNICODE", "V", "unicodestringnl", 0, 0, false, 1],
  ["SHORT_BINUNICODE", "\x8c", "unicodestring1", 4, 0, false, 1],
  ["BINUNICODE", "X", "unicodestring4", 1, 0, false, 1],
  ["BINUNICODE8", "\x8d", "unicodestring8", 4, 0, false, 1],
  ["FLOAT", "F", "floatnl", 0, 0, false, 1],
  ["BINFLOAT", "G", "float8", 1, 0, false, 1],
  ["EMPTY_LIST", "]", "none", 1, 0, false, 1],
  ["APPEND", "a", "none", 0, 2, false, 1],
  ["APPENDS", "e", "none", 1, 1, true, 1],
  ["LIST", "l", "none", 0, 0, true, 1],
  ["EMPTY_TUPLE", ")", "none", 1, 0, false, 1],
  ["TUPLE", "t", "none", 0, 0, true, 1],
  ["TUPLE1", "\x85", "none", 2, 1, false, 1],
  ["TUPLE2", "\x86", "none", 2, 2, false, 1],
  ["TUPLE3", "\x87", "none", 2, 3, false, 1],
  ["EMPTY_DICT", "}", "none", 1, 0, false, 1],
  ["DICT", "d", "none", 0, 0, true, 1],
  ["SETITEM", "s", "none", 0, 3, false, 1],
  ["SETITEMS", "u", "none", 1, 1, true, 1],
  ["EMPTY_SET", "\x8f", "none", 4, 0, false, 1],
  ["ADDITEMS", "\x90", "none", 4, 1, true, 1],
  ["FROZENSET", "\x91", "none", 4, 0, true, 1],
  ["POP", "0", "none", 0, 1, false, 0],
  ["DUP", "2", "none", 0, 1, false, 2],
  ["MARK", "(", "none", 0, 0, false, 0],
  ["POP_MARK", "1", "none", 1, 0, true, 0],
  ["GET", "g", "decimalnl_short", 0, 0, false, 1],
  ["BINGET", "h", "uint1", 1, 0, false, 1],
  ["LONG_BINGET", "j", "uint4", 1, 0, false, 1],
  ["PUT", "p", "decimalnl_short", 0, 0, false, 0],
  ["BINPUT", "q", "uint1", 1, 0, false, 0],
  ["LONG_BINPUT", "r", "uint4", 1, 0, false, 0],
  ["MEMOIZE", "\x94", "none", 4, 1, false, 1],
  ["EXT1", "\x82", "uint1", 2, 0, false, 1],
  ["EXT2", "\x83", "uint2", 2, 0, false, 1],
  ["EXT4", "\x84", "int4", 2, 0, false, 1],
  ["GLOBAL", "c", "stringnl_noescape_pair", 0, 0, false, 1],
  ["STACK_GLOBAL", "\x93", "none", 4, 2, false, 1],
  ["REDUCE", "R", "none", 0, 2, false, 1],
  ["BUILD", "b", "none", 0, 2, false, 1],
  ["INST", "i", "stringnl_noescape_pair", 0, 0, true, 1],
  ["OBJ", "o", "none", 1, 0, true, 1],
  ["NEWOBJ", "\x81", "none", 2, 2, false, 1],
  ["NEWOBJ_EX", "\x92", "none", 4, 3, false, 1],
  ["PROTO", "\x80", "uint1", 2, 0, false, 0],
  ["STOP", ".", "none", 0, 1, false, 0],
  ["FRAME", "\x95", "uint8", 4, 0, false, 0],
  ["PERSID", "P", "stringnl_noescape", 0, 0, false, 1],
  ["BINPERSID", "Q", "none", 1, 1, false, 1],
];

/** Opcode descriptions indexed by byte value (`undefined` for bytes that are not opcodes). */
export const OPCODES: ReadonlyArray<OpcodeInfo | undefined> = (() => {
  const out: Array<OpcodeInfo | undefined> = new Array(256).fill(undefined);
  for (const [name, ch, arg, proto, pop, mark, push] of table) {
    const code = ch.charCodeAt(0);
    out[code] = { name, code, arg, proto, pop, mark, push, pushesMark: name === "MARK" };
  }
  return out;
})();

/** Opcode byte values by name. */
export const OP = Object.freeze(
  Object.fromEntries(table.map(([name, ch]) => [name, ch.charCodeAt(0)])) as Record<string, number>,
);

/** The pickletools name of an opcode byte, or `0xNN` when it is not one. */
export function opcodeName(code: number): string {
  return OPCODES[code]?.name ?? `0x${code.toString(16).padStart(2, "0")}`;
}

/** Highest protocol this package reads and writes. */
export const HIGHEST_PROTOCOL = 5;
/** Protocol written by default (PyTorch's). */
export const DEFAULT_PROTOCOL = 2;
