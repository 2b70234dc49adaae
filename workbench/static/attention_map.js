// lib/binary.js
function asBytes(v) {
  if (!v) return new Uint8Array(0);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return new Uint8Array(0);
}
function halfToFloat(h) {
  const s = h & 32768 ? -1 : 1, e = h >> 10 & 31, f = h & 1023;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}
function decode(meta, buffer) {
  const bytes = asBytes(buffer);
  const shape = meta && meta.shape || [];
  const n = shape.reduce((a, b) => a * b, 1);
  const dtype = meta.dtype;
  let data;
  if (dtype === "uint8") {
    data = bytes.subarray(0, n);
  } else if (dtype === "float32") {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = dv.getFloat32(4 * i, true);
  } else if (dtype === "float16") {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = halfToFloat(dv.getUint16(2 * i, true));
  } else {
    throw new Error(`unknown dtype ${dtype}`);
  }
  if (data.length < n) throw new Error(`buffer holds ${data.length} values, shape ${shape} needs ${n}`);
  return { dtype, shape, scale: meta.scale ?? 1, nan: meta.nan ?? null, data };
}
function valueAt(arr, i) {
  const x = arr.data[i];
  if (arr.dtype === "uint8") return x === arr.nan ? NaN : x * arr.scale;
  return x;
}
function toCodes(arr) {
  if (arr.dtype === "uint8") return arr.data;
  const out = new Uint8Array(arr.data.length);
  for (let i = 0; i < out.length; i++) {
    const x = arr.data[i];
    out[i] = Number.isNaN(x) ? 255 : Math.round(Math.min(1, Math.max(0, x)) * 254);
  }
  return out;
}

// lib/theme.js
function cssVar(el, name, fallback) {
  const v = getComputedStyle(el).getPropertyValue(name).trim();
  return v || fallback;
}
function theme(el) {
  return {
    font: cssVar(el, "--jp-ui-font-color1", "#222"),
    muted: cssVar(el, "--jp-ui-font-color2", "#666"),
    accent: cssVar(el, "--jp-brand-color1", "#1976d2"),
    family: cssVar(el, "--jp-ui-font-family", "system-ui, sans-serif")
  };
}
function onThemeChange(fn) {
  if (typeof MutationObserver === "undefined" || !document.body) return () => {
  };
  const obs = new MutationObserver(() => fn());
  obs.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name"] });
  return () => obs.disconnect();
}

// lib/colors.js
var STOPS = [
  [68, 1, 84],
  [72, 40, 120],
  [62, 74, 137],
  [49, 104, 142],
  [38, 130, 142],
  [31, 158, 137],
  [53, 183, 121],
  [109, 205, 89],
  [180, 222, 44],
  [253, 231, 37]
];
var LUT = (() => {
  const lut = new Uint8ClampedArray(256 * 4);
  for (let c = 0; c < 255; c++) {
    const t = c / 254 * (STOPS.length - 1);
    const i = Math.min(STOPS.length - 2, Math.floor(t)), f = t - i;
    for (let k = 0; k < 3; k++) lut[4 * c + k] = Math.round(STOPS[i][k] + f * (STOPS[i + 1][k] - STOPS[i][k]));
    lut[4 * c + 3] = 255;
  }
  return lut;
})();

// lib/heatmap.js
function poolCodes(codes, rows, cols, limit) {
  const f = Math.max(1, Math.ceil(Math.max(rows, cols) / limit));
  if (f === 1) return { codes, rows, cols, f };
  const r2 = Math.ceil(rows / f), c2 = Math.ceil(cols / f);
  const out = new Uint8Array(r2 * c2).fill(255);
  for (let r = 0; r < rows; r++) {
    const ro = (r / f | 0) * c2, ri = r * cols;
    for (let c = 0; c < cols; c++) {
      const v = codes[ri + c];
      if (v === 255) continue;
      const o = ro + (c / f | 0);
      const cur = out[o];
      if (cur === 255 || v > cur) out[o] = v;
    }
  }
  return { codes: out, rows: r2, cols: c2, f };
}
function cellImage(codes, rows, cols, offset = 0) {
  const img = new ImageData(cols, rows);
  const px = img.data;
  for (let i = 0, n = rows * cols; i < n; i++) {
    const c = codes[offset + i] * 4;
    px[4 * i] = LUT[c];
    px[4 * i + 1] = LUT[c + 1];
    px[4 * i + 2] = LUT[c + 2];
    px[4 * i + 3] = LUT[c + 3];
  }
  const off = document.createElement("canvas");
  off.width = cols;
  off.height = rows;
  off.getContext("2d").putImageData(img, 0, 0);
  return off;
}
function blit(ctx, image, x, y, w, h) {
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(image, 0, 0, image.width, image.height, x, y, w, h);
}

