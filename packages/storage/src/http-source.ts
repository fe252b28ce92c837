/**
 * A ByteSource over HTTP(S) range requests, for Node 20 and browsers (global `fetch` only).
 *
 * - Reads are served from fixed-size blocks kept in a small LRU cache; the blocks that reads
 *   issued in the same tick ask for are coalesced into one `Range` request per contiguous run.
 *   Reads of `directThreshold` bytes or more go straight to one exact-range request (tensor data).
 * - Transient failures (network errors, 408/425/429/500/502/503/504) are retried with
 *   exponential backoff.
 * - Every partial response is checked against the file as opened (the total size in
 *   `Content-Range`, and the `ETag` when the server sends one): a file that changes underneath is
 *   an {@link HttpSourceError} with reason `"changed"`, never a mix of old and new bytes.
 * - A server that answers a `Range` request with the whole file (200) has no range support: the
 *   body of that one response is streamed into memory once (up to `maxDownloadBytes`) and the
 *   source reads from it; `note` says so, and `onNote` is told.
 */
import { type ByteSource, checkRead, concatBytes } from "./byte-source.js";
import { StorageError } from "./errors.js";

/** Why an {@link HttpSource} failed. */
export type HttpFailure = "status" | "network" | "changed" | "protocol" | "too-large";

/** An HTTP source failure: the URL, the HTTP status where there was one, and the byte range asked for. */
export class HttpSourceError extends StorageError {
  override name = "HttpSourceError";
  constructor(
    readonly reason: HttpFailure,
    message: string,
    readonly url: string,
    details: { status?: number; offset?: number; length?: number } = {},
    cause?: unknown,
  ) {
    super(
      "ReadFailed",
      `http: ${message}`,
      { reason, url, ...details },
      cause === undefined ? {} : { cause },
    );
  }
  /** The HTTP status, where the failure was an answer. */
  get status(): number | undefined {
    return this.details.status as number | undefined;
  }
}

/** Options of {@link HttpSource.open}. */
export interface HttpSourceOptions {
  /** The `fetch` to use (default: the global one). */
  readonly fetch?: typeof fetch;
  /** Extra request headers (authorization, …). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Cache block size in bytes (default 64 KiB). */
  readonly blockSize?: number;
  /** Blocks kept in the cache (default 64: 4 MiB with the default block size). */
  readonly cacheBlocks?: number;
  /** Reads at least this long bypass the cache in one exact request (default 1 MiB). */
  readonly directThreshold?: number;
  /** Retries of a transient failure (default 3). */
  readonly retries?: number;
  /** First retry delay in ms, doubled each retry (default 200). */
  readonly retryDelayMs?: number;
  /** Without range support, the most bytes downloaded into memory (default 4 GiB). */
  readonly maxDownloadBytes?: number;
  /** Told of notable events (the no-range fallback). */
  readonly onNote?: (message: string) => void;
  /** Aborts every request. */
  readonly signal?: AbortSignal;
}

/** What an {@link HttpSource} has fetched so far. */
export interface HttpStats {
  /** HTTP requests made (retries included). */
  requests: number;
  /** Body bytes received. */
  bytesFetched: number;
}

const TRANSIENT = new Set([408, 425, 429, 500, 502, 503, 504]);

interface Queued {
  readonly block: number;
  resolve(b: Uint8Array): void;
  reject(e: unknown): void;
}

/** `bytes A-B/T` → numbers (T may be `*`). */
function parseContentRange(v: string | null): { start: number; end: number; total: number | null } | null {
  if (!v) return null;
  const m = /^\s*bytes\s+(?:(\d+)-(\d+)|\*)\s*\/\s*(\d+|\*)\s*$/i.exec(v);
  if (!m) return null;
  const total = m[3] === "*" ? null : Number(m[3]);
  if (m[1] === undefined) return { start: -1, end: -1, total };
  return { start: Number(m[1]), end: Number(m[2]), total };
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });

/** Read a response body fully, refusing more than `limit` bytes. */
async function readBody(res: Response, limit: number, url: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length") ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) {
    await res.body?.cancel();
    throw new HttpSourceError(
      "too-large",
      `${url}: the response is ${declared} bytes, over the ${limit}-byte limit`,
      url,
      { status: res.status },
    );
  }
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  let out: Uint8Array | null = Number.isFinite(declared) ? new Uint8Array(declared) : null;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (n + value.length > limit) {
      await reader.cancel();
      throw new HttpSourceError("too-large", `${url}: the response runs past the ${limit}-byte limit`, url, {
        status: res.status,
      });
    }
    if (out && n + value.length <= out.length) out.set(value, n);
    else {
      if (out) {
        chunks.push(out.subarray(0, n));
        out = null;
      }
      chunks.push(value);
    }
    n += value.length;
  }
  if (out) return n === out.length ? out : out.subarray(0, n);
  return concatBytes(chunks);
}

