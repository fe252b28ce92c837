/**
 * The one byte sink: where every writer (zip, legacy, safetensors, `saveTo`, DCP) streams its bytes,
 * in order. `write` may be async: writers await it before the next chunk. `close` is called once at
 * the end by writers that finish a file (`ZipWriter.finish`, `saveLegacy`), when present.
 * A chunk's bytes may be reused by the writer once `write` returns (or its promise settles):
 * a sink that keeps chunks copies them (as {@link MemorySink} does).
 */
export interface ByteSink {
  write(chunk: Uint8Array): void | Promise<void>;
  close?(): void | Promise<void>;
}

/** A sink that keeps everything in memory; {@link MemorySink.bytes} joins it. For small outputs. */
export class MemorySink implements ByteSink {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;
  write(chunk: Uint8Array): void {
    // Copy: callers may reuse their buffers.
    this.chunks.push(chunk.slice());
    this.length += chunk.length;
  }
  /** All bytes written, as one buffer. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let p = 0;
    for (const c of this.chunks) {
      out.set(c, p);
      p += c.length;
    }
    return out;
  }
}
