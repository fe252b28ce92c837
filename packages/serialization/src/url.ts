/**
 * Remote checkpoints over HTTP range requests: one file, a DCP folder or a sharded index, opened
 * lazily through the same {@link FileTree} seam as local folders. HTTP has no directory listing,
 * so a folder's files are named by what it holds: a DCP folder's `.metadata` names its data files
 * (`storage_data`), a sharded index names its shards; each is resolved relative to the folder URL.
 */
import {
  type ByteSource,
  HttpSource,
  HttpSourceError,
  type HttpSourceOptions,
  type HttpStats,
  isPtError,
} from "@pt/storage";
import { type DcpCheckpoint, type FileTree, openDcp } from "./dcp/read.js";
import { SerializationError } from "./errors.js";
import { type Checkpoint, type LoadOptions, open } from "./load.js";
import { openSharded, type ShardedCheckpoint } from "./sharded.js";

/**
 * The HTTP files of one or more remote checkpoints, each opened once (by absolute URL) and kept
 * until {@link HttpFiles.close}: opening the same checkpoint twice (a policy check, then the real
 * open) fetches its metadata and pickles once. What every file cost is in {@link HttpFiles.stats}.
 */
export class HttpFiles {
  private readonly pending = new Map<string, Promise<HttpSource>>();
  private readonly opened = new Map<string, HttpSource>();
  /** Notes of the files opened (a server without range support: each file downloaded once). */
  readonly notes: string[] = [];
  private closed = false;

  constructor(private readonly options: HttpSourceOptions = {}) {}

  /** The source of `url`, opened on first use (one request for its first block). */
  open(url: string): Promise<HttpSource> {
    if (this.closed)
      return Promise.reject(
        new SerializationError("InvalidSource", `cannot open ${url}: its HttpFiles are closed`),
      );
    let p = this.pending.get(url);
    if (!p) {
      const onNote = this.options.onNote;
      p = HttpSource.open(url, {
        ...this.options,
        onNote: (m) => {
          this.notes.push(m);
          onNote?.(m);
        },
      });
      this.pending.set(url, p);
      p.then(
        (s) => {
          // one that answers after `close()` is closed at once
          if (this.closed) s.close();
          else this.opened.set(url, s);
        },
        () => this.pending.delete(url),
      );
    }
    return p;
  }

  /** The files opened so far, by URL. */
  get files(): ReadonlyMap<string, HttpSource> {
    return this.opened;
  }

  /** Requests made and body bytes received over every file opened. */
  get stats(): HttpStats {
    const s = { requests: 0, bytesFetched: 0 };
    for (const f of this.opened.values()) {
      s.requests += f.stats.requests;
      s.bytesFetched += f.stats.bytesFetched;
    }
    return s;
  }

  /** The total size of the files opened. */
  get totalSize(): number {
    let n = 0;
    for (const f of this.opened.values()) n += f.byteLength;
    return n;
  }

  /** Close every file (their caches are released). */
  close(): void {
    this.closed = true;
    for (const f of this.opened.values()) f.close();
    this.opened.clear();
    this.pending.clear();
  }
}

/** A view of a shared source whose `close` leaves it open (the {@link HttpFiles} owns it). */
function shared(src: HttpSource): ByteSource {
  return {
    byteLength: src.byteLength,
    read: (offset, length) => src.read(offset, length),
    fingerprint: () => src.fingerprint(),
    close: () => undefined,
  };
}

/** The folder URL of `url` (its path up to the last `/`, no query or fragment). */
function folderOf(url: URL): URL {
  return new URL("./", url);
}

/** `name` (a relative path: `__0_0.distcp`, `sub/shard.bin`) as a URL inside folder `base`. */
export function resolveInFolder(base: string | URL, name: string): string {
  const parts = name.split("/");
  if (name.includes("\\") || name.includes("\0") || parts.some((p) => p === "" || p === "." || p === ".."))
    throw new SerializationError(
      "InvalidSource",
      `${JSON.stringify(name)} is not a relative path inside ${String(base)}`,
      { record: name },
    );
  const b = new URL(base);
  if (!b.pathname.endsWith("/")) b.pathname += "/";
  b.search = "";
  b.hash = "";
  return new URL(parts.map(encodeURIComponent).join("/"), b).href;
}

const isMissing = (e: unknown): boolean =>
  e instanceof HttpSourceError && (e.status === 404 || e.status === 410);

/**
 * A {@link FileTree} over the folder URL `base` (names resolved relative to it, each file an
 * `HttpSource` opened once through `files`). There is no `exists` (HTTP cannot list a folder):
 * a file the metadata or index names that the server does not have is an error naming its URL.
 */
export function httpTree(base: string | URL, files: HttpFiles): FileTree {
  const label = String(base);
  return {
    label,
    open: async (name) => {
      const url = resolveInFolder(base, name);
      try {
        return shared(await files.open(url));
      } catch (e) {
        if (isPtError(e, { layer: "storage" }))
          throw new SerializationError(
            "InvalidSource",
            isMissing(e)
              ? `cannot open ${name}: ${url} answered HTTP ${(e as HttpSourceError).status} (no such file on the server)`
              : `cannot open ${name} (${url}): ${(e as Error).message}`,
            { record: name, cause: e },
          );
        throw e;
      }
    },
  };
}

