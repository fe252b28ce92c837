/**
 * The page: opens files (drop, picker, several at once) or `?url=…`, and shows what the worker
 * reports. All reading and computing happens in the worker; this thread only draws.
 */
import { fmtBytes } from "@pt/serialization";
import {
  type Destination,
  type DiffRow,
  type Format,
  listingName,
  outputName,
  type Reply,
  type Request,
  type Stats,
  type Summary,
  type TensorInfo,
  type TreeNode,
} from "./protocol.js";
import "./styles.css";

type Body<T> = T extends { req: number } ? Omit<T, "req"> : never;

// ---- worker client ----------------------------------------------------------------------------

const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
let nextReq = 1;
const pending = new Map<
  number,
  { resolve(r: Reply): void; reject(e: Error & { cancelled?: boolean }): void; progress?(r: Reply): void }
>();
worker.onmessage = (ev: MessageEvent<Reply>) => {
  const r = ev.data;
  const p = pending.get(r.req);
  if (!p) return;
  if (r.type === "progress") {
    p.progress?.(r);
    return;
  }
  pending.delete(r.req);
  if (r.type === "error") p.reject(Object.assign(new Error(r.message), { cancelled: r.cancelled ?? false }));
  else p.resolve(r);
};

function call<R extends Reply>(
  msg: Body<Request>,
  progress?: (r: Extract<Reply, { type: "progress" }>) => void,
): { req: number; done: Promise<R> } {
  const req = nextReq++;
  const done = new Promise<R>((resolve, reject) => {
    pending.set(req, {
      resolve: resolve as (r: Reply) => void,
      reject,
      ...(progress ? { progress: progress as (r: Reply) => void } : {}),
    });
  });
  worker.postMessage({ ...msg, req } as Request);
  return { req, done };
}

// ---- helpers ----------------------------------------------------------------------------------

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | boolean> = {},
  ...kids: Array<Node | string | null | undefined | false>
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false) continue;
    if (k === "class") e.className = String(v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const k of kids) if (k !== null && k !== undefined && k !== false) e.append(k);
  return e;
}

