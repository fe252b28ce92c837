/**
 * A disassembler whose text matches `pickletools.dis(data, annotate=0)`, and `genops`, the opcode
 * iterator it is built on (useful for scanners: it never resolves anything).
 */
import {
  FrameError,
  frameViolation,
  InvalidOpcodeError,
  InvalidValueError,
  PickleError,
  StackError,
  TruncatedError,
} from "./errors.js";
import { OPCODES, type OpcodeInfo } from "./opcodes.js";
import {
  decodeRawUnicodeEscape,
  decodeUtf8,
  escapeDecode,
  latin1,
  reprBytes,
  reprFloat,
  reprStr,
} from "./text.js";
import { decodeLong } from "./unpickler.js";

/** One decoded opcode: its description, its argument (typed as pickletools decodes it) and its byte offset. */
export interface PickleOp {
  readonly op: OpcodeInfo;
  readonly arg: OpArg;
  readonly pos: number;
}

/** An opcode argument: `null` (none), int, float, str, bytes, or a bytearray (`{ bytearray }`). */
export type OpArg =
  | null
  | boolean
  | number
  | bigint
  | string
  | { readonly float: number }
  | Uint8Array
  | { readonly bytearray: Uint8Array };

/** Options of `genops`. */
export interface GenopsOptions {
  /**
   * Framing violations (an opcode crossing a FRAME end, a FRAME inside an unfinished frame, STOP
   * before its frame's end) are thrown as `FrameError` by default, as CPython's pure-Python
   * unpickler refuses them. With this callback they are reported to it instead and iteration goes
   * on ignoring frames, as CPython's C unpickler reads them (what a scanner needs to see what
   * `torch.load` would run).
   */
  readonly onFrameError?: (e: FrameError) => void;
}

/**
 * Iterate the opcodes of the pickle at `offset` (default 0) up to and including STOP; returns the
 * offset just past STOP. Framing is checked (see `GenopsOptions.onFrameError`).
 */