/** Options of {@link openUrl}: load options, plus how to read over HTTP. */
export interface OpenUrlOptions extends LoadOptions {
  /** Range-request source options (headers, cache size, retries, `onNote`, …). */
  readonly http?: HttpSourceOptions;
  /**
   * Files already opened (and kept) by the caller, who then closes them; by default the
   * checkpoint has files of its own, closed with it.
   */
  readonly files?: HttpFiles;
}

/** What every checkpoint opened from a URL has besides its own fields. */
export interface UrlInfo {
  /** The URL opened (a folder URL ends with `/`). */
  readonly url: string;
  /** The source of a checkpoint that is one file; null for a DCP folder or a sharded index. */
  readonly source: HttpSource | null;
  /** The files fetched from: `stats` (requests, bytes), `totalSize`, `notes`. */
  readonly http: HttpFiles;
}

/** A checkpoint opened from a URL: one file, a DCP folder or a sharded index. */
export type UrlCheckpoint = (Checkpoint | DcpCheckpoint | ShardedCheckpoint) & UrlInfo;

/** Index files looked for in a folder URL that holds no `.metadata`. */
const SHARD_INDEXES = ["pytorch_model.bin.index.json", "model.safetensors.index.json"] as const;

/** What a folder URL holds: `.metadata` (DCP), else a shard index; null when none answers. */
async function probeFolder(
  folder: URL,
  files: HttpFiles,
): Promise<{ kind: "dcp" } | { kind: "sharded"; index: string } | null> {
  for (const name of [".metadata", ...SHARD_INDEXES]) {
    try {
      await files.open(resolveInFolder(folder, name));
    } catch (e) {
      if (isMissing(e)) continue;
      throw e;
    }
    return name === ".metadata" ? { kind: "dcp" } : { kind: "sharded", index: name };
  }
  return null;
}

/**
 * Open a remote checkpoint lazily over HTTP range requests. `url` is one checkpoint file (only
 * its first block, zip central directory and pickles are fetched until a storage is read), a DCP
 * folder (`…/ckpt/` or `…/ckpt/.metadata`: the metadata, non-tensor items and each data file's
 * first block; tensor chunks are read on demand), or a sharded index (`…/pytorch_model.bin.index.json`,
 * `…/model.safetensors.index.json`, or a folder holding one: the index and each shard's metadata).
 * A server without range support is downloaded once per file (`http.notes` says so).
 */
export async function openUrl(url: string, options: OpenUrlOptions = {}): Promise<UrlCheckpoint> {
  const { http, files: given, ...load } = options;
  let u: URL;
  try {
    u = new URL(url);
  } catch (e) {
    throw new SerializationError("InvalidOption", `not a URL: ${JSON.stringify(url)}`, { cause: e });
  }
  const files = given ?? new HttpFiles(http);
  const info = (
    cp: Checkpoint | DcpCheckpoint | ShardedCheckpoint,
    source: HttpSource | null,
    at: string,
  ) => {
    const close = cp.close.bind(cp);
    return Object.assign(cp, {
      url: at,
      source,
      http: files,
      close: async () => {
        await close();
        if (!given) files.close();
      },
    }) as UrlCheckpoint;
  };
  /** The checkpoint in `folder`; its `url` is the folder's, or the index's when given by it. */
  const openFolder = async (
    folder: URL,
    what: { kind: "dcp" } | { kind: "sharded"; index: string },
    at = folder.href,
  ): Promise<UrlCheckpoint> => {
    const tree = httpTree(folder, files);
    const cp =
      what.kind === "dcp"
        ? await openDcp(tree, { lazy: true, ...load })
        : await openSharded(tree, what.index, { lazy: true, ...load });
    return info(cp, null, at);
  };
  try {
    const path = u.pathname;
    if (path.endsWith("/.metadata")) return await openFolder(folderOf(u), { kind: "dcp" });
    if (path.endsWith(".index.json")) {
      const index = decodeURIComponent(path.slice(path.lastIndexOf("/") + 1));
      return await openFolder(folderOf(u), { kind: "sharded", index }, u.href);
    }
    if (path.endsWith("/")) {
      const what = await probeFolder(u, files);
      if (!what)
        throw new SerializationError(
          "UnknownFormat",
          `${u.href} is a folder URL, but the server has neither a DCP checkpoint's .metadata nor ${SHARD_INDEXES.join(" nor ")} there`,
        );
      return await openFolder(u, what);
    }
    let source: HttpSource;
    try {
      source = await files.open(u.href);
    } catch (e) {
      // `…/ckpt` may name a folder: a DCP or sharded checkpoint under `…/ckpt/`
      if (!isMissing(e)) throw e;
      const folder = new URL(u.href);
      folder.pathname += "/";
      const what = await probeFolder(folder, files);
      if (!what) throw e;
      return await openFolder(folder, what);
    }
    return info(await open(shared(source), { lazy: true, ...load }), source, u.href);
  } catch (e) {
    if (!given) files.close();
    throw e;
  }
}