// attention_map/grid.js
var THUMB_MAX_PX = 48;
var THUMB_MIN_PX = 10;
var GRID_MAX_PX = 520;
var GAP = 3;
var MARGIN_LEFT = 30;
var MARGIN_TOP = 16;
function createGrid(onSelect) {
  const canvas = document.createElement("canvas");
  canvas.className = "wb-am-grid";
  canvas.tabIndex = 0;
  canvas.setAttribute("role", "grid");
  canvas.setAttribute("aria-label", "attention heads: arrow keys move the selection");
  canvas.setAttribute("data-lm-suppress-shortcuts", "true");
  let geo = null;
  let sel = [0, 0];
  function build(meta, buffer) {
    const arr = decode(meta, buffer);
    const [L, H, tq, tk] = arr.shape;
    const codes = toCodes(arr);
    const px = Math.max(THUMB_MIN_PX, Math.min(THUMB_MAX_PX, Math.floor((GRID_MAX_PX - MARGIN_LEFT) / H) - GAP));
    const atlas = document.createElement("canvas");
    atlas.width = MARGIN_LEFT + H * (px + GAP);
    atlas.height = MARGIN_TOP + L * (px + GAP);
    const actx = atlas.getContext("2d");
    for (let l = 0; l < L; l++)
      for (let h = 0; h < H; h++) {
        const img = cellImage(codes, tq, tk, (l * H + h) * tq * tk);
        blit(actx, img, MARGIN_LEFT + h * (px + GAP), MARGIN_TOP + l * (px + GAP), px, px);
      }
    geo = { L, H, px, atlas };
    canvas.width = atlas.width;
    canvas.height = atlas.height;
    Object.assign(canvas.dataset, {
      nLayers: L,
      nHeads: H,
      thumbPx: px,
      gap: GAP,
      x0: MARGIN_LEFT,
      y0: MARGIN_TOP,
      thumbCells: `${tq}x${tk}`
    });
  }
  function draw(th, layerLabels, headLabels) {
    if (!geo) return;
    const { L, H, px, atlas } = geo;
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(atlas, 0, 0);
    ctx.font = `10px ${th.family}`;
    ctx.fillStyle = th.muted;
    ctx.textBaseline = "middle";
    ctx.textAlign = "center";
    const every = Math.max(1, Math.ceil(22 / (px + GAP)));
    for (let h = 0; h < H; h += every) ctx.fillText(headLabels[h] ?? h, MARGIN_LEFT + h * (px + GAP) + px / 2, 8);
    ctx.textAlign = "right";
    for (let l = 0; l < L; l += Math.max(1, Math.ceil(12 / (px + GAP))))
      ctx.fillText(layerLabels[l] ?? l, MARGIN_LEFT - 5, MARGIN_TOP + l * (px + GAP) + px / 2);
    const [sl, sh] = sel;
    ctx.strokeStyle = th.accent;
    ctx.lineWidth = 2;
    ctx.strokeRect(MARGIN_LEFT + sh * (px + GAP) - 1.5, MARGIN_TOP + sl * (px + GAP) - 1.5, px + 3, px + 3);
    canvas.dataset.selected = `${sl},${sh}`;
    canvas.dataset.drawn = String(Number(canvas.dataset.drawn || 0) + 1);
  }
  function cellAt(x, y) {
    if (!geo) return null;
    const h = Math.floor((x - MARGIN_LEFT) / (geo.px + GAP));
    const l = Math.floor((y - MARGIN_TOP) / (geo.px + GAP));
    return l >= 0 && h >= 0 && l < geo.L && h < geo.H ? [l, h] : null;
  }
  function onClick(e) {
    const c = cellAt(e.offsetX, e.offsetY);
    if (c) onSelect(c[0], c[1]);
  }
  function onKey(e) {
    if (!geo) return;
    const d = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] }[e.key];
    if (!d) return;
    e.preventDefault();
    e.stopPropagation();
    const l = Math.min(geo.L - 1, Math.max(0, sel[0] + d[0]));
    const h = Math.min(geo.H - 1, Math.max(0, sel[1] + d[1]));
    onSelect(l, h);
  }
  canvas.addEventListener("click", onClick);
  canvas.addEventListener("keydown", onKey);
  return {
    canvas,
    build,
    draw,
    cellAt,
    setSelection(l, h) {
      sel = [l, h];
    },
    dispose() {
      canvas.removeEventListener("click", onClick);
      canvas.removeEventListener("keydown", onKey);
    }
  };
}