export function* genops(
  data: Uint8Array,
  offset = 0,
  options: GenopsOptions = {},
): Generator<PickleOp, number, undefined> {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let pos = offset;
  const end = data.length;
  const report =
    options.onFrameError ??
    ((e: FrameError) => {
      throw e;
    });
  let frameStart = -1;
  let frameEnd = -1;
  for (;;) {
    if (frameEnd >= 0 && pos >= frameEnd) frameEnd = -1;
    if (pos >= end)
      throw new TruncatedError(`truncated input: pickle ended at offset ${pos} without STOP`, 1, 0, {
        offset: pos,
      });
    const start = pos;
    const code = data[pos++] as number;
    const op = OPCODES[code];
    if (!op)
      throw new InvalidOpcodeError(`invalid opcode 0x${code.toString(16).padStart(2, "0")}`, {
        offset: start,
      });
    const fields = { offset: start, opcode: op.name };
    const need = (n: number) => {
      if (pos + n > end)
        throw new TruncatedError(
          `truncated input: ${op.name} needs ${n} bytes at offset ${pos}`,
          n,
          end - pos,
          fields,
        );
    };
    const line = (): [number, number] => {
      const nl = data.indexOf(10, pos);
      if (nl < 0)
        throw new TruncatedError(`truncated input: no newline for ${op.name}`, 1, end - pos, fields);
      const r: [number, number] = [pos, nl];
      pos = nl + 1;
      return r;
    };
    const len8 = (): number => {
      need(8);
      const lo = view.getUint32(pos, true);
      const hi = view.getUint32(pos + 4, true);
      pos += 8;
      return hi * 0x100000000 + lo;
    };
    const utf8 = (a: number, b: number): string => {
      const s = decodeUtf8(data, a, b);
      if (s === null) throw new InvalidValueError("invalid UTF-8", fields);
      return s;
    };
    let arg: OpArg = null;
    switch (op.arg) {
      case "none":
        break;
      case "uint1":
        need(1);
        arg = data[pos++] as number;
        break;
      case "uint2":
        need(2);
        arg = view.getUint16(pos, true);
        pos += 2;
        break;
      case "int4":
        need(4);
        arg = view.getInt32(pos, true);
        pos += 4;
        break;
      case "uint4":
        need(4);
        arg = view.getUint32(pos, true);
        pos += 4;
        break;
      case "uint8":
        arg = len8();
        break;
      case "decimalnl_short": {
        const [a, b] = line();
        const s = latin1(data, a, b);
        if (s === "00") arg = false;
        else if (s === "01") arg = true;
        else arg = parseDecimal(s, fields);
        break;
      }
      case "decimalnl_long": {
        const [a, b] = line();
        let s = latin1(data, a, b);
        if (s.endsWith("L")) s = s.slice(0, -1);
        arg = parseDecimal(s, fields);
        break;
      }
      case "long1": {
        need(1);
        const n = data[pos++] as number;
        need(n);
        arg = decodeLong(data, pos, n);
        pos += n;
        break;
      }
      case "long4": {
        need(4);
        const n = view.getInt32(pos, true);
        pos += 4;
        if (n < 0) throw new InvalidValueError(`LONG4 byte count < 0: ${n}`, fields);
        need(n);
        arg = decodeLong(data, pos, n);
        pos += n;
        break;
      }
      case "floatnl": {
        const [a, b] = line();
        const s = latin1(data, a, b).trim().toLowerCase();
        const v = s.includes("inf")
          ? s.startsWith("-")
            ? -Infinity
            : Infinity
          : s.includes("nan")
            ? Number.NaN
            : Number(s);
        if (Number.isNaN(v) && !s.includes("nan"))
          throw new InvalidValueError(`could not convert string to float: ${s}`, fields);
        arg = { float: v };
        break;
      }
      case "float8":
        need(8);
        arg = { float: view.getFloat64(pos, false) };
        pos += 8;
        break;
      case "stringnl": {
        const [a, b] = line();
        const q = data[a];
        if (b - a < 2 || (q !== 0x22 && q !== 0x27) || data[b - 1] !== q)
          throw new InvalidValueError("no string quotes around STRING argument", fields);
        const raw = escapeDecode(data, a + 1, b - 1);
        if (raw === null || raw.some((c) => c >= 0x80))
          throw new InvalidValueError("undecodable STRING argument", fields);
        arg = latin1(raw, 0, raw.length);
        break;
      }
      case "stringnl_noescape": {
        const [a, b] = line();
        arg = utf8(a, b);
        break;
      }
      case "stringnl_noescape_pair": {
        const [a, b] = line();
        const [c, d] = line();
        arg = `${utf8(a, b)} ${utf8(c, d)}`;
        break;
      }
      case "string1":
      case "string4": {
        let n: number;
        if (op.arg === "string1") {
          need(1);
          n = data[pos++] as number;
        } else {
          need(4);
          n = view.getInt32(pos, true);
          pos += 4;
          if (n < 0) throw new InvalidValueError(`string byte count < 0: ${n}`, fields);
        }
        need(n);
        arg = latin1(data, pos, pos + n);
        pos += n;
        break;
      }
      case "bytes1":
      case "bytes4":
      case "bytes8":
      case "bytearray8": {
        let n: number;
        if (op.arg === "bytes1") {
          need(1);
          n = data[pos++] as number;
        } else if (op.arg === "bytes4") {
          need(4);
          n = view.getUint32(pos, true);
          pos += 4;
        } else n = len8();
        need(n);
        const b = data.subarray(pos, pos + n);
        arg = op.arg === "bytearray8" ? { bytearray: b } : b;
        pos += n;
        break;
      }
      case "unicodestringnl": {
        const [a, b] = line();
        const s = decodeRawUnicodeEscape(data, a, b);
        if (s === null) throw new InvalidValueError("malformed raw-unicode-escape", fields);
        arg = s;
        break;
      }
      case "unicodestring1":
      case "unicodestring4":
      case "unicodestring8": {
        let n: number;
        if (op.arg === "unicodestring1") {
          need(1);
          n = data[pos++] as number;
        } else if (op.arg === "unicodestring4") {
          need(4);
          n = view.getUint32(pos, true);
          pos += 4;
        } else n = len8();
        need(n);
        arg = utf8(pos, pos + n);
        pos += n;
        break;
      }
    }
    if (frameEnd >= 0) {
      const v = frameViolation(op.name, start, pos, frameStart, frameEnd);
      if (v !== null) {
        frameEnd = -1;
        report(v);
      }
    }
    if (op.name === "FRAME") {
      if (pos + (arg as number) > end && options.onFrameError) {
        // CPython's pure-Python unpickler reads on with a short frame (its C unpickler refuses)
        options.onFrameError(
          new FrameError(
            `a FRAME declares ${arg} bytes but only ${end - pos} follow`,
            start,
            pos + (arg as number),
            fields,
          ),
        );
        frameStart = start;
        frameEnd = end;
      } else if (pos + (arg as number) > end)
        throw new TruncatedError(
          `truncated input: a frame of ${arg} bytes at offset ${pos}, ${end - pos} left`,
          arg as number,
          end - pos,
          fields,
        );
      else {
        frameStart = start;
        frameEnd = pos + (arg as number);
      }
    }
    yield { op, arg, pos: start };
    if (op.name === "STOP") return pos;
  }
}

function parseDecimal(s: string, fields: { offset: number; opcode: string }): number | bigint {
  const t = s.trim();
  if (!/^[+-]?\d+$/.test(t))
    throw new InvalidValueError(`invalid literal for int() with base 10: ${JSON.stringify(s)}`, fields);
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : BigInt(t);
}

