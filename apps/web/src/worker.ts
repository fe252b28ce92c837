/** The page's worker: every byte of a checkpoint is read and computed on here, never on the page's thread. */
import {
  Cancelled,
  closeDoc,
  convertDoc,
  diffDocs,
  docListing,
  docName,
  openFiles,
  openRemote,
  type Tick,
  tensorStats,
} from "./engine.js";
import { chosenFile, hasOpfs, memoryBlob, type Output, opfsFile } from "./output.js";
import { outputName, type Reply, type Request } from "./protocol.js";

const post = (m: Reply) => (self as unknown as { postMessage(m: Reply): void }).postMessage(m);
const cancelled = new Set<number>();

/** Progress at most every 50 ms; yields to the event loop so a cancel can arrive. */
function ticker(req: number): Tick {
  let last = 0;
  return async (done, total, phase) => {
    const now = performance.now();
    if (now - last > 50 || done === total) {
      last = now;
      post({ type: "progress", req, done, total, phase });
      await new Promise((r) => setTimeout(r, 0));
    }
    if (cancelled.has(req)) throw new Cancelled();
  };
}

self.onmessage = async (ev: MessageEvent<Request>) => {
  const m = ev.data;
  if (m.type === "cancel") {
    cancelled.add(m.req);
    return;
  }
  if (m.type === "close") {
    closeDoc(m.doc);
    return;
  }
  try {
    switch (m.type) {
      case "open":
        post({ type: "opened", req: m.req, summaries: await openFiles(m.files) });
        break;
      case "openUrl":
        post({ type: "opened", req: m.req, summaries: await openRemote(m.url) });
        break;
      case "stats":
        post({ type: "stats", req: m.req, stats: await tensorStats(m.doc, m.tensor, ticker(m.req)) });
        break;
      case "listing":
        post({ type: "listing", req: m.req, listing: docListing(m.doc) });
        break;
      case "diff":
        post({ type: "diff", req: m.req, rows: await diffDocs(m.a, m.b, ticker(m.req)) });
        break;
      case "convert": {
        const name = outputName(docName(m.doc), m.format);
        const out: Output = m.handle
          ? await chosenFile(m.handle)
          : m.destination !== "memory" && hasOpfs()
            ? await opfsFile(name)
            : memoryBlob();
        let bytes: number;
        let file: Blob | null;
        try {
          bytes = await convertDoc(m.doc, m.format, out, ticker(m.req));
          file = await out.finish();
        } catch (e) {
          await out.abort();
          throw e;
        }
        post({ type: "converted", req: m.req, name, bytes, destination: out.destination, file });
        break;
      }
    }
  } catch (e) {
    post({
      type: "error",
      req: m.req,
      message: e instanceof Error ? e.message : String(e),
      ...(e instanceof Cancelled ? { cancelled: true } : {}),
    });
  } finally {
    cancelled.delete(m.req);
  }
};