// lib/labels.js
var LABEL_FONT_PX = 11;
function labelStep(cellPx) {
  return Math.max(1, Math.ceil((LABEL_FONT_PX + 2) / Math.max(cellPx, 1e-6)));
}
function fitLabel(ctx, token, maxPx) {
  let s = String(token).replace(/\n/g, "⏎").replace(/\t/g, "⇥").replace(/^ /, "␣");
  if (ctx.measureText(s).width <= maxPx) return s;
  while (s.length > 1 && ctx.measureText(s + "…").width > maxPx) s = s.slice(0, -1);
  return s + "…";
}
function drawLabels(canvas, tokens, cellPx, axis, th) {
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = `${LABEL_FONT_PX}px ${th.family}`;
  ctx.fillStyle = th.font;
  const step = labelStep(cellPx);
  const room = (axis === "rows" ? canvas.width : canvas.height) - 4;
  for (let i = 0; i < tokens.length; i += step) {
    const extent = axis === "rows" ? canvas.height : canvas.width;
    const mid = Math.min(extent - LABEL_FONT_PX / 2, Math.max(LABEL_FONT_PX / 2, i * cellPx + cellPx / 2));
    const text = fitLabel(ctx, tokens[i], room);
    if (axis === "rows") {
      ctx.textAlign = "right";
      ctx.textBaseline = "middle";
      ctx.fillText(text, canvas.width - 3, mid);
    } else {
      ctx.save();
      ctx.translate(mid, canvas.height - 3);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = "left";
      ctx.textBaseline = "middle";
      ctx.fillText(text, 0, 0);
      ctx.restore();
    }
  }
  canvas.dataset.step = String(step);
  return step;
}

// lib/tooltip.js
function createTooltip(parent, className) {
  const el = document.createElement("div");
  el.className = className;
  el.setAttribute("role", "tooltip");
  el.hidden = true;
  parent.appendChild(el);
  return {
    el,
    /** Show `text` near (x, y), in the parent's coordinates. */
    show(text, x, y) {
      el.textContent = text;
      el.hidden = false;
      el.style.left = `${Math.round(x + 12)}px`;
      el.style.top = `${Math.round(y + 12)}px`;
    },
    hide() {
      el.hidden = true;
    }
  };
}
function cellText(queryToken, keyToken, value) {
  const w = Number.isNaN(value) ? "masked" : value.toFixed(3);
  return `${JSON.stringify(String(queryToken))} → ${JSON.stringify(String(keyToken))}: ${w}`;
}