/** `1,234,567` (without `toLocaleString`, whose first call loads locale data: a long task). */
function commas(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

function fmtNum(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (Number.isInteger(x) && Math.abs(x) < 1e15) return commas(x);
  return Math.abs(x) >= 1e5 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(4) : x.toPrecision(6);
}

const $ = <T extends HTMLElement>(sel: string) => document.querySelector(sel) as T;
const status = (text: string) => {
  $("#status").textContent = text;
};

// ---- state ------------------------------------------------------------------------------------

const docs: Summary[] = [];
let current: Summary | null = null;
let tab: "tree" | "storages" | "safety" | "diff" | "convert" = "tree";

// ---- opening ----------------------------------------------------------------------------------

async function openFiles(files: File[]): Promise<void> {
  if (files.length === 0) return;
  status(`opening ${files.map((f) => f.name).join(", ")}…`);
  try {
    const r = await call<Extract<Reply, { type: "opened" }>>({ type: "open", files }).done;
    added(r.summaries);
  } catch (e) {
    status(`could not open: ${(e as Error).message}`);
  }
}

async function openUrl(url: string): Promise<void> {
  status(`opening ${url}…`);
  try {
    const r = await call<Extract<Reply, { type: "opened" }>>({ type: "openUrl", url }).done;
    added(r.summaries);
  } catch (e) {
    status(`could not open ${url}: ${(e as Error).message}`);
    $("#doc").replaceChildren(
      el("p", { class: "error", role: "alert" }, `could not open ${url}: ${(e as Error).message}`),
    );
  }
}

function added(list: Summary[]): void {
  docs.push(...list);
  const last = list[list.length - 1];
  if (last) show(last);
  status(`opened ${list.map((s) => `${s.name} in ${s.openMs.toFixed(0)} ms`).join(", ")}`);
}

// ---- drawing ----------------------------------------------------------------------------------

function drawDocTabs(): void {
  const nav = $("#docs");
  nav.replaceChildren(
    ...docs.map((d) =>
      el(
        "button",
        {
          role: "tab",
          "aria-selected": d === current ? "true" : "false",
          class: "doc-tab",
          "data-doc": d.doc,
        },
        d.name,
      ),
    ),
  );
  nav.querySelectorAll("button").forEach((b, i) => {
    b.addEventListener("click", () => show(docs[i] as Summary));
  });
  $("#drop-hint").hidden = docs.length > 0;
}

function show(s: Summary): void {
  const t0 = performance.now();
  try {
    draw(s);
  } finally {
    // visible in the browser's performance timeline (the e2e tests read it)
    performance.measure("pt:draw", { start: t0, end: performance.now() });
  }
}

function draw(s: Summary): void {
  current = s;
  drawDocTabs();
  const t = s.totals;
  const head = el(
    "div",
    { class: "summary" },
    el("h2", {}, s.name),
    el(
      "p",
      { class: "meta", id: "meta" },
      `${s.format} checkpoint${s.details.length ? ` (${s.details.join(", ")})` : ""}, ${fmtBytes(s.size)} · opened in ${s.openMs.toFixed(0)} ms`,
      s.bytesFetched !== undefined ? ` · ${fmtBytes(s.bytesFetched)} fetched` : "",
    ),
    s.note ? el("p", { class: "note", role: "note" }, s.note) : null,
    s.error ? el("p", { class: "error", role: "alert", id: "load-error" }, `not loaded: ${s.error}`) : null,
    el(
      "p",
      { class: "totals", id: "totals" },
      `${t.tensors} tensor${t.tensors === 1 ? "" : "s"}, ${commas(t.parameters)} parameters, ${fmtBytes(t.bytes)} in ${t.storages} storage${t.storages === 1 ? "" : "s"} (${t.shared} shared)`,
    ),
    s.error ? null : listingButton(s),
    Object.keys(t.byDtype).length
      ? el(
          "table",
          { class: "dtypes" },
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              el("th", {}, "dtype"),
              el("th", {}, "tensors"),
              el("th", {}, "parameters"),
              el("th", {}, "bytes"),
            ),
          ),
          el(
            "tbody",
            {},
            ...Object.entries(t.byDtype).map(([d, v]) =>
              el(
                "tr",
                {},
                el("td", {}, d),
                el("td", {}, String(v.tensors)),
                el("td", {}, commas(v.parameters)),
                el("td", {}, fmtBytes(v.bytes)),
              ),
            ),
          ),
        )
      : null,
  );
  const tabs = el(
    "div",
    { role: "tablist", class: "view-tabs" },
    ...(["tree", "storages", "safety", "diff", "convert"] as const).map((k) => {
      const b = el(
        "button",
        { role: "tab", id: `tab-${k}`, "aria-selected": tab === k ? "true" : "false" },
        k === "safety" ? `safety: ${s.safety.verdict}` : k,
      );
      b.addEventListener("click", () => {
        tab = k;
        show(s);
      });
      return b;
    }),
  );
  const panel = el("div", { class: "panel", role: "tabpanel", id: `panel-${tab}` });
  $("#doc").replaceChildren(head, tabs, panel);
  if (tab === "tree") drawTree(s, panel);
  else if (tab === "storages") drawStorages(s, panel);
  else if (tab === "safety") drawSafety(s, panel);
  else if (tab === "diff") drawDiff(s, panel);
  else drawConvert(s, panel);
}

/**
 * *Download listing (JSON)*: every tensor (not only those the tree shows) with the totals, in
 * `pt inspect --json`'s schema, built in the worker by the same `listing` the CLI uses.
 */
function listingButton(s: Summary): HTMLElement {
  const b = el("button", { type: "button", id: "download-listing" }, "Download listing (JSON)");
  b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      const r = await call<Extract<Reply, { type: "listing" }>>({ type: "listing", doc: s.doc }).done;
      const name = listingName(s.name);
      download(new Blob([`${JSON.stringify(r.listing, null, 2)}\n`], { type: "application/json" }), name);
      status(
        `listing of ${r.listing.totals.tensors} tensor${r.listing.totals.tensors === 1 ? "" : "s"} downloaded as ${name}`,
      );
    } catch (e) {
      status(`could not list: ${(e as Error).message}`);
    } finally {
      b.disabled = false;
    }
  });
  return el("p", { class: "actions listing" }, b);
}

// ---- tree -------------------------------------------------------------------------------------

function tensorLine(info: TensorInfo, s: Summary): string {
  const st = s.storages[info.storage];
  const flags = [];
  if (info.requiresGrad) flags.push("requires_grad");
  if (st && st.users.length + st.bare > 1) flags.push("shared");
  if (!info.contiguous) flags.push("non-contiguous");
  if (st && (info.offset !== 0 || info.byteEnd - info.byteStart !== st.nbytes)) flags.push("view");
  return `${info.cls} ${info.dtype} [${info.shape.join(", ")}] stride [${info.stride.join(", ")}] offset ${info.offset} storage ${st?.key !== null && st ? JSON.stringify(st.key) : "?"}${flags.length ? ` · ${flags.join(", ")}` : ""}`;
}

