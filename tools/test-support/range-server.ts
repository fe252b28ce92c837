/**
 * The one HTTP file server of the tests (storage, serialization, cli, web), bound to 127.0.0.1
 * only. It serves registered files (bytes, or a path on disk) with single-range `Range` support
 * (or without: `ranges: false` answers every request with the whole file, streamed), an `ETag`,
 * injectable transient failures, and optionally a static folder (the web app's built site) at `/`.
 * It counts requests and body bytes sent, in total and per URL path.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
} from "node:fs";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, resolve, sep } from "node:path";

/** A file the server answers for. */
export interface Served {
  /** Bytes in memory or a file on disk. */
  data: Uint8Array | { path: string };
  /** Honour Range requests (default true); without, every answer is the whole file (200). */
  ranges?: boolean;
  /** Send an ETag (default true); it changes with `version`. */
  etag?: boolean;
  version?: number;
  /** Answer the next N requests with this status (e.g. 503), then serve normally. */
  failNext?: { count: number; status: number };
}

/** Options of {@link startRangeServer}. */
export interface RangeServerOptions {
  /** A folder served as a static site at `/` (`/` is its index.html), after the registered files. */
  readonly static?: string;
}

export interface RangeServer {
  /** `http://127.0.0.1:PORT` */
  readonly base: string;
  /** Registered files by URL path (`/w2.pt`, `/ckpt/.metadata`). */
  readonly files: Map<string, Served>;
  /** Requests and body bytes sent in total (since `reset`), and the Range headers answered. */
  readonly log: { requests: number; bytes: number; ranges: string[] };
  /** Body bytes sent per URL path (since `reset`). */
  readonly sent: Map<string, number>;
  /**
   * Register every file under folder `dir` (recursively) at `prefix` + its relative path
   * (`prefix` ends with `/`); returns the URL paths registered.
   */
  mount(prefix: string, dir: string, options?: Omit<Served, "data">): string[];
  reset(): void;
  close(): Promise<void>;
}

const MIME: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

function sizeOf(d: Served["data"]): number {
  if (d instanceof Uint8Array) return d.length;
  const fd = openSync(d.path, "r");
  try {
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}

function slice(d: Served["data"], start: number, end: number): Uint8Array {
  if (d instanceof Uint8Array) return d.subarray(start, end);
  const out = new Uint8Array(end - start);
  const fd = openSync(d.path, "r");
  try {
    let at = 0;
    while (at < out.length) {
      const n = readSync(fd, out, at, out.length - at, start + at);
      if (n === 0) break;
      at += n;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

function listFiles(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(dir, r));
    else if (e.isFile()) out.push(r);
  }
  return out.sort();
}

export async function startRangeServer(options: RangeServerOptions = {}): Promise<RangeServer> {
  const files = new Map<string, Served>();
  const log = { requests: 0, bytes: 0, ranges: [] as string[] };
  const sent = new Map<string, number>();
  const count = (path: string, n: number) => {
    log.bytes += n;
    sent.set(path, (sent.get(path) ?? 0) + n);
  };
  const root = options.static === undefined ? null : resolve(options.static);

  /** The whole of `f` as a 200 answer, streamed in 1 MiB pieces (a 1 GiB file is never in memory). */
  const whole = (
    res: ServerResponse,
    path: string,
    f: Served,
    size: number,
    headers: Record<string, string>,
  ) => {
    res.writeHead(200, { ...headers, "content-length": String(size) });
    let at = 0;
    const pump = () => {
      while (at < size) {
        const piece = slice(f.data, at, Math.min(size, at + (1 << 20)));
        at += piece.length;
        count(path, piece.length);
        if (!res.write(piece)) {
          res.once("drain", pump);
          return;
        }
      }
      res.end();
    };
    pump();
  };

  const server = createServer((req, res) => {
    log.requests++;
    let path: string;
    try {
      path = decodeURIComponent((req.url ?? "/").split("?")[0] ?? "/");
    } catch {
      res.writeHead(400).end();
      return;
    }
    const f = files.get(path);
    if (!f) {
      if (root !== null) {
        const rel = normalize(path === "/" ? "/index.html" : path).replace(/^(\.\.[/\\])+/, "");
        const p = join(root, rel);
        if (p.startsWith(root + sep) && existsSync(p) && !statSync(p).isDirectory()) {
          const body = readFileSync(p);
          count(path, body.length);
          res
            .writeHead(200, {
              "content-type": MIME[extname(p)] ?? "application/octet-stream",
              "cache-control": "no-cache",
            })
            .end(body);
          return;
        }
      }
      res.writeHead(404).end();
      return;
    }
    if (f.failNext && f.failNext.count > 0) {
      f.failNext.count--;
      res.writeHead(f.failNext.status).end();
      return;
    }
    const size = sizeOf(f.data);
    const headers: Record<string, string> = { "content-type": "application/octet-stream" };
    if (f.etag !== false) headers.etag = `"v${f.version ?? 0}-${size}"`;
    const range = req.headers.range;
    const m = range ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
    if (f.ranges !== false) headers["accept-ranges"] = "bytes";
    if (f.ranges === false || !m) {
      whole(res, path, f, size, headers);
      return;
    }
    log.ranges.push(range as string);
    const start = Number(m[1]);
    const end = Math.min(size - 1, m[2] ? Number(m[2]) : size - 1);
    if (start >= size) {
      res.writeHead(416, { ...headers, "content-range": `bytes */${size}` }).end();
      return;
    }
    const body = slice(f.data, start, end + 1);
    count(path, body.length);
    res
      .writeHead(206, {
        ...headers,
        "content-range": `bytes ${start}-${end}/${size}`,
        "content-length": String(body.length),
      })
      .end(body);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    files,
    log,
    sent,
    mount(prefix, dir, opts = {}) {
      const paths: string[] = [];
      for (const rel of listFiles(dir)) {
        const p = `${prefix}${rel}`;
        files.set(p, { ...opts, data: { path: join(dir, rel) } });
        paths.push(p);
      }
      return paths;
    },
    reset() {
      log.requests = 0;
      log.bytes = 0;
      log.ranges.length = 0;
      sent.clear();
    },
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