/** A lazily read remote file. Make one with {@link HttpSource.open} (or {@link openHttpSource}). */
export class HttpSource implements ByteSource {
  /** Total size in bytes (from the first response). */
  readonly byteLength: number;
  /** The `ETag` of the file as opened, if the server sent one. */
  readonly etag: string | null;
  /** Whether the server honours `Range` requests (false: the file was downloaded once, see `note`). */
  readonly rangeSupported: boolean;
  /** A human note about how the file is read (set for the no-range fallback). */
  readonly note: string | null;
  /** Requests and bytes so far. */
  readonly stats: HttpStats;

  private readonly blocks = new Map<number, Uint8Array>();
  private readonly inflight = new Map<number, Promise<Uint8Array>>();
  private queue: Queued[] = [];
  private whole: Uint8Array | null;
  private closed = false;

  private constructor(
    readonly url: string,
    private readonly o: Required<Omit<HttpSourceOptions, "signal" | "onNote" | "headers" | "fetch">> & {
      signal?: AbortSignal;
      headers: Readonly<Record<string, string>>;
      fetch: typeof fetch;
    },
    init: {
      byteLength: number;
      etag: string | null;
      whole: Uint8Array | null;
      first: Uint8Array | null;
      note: string | null;
      stats: HttpStats;
    },
  ) {
    this.byteLength = init.byteLength;
    this.etag = init.etag;
    this.whole = init.whole;
    this.rangeSupported = init.whole === null;
    this.note = init.note;
    this.stats = init.stats;
    // the opening answer is block 0 (the whole file when it is smaller than a block)
    if (init.first && init.first.length > 0) this.remember(0, init.first);
  }

  /**
   * Open `url`: one `GET` with `Range: bytes=0-(blockSize-1)` learns the size and whether ranges
   * work (its bytes become the first cached block).
   */
  static async open(url: string, options: HttpSourceOptions = {}): Promise<HttpSource> {
    if (!options.fetch && typeof globalThis.fetch !== "function")
      throw new HttpSourceError("network", "no global fetch in this runtime", url);
    // browsers refuse a `fetch` called on another object than the global one ("Illegal invocation")
    const f = options.fetch ?? globalThis.fetch.bind(globalThis);
    const o = {
      fetch: f,
      headers: options.headers ?? {},
      blockSize: options.blockSize ?? 64 * 1024,
      cacheBlocks: options.cacheBlocks ?? 64,
      directThreshold: options.directThreshold ?? 1 << 20,
      retries: options.retries ?? 3,
      retryDelayMs: options.retryDelayMs ?? 200,
      maxDownloadBytes: options.maxDownloadBytes ?? 4 * 1024 ** 3,
      ...(options.signal ? { signal: options.signal } : {}),
    };
    for (const [k, v] of [
      ["blockSize", o.blockSize],
      ["cacheBlocks", o.cacheBlocks],
      ["directThreshold", o.directThreshold],
    ] as const)
      if (!Number.isSafeInteger(v) || v < 1)
        throw new StorageError(
          "InvalidArgument",
          `http source option ${k} must be a positive integer, not ${v}`,
        );
    const stats: HttpStats = { requests: 0, bytesFetched: 0 };
    const res = await HttpSource.request(o, url, `bytes=0-${o.blockSize - 1}`, stats, 0);
    const etag = res.headers.get("etag");
    if (res.status === 206) {
      const cr = parseContentRange(res.headers.get("content-range"));
      if (!cr || cr.total === null || cr.start !== 0) {
        await res.body?.cancel();
        throw new HttpSourceError(
          "protocol",
          `${url}: a 206 answer without a usable Content-Range (${res.headers.get("content-range") ?? "none"}): the size is unknown (a cross-origin server must list Content-Range in Access-Control-Expose-Headers)`,
          url,
          { status: 206 },
        );
      }
      const first = await readBody(res, o.blockSize, url);
      stats.bytesFetched += first.length;
      if (first.length !== Math.min(o.blockSize, cr.total))
        throw new HttpSourceError(
          "protocol",
          `${url}: asked for bytes 0-${o.blockSize - 1}, got ${first.length} bytes (Content-Range ${cr.start}-${cr.end}/${cr.total})`,
          url,
          { status: 206, offset: 0, length: o.blockSize },
        );
      return new HttpSource(url, o, { byteLength: cr.total, etag, whole: null, first, note: null, stats });
    }
    if (res.status === 416) {
      // an empty file (nothing satisfies bytes=0-…) answers 416 with `bytes */0`
      const cr = parseContentRange(res.headers.get("content-range"));
      await res.body?.cancel();
      if (cr?.total === 0)
        return new HttpSource(url, o, { byteLength: 0, etag, whole: null, first: null, note: null, stats });
      throw new HttpSourceError("status", `${url}: 416 Range Not Satisfiable for bytes=0-…`, url, {
        status: 416,
      });
    }
    if (res.status === 200) {
      const declared = res.headers.get("content-length");
      const note = `${url}: the server does not support range requests (it answered 200 to a Range request); downloading the whole file${declared ? ` (${declared} bytes)` : ""} once into memory`;
      options.onNote?.(note);
      const whole = await readBody(res, o.maxDownloadBytes, url);
      stats.bytesFetched += whole.length;
      return new HttpSource(url, o, { byteLength: whole.length, etag, whole, first: null, note, stats });
    }
    await res.body?.cancel();
    throw new HttpSourceError("status", `${url}: HTTP ${res.status} ${res.statusText}`.trimEnd(), url, {
      status: res.status,
    });
  }