function treeItem(n: TreeNode, s: Summary, depth: number, select: (i: TensorInfo) => void): HTMLLIElement {
  const info = n.tensor !== undefined ? s.tensors[n.tensor] : undefined;
  const hasKids = !!n.children?.length;
  const li = el("li", {
    role: "treeitem",
    tabindex: -1,
    class: `node kind-${n.kind}`,
    "aria-level": depth,
    ...(hasKids ? { "aria-expanded": "false" } : {}),
    ...(info ? { "data-tensor": info.index, "data-path": info.path } : {}),
  });
  const row = el(
    "div",
    { class: "row" },
    el("span", { class: "twisty", "aria-hidden": "true" }, hasKids ? "▸" : " "),
    n.key ? el("span", { class: "key" }, n.key) : null,
    el("span", { class: "label" }, info ? tensorLine(info, s) : n.label),
    n.kind === "placeholder"
      ? el(
          "span",
          {
            class: "badge warn",
            title:
              "an instance of a class outside torch's weights_only allowlist: kept as inert data, never run",
          },
          "placeholder",
        )
      : null,
  );
  li.append(row);
  const toggle = (open?: boolean) => {
    if (!hasKids) return;
    const now = li.getAttribute("aria-expanded") === "true";
    const want = open ?? !now;
    if (want === now) return;
    li.setAttribute("aria-expanded", String(want));
    (row.firstChild as HTMLElement).textContent = want ? "▾" : "▸";
    if (want && !li.querySelector(":scope > ul")) {
      const ul = el("ul", { role: "group" });
      for (const c of n.children ?? []) ul.append(treeItem(c, s, depth + 1, select));
      if (n.more) ul.append(el("li", { class: "more" }, `… ${n.more} more`));
      li.append(ul);
    }
    const ul = li.querySelector(":scope > ul") as HTMLElement | null;
    if (ul) ul.hidden = !want;
  };
  (li as unknown as { toggle: typeof toggle }).toggle = toggle;
  row.addEventListener("click", () => {
    focusItem(li);
    if (info) select(info);
    else toggle();
  });
  // open the root (up to 500 children) and small containers near it
  const nk = n.children?.length ?? 0;
  if (hasKids && ((depth <= 1 && nk <= 500) || (depth <= 3 && nk <= 12))) toggle(true);
  return li;
}

function focusItem(li: HTMLElement): void {
  li.closest("[role=tree]")
    ?.querySelectorAll("[role=treeitem][tabindex='0']")
    .forEach((x) => {
      x.setAttribute("tabindex", "-1");
    });
  li.setAttribute("tabindex", "0");
  li.focus();
}

function visibleItems(tree: HTMLElement): HTMLElement[] {
  return [...tree.querySelectorAll<HTMLElement>("[role=treeitem]")].filter((x) => x.offsetParent !== null);
}