// attention_map/zoom.js
var ZOOM_MAX_PX = 480;
var CELL_MAX_PX = 40;
var LABEL_ROOM_PX = 84;
function createZoom(root) {
  const wrap = document.createElement("div");
  wrap.className = "wb-am-zoomwrap";
  const corner = document.createElement("div");
  corner.className = "wb-am-corner";
  corner.textContent = "query ↓ key →";
  const klabels = document.createElement("canvas");
  klabels.className = "wb-am-klabels";
  const qlabels = document.createElement("canvas");
  qlabels.className = "wb-am-qlabels";
  const canvas = document.createElement("canvas");
  canvas.className = "wb-am-zoom";
  wrap.append(corner, klabels, qlabels, canvas);
  const tip = createTooltip(root, "wb-am-tooltip");
  let cur = null;
  function draw(arr, meta, qt, kt, th) {
    const [rows, cols] = arr.shape;
    const f = meta.pool && meta.pool[0] || 1;
    const nq = qt.length, nk = kt.length;
    const cell = Math.min(CELL_MAX_PX, ZOOM_MAX_PX / Math.max(nq, nk));
    const w = Math.max(1, Math.round(nk * cell)), h = Math.max(1, Math.round(nq * cell));
    const pooled = poolCodes(toCodes(arr), rows, cols, ZOOM_MAX_PX);
    canvas.width = w;
    canvas.height = h;
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, w, h);
    const span = f * pooled.f;
    blit(
      ctx,
      cellImage(pooled.codes, pooled.rows, pooled.cols),
      0,
      0,
      pooled.cols * span * cell,
      pooled.rows * span * cell
    );
    qlabels.width = LABEL_ROOM_PX;
    qlabels.height = h;
    klabels.width = w;
    klabels.height = LABEL_ROOM_PX;
    drawLabels(qlabels, qt, cell, "rows", th);
    drawLabels(klabels, kt, cell, "cols", th);
    cur = { arr, nq, nk, f, cell, qt, kt };
    Object.assign(canvas.dataset, {
      layer: meta.layer,
      head: meta.head,
      prompt: meta.prompt,
      nQuery: nq,
      nKey: nk,
      cellPx: cell.toFixed(4),
      pool: f * pooled.f
    });
    canvas.dataset.drawn = String(Number(canvas.dataset.drawn || 0) + 1);
    tip.hide();
  }
  function onMove(e) {
    if (!cur) return;
    const q = Math.floor(e.offsetY / cur.cell), k = Math.floor(e.offsetX / cur.cell);
    if (q < 0 || k < 0 || q >= cur.nq || k >= cur.nk) return tip.hide();
    const cols = cur.arr.shape[1];
    const v = valueAt(cur.arr, Math.floor(q / cur.f) * cols + Math.floor(k / cur.f));
    const note = cur.f > 1 ? ` (max of ${cur.f}×${cur.f})` : "";
    const r = root.getBoundingClientRect(), c = canvas.getBoundingClientRect();
    tip.show(cellText(cur.qt[q], cur.kt[k], v) + note, c.left - r.left + e.offsetX, c.top - r.top + e.offsetY);
  }
  const onLeave = () => tip.hide();
  canvas.addEventListener("mousemove", onMove);
  canvas.addEventListener("mouseleave", onLeave);
  return {
    el: wrap,
    canvas,
    draw,
    redrawLabels(th) {
      if (!cur) return;
      drawLabels(qlabels, cur.qt, cur.cell, "rows", th);
      drawLabels(klabels, cur.kt, cur.cell, "cols", th);
    },
    dispose() {
      canvas.removeEventListener("mousemove", onMove);
      canvas.removeEventListener("mouseleave", onLeave);
    }
  };
}

// attention_map/index.js
var CACHE_HEADS = 6;
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
    model.save_changes();
  });
  const zoom = createZoom(root);
  left.append(title, grid.canvas, status);
  root.append(left, zoom.el);
  el.appendChild(root);
  const cache = /* @__PURE__ */ new Map();
  const key = (p, l, h) => `${p}/${l}/${h}`;
  const pending = /* @__PURE__ */ new Set();
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
    status.textContent = `layer ${ll} · head ${hl} · ${model.get("query_tokens").length} × ${model.get("key_tokens").length} tokens` + (entry.meta.pool[0] > 1 ? ` (pooled ${entry.meta.pool[0]}×)` : "");
  }
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
var attention_map_default = { render };
export {
  attention_map_default as default
};