/** Python `repr` of an opcode argument. */
export function reprArg(arg: OpArg): string {
  if (arg === null) return "None";
  if (typeof arg === "boolean") return arg ? "True" : "False";
  if (typeof arg === "number" || typeof arg === "bigint") return String(arg);
  if (typeof arg === "string") return reprStr(arg);
  if (arg instanceof Uint8Array) return reprBytes(arg);
  if ("float" in arg) return reprFloat(arg.float);
  return `bytearray(${reprBytes(arg.bytearray)})`;
}

function reprCode(code: number): string {
  if (code >= 0x20 && code < 0x7f)
    return code === 0x5c ? "\\\\" : code === 0x27 ? "'" : String.fromCharCode(code);
  return `\\x${code.toString(16).padStart(2, "0")}`;
}

/** Options of `disassemble`. */
export interface DisassembleOptions {
  /** Offset of the pickle in the buffer (positions printed are absolute offsets in `data`, as pickletools prints stream positions). Default 0. */
  readonly offset: number;
  /** Spaces per MARK nesting level. Default 4. */
  readonly indentLevel: number;
}

/**
 * Disassemble one pickle into the text `pickletools.dis(data, annotate=0)` prints. Malformed
 * input throws a `PickleError` (pickletools raises `ValueError`); the error's `disassembly`
 * field holds the lines printed up to that point.
 */
export function disassemble(data: Uint8Array, options: Readonly<Partial<DisassembleOptions>> = {}): string {
  const lines: string[] = [];
  const indent = " ".repeat(options.indentLevel ?? 4);
  const MARK = Symbol("mark");
  const stack: unknown[] = [];
  const markstack: number[] = [];
  const memo = new Map<number | bigint | boolean, unknown>();
  let maxproto = -1;
  const fail = (e: PickleError): never => {
    (e as PickleError & { disassembly?: string }).disassembly = lines.join("\n");
    throw e;
  };
  try {
    for (const { op, arg, pos } of genops(data, options.offset ?? 0)) {
      let line = `${String(pos).padStart(5)}: ${reprCode(op.code).padEnd(4)} ${indent.repeat(markstack.length)}${op.name}`;
      maxproto = Math.max(maxproto, op.proto);
      let numtopop = op.pop + (op.mark ? 0 : 0);
      let markmsg: string | null = null;
      let error: string | null = null;
      const fields = { offset: pos, opcode: op.name };
      if (op.mark || (op.name === "POP" && stack.length > 0 && stack[stack.length - 1] === MARK)) {
        const mp = markstack.pop();
        if (mp !== undefined) {
          markmsg = `(MARK at ${mp})`;
          while (stack.length && stack[stack.length - 1] !== MARK) stack.pop();
          stack.pop();
          numtopop = op.mark ? op.pop : 0;
        } else {
          error = "no MARK exists on stack";
          markmsg = error;
        }
      }
      if (op.name === "PUT" || op.name === "BINPUT" || op.name === "LONG_BINPUT" || op.name === "MEMOIZE") {
        let idx: number | bigint | boolean;
        if (op.name === "MEMOIZE") {
          idx = memo.size;
          markmsg = `(as ${idx})`;
        } else idx = arg as number;
        if (memo.has(idx)) error = `memo key ${reprArg(arg)} already defined`;
        else if (stack.length === 0) error = "stack is empty -- can't store into memo";
        else if (stack[stack.length - 1] === MARK) error = "can't store markobject in the memo";
        else memo.set(idx, stack[stack.length - 1]);
      } else if (
        (op.name === "GET" || op.name === "BINGET" || op.name === "LONG_BINGET") &&
        !memo.has(arg as number)
      ) {
        error = `memo key ${reprArg(arg)} has never been stored into`;
      }
      if (arg !== null || markmsg !== null) {
        line += " ".repeat(Math.max(0, 10 - op.name.length));
        if (arg !== null) line += ` ${reprArg(arg)}`;
        if (markmsg !== null) line += ` ${markmsg}`;
      }
      lines.push(line);
      if (error !== null)
        fail(
          op.name.includes("GET") || op.name.includes("PUT") || op.name === "MEMOIZE"
            ? new StackError(error, fields)
            : new StackError(error, fields),
        );
      if (stack.length < numtopop)
        fail(
          new StackError(`tries to pop ${numtopop} items from stack with only ${stack.length} items`, fields),
        );
      if (numtopop) stack.length -= numtopop;
      if (op.name === "MARK") markstack.push(pos);
      if (op.name === "MARK") stack.push(MARK);
      else for (let k = 0; k < op.push; k++) stack.push(op.name);
    }
  } catch (e) {
    if (e instanceof PickleError) fail(e);
    throw e;
  }
  lines.push(`highest protocol among opcodes = ${maxproto}`);
  if (stack.length) {
    const e = new StackError(`stack not empty after STOP: ${stack.length} items`, {
      offset: options.offset ?? 0,
    });
    fail(e);
  }
  return `${lines.join("\n")}\n`;
}