function drawTree(s: Summary, panel: HTMLElement): void {
  const search = el("input", {
    type: "search",
    id: "search",
    placeholder: "filter tensors by name  ( / )",
    "aria-label": "filter tensors by name",
  });
  const detail = el(
    "aside",
    { class: "detail", id: "detail", "aria-live": "polite" },
    el("p", { class: "hint" }, "Select a tensor."),
  );
  const treeBox = el("div", { class: "tree-box" });
  const select = (i: TensorInfo) => drawDetail(s, i, detail);
  const drawFull = () => {
    if (!s.tree) {
      treeBox.replaceChildren(
        el("p", { class: "hint" }, "No object tree: the file did not load (see the safety report)."),
      );
      return;
    }
    const tree = el("ul", { role: "tree", class: "tree", "aria-label": "object tree" });
    tree.append(treeItem(s.tree.key ? s.tree : { ...s.tree, key: "<root>" }, s, 1, select));
    const first = tree.querySelector<HTMLElement>("[role=treeitem]");
    first?.setAttribute("tabindex", "0");
    tree.addEventListener("keydown", (ev) => {
      const cur = document.activeElement as HTMLElement;
      if (cur?.getAttribute("role") !== "treeitem") return;
      const items = visibleItems(tree);
      const i = items.indexOf(cur);
      const t = cur as unknown as { toggle?: (o?: boolean) => void };
      if (ev.key === "ArrowDown" && items[i + 1]) focusItem(items[i + 1] as HTMLElement);
      else if (ev.key === "ArrowUp" && i > 0) focusItem(items[i - 1] as HTMLElement);
      else if (ev.key === "ArrowRight") {
        if (cur.getAttribute("aria-expanded") === "false") t.toggle?.(true);
        else if (items[i + 1] && cur.contains(items[i + 1] as Node)) focusItem(items[i + 1] as HTMLElement);
      } else if (ev.key === "ArrowLeft") {
        if (cur.getAttribute("aria-expanded") === "true") t.toggle?.(false);
        else {
          const parent = cur.parentElement?.closest<HTMLElement>("[role=treeitem]");
          if (parent) focusItem(parent);
        }
      } else if (ev.key === "Enter" || ev.key === " ") {
        const ti = cur.dataset.tensor;
        if (ti !== undefined) select(s.tensors[Number(ti)] as TensorInfo);
        else t.toggle?.();
      } else if (ev.key === "Home" && items[0]) focusItem(items[0]);
      else if (ev.key === "End" && items.length) focusItem(items[items.length - 1] as HTMLElement);
      else return;
      ev.preventDefault();
    });
    treeBox.replaceChildren(tree);
  };
  const drawFiltered = (q: string) => {
    const needle = q.toLowerCase();
    const hits = s.tensors.filter((t) => t.path.toLowerCase().includes(needle));
    const list = el("ul", { class: "hits", role: "listbox", "aria-label": "matching tensors" });
    for (const h of hits.slice(0, 500)) {
      const li = el(
        "li",
        { role: "option", tabindex: 0, "data-tensor": h.index, "data-path": h.path },
        el("span", { class: "key" }, h.path),
        el("span", { class: "label" }, ` ${h.dtype} [${h.shape.join(", ")}]`),
      );
      li.addEventListener("click", () => select(h));
      li.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter") select(h);
        else if (ev.key === "ArrowDown") (li.nextElementSibling as HTMLElement | null)?.focus();
        else if (ev.key === "ArrowUp")
          (li.previousElementSibling as HTMLElement | null)?.focus() ?? search.focus();
        else return;
        ev.preventDefault();
      });
      list.append(li);
    }
    treeBox.replaceChildren(
      el(
        "p",
        { class: "hint", id: "match-count" },
        `${hits.length} of ${s.tensors.length} tensors match “${q}”`,
      ),
      list,
    );
  };
  search.addEventListener("input", () => (search.value ? drawFiltered(search.value) : drawFull()));
  search.addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowDown") {
      (treeBox.querySelector("[role=option], [role=treeitem][tabindex='0']") as HTMLElement | null)?.focus();
      ev.preventDefault();
    }
  });
  drawFull();
  panel.append(el("div", { class: "split" }, el("div", { class: "left" }, search, treeBox), detail));
}

let running: { req: number } | null = null;

function drawDetail(s: Summary, info: TensorInfo, box: HTMLElement): void {
  const st = s.storages[info.storage];
  const others = (st?.users ?? []).filter((u) => u !== info.index).map((u) => s.tensors[u]?.path ?? "?");
  const rows: Array<[string, string]> = [
    ["path", info.path],
    ["class", info.cls],
    ["dtype", info.dtype],
    ["shape", `[${info.shape.join(", ")}]`],
    ["stride", `[${info.stride.join(", ")}]`],
    ["storage offset", String(info.offset)],
    ["elements", commas(info.numel)],
    [
      "storage",
      st
        ? `${st.key !== null ? JSON.stringify(st.key) : "?"} ${st.dtype}[${st.numel}] ${st.device} ${fmtBytes(st.nbytes)}`
        : "?",
    ],
    ["bytes covered", `${info.byteStart}–${info.byteEnd} of ${st?.nbytes ?? "?"}`],
    ["shares storage with", others.length ? others.join(", ") : "—"],
    ["requires_grad", String(info.requiresGrad)],
  ];
  const out = el("div", { class: "stats", id: "stats" });
  const button = el("button", { id: "compute", class: "primary" }, "Compute statistics");
  const cancel = el("button", { id: "cancel", hidden: true }, "Cancel");
  const bar = el("progress", { id: "progress", max: 1, value: 0, hidden: true });
  button.addEventListener("click", async () => {
    if (running) return;
    button.disabled = true;
    cancel.hidden = false;
    bar.hidden = false;
    out.replaceChildren(el("p", { class: "hint" }, "computing in the worker…"));
    const job = call<Extract<Reply, { type: "stats" }>>(
      { type: "stats", doc: s.doc, tensor: info.index },
      (p) => {
        bar.value = p.total ? p.done / p.total : 0;
        bar.title = p.phase;
      },
    );
    running = job;
    try {
      const r = await job.done;
      out.replaceChildren(statsView(r.stats, info));
    } catch (e) {
      out.replaceChildren(
        el(
          "p",
          { class: (e as { cancelled?: boolean }).cancelled ? "hint" : "error", id: "stats-error" },
          (e as { cancelled?: boolean }).cancelled ? "cancelled" : (e as Error).message,
        ),
      );
    } finally {
      running = null;
      button.disabled = false;
      cancel.hidden = true;
      bar.hidden = true;
    }
  });
  cancel.addEventListener("click", () => {
    if (running) worker.postMessage({ type: "cancel", req: running.req } satisfies Request);
  });
  box.replaceChildren(
    el("h3", {}, info.path),
    el(
      "table",
      { class: "kv", id: "tensor-detail" },
      ...rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v))),
    ),
    el("div", { class: "actions" }, button, cancel, bar),
    out,
  );
}

