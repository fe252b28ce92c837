/**
 * A tiny HTTP file server for tests, bound to 127.0.0.1 only: serves registered files (bytes or a
 * path on disk) with single-range `Range` support (or without, `ranges: false`), an `ETag`, a
 * count of requests and bytes served, and injectable transient failures.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Served {
  /** Bytes in memory or a file on disk. */
  data: Uint8Array | { path: string };
  /** Honour Range requests (default true). */
  ranges?: boolean;
  /** Send an ETag (default true); changes with `version`. */
  etag?: boolean;
  version?: number;
  /** Answer the next N requests with this status (e.g. 503), then serve normally. */
  failNext?: { count: number; status: number };
}

export interface RangeServer {
  readonly base: string;
  readonly files: Map<string, Served>;
  /** Requests and body bytes sent, in total. */
  readonly log: { requests: number; bytes: number; ranges: string[] };
  reset(): void;
  close(): Promise<void>;
}

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

export async function startRangeServer(): Promise<RangeServer> {
  const files = new Map<string, Served>();
  const log = { requests: 0, bytes: 0, ranges: [] as string[] };
  const server: Server = createServer((req, res) => {
    log.requests++;
    const f = files.get((req.url ?? "").split("?")[0] ?? "");
    if (!f) {
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
      const body = slice(f.data, 0, size);
      log.bytes += body.length;
      res.writeHead(200, { ...headers, "content-length": String(size) }).end(body);
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
    log.bytes += body.length;
    res
      .writeHead(206, {
        ...headers,
        "content-range": `bytes ${start}-${end}/${size}`,
        "content-length": String(body.length),
      })
      .end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    files,
    log,
    reset() {
      log.requests = 0;
      log.bytes = 0;
      log.ranges.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
