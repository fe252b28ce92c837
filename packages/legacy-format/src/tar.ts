/**
 * Reading torch's tar format (before 0.1.10): a tar archive with members `sys_info`, `storages`,
 * `tensors` and `pickle`. Member names are only compared with those four names, never used as
 * paths; links, devices, FIFOs and path-traversal names are refused.
 */
import {
  GlobalRegistry,
  type HookContext,
  isTuple,
  type LoadOptions,
  pickLimits,
  Unpickler,
} from "@pt/pickle";
import { type ByteSource, mapReadFailures, type Op, Storage } from "@pt/storage";
import { StorageClassRef, Tensor, torchTensorTypes } from "@pt/tensor";
import {
  LegacyFormatError,
  LegacyLimitError,
  type LegacyRecord,
  LegacyStorageError,
  LegacyTruncatedError,
  TarFormatError,
  UnsafeTarMemberError,
} from "./errors.js";
import {
  asByteSource,
  describeValue,
  type LegacySource,
  latin1,
  normKey,
  readFailure,
  runAsync,
  runSync,
  wrapPickleError,
} from "./io.js";
import { rememberKey, rememberModuleSource, viewOffsets } from "./keys.js";
import { type LegacyLimits, type ModuleSource, registryFor } from "./legacy.js";
import { parseSysInfo, type SysInfo } from "./sys-info.js";

/** Options of `loadTar` / `loadTarSync`. */
export interface TarLoadOptions {
  /** Extra globals, merged over `torchGlobals()` and the tensor type classes (yours win). */
  readonly globals?: GlobalRegistry | undefined;
  readonly policy?: "reject" | "opaque" | undefined;
  readonly onGlobal?: ((module: string, name: string, offset: number) => void) | undefined;
  /** Default `"utf-8"`, as `torch.load`. */
  readonly encoding?: "utf-8" | "ascii" | "latin1" | "bytes" | undefined;
  /** See `LegacyLoadOptions.dataByteOrder`. Default `"little"`. */
  readonly dataByteOrder?: "little" | "sys_info" | undefined;
  readonly limits?: LegacyLimits | undefined;
  /** Device of every storage (torch's `map_location` given as a string). Default: the saved location. */
  readonly mapLocation?: string | undefined;
}

/** One member of a tar archive. */
export interface TarMember {
  readonly name: string;
  /** Type flag (`0` regular file, `5` directory…). */
  readonly type: string;
  /** Offset of the member's data in the archive. */
  readonly offset: number;
  readonly size: number;
  /** Offset of its header block. */
  readonly headerOffset: number;
}

/** What `loadTar` returns. */
export interface TarLoadResult {
  readonly value: unknown;
  /** `sys_info` when the archive has that member (torch itself never reads it). */
  readonly sysInfo: SysInfo | null;
  /** Storages by key (views by their view key), in file order. */
  readonly storages: Map<string, Storage>;
  /** Tensors of the `tensors` member by key. */
  readonly tensors: Map<string, Tensor>;
  readonly moduleSources: Map<unknown, ModuleSource>;
  readonly members: readonly TarMember[];
}

const BLOCK = 512;
const UNSAFE_TYPES: Record<string, string> = {
  "1": "hard link",
  "2": "symbolic link",
  "3": "character device",
  "4": "block device",
  "6": "FIFO",
};

function cstr(b: Uint8Array): string {
  const z = b.indexOf(0);
  return latin1(z < 0 ? b : b.subarray(0, z));
}

function utf8OrLatin1(b: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(b);
  } catch {
    return latin1(b);
  }
}

/** A tar numeric field: octal text, or GNU base-256 (positive only). */
function numField(b: Uint8Array, what: string, at: number): number {
  if (b[0] === 0x80) {
    let v = 0;
    for (let i = 1; i < b.length; i++) v = v * 256 + b[i]!;
    if (!Number.isSafeInteger(v))
      throw new TarFormatError(`tar header at offset ${at}: ${what} is too large`, { offset: at });
    return v;
  }
  if (b[0] === 0xff) throw new TarFormatError(`tar header at offset ${at}: negative ${what}`, { offset: at });
  const s = cstr(b).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s))
    throw new TarFormatError(`tar header at offset ${at}: ${what} '${s}' is not octal`, { offset: at });
  const v = Number.parseInt(s, 8);
  if (!Number.isSafeInteger(v))
    throw new TarFormatError(`tar header at offset ${at}: ${what} is too large`, { offset: at });
  return v;
}

