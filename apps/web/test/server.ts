/**
 * The e2e tests' static server, on 127.0.0.1 only: the built site from dist/, and checkpoint files
 * under /files/NAME (with Range support) and /norange/NAME (without: whole-file answers only).
 * It counts the body bytes it sends per path.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize } from "node:path";

const MIME: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

export interface TestServer {
  readonly base: string;
  /** Files served under /files/NAME and /norange/NAME. */
  readonly files: Map<string, string>;
  /** Body bytes sent per URL path. */
  readonly sent: Map<string, number>;
  close(): Promise<void>;
}

function readRange(path: string, start: number, end: number): Buffer {
  const out = Buffer.alloc(end - start);
  const fd = openSync(path, "r");
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

export async function startServer(dist: string): Promise<TestServer> {
  const files = new Map<string, string>();
  const sent = new Map<string, number>();
  const count = (p: string, n: number) => sent.set(p, (sent.get(p) ?? 0) + n);
  const server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? "/").split("?")[0] ?? "/");
    const m = /^\/(files|norange)\/(.+)$/.exec(path);
    if (m) {
      const file = files.get(m[2] as string);
      if (!file) {
        res.writeHead(404).end();
        return;
      }
      const fd = openSync(file, "r");
      const st = fstatSync(fd);
      closeSync(fd);
      const size = st.size;
      const headers: Record<string, string> = {
        "content-type": "application/octet-stream",
        etag: `"${size}-${Math.floor(st.mtimeMs)}"`,
      };
      const r = m[1] === "files" ? /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "") : null;
      if (m[1] === "files") headers["accept-ranges"] = "bytes";
      if (!r) {
        // whole file, streamed in 1 MiB pieces
        res.writeHead(200, { ...headers, "content-length": String(size) });
        let at = 0;
        const pump = () => {
          while (at < size) {
            const piece = readRange(file, at, Math.min(size, at + (1 << 20)));
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
        return;
      }
      const start = Number(r[1]);
      const end = Math.min(size - 1, r[2] ? Number(r[2]) : size - 1);
      if (start >= size) {
        res.writeHead(416, { ...headers, "content-range": `bytes */${size}` }).end();
        return;
      }
      const body = readRange(file, start, end + 1);
      count(path, body.length);
      res
        .writeHead(206, {
          ...headers,
          "content-range": `bytes ${start}-${end}/${size}`,
          "content-length": String(body.length),
        })
        .end(body);
      return;
    }
    const rel = normalize(path === "/" ? "/index.html" : path).replace(/^(\.\.[/\\])+/, "");
    const p = join(dist, rel);
    if (!p.startsWith(dist) || !existsSync(p) || statSync(p).isDirectory()) {
      res.writeHead(404).end();
      return;
    }
    const body = readFileSync(p);
    count(path, body.length);
    res
      .writeHead(200, {
        "content-type": MIME[extname(p)] ?? "application/octet-stream",
        "cache-control": "no-cache",
      })
      .end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    files,
    sent,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
