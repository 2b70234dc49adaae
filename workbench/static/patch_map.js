// lib/offline.js
function hasKernel(model) {
  const wm = model && model.widget_manager;
  return !!(wm && wm.kernel);
}
function kernelNote(cls) {
  const el2 = document.createElement("div");
  el2.className = `${cls} wb-needs-kernel`;
  el2.setAttribute("role", "status");
  el2.hidden = true;
  return {
    el: el2,
    /** Show `what` (e.g. "layer 3 · head 2") as needing a live kernel, with the saved state's reason. */
    show(what, reason) {
      el2.textContent = `${what} needs a live kernel: it is not in this page's saved state` + (reason ? ` (${reason}).` : ".");
      el2.hidden = false;
    },
    hide() {
      el2.hidden = true;
      el2.textContent = "";
    }
  };
}

// lib/labels.js
var LABEL_FONT_PX = 11;
function fitLabel(ctx, token, maxPx) {
  let s = String(token).replace(/\n/g, "⏎").replace(/\t/g, "⇥").replace(/^ /, "␣");
  if (ctx.measureText(s).width <= maxPx) return s;
  while (s.length > 1 && ctx.measureText(s + "…").width > maxPx) s = s.slice(0, -1);
  return s + "…";
}

// lib/theme.js
function cssVar(el2, name, fallback) {
  const v = getComputedStyle(el2).getPropertyValue(name).trim();
  return v || fallback;
}
function theme(el2) {
  return {
    font: cssVar(el2, "--jp-ui-font-color1", "#222"),
    muted: cssVar(el2, "--jp-ui-font-color2", "#666"),
    accent: cssVar(el2, "--jp-brand-color1", "#1976d2"),
    family: cssVar(el2, "--jp-ui-font-family", "system-ui, sans-serif")
  };
}
function onThemeChange(fn) {
  if (typeof MutationObserver === "undefined" || !document.body) return () => {
  };
  const obs = new MutationObserver(() => fn());
  obs.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name"] });
  return () => obs.disconnect();
}

// lib/tooltip.js
function createTooltip(parent, className) {
  const el2 = document.createElement("div");
  el2.className = `wb-tooltip ${className}`;
  el2.setAttribute("role", "tooltip");
  el2.hidden = true;
  parent.appendChild(el2);
  return {
    el: el2,
    /** Show `text` near (x, y), in the parent's coordinates. */
    show(text, x, y) {
      el2.textContent = text;
      el2.hidden = false;
      el2.style.left = `${Math.round(x + 12)}px`;
      el2.style.top = `${Math.round(y + 12)}px`;
    },
    hide() {
      el2.hidden = true;
    }
  };
}

// lib/binary.js
function asBytes(v) {
  if (!v) return new Uint8Array(0);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return new Uint8Array(0);
}
function unpack(meta, buffer) {
  const bytes = asBytes(buffer);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = {};
  for (const [name, { offset, shape }] of Object.entries(meta && meta.arrays || {})) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (offset + 4 * n > bytes.byteLength) throw new Error(`array ${name} runs past the end of its buffer`);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = dv.getFloat32(offset + 4 * i, true);
    out[name] = { shape, data };
  }
  return out;
}

// patch_map/data.js
function readPacked(meta, buffer) {
  return unpack(meta, buffer);
}
function block(arr, i) {
  const n = arr.shape.slice(1).reduce((a, b) => a * b, 1);
  return arr.data.subarray(i * n, (i + 1) * n);
}
function differAny(differ) {
  const [P, X] = differ.shape;
  const out = new Uint8Array(X);
  for (let p = 0; p < P; p++) for (let x = 0; x < X; x++) if (differ.data[p * X + x] > 0) out[x] = 1;
  return out;
}
function meanLabels(rows) {
  if (!rows.length) return [];
  return rows[0].map((_, x) => {
    const seen = [...new Set(rows.map((r) => r[x]).filter((t) => t !== ""))];
    if (seen.length <= 1) return seen[0] ?? "";
    return seen.slice(0, 3).join("|") + (seen.length > 3 ? "|…" : "");
  });
}
function topChanges(index, change, cell, vocab) {
  const k = index.shape[index.shape.length - 1];
  const out = [];
  for (let r = 0; r < k; r++) {
    const i = index.data[cell * k + r], c = change.data[cell * k + r];
    if (!(i >= 0) || !Number.isFinite(c)) continue;
    out.push({ token: vocab[Math.round(i)] ?? `#${i}`, change: c });
  }
  return out;
}
function signed(v, digits = 3) {
  if (!Number.isFinite(v)) return "—";
  const s = Math.abs(v).toFixed(digits);
  return (v < 0 && Number(s) !== 0 ? "−" : "+") + s;
}
function num(v, digits = 3) {
  if (!Number.isFinite(v)) return "—";
  return v.toFixed(digits).replace("-", "−");
}
function nanMean(a) {
  let s = 0, n = 0;
  for (const v of a) if (Number.isFinite(v)) {
    s += v;
    n += 1;
  }
  return n ? s / n : NaN;
}