function statsView(st: Stats, info: TensorInfo): HTMLElement {
  const rows: Array<[string, string]> = [
    ["min", fmtNum(st.min)],
    ["max", fmtNum(st.max)],
    ["mean", fmtNum(st.mean)],
    ["std", fmtNum(st.std)],
    ["NaN", commas(st.nan)],
    ["+Inf / −Inf", `${st.posInf} / ${st.negInf}`],
    ["zeros", `${st.count ? ((100 * st.zeros) / st.count).toFixed(2) : "0"} % (${commas(st.zeros)})`],
    ["computed in", `${st.ms.toFixed(0)} ms`],
  ];
  const h = st.histogram;
  const peak = Math.max(1, ...h.counts);
  // one bin towering over the rest (a mostly-zero tensor): heights on a log scale
  const second = Math.max(0, ...h.counts.filter((c, i) => i !== h.counts.indexOf(peak) && c > 0));
  const log = second > 0 && peak / second > 20;
  const height = (c: number) => (log ? Math.log1p(c) / Math.log1p(peak) : c / peak);
  const W = 320;
  const H = 100;
  const bw = W / h.counts.length;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "histogram");
  svg.setAttribute("id", "histogram");
  svg.setAttribute("role", "img");
  svg.setAttribute(
    "aria-label",
    `histogram of ${st.finite} finite values from ${fmtNum(h.lo)} to ${fmtNum(h.hi)}`,
  );
  svg.dataset.counts = h.counts.join(",");
  svg.dataset.total = String(st.finite);
  h.counts.forEach((c, i) => {
    const r = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    const bh = c ? Math.max(1, height(c) * H) : 0;
    r.setAttribute("x", String(i * bw));
    r.setAttribute("y", String(H - bh));
    r.setAttribute("width", String(Math.max(0.5, bw - 0.5)));
    r.setAttribute("height", String(bh));
    const t = document.createElementNS("http://www.w3.org/2000/svg", "title");
    const a = h.lo + ((h.hi - h.lo) * i) / h.counts.length;
    const b = h.lo + ((h.hi - h.lo) * (i + 1)) / h.counts.length;
    t.textContent = `[${fmtNum(a)}, ${fmtNum(b)}): ${c}`;
    r.append(t);
    svg.append(r);
  });
  const box = el(
    "div",
    {},
    el("table", { class: "kv" }, ...rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v)))),
    el(
      "figure",
      {},
      svg,
      el(
        "figcaption",
        {},
        `histogram: ${h.counts.length} bins over [${fmtNum(h.lo)}, ${fmtNum(h.hi)}]${log ? " (log scale)" : ""}`,
      ),
    ),
  );
  if (st.heatmap) {
    const { rows: gr, cols: gc, values } = st.heatmap;
    const c = el("canvas", {
      width: gc,
      height: gr,
      id: "heatmap",
      class: "heatmap",
      "aria-label": `heat-map of ${info.shape.join("×")} (cell means)`,
    });
    const ctx = c.getContext("2d");
    if (ctx) {
      const img = ctx.createImageData(gc, gr);
      const m = Math.max(1e-30, ...values.filter((v) => Number.isFinite(v)).map((v) => Math.abs(v)));
      values.forEach((v, i) => {
        const x = Number.isFinite(v) ? v / m : 0;
        // diverging: blue (negative) – white – red (positive)
        const r = x > 0 ? 255 : Math.round(255 * (1 + x));
        const b = x < 0 ? 255 : Math.round(255 * (1 - x));
        const g = Math.round(255 * (1 - Math.abs(x)));
        img.data.set([r, g, b, 255], i * 4);
      });
      ctx.putImageData(img, 0, 0);
    }
    box.append(
      el(
        "figure",
        {},
        c,
        el(
          "figcaption",
          {},
          `heat-map: ${gr}×${gc} cells of the ${info.shape.join("×")} matrix (blue < 0 < red)`,
        ),
      ),
    );
  }
  return box;
}