function checksumOk(h: Uint8Array, at: number): boolean {
  const want = numField(h.subarray(148, 156), "checksum", at);
  let u = 0;
  let s = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i]!;
    u += b;
    s += b > 127 ? b - 256 : b;
  }
  return want === u || want === s;
}

function parsePax(data: Uint8Array, at: number): Map<string, string> {
  const out = new Map<string, string>();
  let p = 0;
  while (p < data.length) {
    if (data[p] === 0) break;
    const sp = data.indexOf(0x20, p);
    if (sp < 0) throw new TarFormatError(`malformed pax header at offset ${at}`, { offset: at });
    const len = Number.parseInt(latin1(data.subarray(p, sp)), 10);
    if (!Number.isSafeInteger(len) || len <= sp - p || p + len > data.length) {
      throw new TarFormatError(`malformed pax record length at offset ${at + p}`, { offset: at + p });
    }
    const rec = data.subarray(sp + 1, p + len - 1); // drop trailing newline
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw new TarFormatError(`malformed pax record at offset ${at + p}`, { offset: at + p });
    out.set(utf8OrLatin1(rec.subarray(0, eq)), utf8OrLatin1(rec.subarray(eq + 1)));
    p += len;
  }
  return out;
}

function unsafeName(name: string): boolean {
  if (name.startsWith("/") || name.includes("\\") || /^[A-Za-z]:/.test(name)) return true;
  return name.split("/").some((part) => part === "..");
}

/** Walk the archive's headers; returns its members (data not read). */
/** The members of a tar archive (headers checked: checksums, sizes, unsafe types and names). */
export function* tarMembers(total: number): Op<TarMember[]> {
  const members: TarMember[] = [];
  let pos = 0;
  let pax: Map<string, string> | null = null;
  let longName: string | null = null;
  for (;;) {
    if (pos + BLOCK > total) {
      if (pos === total && members.length > 0) break; // end without zero blocks (tolerated, as tarfile does)
      throw new LegacyTruncatedError(
        `tar: the file (${total} bytes) ends inside the header block at offset ${pos}`,
        {
          record: "tar",
          offset: pos,
        },
      );
    }
    const [h] = yield [{ offset: pos, length: BLOCK }];
    const hdr = h!;
    if (hdr.every((b) => b === 0)) break;
    if (!checksumOk(hdr, pos))
      throw new TarFormatError(`tar header at offset ${pos} has a bad checksum`, { offset: pos });
    let name = cstr(hdr.subarray(0, 100));
    const magic = latin1(hdr.subarray(257, 265));
    if (magic === "ustar\u000000") {
      const prefix = cstr(hdr.subarray(345, 500));
      if (prefix) name = `${prefix}/${name}`;
    }
    let size = numField(hdr.subarray(124, 136), "size", pos);
    const typeByte = hdr[156]!;
    const type = typeByte === 0 ? "0" : String.fromCharCode(typeByte);
    if (pax?.has("size")) {
      const s = Number(pax.get("size"));
      if (!Number.isSafeInteger(s) || s < 0)
        throw new TarFormatError(`pax size '${pax.get("size")}' at offset ${pos} is invalid`, {
          offset: pos,
        });
      if (type !== "x" && type !== "g") size = s;
    }
    const dataAt = pos + BLOCK;
    if (dataAt + size > total) {
      throw new LegacyTruncatedError(
        `tar: member '${name}' needs ${size} bytes at offset ${dataAt} but the file has ${total} bytes`,
        { record: "tar", offset: dataAt },
      );
    }
    const next = dataAt + Math.ceil(size / BLOCK) * BLOCK;
    if (type === "x" || type === "g" || type === "L" || type === "K") {
      if (size > 1 << 20)
        throw new TarFormatError(`tar extended header of ${size} bytes at offset ${pos} is too large`, {
          offset: pos,
        });
      const [d] = size > 0 ? yield [{ offset: dataAt, length: size }] : [new Uint8Array(0)];
      if (type === "x") pax = parsePax(d!, dataAt);
      else if (type === "L")
        longName = utf8OrLatin1(d!.subarray(0, d!.indexOf(0) < 0 ? d!.length : d!.indexOf(0)));
      pos = next;
      continue;
    }
    if (longName !== null) name = longName;
    if (pax?.has("path")) name = pax.get("path")!;
    pax = null;
    longName = null;
    const unsafeType = UNSAFE_TYPES[type];
    if (unsafeType) {
      throw new UnsafeTarMemberError(
        name,
        unsafeType,
        `tar member '${name}' at offset ${pos} is a ${unsafeType}; refused`,
        {
          offset: pos,
        },
      );
    }
    if (unsafeName(name)) {
      throw new UnsafeTarMemberError(
        name,
        "path traversal",
        `tar member name '${name}' at offset ${pos} escapes the archive; refused`,
        {
          offset: pos,
        },
      );
    }
    if (!"0795D".includes(type)) {
      throw new TarFormatError(`tar member '${name}' at offset ${pos} has unsupported type '${type}'`, {
        offset: pos,
      });
    }
    members.push({ name, type, offset: dataAt, size, headerOffset: pos });
    pos = next;
  }
  return members;
}