// patch_map/layout.js
var MARGIN = { left: 52, top: 6, right: 10 };
var CELL = { minW: 1, maxW: 40, minH: 4, maxH: 26 };
var MARK_PX = 5;
var LABEL_GAP = 4;
var LABEL_PX = 76;
function mapLayout(nRows, nCols, { maxWidth = 900, maxHeight = 440, labelPx = LABEL_PX } = {}) {
  const cw = Math.max(CELL.minW, Math.min(CELL.maxW, maxWidth / Math.max(1, nCols)));
  const ch = Math.max(CELL.minH, Math.min(CELL.maxH, Math.floor(maxHeight / Math.max(1, nRows))));
  const x0 = MARGIN.left, y0 = MARGIN.top;
  const w = cw * nCols, h = ch * nRows;
  const markY = y0 + h + 2;
  const labelY = markY + MARK_PX + LABEL_GAP;
  return {
    nRows,
    nCols,
    x0,
    y0,
    cw,
    ch,
    w,
    h,
    markY,
    labelY,
    width: Math.ceil(x0 + w + MARGIN.right),
    height: Math.ceil(labelY + Math.max(12, Math.min(LABEL_PX, labelPx)))
  };
}
function cellAt(g, px, py) {
  const col = Math.floor((px - g.x0) / g.cw), row = Math.floor((py - g.y0) / g.ch);
  if (px < g.x0 || py < g.y0 || col < 0 || row < 0 || col >= g.nCols || row >= g.nRows) return null;
  return { row, col };
}
function labelEvery(cellPx, fontPx = 11) {
  return Math.max(1, Math.ceil((fontPx + 2) / Math.max(cellPx, 1e-6)));
}
function moveSelection(sel, key, nRows, nCols) {
  const clampR = (r) => Math.max(0, Math.min(nRows - 1, r)), clampC = (c) => Math.max(0, Math.min(nCols - 1, c));
  const known = ["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Home", "End", "PageUp", "PageDown"];
  if (!known.includes(key)) return null;
  if (!sel || sel.row < 0 || sel.col < 0) return { row: 0, col: 0 };
  const { row, col } = sel;
  switch (key) {
    case "ArrowUp":
      return { row: clampR(row - 1), col };
    case "ArrowDown":
      return { row: clampR(row + 1), col };
    case "ArrowLeft":
      return { row, col: clampC(col - 1) };
    case "ArrowRight":
      return { row, col: clampC(col + 1) };
    case "Home":
      return { row, col: 0 };
    case "End":
      return { row, col: nCols - 1 };
    case "PageUp":
      return { row: 0, col };
    default:
      return { row: nRows - 1, col };
  }
}

// patch_map/scale.js
var STOPS = [
  [33, 102, 172],
  [103, 169, 207],
  [209, 229, 240],
  [247, 247, 247],
  [253, 219, 199],
  [239, 138, 98],
  [178, 24, 43]
];
var CENTRE = 127;
var NAN_CODE = 255;
function symmetricMax(...arrays) {
  let m = 0;
  for (const a of arrays) {
    if (!a) continue;
    for (let i = 0; i < a.length; i++) {
      const v = Math.abs(a[i]);
      if (v > m && Number.isFinite(v)) m = v;
    }
  }
  return m > 0 ? m : 1;
}
function code(v, m) {
  if (!Number.isFinite(v)) return NAN_CODE;
  const t = Math.max(-1, Math.min(1, v / m));
  const k = Math.round(CENTRE * Math.abs(t));
  return t < 0 ? CENTRE - k : CENTRE + k;
}
function rgbAt(t) {
  const x = (Math.max(-1, Math.min(1, t)) + 1) / 2 * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x)), f = x - i;
  return [0, 1, 2].map((k) => Math.round(STOPS[i][k] + f * (STOPS[i + 1][k] - STOPS[i][k])));
}
var LUT = (() => {
  const lut = new Uint8ClampedArray(256 * 4);
  for (let c = 0; c < NAN_CODE; c++) {
    const [r, g, b] = rgbAt((c - CENTRE) / CENTRE);
    lut.set([r, g, b, 255], 4 * c);
  }
  return lut;
})();