// ---- storages ---------------------------------------------------------------------------------

const COLORS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7"];

function drawStorages(s: Summary, panel: HTMLElement): void {
  const list = [...s.storages].sort(
    (a, b) => b.users.length + b.bare - (a.users.length + a.bare) || b.nbytes - a.nbytes,
  );
  panel.append(
    el(
      "p",
      { class: "hint" },
      "Each bar is one storage; coloured spans are the bytes each tensor viewing it covers. A saved slice carries its whole storage.",
    ),
  );
  const box = el("div", { class: "storages", id: "storages" });
  for (const st of list.slice(0, 300)) {
    const bar = el("div", {
      class: "bar",
      role: "img",
      "aria-label": `storage ${st.key ?? "?"} of ${fmtBytes(st.nbytes)}`,
    });
    st.users.forEach((u, k) => {
      const t = s.tensors[u];
      if (!t || st.nbytes === 0) return;
      const span = el("span", {
        class: "span",
        title: `${t.path}: bytes ${t.byteStart}–${t.byteEnd}`,
        style: `left:${(100 * t.byteStart) / st.nbytes}%;width:${Math.max(0.5, (100 * (t.byteEnd - t.byteStart)) / st.nbytes)}%;top:${(k % 4) * 25}%;background:${COLORS[k % COLORS.length]}`,
      });
      bar.append(span);
    });
    const users = st.users.map((u) => s.tensors[u]?.path ?? "?");
    box.append(
      el(
        "div",
        { class: `storage${users.length + st.bare > 1 ? " shared" : ""}`, "data-key": st.key ?? "" },
        el(
          "div",
          { class: "storage-head" },
          el("strong", {}, `storage ${st.key !== null ? JSON.stringify(st.key) : "?"}`),
          ` ${st.dtype}[${st.numel}] ${st.device} ${fmtBytes(st.nbytes)} · ${users.length} tensor${users.length === 1 ? "" : "s"}${st.bare ? ` + saved as a storage${st.bare > 1 ? ` ×${st.bare}` : ""}` : ""}`,
        ),
        bar,
        el(
          "ul",
          { class: "users" },
          ...st.users.map((u, k) => {
            const t = s.tensors[u] as TensorInfo;
            return el(
              "li",
              {},
              el("span", { class: "swatch", style: `background:${COLORS[k % COLORS.length]}` }),
              `${t.path} — bytes ${t.byteStart}–${t.byteEnd} (${st.nbytes ? ((100 * (t.byteEnd - t.byteStart)) / st.nbytes).toFixed(1) : 0} %)`,
            );
          }),
        ),
      ),
    );
  }
  panel.append(box);
}

// ---- safety -----------------------------------------------------------------------------------

function drawSafety(s: Summary, panel: HTMLElement): void {
  const r = s.safety;
  const text = {
    safe: "SAFE: every global is on torch's weights_only allowlist",
    unsafe: "UNSAFE: uses globals outside torch's weights_only allowlist",
    dangerous: "DANGEROUS: a plain torch.load would run code from this file",
    unknown: "UNKNOWN: not recognised as a torch checkpoint",
  }[r.verdict];
  panel.append(
    el("p", { class: `verdict verdict-${r.verdict}`, id: "verdict", role: "status" }, text),
    el(
      "p",
      {},
      el("strong", {}, "torch.load(f, weights_only=True): "),
      el("span", { id: "torch-load" }, r.torchLoad),
    ),
    r.error ? el("p", { class: "error" }, r.error) : "",
    el(
      "p",
      { class: "hint" },
      "This page never executes anything from a file: classes outside the allowlist are shown as inert placeholders.",
    ),
    el(
      "table",
      { class: "globals", id: "globals" },
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          el("th", {}, "global"),
          el("th", {}, "verdict"),
          el("th", {}, "where"),
          el("th", {}, "why"),
        ),
      ),
      el(
        "tbody",
        {},
        ...r.globals.map((g) =>
          el(
            "tr",
            { class: `g-${g.verdict}` },
            el("td", {}, el("code", {}, g.name)),
            el("td", {}, g.verdict),
            el("td", {}, `${g.record} @ ${g.offset} (${g.opcode})`),
            el("td", {}, g.why),
          ),
        ),
      ),
    ),
  );
}

