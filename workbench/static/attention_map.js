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

// lib/offline.js
function hasKernel(model) {
  const wm = model && model.widget_manager;
  return !!(wm && wm.kernel);
}
function kernelNote(cls) {
  const el = document.createElement("div");
  el.className = `${cls} wb-needs-kernel`;
  el.setAttribute("role", "status");
  el.hidden = true;
  return {
    el,
    /** Show `what` (e.g. "layer 3 · head 2") as needing a live kernel, with the saved state's reason. */
    show(what, reason) {
      el.textContent = `${what} needs a live kernel: it is not in this page's saved state` + (reason ? ` (${reason}).` : ".");
      el.hidden = false;
    },
    hide() {
      el.hidden = true;
      el.textContent = "";
    }
  };
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
function cropCodes(codes, rows, cols, r0, r1, c0, c1) {
  r0 = Math.max(0, Math.min(rows, r0));
  r1 = Math.max(r0, Math.min(rows, r1));
  c0 = Math.max(0, Math.min(cols, c0));
  c1 = Math.max(c0, Math.min(cols, c1));
  if (r0 === 0 && c0 === 0 && r1 === rows && c1 === cols) return { codes, rows, cols };
  const nr = r1 - r0, nc = c1 - c0;
  const out = new Uint8Array(nr * nc);
  for (let r = 0; r < nr; r++) out.set(codes.subarray((r0 + r) * cols + c0, (r0 + r) * cols + c1), r * nc);
  return { codes: out, rows: nr, cols: nc };
}

// attention_map/grid.js
var THUMB_MAX_PX = 48;
var THUMB_MIN_PX = 10;
var GRID_MAX_PX = 520;
var GAP = 3;
var BADGE_MIN_PX = 20;
var BADGE_H = 11;
var BADGE_BG = "rgb(255,255,255)";
var BADGE_FG = "rgb(20,20,20)";
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
  function draw(th, layerLabels, headLabels, badges = null) {
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
    let nBadges = 0;
    if (badges && px >= BADGE_MIN_PX) {
      ctx.font = `9px ${th.family}`;
      ctx.textAlign = "right";
      ctx.textBaseline = "bottom";
      for (let l = 0; l < L; l++)
        for (let h = 0; h < H; h++) {
          const b = badges[l * H + h];
          if (!b) continue;
          const w = Math.min(px, Math.ceil(ctx.measureText(b.text).width) + 4);
          const x1 = MARGIN_LEFT + h * (px + GAP) + px, y1 = MARGIN_TOP + l * (px + GAP) + px;
          ctx.fillStyle = BADGE_BG;
          ctx.fillRect(x1 - w, y1 - BADGE_H, w, BADGE_H);
          ctx.fillStyle = BADGE_FG;
          ctx.fillText(b.text, x1 - 2, y1);
          nBadges++;
        }
    }
    canvas.dataset.badges = String(nBadges);
    if (badges) canvas.dataset.badgeW = String(BADGE_H);
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

// lib/strip.js
var STRIP_PX = 22;
function stripRange(values) {
  let lo = 0, hi = 0;
  for (const v of values) if (Number.isFinite(v)) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return hi > lo ? [lo, hi] : [0, 1];
}
function drawStrips(canvas, rows, t0, t1, cellPx, th) {
  canvas.height = Math.max(1, rows.length * STRIP_PX);
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  rows.forEach(({ values }, i) => {
    const [lo, hi] = stripRange(values);
    const top = i * STRIP_PX + 2, span = STRIP_PX - 4;
    const yOf = (v) => top + (hi - v) / (hi - lo) * span;
    const y0 = yOf(0);
    ctx.fillStyle = th.accent;
    const w = cellPx > 3 ? cellPx - 1 : Math.max(cellPx, 1);
    for (let t = Math.max(0, t0); t < Math.min(t1, values.length); t++) {
      const v = values[t];
      if (!Number.isFinite(v) || v === 0) continue;
      const y = yOf(v);
      ctx.fillRect((t - t0) * cellPx, Math.min(y, y0), w, Math.max(1, Math.abs(y - y0)));
    }
    ctx.fillStyle = th.muted;
    ctx.fillRect(0, Math.round(y0), canvas.width, 1);
  });
  canvas.dataset.rows = String(rows.length);
  canvas.dataset.t0 = String(t0);
  canvas.dataset.cellPx = cellPx.toFixed(4);
}

// lib/tooltip.js
function createTooltip(parent, className) {
  const el = document.createElement("div");
  el.className = `wb-tooltip ${className}`;
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
var MIN_SPAN = 4;
var TILE_DELAY_MS = 80;
function createZoom(root, requestTile = () => false) {
  const el = document.createElement("div");
  el.className = "wb-am-zoompanel";
  const bar = document.createElement("div");
  bar.className = "wb-am-zoombar";
  const heading = document.createElement("span");
  heading.className = "wb-am-zoomtitle";
  const mk = (cls, text, title) => {
    const b = document.createElement("button");
    b.className = cls;
    b.textContent = text;
    b.title = title;
    b.type = "button";
    return b;
  };
  const bIn = mk("wb-am-zoomin", "+", "zoom in (+ key, wheel, or drag a rectangle)");
  const bOut = mk("wb-am-zoomout", "−", "zoom out (- key)");
  const bFit = mk("wb-am-fit", "fit", "whole head (0 key)");
  const info = document.createElement("span");
  info.className = "wb-am-viewinfo";
  bar.append(heading, bIn, bOut, bFit, info);
  const wrap = document.createElement("div");
  wrap.className = "wb-am-zoomwrap";
  const corner = document.createElement("div");
  corner.className = "wb-am-corner";
  corner.textContent = "query ↓ key →";
  const klabels = document.createElement("canvas");
  klabels.className = "wb-am-klabels";
  const qlabels = document.createElement("canvas");
  qlabels.className = "wb-am-qlabels";
  const holder = document.createElement("div");
  holder.className = "wb-am-zoomholder";
  const canvas = document.createElement("canvas");
  canvas.className = "wb-am-zoom";
  canvas.tabIndex = 0;
  canvas.setAttribute("data-lm-suppress-shortcuts", "true");
  canvas.setAttribute("aria-label", "attention head: + - 0 zoom, arrow keys pan, drag to zoom into a rectangle");
  const selBox = document.createElement("div");
  selBox.className = "wb-am-selbox";
  selBox.hidden = true;
  holder.append(canvas, selBox);
  const stripLabel = document.createElement("div");
  stripLabel.className = "wb-am-striplabel";
  const strip = document.createElement("canvas");
  strip.className = "wb-am-strip";
  wrap.append(corner, klabels, qlabels, holder, stripLabel, strip);
  el.append(bar, wrap);
  const tip = createTooltip(root, "wb-am-tooltip");
  let cur = null;
  let tileTimer = null;
  let asked = "";
  const boxKey = (b) => `${b.q0},${b.q1},${b.k0},${b.k1}`;
  const covers = (t, v) => t && t.meta.q0 <= v.q0 && t.meta.q1 >= v.q1 && t.meta.k0 <= v.k0 && t.meta.k1 >= v.k1;
  const isFull = (v) => v.q0 === 0 && v.k0 === 0 && v.q1 === cur.nq && v.k1 === cur.nk;
  function sourceFor(v) {
    const t = cur.tile;
    if (covers(t, v) && t.meta.pool[0] < cur.over.p) return { ...t, q0: t.meta.q0, k0: t.meta.k0, p: t.meta.pool[0], kind: "tile" };
    return { ...cur.over, q0: 0, k0: 0, kind: "overview" };
  }
  function draw(arr, meta, qt, kt, th, ann = []) {
    const nq = qt.length, nk = kt.length;
    const cell = Math.min(CELL_MAX_PX, ZOOM_MAX_PX / Math.max(nq, nk));
    const W = Math.max(1, Math.round(nk * cell)), H = Math.max(1, Math.round(nq * cell));
    canvas.width = W;
    canvas.height = H;
    qlabels.width = LABEL_ROOM_PX;
    qlabels.height = H;
    klabels.width = W;
    klabels.height = LABEL_ROOM_PX;
    strip.width = W;
    const over = { arr, codes: toCodes(arr), meta, p: meta.pool && meta.pool[0] || 1 };
    cur = { over, tile: null, nq, nk, qt, kt, ann, W, H, th, view: { q0: 0, q1: nq, k0: 0, k1: nk } };
    asked = "";
    stripLabel.textContent = "";
    for (const a of ann) {
      const d = document.createElement("div");
      d.textContent = a.name;
      stripLabel.append(d);
    }
    Object.assign(canvas.dataset, { layer: meta.layer, head: meta.head, prompt: meta.prompt, nQuery: nq, nKey: nk });
    render2();
  }
  function render2() {
    if (!cur) return;
    const { view: v, W, H, th } = cur;
    const vq = v.q1 - v.q0, vk = v.k1 - v.k0;
    const pxq = H / vq, pxk = W / vk;
    const s = sourceFor(v);
    const [rows, cols] = s.arr.shape;
    const r0 = Math.floor((v.q0 - s.q0) / s.p), r1 = Math.ceil((v.q1 - s.q0) / s.p);
    const c0 = Math.floor((v.k0 - s.k0) / s.p), c1 = Math.ceil((v.k1 - s.k0) / s.p);
    const sub = cropCodes(s.codes, rows, cols, r0, r1, c0, c1);
    const pooled = poolCodes(sub.codes, sub.rows, sub.cols, ZOOM_MAX_PX);
    const span = s.p * pooled.f;
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, W, H);
    blit(
      ctx,
      cellImage(pooled.codes, pooled.rows, pooled.cols),
      (s.k0 + c0 * s.p - v.k0) * pxk,
      (s.q0 + r0 * s.p - v.q0) * pxq,
      pooled.cols * span * pxk,
      pooled.rows * span * pxq
    );
    drawLabels(qlabels, cur.qt.slice(v.q0, v.q1), pxq, "rows", th);
    drawLabels(klabels, cur.kt.slice(v.k0, v.k1), pxk, "cols", th);
    drawStrips(strip, cur.ann, v.k0, v.k1, pxk, th);
    strip.hidden = stripLabel.hidden = cur.ann.length === 0;
    info.textContent = isFull(v) ? `${cur.nq} × ${cur.nk}` : `q ${v.q0}–${v.q1 - 1} · k ${v.k0}–${v.k1 - 1}`;
    Object.assign(canvas.dataset, {
      view: boxKey(v),
      dataSource: s.kind,
      pool: span,
      cellPx: pxk.toFixed(4),
      cellPxQ: pxq.toFixed(4),
      tilePool: s.kind === "tile" ? s.p : ""
    });
    canvas.dataset.drawn = String(Number(canvas.dataset.drawn || 0) + 1);
    tip.hide();
    if (s.p > 1 && !isFull(v) && !(s.kind === "tile" && boxKey(cur.tile.meta) === boxKey(v))) scheduleTile(v);
  }
  function scheduleTile(v) {
    clearTimeout(tileTimer);
    tileTimer = setTimeout(() => {
      if (!cur || boxKey(cur.view) !== boxKey(v) || asked === boxKey(v)) return;
      asked = boxKey(v);
      canvas.dataset.tileRequests = String(Number(canvas.dataset.tileRequests || 0) + 1);
      requestTile({ layer: cur.over.meta.layer, head: cur.over.meta.head, prompt: cur.over.meta.prompt, ...v });
    }, TILE_DELAY_MS);
  }
  function addTile(arr, meta) {
    if (!cur || meta.layer !== cur.over.meta.layer || meta.head !== cur.over.meta.head) return false;
    cur.tile = { arr, codes: toCodes(arr), meta };
    canvas.dataset.tilesReceived = String(Number(canvas.dataset.tilesReceived || 0) + 1);
    render2();
    return true;
  }
  function setView(q0, q1, k0, k1) {
    if (!cur) return;
    const clampSpan = (a, b, n) => {
      let s = Math.max(Math.min(MIN_SPAN, n), Math.min(n, Math.round(b - a)));
      let lo = Math.round(a);
      lo = Math.max(0, Math.min(n - s, lo));
      return [lo, lo + s];
    };
    const [nq0, nq1] = clampSpan(q0, q1, cur.nq);
    const [nk0, nk1] = clampSpan(k0, k1, cur.nk);
    cur.view = { q0: nq0, q1: nq1, k0: nk0, k1: nk1 };
    render2();
  }
  function zoomAt(factor, x = cur.W / 2, y = cur.H / 2) {
    if (!cur) return;
    const v = cur.view;
    const vq = v.q1 - v.q0, vk = v.k1 - v.k0;
    const tq = v.q0 + y / cur.H * vq, tk = v.k0 + x / cur.W * vk;
    const nq = Math.max(MIN_SPAN, vq / factor), nk = Math.max(MIN_SPAN, vk / factor);
    setView(tq - y / cur.H * nq, tq - y / cur.H * nq + nq, tk - x / cur.W * nk, tk - x / cur.W * nk + nk);
  }
  function pan(dq, dk) {
    const v = cur.view;
    const sq = Math.max(1, Math.round((v.q1 - v.q0) * dq)), sk = Math.max(1, Math.round((v.k1 - v.k0) * dk));
    setView(v.q0 + Math.sign(dq) * sq, v.q1 + Math.sign(dq) * sq, v.k0 + Math.sign(dk) * sk, v.k1 + Math.sign(dk) * sk);
  }
  const tokenAt = (x, y) => {
    const v = cur.view;
    return [v.q0 + Math.floor(y / cur.H * (v.q1 - v.q0)), v.k0 + Math.floor(x / cur.W * (v.k1 - v.k0))];
  };
  function onMove(e) {
    if (!cur) return;
    if (drag) return onDrag(e);
    const [q, k] = tokenAt(e.offsetX, e.offsetY);
    if (q < 0 || k < 0 || q >= cur.nq || k >= cur.nk) return tip.hide();
    const s = sourceFor({ q0: q, q1: q + 1, k0: k, k1: k + 1 });
    const cols = s.arr.shape[1];
    const v = valueAt(s.arr, Math.floor((q - s.q0) / s.p) * cols + Math.floor((k - s.k0) / s.p));
    const note = s.p > 1 ? ` (max of ${s.p}×${s.p})` : "";
    const r = root.getBoundingClientRect(), c = canvas.getBoundingClientRect();
    tip.show(cellText(cur.qt[q], cur.kt[k], v) + note, c.left - r.left + e.offsetX, c.top - r.top + e.offsetY);
  }
  let drag = null;
  function onDown(e) {
    if (!cur || e.button !== 0) return;
    drag = { x: e.offsetX, y: e.offsetY, x1: e.offsetX, y1: e.offsetY };
  }
  function onDrag(e) {
    drag.x1 = Math.max(0, Math.min(cur.W, e.offsetX));
    drag.y1 = Math.max(0, Math.min(cur.H, e.offsetY));
    Object.assign(selBox.style, {
      left: `${Math.min(drag.x, drag.x1)}px`,
      top: `${Math.min(drag.y, drag.y1)}px`,
      width: `${Math.abs(drag.x1 - drag.x)}px`,
      height: `${Math.abs(drag.y1 - drag.y)}px`
    });
    selBox.hidden = false;
    tip.hide();
  }
  function onUp(e) {
    if (!drag) return;
    const d = drag;
    drag = null;
    selBox.hidden = true;
    if (Math.abs(d.x1 - d.x) < 4 || Math.abs(d.y1 - d.y) < 4) return;
    const [qa, ka] = tokenAt(Math.min(d.x, d.x1), Math.min(d.y, d.y1));
    const [qb, kb] = tokenAt(Math.max(d.x, d.x1), Math.max(d.y, d.y1));
    setView(qa, qb + 1, ka, kb + 1);
  }
  function onWheel(e) {
    if (!cur) return;
    e.preventDefault();
    zoomAt(e.deltaY < 0 ? 1.5 : 1 / 1.5, e.offsetX, e.offsetY);
  }
  function onKey(e) {
    if (!cur) return;
    const acts = {
      "+": () => zoomAt(2),
      "=": () => zoomAt(2),
      "-": () => zoomAt(0.5),
      "0": () => setView(0, cur.nq, 0, cur.nk),
      ArrowUp: () => pan(-0.25, 0),
      ArrowDown: () => pan(0.25, 0),
      ArrowLeft: () => pan(0, -0.25),
      ArrowRight: () => pan(0, 0.25)
    };
    const act = acts[e.key];
    if (!act) return;
    e.preventDefault();
    e.stopPropagation();
    act();
  }
  const onLeave = () => tip.hide();
  const zin = () => zoomAt(2), zout = () => zoomAt(0.5), fit = () => cur && setView(0, cur.nq, 0, cur.nk);
  canvas.addEventListener("mousemove", onMove);
  canvas.addEventListener("mouseleave", onLeave);
  canvas.addEventListener("mousedown", onDown);
  window.addEventListener("mouseup", onUp);
  canvas.addEventListener("wheel", onWheel, { passive: false });
  canvas.addEventListener("keydown", onKey);
  bIn.addEventListener("click", zin);
  bOut.addEventListener("click", zout);
  bFit.addEventListener("click", fit);
  return {
    el,
    canvas,
    draw,
    addTile,
    setView,
    zoomAt,
    /** Heading text above the head, with optional badges [{text, title}]. */
    setHeading(text, badges = []) {
      heading.textContent = text;
      for (const b of badges) {
        const s = document.createElement("span");
        s.className = "wb-am-badge";
        s.textContent = b.text;
        s.title = b.title || "";
        heading.append(s);
      }
    },
    redrawLabels(th) {
      if (!cur) return;
      cur.th = th;
      render2();
    },
    dispose() {
      clearTimeout(tileTimer);
      canvas.removeEventListener("mousemove", onMove);
      canvas.removeEventListener("mouseleave", onLeave);
      canvas.removeEventListener("mousedown", onDown);
      window.removeEventListener("mouseup", onUp);
      canvas.removeEventListener("wheel", onWheel);
      canvas.removeEventListener("keydown", onKey);
    }
  };
}

// attention_map/view.js
var CACHE_HEADS = 6;
function headFrom(meta, buffer, prompt, l, h, gen) {
  if (!meta || !meta.shape || meta.shape.length !== 4 || (meta.prompt ?? prompt) !== prompt || (meta.gen ?? 0) !== gen) return null;
  const [L, H, nq, nk] = meta.shape;
  if (l >= L || h >= H) return null;
  const bytes = asBytes(buffer).subarray((l * H + h) * nq * nk, (l * H + h + 1) * nq * nk);
  const m = { ...meta, shape: [nq, nk], pool: [1, 1], layer: l, head: h, prompt };
  return { arr: decode(m, bytes), meta: m };
}
function savedHead(source, prompt, l, h, gen) {
  const full = headFrom(source.get("_heads_meta"), source.get("_heads"), prompt, l, h, gen);
  if (full) return full;
  const tm = source.get("_thumbs_meta");
  if (tm && tm.pool && tm.pool[0] === 1 && tm.pool[1] === 1) return headFrom(tm, source.get("_thumbs"), prompt, l, h, gen);
  return null;
}
function badgeText(v, name) {
  const s = v >= 1 ? "1.0" : v.toFixed(2).replace(/^0/, "").replace(/^-0/, "-");
  return name ? s + name[0].toUpperCase() : s;
}
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
function mount(source, el) {
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
    source.save_changes();
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
  const cache = /* @__PURE__ */ new Map();
  const key = (p, l, h) => `${p}/${l}/${h}`;
  const pending = /* @__PURE__ */ new Set();
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
    status.textContent = `layer ${ll} · head ${hl} · ${source.get("query_tokens").length} × ${source.get("key_tokens").length} tokens` + (entry.meta.pool[0] > 1 ? ` (overview pooled ${entry.meta.pool[0]}×)` : "");
  }
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
    if (msg.type !== "head" && msg.type !== "tile" || !buffers || !buffers.length) return;
    const m = msg.meta;
    if ((m.gen ?? 0) !== gen) return;
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

// attention_map/index.js
function render({ model, el }) {
  return mount(model, el);
}
var attention_map_default = { render };
export {
  attention_map_default as default
};