// patch_map/draw.js
function size(canvas, w, h) {
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== h) canvas.height = h;
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
}
function paintCells(ctx, g, values, m, th) {
  const img = new ImageData(g.nCols, g.nRows);
  const px = img.data;
  const nan = [];
  for (let i = 0, n = g.nRows * g.nCols; i < n; i++) {
    const c = code(values[i], m);
    if (c === NAN_CODE) nan.push(i);
    const o = 4 * c;
    px[4 * i] = LUT[o];
    px[4 * i + 1] = LUT[o + 1];
    px[4 * i + 2] = LUT[o + 2];
    px[4 * i + 3] = LUT[o + 3];
  }
  const off = document.createElement("canvas");
  off.width = g.nCols;
  off.height = g.nRows;
  off.getContext("2d").putImageData(img, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(off, 0, 0, g.nCols, g.nRows, g.x0, g.y0, g.w, g.h);
  if (!nan.length) return 0;
  ctx.save();
  ctx.beginPath();
  for (const i of nan) {
    const r = Math.floor(i / g.nCols), c = i % g.nCols;
    ctx.rect(g.x0 + c * g.cw, g.y0 + r * g.ch, g.cw, g.ch);
  }
  ctx.clip();
  ctx.strokeStyle = th.grid;
  ctx.lineWidth = 1;
  ctx.beginPath();
  for (let d = -g.h; d < g.w; d += 6) {
    ctx.moveTo(g.x0 + d, g.y0 + g.h);
    ctx.lineTo(g.x0 + d + g.h, g.y0);
  }
  ctx.stroke();
  ctx.restore();
  return nan.length;
}
function rowLabels(ctx, g, labels, title, th) {
  ctx.save();
  ctx.font = `${LABEL_FONT_PX}px ${th.family}`;
  ctx.fillStyle = th.muted;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  const every = labelEvery(g.ch);
  for (let r = 0; r < g.nRows; r += every) ctx.fillText(String(labels[r]), g.x0 - 4, g.y0 + (r + 0.5) * g.ch);
  ctx.translate(10, g.y0 + g.h / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = "center";
  ctx.fillText(title, 0, 0);
  ctx.restore();
}
function colLabels(ctx, g, labels, marks, th) {
  ctx.save();
  ctx.fillStyle = th.font;
  const mw = g.cw > 3 ? g.cw - 2 : Math.max(1, g.cw);
  if (marks) {
    for (let c = 0; c < g.nCols; c++) if (marks[c]) ctx.fillRect(g.x0 + c * g.cw + (g.cw > 3 ? 1 : 0), g.markY, mw, 5);
  }
  const every = labelEvery(g.cw);
  const room = g.height - g.labelY - 2;
  for (let c = 0; c < g.nCols; c += every) {
    const bold = marks && marks[c];
    ctx.font = `${bold ? "bold " : ""}${LABEL_FONT_PX}px ${th.family}`;
    ctx.fillStyle = bold ? th.font : th.muted;
    ctx.save();
    ctx.translate(g.x0 + (c + 0.5) * g.cw, g.labelY);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    ctx.fillText(fitLabel(ctx, labels[c] ?? "", room), 0, 0);
    ctx.restore();
  }
  ctx.restore();
  return every;
}
function drawMap(canvas, g, { values, m, rows, cols, marks, rowTitle }, th) {
  size(canvas, g.width, g.height);
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const nan = paintCells(ctx, g, values, m, th);
  rowLabels(ctx, g, rows, rowTitle, th);
  const every = colLabels(ctx, g, cols, marks, th);
  ctx.strokeStyle = th.grid;
  ctx.strokeRect(g.x0 - 0.5, g.y0 - 0.5, g.w + 1, g.h + 1);
  return { nan, every };
}
function drawRings(canvas, g, sel, hover, th) {
  size(canvas, g.width, g.height);
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const ring = (cell, width, colour) => {
    if (!cell || cell.row < 0 || cell.col < 0 || cell.row >= g.nRows || cell.col >= g.nCols) return;
    const w = Math.max(g.cw, 6), h = Math.max(g.ch, 6);
    const x = g.x0 + (cell.col + 0.5) * g.cw - w / 2, y = g.y0 + (cell.row + 0.5) * g.ch - h / 2;
    ctx.lineWidth = width;
    ctx.strokeStyle = colour;
    ctx.strokeRect(x + width / 2, y + width / 2, w - width, h - width);
  };
  ring(hover, 1, th.muted);
  ring(sel, 2, th.font);
}
function drawLegend(canvas, m, th, fmt) {
  const W = 200, H = 30, x0 = 30, w = 140;
  size(canvas, W, H);
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, W, H);
  for (let i = 0; i < w; i++) {
    const [r, gg, b] = rgbAt(i / (w - 1) * 2 - 1);
    ctx.fillStyle = `rgb(${r},${gg},${b})`;
    ctx.fillRect(x0 + i, 2, 1, 10);
  }
  ctx.strokeStyle = th.grid;
  ctx.strokeRect(x0 - 0.5, 1.5, w + 1, 11);
  ctx.font = `10px ${th.family}`;
  ctx.fillStyle = th.muted;
  ctx.textBaseline = "top";
  ctx.textAlign = "center";
  ctx.fillText(fmt(-m), x0, 16);
  ctx.fillText("0", x0 + w / 2, 16);
  ctx.fillText(fmt(m), x0 + w, 16);
}

// patch_map/index.js
var HEAD = "head";
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== void 0) e.textContent = text;
  return e;
}
var quote = (t) => JSON.stringify(String(t));
function render({ model, el: host }) {
  const root = el("div", "wb-pm");
  host.appendChild(root);
  const tip = createTooltip(root, "wb-pm-tooltip");
  let info = model.get("_info");
  let summary = readPacked(info.summary_meta, model.get("_summary"));
  const parsed = /* @__PURE__ */ new Map();
  let headSpan = 0;
  let hover = null;
  let geo = null;
  let current = null;
  const title = el("div", "wb-pm-title");
  const sub = el("div", "wb-pm-sub");
  const tabs = el("div", "wb-pm-tabs");
  tabs.setAttribute("role", "tablist");
  tabs.setAttribute("aria-label", "patched site");
  const pairSel = el("select", "wb-pm-pair");
  pairSel.setAttribute("aria-label", "prompt pair");
  const spanSel = el("select", "wb-pm-span");
  spanSel.setAttribute("aria-label", "patched span of the head view");
  const methods = el("div", "wb-pm-methods");
  methods.setAttribute("role", "group");
  methods.setAttribute("aria-label", "exact or attribution patching");
  const controls = el("div", "wb-pm-controls");
  const pairBox = el("label", "wb-pm-field", "pair ");
  pairBox.append(pairSel);
  const spanBox = el("label", "wb-pm-field", "span ");
  spanBox.append(spanSel);
  controls.append(tabs, pairBox, spanBox, methods);
  const rLine = el("div", "wb-pm-r");
  const stage = el("div", "wb-pm-stage");
  const canvas = el("canvas", "wb-pm-map");
  canvas.tabIndex = 0;
  canvas.setAttribute("role", "grid");
  canvas.setAttribute("aria-label", "patching effect per layer and position: arrow keys move the selected cell");
  canvas.setAttribute("data-lm-suppress-shortcuts", "true");
  const overlay = el("canvas", "wb-pm-overlay");
  stage.append(canvas, overlay);
  const legendRow = el("div", "wb-pm-legendrow");
  const legend = el("canvas", "wb-pm-legend");
  legend.setAttribute("role", "img");
  const legendText = el("span", "wb-pm-legendtext");
  legendRow.append(legend, legendText);
  const status = el("div", "wb-pm-status");
  status.setAttribute("role", "status");
  const note = kernelNote("wb-pm-kernelnote");
  const top = el("div", "wb-pm-top");
  top.setAttribute("aria-live", "polite");
  const left = el("div", "wb-pm-left");
  left.append(stage, legendRow, status, note.el);
  const body = el("div", "wb-pm-body");
  body.append(left, top);
  root.append(title, sub, controls, rLine, body);
  const th = () => ({ ...theme(root), grid: cssVar(root, "--jp-border-color1", "#999") });
  function save(values) {
    for (const [k, v] of Object.entries(values)) model.set(k, v);
    try {
      model.save_changes();
    } catch (e) {
    }
  }
  const layers = () => Array.from(summary.layers.data, (v) => Math.round(v));
  const sites = () => info.sites;
  const headMethod = () => info.head_methods.includes(model.get("method")) ? model.get("method") : info.head_methods[0];
  const spans = () => Math.max(1, info.head_spans.length);
  function pairArrays(p) {
    const payload = (model.get("_pairs") || {})[String(p)];
    if (!payload) return null;
    const hit = parsed.get(p);
    if (hit && hit.payload === payload) return hit.arrays;
    const arrays = readPacked(payload.meta, payload.data);
    parsed.set(p, { payload, arrays });
    return arrays;
  }
  const allPairs = () => {
    const out = [];
    for (let p = 0; p < info.n_pairs; p++) {
      const a = pairArrays(p);
      if (!a) return null;
      out.push(a);
    }
    return out;
  };
  function view() {
    const p = model.get("pair"), site = model.get("site");
    const arrays = p < 0 ? summary : pairArrays(p);
    if (!arrays) return { missing: true, p };
    const L = layers().length;
    if (site === HEAD) {
      const m2 = headMethod();
      const key = `${m2}:head_effect`;
      const H = info.n_heads;
      const span = Math.min(headSpan, spans() - 1);
      const heads = info.head_methods.map((h) => arrays[`${h}:head_effect`].data);
      return {
        view: HEAD,
        p,
        arrays,
        method: m2,
        span,
        nRows: L,
        nCols: H,
        values: block(arrays[key], span),
        metric: block(arrays[`${m2}:head_metric`], span),
        m: symmetricMax(...heads),
        cols: Array.from({ length: H }, (_, h) => `h${h}`),
        marks: null
      };
    }
    const m = model.get("method"), s = sites().indexOf(site);
    const X = info.n_cells;
    const effects = info.methods.map((k) => arrays[`${k}:effect`].data);
    const cols = p < 0 ? meanLabels(info.tokens) : info.tokens[p];
    const marks = info.cells === "position" ? p < 0 ? differAny(summary.differ) : summary.differ.data.subarray(p * X, (p + 1) * X) : null;
    return {
      view: site,
      p,
      arrays,
      method: m,
      s,
      nRows: L,
      nCols: X,
      values: block(arrays[`${m}:effect`], s),
      metric: block(arrays[`${m}:metric`], s),
      m: symmetricMax(...effects),
      cols,
      marks
    };
  }
  function selected(v) {
    const row = layers().indexOf(model.get("layer"));
    const col = v.view === HEAD ? model.get("head") : model.get("position");
    return row >= 0 && col >= 0 ? { row, col } : null;
  }
  function drawControls() {
    const site = model.get("site"), method = model.get("method");
    const r = summary["attribution:pearson_r"];
    const hr = summary["attribution:head_pearson_r"];
    const names = [...sites(), ...info.head_methods.length ? [HEAD] : []];
    if (tabs.childElementCount !== names.length) {
      tabs.replaceChildren(...names.map((n) => {
        const b = el("button", "wb-pm-tab");
        b.type = "button";
        b.dataset.site = n;
        b.setAttribute("role", "tab");
        b.addEventListener("click", () => save({ site: n }));
        return b;
      }));
    }
    for (const b of tabs.children) {
      const n = b.dataset.site, i = sites().indexOf(n);
      const rv = method === "attribution" ? n === HEAD ? hr ? hr.data[0] : NaN : r ? r.data[i] : NaN : NaN;
      b.textContent = (n === HEAD ? "heads" : n) + (Number.isFinite(rv) ? ` · r ${rv.toFixed(2)}` : "");
      b.setAttribute("aria-selected", String(n === site));
      b.title = n === HEAD ? "layer × head view" : `patch the ${n} output of each layer at each ${info.cells}`;
    }
    const want = (info.n_pairs > 1 ? 1 : 0) + info.n_pairs;
    if (pairSel.options.length !== want) {
      const opts = [];
      if (info.n_pairs > 1) opts.push(["-1", `mean over ${info.n_pairs} pairs`]);
      for (let p = 0; p < info.n_pairs; p++) {
        const text = (info.prompts[p] || "").trim();
        opts.push([String(p), `pair ${info.pair_names[p]}${text ? `: ${text.length > 48 ? text.slice(0, 47) + "…" : text}` : ""}`]);
      }
      pairSel.replaceChildren(...opts.map(([v, t]) => {
        const o = el("option", "", t);
        o.value = v;
        return o;
      }));
    }
    pairSel.value = String(model.get("pair"));
    pairSel.disabled = info.n_pairs < 2;
    spanBox.hidden = !(site === HEAD && info.head_spans.length > 1);
    if (spanSel.options.length !== info.head_spans.length) {
      spanSel.replaceChildren(...info.head_spans.map((t, i) => {
        const o = el("option", "", t);
        o.value = String(i);
        return o;
      }));
    }
    spanSel.value = String(Math.min(headSpan, spans() - 1));
    if (methods.childElementCount !== info.methods.length) {
      methods.replaceChildren(...info.methods.map((k) => {
        const b = el("button", "wb-pm-method", k);
        b.type = "button";
        b.dataset.method = k;
        b.addEventListener("click", () => save({ method: k }));
        return b;
      }));
    }
    methods.hidden = info.methods.length < 2;
    for (const b of methods.children) b.setAttribute("aria-pressed", String(b.dataset.method === method));
    if (r || hr) {
      const parts = sites().map((n, i) => `${n} ${r ? num(r.data[i], 2) : "—"}`);
      if (hr) parts.push(`heads ${num(hr.data[0], 2)}`);
      rLine.textContent = `attribution vs exact, Pearson r: ${parts.join(" · ")}`;
      rLine.hidden = false;
    } else rLine.hidden = true;
  }
  function drawHeader() {
    const dir = {
      denoise: "denoising (clean activations into the corrupted run)",
      noise: "noising (corrupted activations into the clean run)"
    }[info.direction] || info.direction;
    title.textContent = `Patching · ${info.metric}` + (info.model ? ` · ${info.model}` : "");
    const p = model.get("pair");
    const pick2 = (name) => p < 0 ? nanMean(summary[name].data) : summary[name].data[p];
    const clean = pick2("clean_metric"), bad = pick2("corrupted_metric");
    const metrics = Number.isFinite(clean) || Number.isFinite(bad) ? ` · clean ${num(clean)}, corrupted ${num(bad)}${p < 0 ? " (means)" : ""}` : "";
    const ans = p < 0 ? [...new Set(info.answers.map((a) => a.join("\0")))] : [];
    const pairAns = p >= 0 ? info.answers[p] : ans.length === 1 ? info.answers[0] : null;
    const answer = pairAns ? ` · answer ${quote(pairAns[0])} vs ${quote(pairAns[1])}` : "";
    sub.textContent = `${model.get("method")} · ${dir}${answer}${metrics}`;
  }
  function draw() {
    drawControls();
    drawHeader();
    const v = view();
    const p = model.get("pair");
    if (v.missing) {
      current = null;
      canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
      overlay.getContext("2d").clearRect(0, 0, overlay.width, overlay.height);
      canvas.dataset.pair = "";
      if (!info.all_in_state && !hasKernel(model)) {
        note.show(`Pair ${info.pair_names[p]}`, (model.get("_offline") || {}).missing);
        status.textContent = "";
      } else {
        note.hide();
        status.textContent = `pair ${info.pair_names[p]}: waiting for the kernel`;
      }
      drawTop(null);
      return;
    }
    note.hide();
    current = v;
    const t = th();
    geo = mapLayout(v.nRows, v.nCols, { labelPx: labelRoom(v.cols, t) });
    stage.style.width = `${geo.width}px`;
    stage.style.height = `${geo.height}px`;
    const { nan, every } = drawMap(canvas, geo, {
      values: v.values,
      m: v.m,
      rows: layers(),
      cols: v.cols,
      marks: v.marks,
      rowTitle: "layer"
    }, t);
    drawRings(overlay, geo, selected(v), hover, t);
    drawLegend(legend, v.m, t, (x) => num(x, 2));
    legendText.textContent = "effect: 1 = restores the clean answer, 0 = no change" + (nan ? " · hatched: no value" : "");
    Object.assign(canvas.dataset, {
      x0: geo.x0,
      y0: geo.y0,
      cw: geo.cw,
      ch: geo.ch,
      nRows: geo.nRows,
      nCols: geo.nCols,
      domain: v.m,
      view: v.view,
      pair: String(p),
      method: v.method,
      span: v.view === HEAD ? String(v.span) : "",
      source: p < 0 ? "mean" : "pair",
      labelEvery: every,
      nan,
      marks: v.marks ? Array.from(v.marks).map((x, i) => x ? i : -1).filter((i) => i >= 0).join(",") : "",
      drawn: String(Number(canvas.dataset.drawn || 0) + 1)
    });
    const sel = selected(v);
    canvas.dataset.selected = sel ? `${sel.row},${sel.col}` : "";
    status.textContent = p < 0 ? `mean over ${info.n_pairs} pairs (NaN ignored)` : "";
    drawTop(v);
  }
  function labelRoom(cols, t) {
    const ctx = canvas.getContext("2d");
    ctx.font = `bold ${LABEL_FONT_PX}px ${t.family}`;
    let w = 0;
    for (const c of cols) w = Math.max(w, ctx.measureText(String(c)).width);
    return Math.ceil(w) + 10;
  }
  function cellName(v, row, col) {
    const layer = layers()[row];
    if (v.view === HEAD) {
      const span = info.head_spans.length > 1 ? ` · span ${info.head_spans[v.span]}` : "";
      return `layer ${layer} · head ${col}${span}`;
    }
    const emb = v.view === "resid" && row === 0 && layer === 0 ? " (embeddings)" : "";
    const where = info.cells === "span" ? `span ${col}${info.span_positions[col] ? `: positions ${info.span_positions[col]}` : ""}` : `pos ${col}`;
    return `${v.view} · layer ${layer}${emb} · ${quote(v.cols[col])} (${where})`;
  }
  function list(items) {
    const ol = el("ol", "wb-pm-toplist");
    const big = Math.max(1e-12, ...items.map((x) => Math.abs(x.change)));
    for (const { token, change } of items) {
      const li = el("li", "wb-pm-topitem");
      li.dataset.token = token;
      li.dataset.change = String(change);
      const bar = el("span", `wb-pm-bar ${change < 0 ? "neg" : "pos"}`);
      bar.style.width = `${Math.round(Math.abs(change) / big * 48)}px`;
      li.append(el("span", "wb-pm-tok", quote(token)), el("span", "wb-pm-chg", signed(change)), bar);
      ol.append(li);
    }
    return ol;
  }
  function topSource(v) {
    if (v.view === HEAD) {
      const m2 = info.head_topk.includes(v.method) ? v.method : info.head_topk[0];
      return m2 ? { m: m2, key: "head_top" } : null;
    }
    const m = info.topk.includes(v.method) ? v.method : info.topk[0];
    return m ? { m, key: "top" } : null;
  }
  function drawTop(v) {
    top.replaceChildren();
    const sel = v && selected(v);
    top.dataset.cell = "";
    top.dataset.count = "0";
    if (!v || !sel) {
      top.append(el("div", "wb-pm-hint", "click a cell (or focus the map and use the arrow keys) to list its top logit changes"));
      return;
    }
    const flat = sel.row * v.nCols + sel.col;
    const value = v.values[flat], metric = v.metric[flat];
    top.dataset.cell = `${v.view},${layers()[sel.row]},${sel.col}`;
    top.append(
      el("div", "wb-pm-toptitle", cellName(v, sel.row, sel.col)),
      el("div", "wb-pm-topvalue", `effect ${num(value)} · metric ${num(metric)}${v.p < 0 ? ` (mean over ${info.n_pairs} pairs)` : ""}`)
    );
    const src = topSource(v);
    if (!src) {
      top.append(el("div", "wb-pm-hint", "this Dataset has no top-k logit changes"));
      return;
    }
    const note2 = src.m !== v.method ? ` (of the ${src.m} patch)` : "";
    const base = v.view === HEAD ? v.span * v.nRows * v.nCols : v.s * v.nRows * v.nCols;
    const cell = base + flat;
    const heading = `top logit changes at the final position${note2}`;
    if (v.p >= 0) {
      const a = v.arrays;
      const items = topChanges(a[`${src.m}:${src.key}_index`], a[`${src.m}:${src.key}_change`], cell, info.vocab);
      top.append(el("div", "wb-pm-subtitle", heading), items.length ? list(items) : el("div", "wb-pm-hint", "no patched run here (no value)"));
      top.dataset.count = String(items.length);
      return;
    }
    const all = allPairs();
    if (!all) {
      top.append(el("div", "wb-pm-hint", "top logit changes are per pair: pick a pair to list them"));
      return;
    }
    top.append(el("div", "wb-pm-subtitle", `${heading}, per pair`));
    let count = 0;
    all.forEach((a, p) => {
      const items = topChanges(a[`${src.m}:${src.key}_index`], a[`${src.m}:${src.key}_change`], cell, info.vocab);
      const box = el("div", "wb-pm-toppair");
      box.dataset.pair = String(p);
      box.append(el("div", "wb-pm-pairname", `pair ${info.pair_names[p]}`), items.length ? list(items) : el("div", "wb-pm-hint", "no value"));
      top.append(box);
      count += items.length;
    });
    top.dataset.count = String(count);
  }
  function pick(cell) {
    if (!current) return;
    const layer = layers()[cell.row];
    if (current.view === HEAD) save({ layer, head: cell.col });
    else save({ layer, position: cell.col });
  }
  canvas.addEventListener("mousemove", (e) => {
    if (!current || !geo) return;
    const cell = cellAt(geo, e.offsetX, e.offsetY);
    const same = cell && hover && cell.row === hover.row && cell.col === hover.col;
    hover = cell;
    if (!same) drawRings(overlay, geo, selected(current), hover, th());
    if (!cell) return tip.hide();
    const i = cell.row * current.nCols + cell.col;
    const lines = [cellName(current, cell.row, cell.col), `effect ${num(current.values[i])} · metric ${num(current.metric[i])}`];
    if (current.view !== HEAD && current.p >= 0 && info.cells === "position" && current.marks && current.marks[cell.col]) {
      lines.push(`corrupted: ${quote(info.corrupted[current.p][cell.col])}`);
    }
    if (current.p < 0) lines.push(`mean over ${info.n_pairs} pairs`);
    const r = root.getBoundingClientRect(), c = canvas.getBoundingClientRect();
    tip.show(lines.join("\n"), c.left - r.left + e.offsetX, c.top - r.top + e.offsetY);
    tip.el.dataset.cell = `${cell.row},${cell.col}`;
  });
  canvas.addEventListener("mouseleave", () => {
    hover = null;
    tip.hide();
    if (current && geo) drawRings(overlay, geo, selected(current), null, th());
  });
  canvas.addEventListener("click", (e) => {
    if (!geo) return;
    const cell = cellAt(geo, e.offsetX, e.offsetY);
    if (cell) pick(cell);
  });
  canvas.addEventListener("keydown", (e) => {
    if (!current) return;
    if (e.key === "Escape") {
      e.preventDefault();
      save(current.view === HEAD ? { head: -1 } : { position: -1 });
      return;
    }
    const next = moveSelection(selected(current), e.key, current.nRows, current.nCols);
    if (!next) return;
    e.preventDefault();
    pick(next);
  });
  pairSel.addEventListener("change", () => save({ pair: Number(pairSel.value) }));
  spanSel.addEventListener("change", () => {
    headSpan = Number(spanSel.value);
    draw();
  });
  const onInfo = () => {
    info = model.get("_info");
    summary = readPacked(info.summary_meta, model.get("_summary"));
    parsed.clear();
    draw();
  };
  const events = [
    "change:pair",
    "change:site",
    "change:method",
    "change:layer",
    "change:position",
    "change:head",
    "change:_pairs"
  ];
  for (const ev of events) model.on(ev, draw);
  model.on("change:_summary", onInfo);
  const stopTheme = onThemeChange(draw);
  draw();
  return () => {
    stopTheme();
    for (const ev of events) model.off(ev, draw);
    model.off("change:_summary", onInfo);
  };
}
var patch_map_default = { render };
export {
  patch_map_default as default
};