// ---- diff -------------------------------------------------------------------------------------

function drawDiff(s: Summary, panel: HTMLElement): void {
  const others = docs.filter((d) => d !== s);
  if (!others.length) {
    panel.append(el("p", { class: "hint" }, "Open a second checkpoint to compare it with this one."));
    return;
  }
  const pick = el(
    "select",
    { id: "diff-with", "aria-label": "compare with" },
    ...others.map((d) => el("option", { value: d.doc }, d.name)),
  );
  const go = el("button", { id: "diff-run", class: "primary" }, "Compare");
  const out = el("div", { id: "diff" });
  go.addEventListener("click", async () => {
    out.replaceChildren(el("p", { class: "hint" }, "comparing…"));
    try {
      const r = await call<Extract<Reply, { type: "diff" }>>({
        type: "diff",
        a: s.doc,
        b: Number(pick.value),
      }).done;
      out.replaceChildren(diffTable(r.rows));
    } catch (e) {
      out.replaceChildren(el("p", { class: "error" }, (e as Error).message));
    }
  });
  panel.append(el("p", {}, `Compare ${s.name} with `, pick, " ", go), out);
}

function diffTable(rows: DiffRow[]): HTMLElement {
  const count = (k: DiffRow["status"]) => rows.filter((r) => r.status === k).length;
  return el(
    "div",
    {},
    el(
      "p",
      { id: "diff-summary" },
      `${count("equal")} equal, ${count("changed")} changed, ${count("dtype/shape")} with another dtype/shape, ${count("removed")} removed, ${count("added")} added`,
    ),
    el(
      "table",
      { class: "diff" },
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          el("th", {}, "tensor"),
          el("th", {}, "status"),
          el("th", {}, "A"),
          el("th", {}, "B"),
          el("th", {}, "max |A−B|"),
        ),
      ),
      el(
        "tbody",
        {},
        ...rows.map((r) =>
          el(
            "tr",
            { class: `d-${r.status.replace("/", "-")}` },
            el("td", {}, r.path),
            el("td", {}, r.status),
            el("td", {}, r.a ?? ""),
            el("td", {}, r.b ?? ""),
            el("td", {}, r.maxAbsDiff === undefined ? "" : fmtNum(r.maxAbsDiff)),
          ),
        ),
      ),
    ),
  );
}

// ---- convert ----------------------------------------------------------------------------------

type SavePicker = (o: { suggestedName: string; id?: string }) => Promise<FileSystemFileHandle>;

/** Where this browser lets a converted file go, best first (see `output.ts`). */
function destinationHere(): Destination {
  if (typeof (window as { showSaveFilePicker?: SavePicker }).showSaveFilePicker === "function") return "file";
  if (typeof navigator.storage?.getDirectory === "function") return "opfs";
  return "memory";
}

const DESTINATION_TEXT: Record<Destination, string> = {
  file: "Written in the worker, chunk by chunk, straight to the file you choose: the converted file is never held in memory.",
  opfs: "Written in the worker, chunk by chunk, to this browser's private storage on disk, then handed to you as a download: the converted file is never held in memory.",
  memory:
    "This browser can write neither to a file you choose nor to its private storage: the converted file is built in memory (as large as the file) until it is downloaded.",
};