function* tarParser(src: LegacySource, bs: ByteSource, options: TarLoadOptions): Op<TarLoadResult> {
  const total = bs.byteLength;
  const members = yield* tarMembers(total);
  const byName = new Map<string, TarMember>();
  for (const want of ["sys_info", "storages", "tensors", "pickle"]) {
    const found = members.filter((m) => m.name === want && m.type !== "5" && m.type !== "D");
    if (found.length > 1) {
      throw new TarFormatError(`tar member '${want}' appears ${found.length} times`, {
        offset: found[1]!.headerOffset,
      });
    }
    if (found[0]) byName.set(want, found[0]);
  }
  for (const want of ["storages", "tensors", "pickle"]) {
    if (!byName.has(want))
      throw new TarFormatError(
        `tar archive has no '${want}' member (members: ${members.map((m) => `'${m.name}'`).join(", ") || "none"})`,
      );
  }
  const read = function* (m: TarMember): Op<Uint8Array> {
    if (src instanceof Uint8Array) return src.subarray(m.offset, m.offset + m.size);
    if (m.size === 0) return new Uint8Array(0);
    const [d] = yield [{ offset: m.offset, length: m.size }];
    return d!;
  };
  const encoding = options.encoding ?? "utf-8";
  const limits = pickLimits(options.limits);
  const maxStorages = options.limits?.maxStorages ?? 1_000_000;
  const registry = registryFor(torchTensorTypes().merge(options.globals ?? new GlobalRegistry()));
  const baseOpts = (): LoadOptions => {
    const o: { -readonly [K in keyof LoadOptions]: LoadOptions[K] } = {
      encoding,
      ...limits,
      globals: registry,
    };
    if (options.policy !== undefined) o.policy = options.policy;
    if (options.onGlobal !== undefined) o.onGlobal = options.onGlobal;
    return o;
  };

  // sys_info (optional, as torch never reads it)
  let sysInfo: SysInfo | null = null;
  const sim = byName.get("sys_info");
  if (sim) {
    const data = yield* read(sim);
    let v: unknown;
    try {
      v = new Unpickler(data, { encoding, ...limits }).load();
    } catch (e) {
      throw wrapPickleError(e, "tar:sys_info", sim.offset, sim.offset + data.length);
    }
    sysInfo = parseSysInfo(v, "tar:sys_info", sim.offset);
  }
  const little = sysInfo?.littleEndian ?? true;
  const byteOrder = options.dataByteOrder === "sys_info" && !little ? "big" : "little";
  const objects = new Map<string, unknown>();
  const storages = new Map<string, Storage>();
  const tensors = new Map<string, Tensor>();

  // One reader per member: pickles and raw fields interleaved.
  const member = (m: TarMember, data: Uint8Array, record: LegacyRecord) => {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const u = new Unpickler(data, baseOpts());
    return {
      u,
      pickle(): unknown {
        const at = u.position;
        try {
          return u.load();
        } catch (e) {
          throw wrapPickleError(e, record, m.offset + at, m.offset + data.length);
        }
      },
      need(n: number, what: string): number {
        const at = u.position;
        if (at + n > data.length) {
          throw new LegacyTruncatedError(
            `tar member '${m.name}' ends inside ${what} at offset ${m.offset + at} (needs ${n} bytes, ${data.length - at} left)`,
            { record, offset: m.offset + at },
          );
        }
        u.position += n;
        return at;
      },
      int64(at: number): bigint {
        return view.getBigInt64(at, little);
      },
      int32(at: number): number {
        return view.getInt32(at, little);
      },
      count(v: unknown, what: string, max: number): number {
        const n = typeof v === "bigint" ? Number(v) : v;
        if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
          throw new LegacyStorageError(
            `tar member '${m.name}': ${what} must be a non-negative int, got ${describeValue(v)}`,
            {
              record,
              offset: m.offset,
            },
          );
        }
        if (n > max) throw new LegacyLimitError("maxStorages", n, max, { record, offset: m.offset });
        return n;
      },
    };
  };

  // storages
  const sm = byName.get("storages")!;
  const sdata = yield* read(sm);
  const S = member(sm, sdata, "tar:storages");
  const nStorages = S.count(S.pickle(), "the storage count", maxStorages);
  for (let i = 0; i < nStorages; i++) {
    const at = S.u.position;
    const args = S.pickle();
    if (!isTuple(args) || args.length !== 3) {
      throw new LegacyStorageError(
        `tar storage ${i} at offset ${sm.offset + at}: expected (key, location, storage_type), got ${describeValue(args)}`,
        {
          record: "tar:storages",
          offset: sm.offset + at,
        },
      );
    }
    const key = normKey(args[0]);
    const location = args[1] instanceof Uint8Array ? latin1(args[1]) : args[1];
    const cls = args[2];
    if (key === null || typeof location !== "string" || !(cls instanceof StorageClassRef)) {
      throw new LegacyStorageError(
        `tar storage ${i} at offset ${sm.offset + at}: invalid (key, location, storage_type) = (${describeValue(args[0])}, ${describeValue(args[1])}, ${describeValue(cls)})`,
        { record: "tar:storages", offset: sm.offset + at },
      );
    }
    const h = S.need(8, `the element count of storage '${key}'`);
    const count = S.int64(h);
    const nbytes = count * BigInt(cls.dtype.itemSize);
    if (count < 0n || nbytes > BigInt(sdata.length - S.u.position)) {
      throw new LegacyTruncatedError(
        `tar storage '${key}' at offset ${sm.offset + h} declares ${count} ${cls.dtype.name} elements but only ${sdata.length - S.u.position} bytes follow in member '${sm.name}'`,
        { record: "tar:storages", offset: sm.offset + h, key },
      );
    }
    const d = S.need(Number(nbytes), `storage '${key}'`);
    const bytes = sdata.subarray(d, d + Number(nbytes));
    const storage = Storage.fromBytes(cls.dtype, bytes, {
      device: options.mapLocation ?? location,
      untyped: cls.untyped,
      byteOrder,
    });
    if (objects.has(key)) {
      throw new LegacyStorageError(`tar storage key '${key}' appears twice`, {
        record: "tar:storages",
        offset: sm.offset + at,
        key,
      });
    }
    objects.set(key, storage);
    storages.set(key, storage);
    rememberKey(storage, key);
  }
  const viewsAt = S.u.position;
  const views = S.pickle();
  if (!Array.isArray(views)) {
    throw new LegacyStorageError(
      `tar storage views at offset ${sm.offset + viewsAt} must be a list, got ${describeValue(views)}`,
      {
        record: "tar:storages",
        offset: sm.offset + viewsAt,
      },
    );
  }
  for (const v of views) {
    const bad = (why: string) =>
      new LegacyStorageError(
        `tar storage view ${describeValue(v)} at offset ${sm.offset + viewsAt}: ${why}`,
        {
          record: "tar:storages",
          offset: sm.offset + viewsAt,
        },
      );
    if (!Array.isArray(v) || v.length !== 4) throw bad("expected (view_key, root_key, offset, numel)");
    const target = normKey(v[0]);
    const rootKey = normKey(v[1]);
    const off = typeof v[2] === "bigint" ? Number(v[2]) : v[2];
    const n = typeof v[3] === "bigint" ? Number(v[3]) : v[3];
    if (target === null || rootKey === null || typeof off !== "number" || typeof n !== "number")
      throw bad("invalid fields");
    const root = objects.get(rootKey);
    if (!(root instanceof Storage)) throw bad(`root storage '${rootKey}' is unknown`);
    const size = root.dtype.itemSize;
    if (
      !Number.isSafeInteger(off) ||
      !Number.isSafeInteger(n) ||
      off < 0 ||
      n < 0 ||
      (off + n) * size > root.nbytes
    ) {
      throw bad(`elements [${off}, ${off + n}) are outside the ${root.numel} elements of '${rootKey}'`);
    }
    const view = Storage.viewOf(root, off * size, n * size);
    viewOffsets.set(view, { root, offset: off * size });
    objects.set(target, view);
    storages.set(target, view);
    rememberKey(view, target);
  }

  // tensors
  const tm = byName.get("tensors")!;
  const tdata = yield* read(tm);
  const T = member(tm, tdata, "tar:tensors");
  const nTensors = T.count(T.pickle(), "the tensor count", maxStorages);
  for (let i = 0; i < nTensors; i++) {
    const at = T.u.position;
    const args = T.pickle();
    const where = { record: "tar:tensors" as const, offset: tm.offset + at };
    if (!isTuple(args) || args.length !== 3) {
      throw new LegacyStorageError(
        `tar tensor ${i} at offset ${tm.offset + at}: expected (key, storage_key, tensor_type), got ${describeValue(args)}`,
        where,
      );
    }
    const key = normKey(args[0]);
    const skey = normKey(args[1]);
    const storage = skey === null ? undefined : objects.get(skey);
    if (key === null || !(storage instanceof Storage)) {
      throw new LegacyStorageError(
        `tar tensor ${describeValue(args[0])} at offset ${tm.offset + at} names unknown storage ${describeValue(args[1])}`,
        where,
      );
    }
    const h = T.need(8, `the dimension count of tensor '${key}'`);
    const ndim = T.int32(h);
    if (ndim < 0 || ndim > 1024) {
      throw new LegacyStorageError(`tar tensor '${key}' at offset ${tm.offset + h} has ${ndim} dimensions`, {
        ...where,
        key,
      });
    }
    const g = T.need(16 * ndim + 8, `the sizes, strides and offset of tensor '${key}'`);
    const ints = (from: number, n: number) => {
      const out: number[] = [];
      for (let k = 0; k < n; k++) {
        const x = T.int64(from + 8 * k);
        if (x < BigInt(Number.MIN_SAFE_INTEGER) || x > BigInt(Number.MAX_SAFE_INTEGER)) {
          throw new LegacyStorageError(
            `tar tensor '${key}': value ${x} at offset ${tm.offset + from + 8 * k} is out of range`,
            { ...where, key },
          );
        }
        out.push(Number(x));
      }
      return out;
    };
    const sizes = ints(g, ndim);
    const strides = ints(g + 8 * ndim, ndim);
    const [offset] = ints(g + 16 * ndim, 1);
    let t: Tensor;
    try {
      t = new Tensor(storage, offset!, sizes, strides, { dtype: storage.dtype });
    } catch (e) {
      throw new LegacyStorageError(
        `tar tensor '${key}' at offset ${tm.offset + at}: ${(e as Error).message}`,
        { ...where, key, cause: e },
      );
    }
    objects.set(key, t);
    tensors.set(key, t);
  }

  // pickle
  const pm = byName.get("pickle")!;
  const pdata = yield* read(pm);
  const modules = new Map<unknown, ModuleSource>();
  let value: unknown;
  try {
    value = new Unpickler(pdata, {
      ...baseOpts(),
      pruneMemo: true,
      persistentLoad: (pid: unknown, ctx: HookContext) => {
        if (isTuple(pid)) {
          const t = pid[0] === "module" ? pid.slice(1) : pid;
          const cls = t[0];
          if (cls !== null && (typeof cls === "object" || typeof cls === "function") && !modules.has(cls)) {
            const s = (x: unknown) =>
              typeof x === "string" ? x : x instanceof Uint8Array ? latin1(x) : null;
            const src = { file: s(t[1]), source: s(t[2]) };
            modules.set(cls, src);
            rememberModuleSource(cls, src);
          }
          return cls;
        }
        let key = normKey(pid);
        if (key !== null && /^\s*[+-]?\d+\s*$/.test(key)) key = BigInt(key.trim()).toString();
        const obj = key === null ? undefined : objects.get(key);
        if (obj === undefined) {
          throw new LegacyStorageError(
            `tar pickle: persistent id ${describeValue(pid)} at offset ${pm.offset + ctx.offset} names no storage or tensor`,
            {
              record: "tar:pickle",
              offset: pm.offset + ctx.offset,
            },
          );
        }
        return obj;
      },
    }).load();
  } catch (e) {
    if (e instanceof LegacyFormatError) throw e;
    throw wrapPickleError(e, "tar:pickle", pm.offset, pm.offset + pdata.length);
  }
  return { value, sysInfo, storages, tensors, moduleSources: modules, members };
}

/** Load a tar-format file (torch < 0.1.10). Sharing and storage views are preserved. */
export function loadTar(source: LegacySource, options: TarLoadOptions = {}): Promise<TarLoadResult> {
  const bs = asByteSource(source);
  return runAsync(tarParser(source, bs, options), bs);
}

/** `loadTar` as a parser (`@pt/storage`'s `Op`), for loaders that drive it sync or async. Failed reads are this layer's errors. */
export function loadTarOp(source: ByteSource, options: TarLoadOptions = {}): Op<TarLoadResult> {
  return mapReadFailures(tarParser(source, source, options), readFailure);
}

/** `loadTar` for in-memory data or a source with `readSync`. */
export function loadTarSync(source: LegacySource, options: TarLoadOptions = {}): TarLoadResult {
  const bs = asByteSource(source);
  return runSync(tarParser(source, bs, options), bs);
}