  /** One request with retries of transient failures; the response is 2xx/416 or it throws. */
  private static async request(
    o: {
      fetch: typeof fetch;
      headers: Readonly<Record<string, string>>;
      retries: number;
      retryDelayMs: number;
      signal?: AbortSignal;
    },
    url: string,
    range: string,
    stats: HttpStats,
    offset: number,
    extra: Record<string, string> = {},
  ): Promise<Response> {
    let last: unknown;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await sleep(o.retryDelayMs * 2 ** (attempt - 1), o.signal);
      stats.requests++;
      let res: Response;
      try {
        res = await o.fetch(url, {
          headers: { ...o.headers, ...extra, Range: range },
          ...(o.signal ? { signal: o.signal } : {}),
        });
      } catch (e) {
        if (o.signal?.aborted) throw e;
        last = e;
        if (attempt < o.retries) continue;
        throw new HttpSourceError(
          "network",
          `${url}: request for ${range} failed after ${attempt + 1} attempts: ${e instanceof Error ? e.message : String(e)}`,
          url,
          { offset },
          e,
        );
      }
      if (TRANSIENT.has(res.status) && attempt < o.retries) {
        await res.body?.cancel();
        last = res.status;
        continue;
      }
      if ((res.status >= 200 && res.status < 300) || res.status === 416) return res;
      await res.body?.cancel();
      throw new HttpSourceError(
        "status",
        `${url}: HTTP ${res.status} for ${range}${last !== undefined ? ` (after ${attempt + 1} attempts)` : ""}`,
        url,
        { status: res.status, offset },
      );
    }
  }

  /** Fetch bytes `[start, end)` with one Range request, checking the answer is that range of the same file. */
  private async fetchRange(start: number, end: number): Promise<Uint8Array> {
    const res = await HttpSource.request(this.o, this.url, `bytes=${start}-${end - 1}`, this.stats, start);
    const length = end - start;
    const fail = async (reason: HttpFailure, msg: string): Promise<never> => {
      await res.body?.cancel();
      throw new HttpSourceError(reason, `${this.url}: ${msg}`, this.url, {
        status: res.status,
        offset: start,
        length,
      });
    };
    const etag = res.headers.get("etag");
    if (this.etag !== null && etag !== null && etag !== this.etag)
      await fail(
        "changed",
        `the file changed since it was opened (ETag ${this.etag} → ${etag}); refusing to mix old and new bytes`,
      );
    if (res.status !== 206) {
      if (res.status === 416)
        await fail(
          "changed",
          `bytes ${start}-${end - 1} are no longer there (416): the file changed since it was opened`,
        );
      await fail(
        "protocol",
        `asked for bytes ${start}-${end - 1}, got HTTP ${res.status} instead of 206 Partial Content`,
      );
    }
    const cr = parseContentRange(res.headers.get("content-range"));
    if (cr && cr.total !== null && cr.total !== this.byteLength)
      await fail(
        "changed",
        `the file is now ${cr.total} bytes, ${this.byteLength} when it was opened: it changed underneath`,
      );
    if (!cr || cr.start !== start || cr.end !== end - 1)
      await fail(
        "protocol",
        `asked for bytes ${start}-${end - 1}, got Content-Range ${res.headers.get("content-range") ?? "none"}`,
      );
    const body = await readBody(res, length, this.url);
    this.stats.bytesFetched += body.length;
    if (body.length !== length)
      throw new HttpSourceError(
        "protocol",
        `${this.url}: asked for ${length} bytes at offset ${start}, got ${body.length}`,
        this.url,
        { status: 206, offset: start, length },
      );
    return body;
  }

  private remember(block: number, bytes: Uint8Array): void {
    this.blocks.delete(block);
    this.blocks.set(block, bytes);
    while (this.blocks.size > this.o.cacheBlocks) {
      const oldest = this.blocks.keys().next().value as number;
      this.blocks.delete(oldest);
    }
  }

  private block(b: number): Promise<Uint8Array> {
    const hit = this.blocks.get(b);
    if (hit) {
      this.remember(b, hit);
      return Promise.resolve(hit);
    }
    const pending = this.inflight.get(b);
    if (pending) return pending;
    const p = new Promise<Uint8Array>((resolve, reject) => {
      if (this.queue.length === 0) queueMicrotask(() => this.flush());
      this.queue.push({ block: b, resolve, reject });
    });
    this.inflight.set(b, p);
    return p;
  }

  /** Fetch the queued blocks: one request per run of consecutive blocks. */
  private flush(): void {
    const q = this.queue.sort((a, b) => a.block - b.block);
    this.queue = [];
    const bs = this.o.blockSize;
    const maxRun = Math.max(1, Math.floor((16 << 20) / bs));
    for (let i = 0; i < q.length; ) {
      let j = i + 1;
      while (j < q.length && (q[j] as Queued).block === (q[j - 1] as Queued).block + 1 && j - i < maxRun) j++;
      const run = q.slice(i, j);
      i = j;
      const first = (run[0] as Queued).block;
      const start = first * bs;
      const end = Math.min(this.byteLength, ((run[run.length - 1] as Queued).block + 1) * bs);
      this.fetchRange(start, end).then(
        (bytes) => {
          for (const r of run) {
            const part = bytes.subarray(
              (r.block - first) * bs,
              Math.min(bytes.length, (r.block - first + 1) * bs),
            );
            this.inflight.delete(r.block);
            this.remember(r.block, part);
            r.resolve(part);
          }
        },
        (e) => {
          for (const r of run) {
            this.inflight.delete(r.block);
            r.reject(e);
          }
        },
      );
    }
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (this.closed) throw new HttpSourceError("protocol", `${this.url}: the source is closed`, this.url);
    checkRead(offset, length, this.byteLength, `file at ${this.url}`);
    if (length === 0) return new Uint8Array(0);
    if (this.whole) return this.whole.slice(offset, offset + length);
    if (length >= this.o.directThreshold) return this.fetchRange(offset, offset + length);
    const bs = this.o.blockSize;
    const first = Math.floor(offset / bs);
    const last = Math.floor((offset + length - 1) / bs);
    const parts: Promise<Uint8Array>[] = [];
    for (let b = first; b <= last; b++) parts.push(this.block(b));
    const got = await Promise.all(parts);
    if (got.length === 1) {
      const at = offset - first * bs;
      return (got[0] as Uint8Array).slice(at, at + length);
    }
    const out = new Uint8Array(length);
    let at = 0;
    got.forEach((blk, i) => {
      const from = i === 0 ? offset - first * bs : 0;
      const n = Math.min(blk.length - from, length - at);
      out.set(blk.subarray(from, from + n), at);
      at += n;
    });
    return out;
  }

  /** The file's identity as opened (`size:etag`); later answers are checked against it on every read. */
  fingerprint(): string {
    return `${this.byteLength}:${this.etag ?? ""}`;
  }

  close(): void {
    this.closed = true;
    this.blocks.clear();
    this.whole = null;
  }
}

/** `HttpSource.open(url, options)`. */
export function openHttpSource(url: string, options: HttpSourceOptions = {}): Promise<HttpSource> {
  return HttpSource.open(url, options);
}
