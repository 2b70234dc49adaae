// The AttentionMap view, mountable on any model-like `source` ({get, set, save_changes, send, on, off}): the
// AttentionMap widget passes its anywidget model; the PopulationExplorer passes `renamed(model, {...})` so its
// linked map reads the explorer's own traits. Thumbnail grid (grid.js) + zoomable head (zoom.js); heads other than
// the synced snapshot come from the saved state when it holds them (`_heads`, or unpooled thumbnails: the offline
// mode) and otherwise from the kernel ({type: "get_head"}), zoomed rectangles of long inputs as tiles
// ({type: "get_tile"}); replies carry `gen`, so a late reply for data no longer shown is dropped. With no kernel and
// no saved copy, a note says what needs a live kernel.
import { asBytes, decode } from "../lib/binary.js";
import { hasKernel, kernelNote } from "../lib/offline.js";
import "../lib/offline.css";
import { onThemeChange, theme } from "../lib/theme.js";
import { createGrid } from "./grid.js";
import { createZoom } from "./zoom.js";

/** Heads kept in the browser (each up to 8 MB). */
const CACHE_HEADS = 6;

/** A source whose trait names are looked up through `names` ({viewName: modelName}); events are renamed too. */
export function renamed(model, names) {
  const n = (k) => names[k] ?? k;
  const ev = (e) => (e.startsWith("change:") ? `change:${n(e.slice(7))}` : e);
  return {
    get: (k) => model.get(n(k)),
    set: (obj) => model.set(Object.fromEntries(Object.entries(obj).map(([k, v]) => [n(k), v]))),
    save_changes: () => model.save_changes(),
    send: (msg) => model.send(msg),
    on: (e, fn) => model.on(ev(e), fn),
    off: (e, fn) => model.off(ev(e), fn),
    widget_manager: model.widget_manager,
  };
}

/** One head (layer l, head h of `prompt`) from a uint8 (layer, head, query, key) buffer, or null. */
function headFrom(meta, buffer, prompt, l, h, gen) {
  if (!meta || !meta.shape || meta.shape.length !== 4 || (meta.prompt ?? prompt) !== prompt || (meta.gen ?? 0) !== gen) return null;
  const [L, H, nq, nk] = meta.shape;
  if (l >= L || h >= H) return null;
  const bytes = asBytes(buffer).subarray((l * H + h) * nq * nk, (l * H + h + 1) * nq * nk);
  const m = { ...meta, shape: [nq, nk], pool: [1, 1], layer: l, head: h, prompt };
  return { arr: decode(m, bytes), meta: m };
}

/** The head from the saved state: every head at full resolution (`_heads`), or thumbnails that were never pooled. */
export function savedHead(source, prompt, l, h, gen) {
  const full = headFrom(source.get("_heads_meta"), source.get("_heads"), prompt, l, h, gen);
  if (full) return full;
  const tm = source.get("_thumbs_meta");
  if (tm && tm.pool && tm.pool[0] === 1 && tm.pool[1] === 1) return headFrom(tm, source.get("_thumbs"), prompt, l, h, gen);
  return null;
}

/** Short badge text: ".93H" (value without the leading 0, first letter of the score type). */
function badgeText(v, name) {
  const s = v >= 1 ? "1.0" : v.toFixed(2).replace(/^0/, "").replace(/^-0/, "-");
  return name ? s + name[0].toUpperCase() : s;
}

/** Per-head badges from the synced score table (float32 (L, H, S) + names): the best score of each head. */
function readScores(source) {
  const meta = source.get("_scores_meta");
  if (!meta || !meta.shape) return null;
  const arr = decode(meta, source.get("_scores"));
  const [L, H, S] = arr.shape, names = meta.names || [];
  const all = [], best = [];
  for (let i = 0; i < L * H; i++) {
    const row = [];
    let b = null;
    for (let s = 0; s < S; s++) {
      const v = arr.data[i * S + s];
      row.push(v);
      if (Number.isFinite(v) && (b === null || v > b.v)) b = { v, s };
    }
    all.push(row);
    best.push(b && { text: badgeText(b.v, S > 1 ? names[b.s] : ""), title: `${names[b.s]} ${b.v.toFixed(3)}` });
  }
  return { all, best, names, H };
}

function readAnnotations(source) {
  const meta = source.get("_annotations_meta");
  if (!meta || !meta.shape) return [];
  const arr = decode(meta, source.get("_annotations"));
  const [A, n] = arr.shape;
  return Array.from({ length: A }, (_, i) => ({ name: meta.names[i], values: arr.data.subarray(i * n, (i + 1) * n) }));
}