function download(file: Blob, name: string): void {
  const url = URL.createObjectURL(file);
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  // the download has its own reference once started
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

let converting: { req: number } | null = null;

function drawConvert(s: Summary, panel: HTMLElement): void {
  const here = destinationHere();
  const out = el("p", { id: "convert-status", role: "status" });
  const bar = el("progress", { id: "convert-progress", max: 1, value: 0, hidden: true });
  const cancel = el("button", { id: "convert-cancel", hidden: true }, "Cancel");
  const buttons: HTMLButtonElement[] = [];
  cancel.addEventListener("click", () => {
    if (converting) worker.postMessage({ type: "cancel", req: converting.req } satisfies Request);
  });
  const button = (format: Format, label: string) => {
    const b = el("button", { "data-format": format, id: `convert-${format}` }, label);
    b.addEventListener("click", async () => {
      if (converting) return;
      const name = outputName(s.name, format);
      let destination = here;
      let handle: FileSystemFileHandle | undefined;
      if (destination === "file") {
        try {
          // asked first, while the click still counts as the person's gesture
          handle = await (window as unknown as { showSaveFilePicker: SavePicker }).showSaveFilePicker({
            suggestedName: name,
            id: "pt-convert",
          });
        } catch (e) {
          if ((e as DOMException).name === "AbortError") {
            out.textContent = "not converted: no file was chosen";
            return;
          }
          // the picker is refused here (policy, sandbox): the private file system, else memory
          destination = typeof navigator.storage?.getDirectory === "function" ? "opfs" : "memory";
        }
      }
      out.textContent = `writing ${name}…`;
      delete out.dataset.destination;
      bar.value = 0;
      bar.hidden = false;
      cancel.hidden = false;
      for (const x of buttons) x.disabled = true;
      const job = call<Extract<Reply, { type: "converted" }>>(
        { type: "convert", doc: s.doc, format, destination, ...(handle ? { handle } : {}) },
        (p) => {
          bar.value = p.total ? Math.min(1, p.done / p.total) : 0;
        },
      );
      converting = job;
      try {
        const r = await job.done;
        if (r.file) download(r.file, r.name);
        out.dataset.destination = r.destination;
        out.textContent =
          r.destination === "file"
            ? `saved ${r.name} (${fmtBytes(r.bytes)})`
            : `wrote ${r.name} (${fmtBytes(r.bytes)}) ${r.destination === "opfs" ? "to the browser's private storage" : "in memory"}; downloading it`;
      } catch (e) {
        out.textContent = (e as { cancelled?: boolean }).cancelled
          ? "cancelled: what was written is removed"
          : `could not convert: ${(e as Error).message}`;
      } finally {
        converting = null;
        bar.hidden = true;
        cancel.hidden = true;
        for (const x of buttons) x.disabled = false;
      }
    });
    buttons.push(b);
    return b;
  };
  panel.append(
    el(
      "p",
      { class: here === "memory" ? "note" : "hint", id: "convert-destination", "data-destination": here },
      DESTINATION_TEXT[here],
      " Nothing is uploaded.",
    ),
    el(
      "div",
      { class: "actions" },
      button("zip", "torch zip (.pt)"),
      button("legacy", "legacy (.pt, torch < 1.6)"),
      button("safetensors", "safetensors"),
      cancel,
      bar,
    ),
    out,
  );
}

// ---- page wiring ------------------------------------------------------------------------------

function setTheme(t: "light" | "dark"): void {
  document.documentElement.dataset.theme = t;
  try {
    localStorage.setItem("pt-theme", t);
  } catch {
    // storage may be unavailable (private mode): the theme just is not remembered
  }
}

function init(): void {
  let saved: string | null = null;
  try {
    saved = localStorage.getItem("pt-theme");
  } catch {
    saved = null;
  }
  setTheme(
    saved === "dark" || saved === "light"
      ? saved
      : matchMedia("(prefers-color-scheme: dark)").matches
        ? "dark"
        : "light",
  );
  $("#theme").addEventListener("click", () =>
    setTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark"),
  );
  const input = $<HTMLInputElement>("#file");
  $("#open-button").addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    void openFiles([...(input.files ?? [])]);
    input.value = "";
  });
  $("#url-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const u = $<HTMLInputElement>("#url").value.trim();
    if (u) {
      history.replaceState(null, "", `?url=${encodeURIComponent(u)}`);
      void openUrl(u);
    }
  });
  document.addEventListener("dragover", (ev) => {
    ev.preventDefault();
    document.body.classList.add("dragging");
  });
  document.addEventListener("dragleave", () => document.body.classList.remove("dragging"));
  document.addEventListener("drop", (ev) => {
    ev.preventDefault();
    document.body.classList.remove("dragging");
    void openFiles([...(ev.dataTransfer?.files ?? [])]);
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "/" && !(document.activeElement instanceof HTMLInputElement)) {
      const s = document.getElementById("search");
      if (s) {
        s.focus();
        ev.preventDefault();
      }
    }
  });
  const u = new URLSearchParams(location.search).get("url");
  if (u) {
    $<HTMLInputElement>("#url").value = u;
    void openUrl(u);
  }
  // offline once loaded: a service worker keeps the page's own files
  if ("serviceWorker" in navigator && location.protocol.startsWith("http"))
    navigator.serviceWorker.register(new URL("sw.js", location.href)).catch(() => undefined);
}

init();
