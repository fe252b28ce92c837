import { type HttpSource, type HttpSourceOptions, openHttpSource } from "@pt/storage";
import { type Checkpoint, type LoadOptions, open } from "./load.js";

/** Options of {@link openUrl}: load options, plus how to read over HTTP. */
export interface OpenUrlOptions extends LoadOptions {
  /** Range-request source options (headers, cache size, retries, `onNote`, …). */
  readonly http?: HttpSourceOptions;
}

/** A checkpoint opened from a URL, with the source (its `stats` say how many bytes were fetched). */
export interface UrlCheckpoint extends Checkpoint {
  readonly source: HttpSource;
}

/**
 * Open a remote checkpoint lazily over HTTP range requests (`open` over an `HttpSource`): only the
 * first block, the zip central directory and the pickles are fetched until a storage is read. A
 * server without range support is downloaded once (`source.note` says so).
 */
export async function openUrl(url: string, options: OpenUrlOptions = {}): Promise<UrlCheckpoint> {
  const { http, ...load } = options;
  const source = await openHttpSource(url, http);
  try {
    const cp = await open(source, { lazy: true, ...load });
    return Object.assign(cp, { source }) as UrlCheckpoint;
  } catch (e) {
    source.close();
    throw e;
  }
}