export function mount(source, el) {
  const root = document.createElement("div");
  root.className = "wb-am";
  const left = document.createElement("div");
  left.className = "wb-am-left";
  const title = document.createElement("div");
  title.className = "wb-am-title";
  const status = document.createElement("div");
  status.className = "wb-am-status";
  status.setAttribute("aria-live", "polite");
  const note = kernelNote("wb-am-note");
  const grid = createGrid((l, h) => {
    source.set({ layer: l, head: h });
    source.save_changes(); // change:layer / change:head then call select()
  });
  const zoom = createZoom(root, (box) => {
    if (!hasKernel(source)) {
      note.show("zooming into this long input at full resolution", offlineReason());
      return false;
    }
    try {
      source.send({ type: "get_tile", ...box });
      return true;
    } catch (err) {
      status.textContent = "zooming into a long input needs a running kernel";
      return false;
    }
  });
  left.append(title, grid.canvas, status, note.el);
  root.append(left, zoom.el);
  el.appendChild(root);

  const cache = new Map(); // "prompt/layer/head" -> {arr, meta}
  const key = (p, l, h) => `${p}/${l}/${h}`;
  const pending = new Set(); // keys asked of the kernel and not answered yet
  let wanted = null, scores = null, ann = [], gen = 0;

  const offlineReason = () => (source.get("_offline") || {}).missing || "";

  function remember(k, entry) {
    cache.delete(k);
    cache.set(k, entry);
    while (cache.size > CACHE_HEADS) cache.delete(cache.keys().next().value);
  }

  function show(entry, from) {
    note.hide();
    zoom.el.classList.remove("wb-stale");
    const th = theme(root);
    zoom.draw(entry.arr, entry.meta, source.get("query_tokens"), source.get("key_tokens"), th, ann);
    zoom.canvas.dataset.source = from;
    const { layer, head } = entry.meta;
    const ll = source.get("layer_labels")[layer] ?? layer, hl = source.get("head_labels")[head] ?? head;
    const badges = [];
    if (scores) {
      const row = scores.all[layer * scores.H + head];
      row.forEach((v, s) => Number.isFinite(v) && badges.push({ text: `${scores.names[s]} ${v.toFixed(2)}` }));
    }
    zoom.setHeading(`layer ${ll} · head ${hl}`, badges);
    status.textContent = `layer ${ll} · head ${hl} · ${source.get("query_tokens").length} × ` +
      `${source.get("key_tokens").length} tokens` + (entry.meta.pool[0] > 1 ? ` (overview pooled ${entry.meta.pool[0]}×)` : "");
  }

  /** Draw the selected head: from cache, from the synced snapshot, or ask the kernel. */
  function select() {
    const p = source.get("prompt"), l = source.get("layer"), h = source.get("head");
    grid.setSelection(l, h);
    grid.draw(theme(root), source.get("layer_labels"), source.get("head_labels"), scores && scores.best);
    const k = key(p, l, h);
    wanted = k;
    if (cache.has(k)) return show(cache.get(k), "cache");
    const snap = source.get("_head_meta");
    if (snap && snap.layer === l && snap.head === h && snap.prompt === p && (snap.gen ?? 0) === gen) {
      const entry = { arr: decode(snap, source.get("_head")), meta: snap };
      remember(k, entry);
      return show(entry, "snapshot");
    }
    const saved = savedHead(source, p, l, h, gen);
    if (saved) {
      remember(k, saved);
      return show(saved, "state");
    }
    status.textContent = `loading layer ${l} · head ${h} …`;
    if (!hasKernel(source)) {
      const ll = source.get("layer_labels")[l] ?? l, hl = source.get("head_labels")[h] ?? h;
      status.textContent = `layer ${ll} · head ${hl}: not in the saved state`;
      note.show(`Layer ${ll} · head ${hl}`, offlineReason());
      zoom.canvas.dataset.source = "missing";
      zoom.el.classList.add("wb-stale");
      return;
    }
    if (pending.has(k)) return;
    pending.add(k);
    try {
      source.send({ type: "get_head", layer: l, head: h, prompt: p });
    } catch (err) {
      status.textContent = `layer ${l} · head ${h} needs a running kernel`;
    }
  }

  function onCustom(msg, buffers) {
    if (!msg) return;
    if (msg.type === "error") {
      status.textContent = `kernel: ${msg.message}`;
      return;
    }
    if ((msg.type !== "head" && msg.type !== "tile") || !buffers || !buffers.length) return;
    const m = msg.meta;
    if ((m.gen ?? 0) !== gen) return; // for data no longer shown
    const arr = decode(m, buffers[0]);
    if (msg.type === "tile") {
      if (key(m.prompt, m.layer, m.head) === wanted) zoom.addTile(arr, m);
      return;
    }
    const k = key(m.prompt, m.layer, m.head);
    const entry = { arr, meta: m };
    pending.delete(k);
    remember(k, entry);
    if (k === wanted) show(entry, "kernel");
  }

  function rebuild() {
    cache.clear();
    pending.clear();
    const tm = source.get("_thumbs_meta");
    gen = (tm && tm.gen) ?? 0;
    scores = readScores(source);
    ann = readAnnotations(source);
    if (!tm || !tm.shape) return;
    grid.build(tm, source.get("_thumbs"));
    title.textContent = source.get("title");
    root.dataset.gen = String(gen);
    select();
  }

  const redrawTheme = () => {
    const th = theme(root);
    grid.draw(th, source.get("layer_labels"), source.get("head_labels"), scores && scores.best);
    zoom.redrawLabels(th);
  };
  const stopTheme = onThemeChange(redrawTheme);
  source.on("msg:custom", onCustom);
  source.on("change:_thumbs", rebuild);
  source.on("change:layer", select);
  source.on("change:head", select);
  rebuild();
  return () => {
    stopTheme();
    source.off("msg:custom", onCustom);
    source.off("change:_thumbs", rebuild);
    source.off("change:layer", select);
    source.off("change:head", select);
    grid.dispose();
    zoom.dispose();
    root.remove();
  };
}
