// AttentionMap front end: thumbnail grid (grid.js) + zoomed head (zoom.js). Heads other than the synced snapshot
// are fetched from the kernel with {type: "get_head"} custom messages and kept in a small LRU cache.
import { decode } from "../lib/binary.js";
import { onThemeChange, theme } from "../lib/theme.js";
import { createGrid } from "./grid.js";
import { createZoom } from "./zoom.js";
import "./styles.css";

/** Heads kept in the browser (each up to 8 MB). */
const CACHE_HEADS = 6;

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "wb-am";
  const left = document.createElement("div");
  left.className = "wb-am-left";
  const title = document.createElement("div");
  title.className = "wb-am-title";
  const status = document.createElement("div");
  status.className = "wb-am-status";
  status.setAttribute("aria-live", "polite");
  const grid = createGrid((l, h) => {
    model.set({ layer: l, head: h });
    model.save_changes(); // change:layer / change:head then call select()
  });
  const zoom = createZoom(root);
  left.append(title, grid.canvas, status);
  root.append(left, zoom.el);
  el.appendChild(root);

  const cache = new Map(); // "prompt/layer/head" -> {arr, meta}
  const key = (p, l, h) => `${p}/${l}/${h}`;
  const pending = new Set(); // keys asked of the kernel and not answered yet
  let wanted = null;

  function remember(k, entry) {
    cache.delete(k);
    cache.set(k, entry);
    while (cache.size > CACHE_HEADS) cache.delete(cache.keys().next().value);
  }

  function show(entry, source) {
    const th = theme(root);
    zoom.draw(entry.arr, entry.meta, model.get("query_tokens"), model.get("key_tokens"), th);
    zoom.canvas.dataset.source = source;
    const { layer, head } = entry.meta;
    const ll = model.get("layer_labels")[layer] ?? layer, hl = model.get("head_labels")[head] ?? head;
    status.textContent = `layer ${ll} · head ${hl} · ${model.get("query_tokens").length} × ` +
      `${model.get("key_tokens").length} tokens` + (entry.meta.pool[0] > 1 ? ` (pooled ${entry.meta.pool[0]}×)` : "");
  }

  /** Draw the selected head: from cache, from the synced snapshot, or ask the kernel. */
  function select() {
    const p = model.get("prompt"), l = model.get("layer"), h = model.get("head");
    grid.setSelection(l, h);
    const th = theme(root);
    grid.draw(th, model.get("layer_labels"), model.get("head_labels"));
    const k = key(p, l, h);
    wanted = k;
    if (cache.has(k)) return show(cache.get(k), "cache");
    const snap = model.get("_head_meta");
    if (snap && snap.layer === l && snap.head === h && snap.prompt === p) {
      const entry = { arr: decode(snap, model.get("_head")), meta: snap };
      remember(k, entry);
      return show(entry, "snapshot");
    }
    status.textContent = `loading layer ${l} · head ${h} …`;
    if (pending.has(k)) return;
    pending.add(k);
    try {
      model.send({ type: "get_head", layer: l, head: h, prompt: p });
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
    if (msg.type !== "head" || !buffers || !buffers.length) return;
    const m = msg.meta;
    const k = key(m.prompt, m.layer, m.head);
    const entry = { arr: decode(m, buffers[0]), meta: m };
    pending.delete(k);
    remember(k, entry);
    if (k === wanted) show(entry, "kernel");
  }

  function rebuild() {
    cache.clear();
    pending.clear();
    grid.build(model.get("_thumbs_meta"), model.get("_thumbs"));
    title.textContent = model.get("title");
    select();
  }

  const redrawTheme = () => {
    const th = theme(root);
    grid.draw(th, model.get("layer_labels"), model.get("head_labels"));
    zoom.redrawLabels(th);
  };
  const stopTheme = onThemeChange(redrawTheme);
  model.on("msg:custom", onCustom);
  model.on("change:_thumbs", rebuild);
  model.on("change:layer", select);
  model.on("change:head", select);
  rebuild();
  return () => {
    stopTheme();
    model.off("msg:custom", onCustom);
    model.off("change:_thumbs", rebuild);
    model.off("change:layer", select);
    model.off("change:head", select);
    grid.dispose();
    zoom.dispose();
  };
}

export default { render };
