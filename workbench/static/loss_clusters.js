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

// loss_clusters/palette.js
var CLUSTER_COLORS = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac"
];
var CATEGORY_COLORS = [
  "#1b9e77",
  "#d95f02",
  "#7570b3",
  "#e7298a",
  "#66a61e",
  "#e6ab02",
  "#a6761d",
  "#666666",
  "#a6cee3",
  "#1f78b4",
  "#b2df8a",
  "#33a02c",
  "#fb9a99",
  "#e31a1c",
  "#fdbf6f",
  "#ff7f00",
  "#cab2d6",
  "#6a3d9a",
  "#ffff99",
  "#b15928",
  "#8dd3c7",
  "#bebada",
  "#80b1d3",
  "#fccde5"
];
var clusterColor = (c) => CLUSTER_COLORS[(c % CLUSTER_COLORS.length + CLUSTER_COLORS.length) % CLUSTER_COLORS.length];
var categoryColor = (k) => CATEGORY_COLORS[k % CATEGORY_COLORS.length];
function rgb(hex) {
  const h = hex.replace("#", "");
  return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16));
}
function rgba(hex, a) {
  const [r, g, b] = rgb(hex);
  return `rgba(${r},${g},${b},${a})`;
}

// loss_clusters/bars.js
var BAR = { left: 70, right: 12, top: 22, row: 22, height: 14 };
function barLayout(width, shares, counts) {
  const w = width - BAR.left - BAR.right;
  return shares.map((row2, c) => {
    const y0 = BAR.top + c * BAR.row;
    let acc = 0;
    const segments = row2.map((share, k) => {
      const x0 = BAR.left + acc * w;
      acc += share;
      return { k, x0, x1: BAR.left + acc * w, share, count: counts[c][k] };
    });
    return { c, y0, y1: y0 + BAR.height, segments };
  });
}
function barsHeight(nClusters) {
  return BAR.top + Math.max(1, nClusters) * BAR.row + 22;
}
function drawBars(canvas2, layout, categories, t, title, selected = -1, names = null) {
  const ctx = canvas2.getContext("2d");
  ctx.clearRect(0, 0, canvas2.width, canvas2.height);
  ctx.font = `11px ${t.family}`;
  ctx.fillStyle = t.font;
  ctx.textBaseline = "bottom";
  ctx.textAlign = "left";
  ctx.fillText(title, 4, BAR.top - 6);
  for (const row2 of layout) {
    ctx.fillStyle = clusterColor(row2.c);
    ctx.fillRect(4, row2.y0 + 2, 10, BAR.height - 4);
    ctx.fillStyle = row2.c === selected ? t.accent : t.font;
    ctx.textBaseline = "middle";
    ctx.fillText(names ? names[row2.c] : `cluster ${row2.c}`, 18, (row2.y0 + row2.y1) / 2);
    for (const s of row2.segments) {
      if (s.x1 - s.x0 <= 0) continue;
      ctx.fillStyle = categoryColor(s.k);
      ctx.fillRect(Math.round(s.x0), row2.y0, Math.max(1, Math.round(s.x1) - Math.round(s.x0)), BAR.height);
    }
    if (row2.c === selected) {
      ctx.strokeStyle = t.accent;
      ctx.lineWidth = 2;
      ctx.strokeRect(BAR.left - 1, row2.y0 - 1, canvas2.width - BAR.left - BAR.right + 2, BAR.height + 2);
    }
  }
  let x = BAR.left;
  const y = BAR.top + layout.length * BAR.row + 10;
  ctx.textBaseline = "middle";
  categories.forEach((cat, k) => {
    ctx.fillStyle = categoryColor(k);
    ctx.fillRect(x, y - 5, 10, 10);
    ctx.fillStyle = t.font;
    ctx.fillText(cat, x + 13, y);
    x += 13 + ctx.measureText(cat).width + 10;
  });
}
function segmentAt(layout, px, py) {
  for (const row2 of layout) {
    if (py < row2.y0 || py > row2.y1) continue;
    for (const s of row2.segments) if (px >= s.x0 && px < s.x1) return { c: row2.c, ...s };
  }
  return null;
}

// loss_clusters/scales.js
function linear(d0, d1, r0, r1) {
  const span = d1 - d0 || 1;
  const f = (v) => r0 + (v - d0) / span * (r1 - r0);
  f.invert = (p) => d0 + (p - r0) / (r1 - r0) * span;
  f.domain = [d0, d1];
  f.range = [r0, r1];
  return f;
}
function ticks(lo, hi, count = 5) {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) out.push(k === 0 ? 0 : Number((k * step).toPrecision(12)));
  return out;
}
function extent(arrays, pad = 0.05) {
  let lo = Infinity, hi = -Infinity;
  for (const a of arrays) for (const v of a) if (Number.isFinite(v)) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) return [0, 1];
  if (lo === hi) return [lo - 0.5, hi + 0.5];
  const p = (hi - lo) * pad;
  return [lo - p, hi + p];
}
function row(data, c, n) {
  return data.subarray ? data.subarray(c * n, (c + 1) * n) : data.slice(c * n, (c + 1) * n);
}
function bandPolygons(steps, q1, q3, x, y) {
  const out = [];
  let top = [], bottom = [];
  const flush = () => {
    if (top.length) out.push([...top, ...bottom.reverse()]);
    top = [];
    bottom = [];
  };
  for (let j = 0; j < steps.length; j++) {
    if (!Number.isFinite(q1[j]) || !Number.isFinite(q3[j])) {
      flush();
      continue;
    }
    top.push([x(steps[j]), y(q3[j])]);
    bottom.push([x(steps[j]), y(q1[j])]);
  }
  flush();
  return out;
}
function linePieces(steps, values, x, y) {
  const out = [];
  let cur = [];
  for (let j = 0; j < steps.length; j++) {
    if (!Number.isFinite(values[j])) {
      if (cur.length) out.push(cur);
      cur = [];
      continue;
    }
    cur.push([x(steps[j]), y(values[j])]);
  }
  if (cur.length) out.push(cur);
  return out;
}
function nearestIndex(steps, v) {
  let best = 0;
  for (let j = 1; j < steps.length; j++) if (Math.abs(steps[j] - v) < Math.abs(steps[best] - v)) best = j;
  return best;
}
function fmt(v) {
  if (!Number.isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

// loss_clusters/chart.js
var MARGIN = { left: 52, right: 22, top: 20, bottom: 32 };
function chartGeometry(width, height, steps, yArrays) {
  const x0 = MARGIN.left, y0 = MARGIN.top;
  const w = width - MARGIN.left - MARGIN.right, h = height - MARGIN.top - MARGIN.bottom;
  const [ymin, ymax] = extent(yArrays);
  const xmin = steps[0], xmax = steps[steps.length - 1];
  return {
    width,
    height,
    x0,
    y0,
    w,
    h,
    xmin,
    xmax,
    ymin,
    ymax,
    x: linear(xmin, xmax, x0, x0 + w),
    y: linear(ymin, ymax, y0 + h, y0)
  };
}
function setSize(canvas2, g) {
  if (canvas2.width !== g.width) canvas2.width = g.width;
  if (canvas2.height !== g.height) canvas2.height = g.height;
  canvas2.style.width = `${g.width}px`;
  canvas2.style.height = `${g.height}px`;
}
function exposeGeometry(el2, g) {
  Object.assign(el2.dataset, { x0: g.x0, y0: g.y0, w: g.w, h: g.h, xmin: g.xmin, xmax: g.xmax, ymin: g.ymin, ymax: g.ymax });
}
function drawAxes(ctx, g, t, xTitle, yTitle) {
  ctx.save();
  ctx.font = `11px ${t.family}`;
  ctx.strokeStyle = t.grid;
  ctx.fillStyle = t.muted;
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const v of ticks(g.ymin, g.ymax, 4)) {
    const py = Math.round(g.y(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(g.x0, py);
    ctx.lineTo(g.x0 + g.w, py);
    ctx.stroke();
    ctx.fillText(fmt(v), g.x0 - 4, py);
  }
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const v of ticks(g.xmin, g.xmax, 5)) {
    const px = Math.round(g.x(v)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(px, g.y0 + g.h);
    ctx.lineTo(px, g.y0 + g.h + 4);
    ctx.stroke();
    ctx.fillText(fmt(v), px, g.y0 + g.h + 6);
  }
  ctx.strokeStyle = t.muted;
  ctx.strokeRect(g.x0 + 0.5, g.y0 + 0.5, g.w - 1, g.h - 1);
  ctx.fillStyle = t.font;
  ctx.textBaseline = "bottom";
  ctx.textAlign = "left";
  if (yTitle) ctx.fillText(yTitle, g.x0, g.y0 - 5);
  ctx.textAlign = "right";
  if (xTitle) ctx.fillText(xTitle, g.x0 + g.w, g.height - 2);
  ctx.restore();
}
function drawBand(ctx, g, steps, q1, q3, color, alpha = 0.3) {
  ctx.save();
  ctx.fillStyle = rgba(color, alpha);
  for (const poly of bandPolygons(steps, q1, q3, g.x, g.y)) {
    ctx.beginPath();
    poly.forEach(([px, py], i) => i ? ctx.lineTo(px, py) : ctx.moveTo(px, py));
    ctx.closePath();
    ctx.fill();
  }
  ctx.restore();
}
function drawLine(ctx, g, steps, values, color, width = 2, dash = null, alpha = 1) {
  ctx.save();
  ctx.strokeStyle = alpha < 1 ? rgba(color, alpha) : color;
  ctx.lineWidth = width;
  ctx.lineJoin = "round";
  if (dash) ctx.setLineDash(dash);
  for (const piece of linePieces(steps, values, g.x, g.y)) {
    ctx.beginPath();
    piece.forEach(([px, py], i) => i ? ctx.lineTo(px, py) : ctx.moveTo(px, py));
    ctx.stroke();
  }
  ctx.restore();
}
function drawRule(ctx, g, step, color, { dash = null, width = 1, label = "", font = "sans-serif" } = {}) {
  if (!(step >= g.xmin && step <= g.xmax)) return;
  const px = Math.round(g.x(step)) + 0.5;
  ctx.save();
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  if (dash) ctx.setLineDash(dash);
  ctx.beginPath();
  ctx.moveTo(px, g.y0);
  ctx.lineTo(px, g.y0 + g.h);
  ctx.stroke();
  if (label) {
    ctx.fillStyle = color;
    ctx.font = `11px ${font}`;
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    ctx.fillText(label, px + 3, g.y0 + 2);
  }
  ctx.restore();
}
function drawMarker(ctx, px, py, color, outline) {
  ctx.save();
  ctx.fillStyle = color;
  ctx.strokeStyle = outline;
  ctx.beginPath();
  ctx.moveTo(px, py - 2);
  ctx.lineTo(px - 5, py - 11);
  ctx.lineTo(px + 5, py - 11);
  ctx.closePath();
  ctx.fill();
  ctx.stroke();
  ctx.restore();
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

// loss_clusters/data.js
function readSummary(info, buffer) {
  return unpack(info.summary_meta, buffer);
}
function readVector(payload) {
  const a = unpack(payload.meta, payload.data);
  const tm = payload.traj_meta;
  const codes = asBytes(payload.traj);
  const [n, s] = tm.shape;
  if (codes.length < n * s) throw new Error(`trajectory buffer holds ${codes.length} codes, shape ${tm.shape} needs ${n * s}`);
  const cluster = Int32Array.from(a.cluster.data, (v) => Math.round(v));
  return {
    vector: payload.meta.vector,
    cluster,
    nClusters: a.median.shape[0],
    nSteps: a.median.shape[1] ?? s,
    median: a.median.data,
    q1: a.q1.data,
    q3: a.q3.data,
    exactMedian: a.exact_median.data,
    breaks: a.break.data,
    sizes: a.sizes.data,
    traj: { codes, lo: tm.lo, hi: tm.hi, shape: [n, s], nan: tm.nan ?? 255 }
  };
}
function trajValue(traj, i, j) {
  const c = traj.codes[i * traj.shape[1] + j];
  if (c === traj.nan) return NaN;
  return traj.lo + c / 254 * (traj.hi - traj.lo);
}
function composition(cluster, codes, nClusters, nCategories) {
  const counts = Array.from({ length: nClusters }, () => new Array(nCategories).fill(0));
  for (let i = 0; i < cluster.length; i++) {
    const c = cluster[i];
    if (c >= 0 && c < nClusters) counts[c][Math.round(codes[i])] += 1;
  }
  const shares = counts.map((row2) => {
    const total = row2.reduce((x, y) => x + y, 0);
    return row2.map((v) => total ? v / total : 0);
  });
  return { counts, shares };
}
function labelCodes(summary, labels, label) {
  const j = labels.indexOf(label);
  if (j < 0) return null;
  const n = summary.codes.shape[1];
  return summary.codes.data.subarray(j * n, (j + 1) * n);
}
function members(cluster, c) {
  const out = [];
  for (let i = 0; i < cluster.length; i++) if (cluster[i] === c) out.push(i);
  return out;
}
function highlight(text, start, end) {
  if (!(start >= 0) || !(end > start) || end > text.length) return { before: text, token: "", after: "" };
  return { before: text.slice(0, start), token: text.slice(start, end), after: text.slice(end) };
}

// loss_clusters/index.js
var SIZE = { main: [420, 250], exact: [260, 250], compare: [320, 210], spark: [90, 22] };
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== void 0) e.textContent = text;
  return e;
}
function canvas(cls, label) {
  const c = el("canvas", cls);
  if (label) {
    c.setAttribute("role", "img");
    c.setAttribute("aria-label", label);
  }
  return c;
}
function clusterTip(v, c, j, step, exact) {
  const n = v.nSteps;
  const lines = [
    `cluster ${c} (${v.sizes[c]} samples) · step ${fmt(step)}`,
    `projected loss: median ${fmt(v.median[c * n + j])}, IQR [${fmt(v.q1[c * n + j])}, ${fmt(v.q3[c * n + j])}]`
  ];
  if (exact) lines.push(`exact loss (median): ${fmt(v.exactMedian[c * n + j])}`);
  lines.push(`mean break step: ${fmt(v.breaks[c])}`);
  return lines.join("\n");
}
function render({ model, el: host }) {
  const root = el("div", "wb-lc");
  host.appendChild(root);
  const tip = createTooltip(root, "wb-lc-tooltip");
  const parsed = /* @__PURE__ */ new Map();
  let info = model.get("_info");
  let summary = readSummary(info, model.get("_summary"));
  const head = el("div", "wb-lc-head");
  const title = el("div", "wb-lc-title");
  const labelSel = el("select", "wb-lc-label");
  labelSel.setAttribute("aria-label", "label for composition bars and homogeneity");
  const labelBox = el("label", "wb-lc-labelbox", "label ");
  labelBox.append(labelSel);
  const legend = el("div", "wb-lc-legend");
  legend.setAttribute("role", "toolbar");
  legend.setAttribute("aria-label", "clusters of the selected vector");
  head.append(title, labelBox, legend);
  const list = el("div", "wb-lc-basis");
  list.tabIndex = 0;
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "basis vectors");
  const stage = el("div", "wb-lc-stage");
  const bandsCanvas = canvas("wb-lc-bands");
  const linesCanvas = canvas("wb-lc-lines", "projected loss of each cluster: median and interquartile band");
  linesCanvas.tabIndex = 0;
  stage.append(bandsCanvas, linesCanvas);
  const exactCanvas = canvas("wb-lc-exact", "exact loss of the same clusters (median, dashed)");
  const barsCanvas = canvas("wb-lc-bars", "composition of each cluster by the label");
  const status = el("div", "wb-lc-status");
  const charts = el("div", "wb-lc-charts");
  charts.append(stage, exactCanvas);
  const main = el("div", "wb-lc-main");
  const note = kernelNote("wb-lc-kernelnote");
  main.append(charts, barsCanvas, status, note.el);
  const compare = el("div", "wb-lc-compare");
  const compareTitle = el("div", "wb-lc-subtitle", "exact-loss clusters (HDBSCAN on each sample's exact loss)");
  const eStage = el("div", "wb-lc-estage");
  const eBands = canvas("wb-lc-ebands");
  const eLines = canvas("wb-lc-elines", "exact-loss clusters: median and interquartile band of exact loss");
  eStage.append(eBands, eLines);
  const eBars = canvas("wb-lc-ebars", "composition of each exact-loss cluster by the label");
  compare.append(compareTitle, eStage, eBars);
  const samples = el("div", "wb-lc-samples");
  const body = el("div", "wb-lc-body");
  body.append(list, main, compare);
  root.append(head, body, samples);
  const th = () => ({
    ...theme(root),
    grid: cssVar(root, "--jp-border-color2", "#e0e0e0"),
    bg: cssVar(root, "--jp-layout-color0", "#fff")
  });
  function setTrait(name, value) {
    model.set(name, value);
    try {
      model.save_changes();
    } catch (e) {
    }
  }
  function vectorData(b) {
    const payload = (model.get("_vectors") || {})[String(b)];
    if (!payload) return null;
    const cached = parsed.get(b);
    if (cached && cached.payload === payload) return cached.v;
    const v = readVector(payload);
    parsed.set(b, { payload, v });
    return v;
  }
  const steps = () => summary.steps.data;
  const nSteps = () => summary.steps.data.length;
  const labels = () => info.labels || [];
  const categories = () => (info.categories || {})[model.get("label")] || [];
  const codes = () => labelCodes(summary, labels(), model.get("label"));
  function drawList() {
    const t = th();
    const k = info.n_basis, S = nSteps(), b = model.get("basis");
    const j = labels().indexOf(model.get("label"));
    list.replaceChildren();
    for (let i = 0; i < k; i++) {
      const r = el("div", "wb-lc-row");
      r.setAttribute("role", "option");
      r.setAttribute("aria-selected", String(i === b));
      r.dataset.basis = String(i);
      const kept = summary.kept.data[i] > 0;
      if (!kept) r.classList.add("dropped");
      const spark = canvas("wb-lc-spark");
      spark.width = SIZE.spark[0];
      spark.height = SIZE.spark[1];
      const mean = row(summary.mean_pl.data, i, S);
      const geo2 = chartGeometry(SIZE.spark[0], SIZE.spark[1], steps(), [mean, [0]]);
      const sx = (s) => 2 + (s - geo2.xmin) / (geo2.xmax - geo2.xmin || 1) * (SIZE.spark[0] - 4);
      const sy = (v) => 2 + (1 - (v - geo2.ymin) / (geo2.ymax - geo2.ymin || 1)) * (SIZE.spark[1] - 4);
      const ctx = spark.getContext("2d");
      ctx.strokeStyle = t.grid;
      ctx.beginPath();
      ctx.moveTo(2, Math.round(sy(0)) + 0.5);
      ctx.lineTo(SIZE.spark[0] - 2, Math.round(sy(0)) + 0.5);
      ctx.stroke();
      ctx.strokeStyle = kept ? t.accent : t.muted;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      for (let s = 0; s < S; s++) (s ? ctx.lineTo : ctx.moveTo).call(ctx, sx(steps()[s]), sy(mean[s]));
      ctx.stroke();
      const best = j >= 0 ? summary.best.data[i * summary.best.shape[1] + j] : NaN;
      const n = summary.n_clusters.data[i];
      r.append(
        el("span", "wb-lc-k", `#${i}`),
        spark,
        el("span", "wb-lc-at", `step ${fmt(summary.found_at.data[i])}`),
        el("span", "wb-lc-n", kept ? `${n} cl.` : "dropped"),
        el("span", "wb-lc-h", Number.isFinite(best) ? `h ${best.toFixed(2)}` : "h –")
      );
      r.title = `vector #${i}: found at step ${fmt(summary.found_at.data[i])}, eigenvalue ${fmt(summary.eigenvalue.data[i])}
mean projected loss ${fmt(mean[0])} → ${fmt(mean[S - 1])}` + (kept ? `
${n} clusters; best ${model.get("label")} homogeneity ${fmt(best)}` : "\ndropped by the vector filter: its mean projected loss rises");
      r.addEventListener("click", () => setTrait("basis", i));
      list.append(r);
    }
    list.setAttribute("aria-activedescendant", "");
    list.dataset.selected = String(b);
  }
  list.addEventListener("keydown", (e) => {
    const b = model.get("basis"), k = info.n_basis;
    const next = { ArrowDown: b + 1, ArrowUp: b - 1, Home: 0, End: k - 1 }[e.key];
    if (next === void 0) return;
    e.preventDefault();
    setTrait("basis", Math.max(0, Math.min(k - 1, next)));
  });
  let geo = null;
  function drawMain(v) {
    const t = th();
    const S = nSteps(), st = steps(), C = v.nClusters, sel = model.get("cluster");
    const ys = [];
    for (let c = 0; c < C; c++) ys.push(row(v.q1, c, S), row(v.q3, c, S), row(v.median, c, S));
    if (!C) ys.push(row(summary.mean_pl.data, v.vector, S));
    const g = chartGeometry(SIZE.main[0], SIZE.main[1], st, ys);
    geo = g;
    for (const c of [bandsCanvas, linesCanvas]) setSize(c, g);
    stage.style.width = `${g.width}px`;
    stage.style.height = `${g.height}px`;
    const bctx = bandsCanvas.getContext("2d");
    bctx.clearRect(0, 0, g.width, g.height);
    for (let c = 0; c < C; c++) drawBand(bctx, g, st, row(v.q1, c, S), row(v.q3, c, S), clusterColor(c), c === sel || sel < 0 ? 0.35 : 0.15);
    const ctx = linesCanvas.getContext("2d");
    ctx.clearRect(0, 0, g.width, g.height);
    drawAxes(ctx, g, t, "training step", `projected loss · vector #${v.vector}`);
    for (let i = 0; i < info.n_basis; i++) {
      drawRule(ctx, g, summary.found_at.data[i], i === v.vector ? t.accent : t.grid, { width: i === v.vector ? 2 : 1 });
    }
    drawRule(ctx, g, info.tau, t.font, { dash: [5, 4], label: "τ", font: t.family });
    ctx.save();
    ctx.beginPath();
    ctx.rect(g.x0, g.y0, g.w, g.h);
    ctx.clip();
    let overlaid = 0;
    if (sel >= 0 && sel < C) {
      const idx = members(v.cluster, sel).slice(0, 400);
      const vals = new Float32Array(S);
      for (const i of idx) {
        for (let j = 0; j < S; j++) vals[j] = trajValue(v.traj, i, j);
        drawLine(ctx, g, st, vals, clusterColor(sel), 0.7, null, 0.25);
        overlaid += 1;
      }
    }
    if (!C) drawLine(ctx, g, st, row(summary.mean_pl.data, v.vector, S), t.muted, 1.5, [2, 2]);
    for (let c = 0; c < C; c++) drawLine(ctx, g, st, row(v.median, c, S), clusterColor(c), c === sel ? 3 : 2);
    ctx.restore();
    for (let c = 0; c < C; c++) {
      const br = v.breaks[c];
      if (!Number.isFinite(br)) continue;
      const j = nearestIndex(st, br);
      drawMarker(ctx, g.x(br), g.y(v.median[c * S + j]), clusterColor(c), t.font);
    }
    exposeGeometry(stage, g);
    Object.assign(stage.dataset, {
      basis: v.vector,
      cluster: sel,
      nClusters: C,
      overlaid,
      breaks: JSON.stringify(Array.from(v.breaks).map((x) => Number.isFinite(x) ? Math.round(x * 10) / 10 : null))
    });
    if (!C) status.textContent = summary.kept.data[v.vector] > 0 ? "no clusters for this vector (all samples are outliers or filtered)" : "this vector was dropped by the vector filter: its mean projected loss rises (dotted: the mean)";
    else status.textContent = "";
  }
  function drawExact(v) {
    const t = th();
    const S = nSteps(), st = steps(), C = v.nClusters, sel = model.get("cluster");
    const ys = [];
    for (let c = 0; c < C; c++) ys.push(row(v.exactMedian, c, S));
    if (!C) ys.push(summary.exact_mean.data);
    const g = chartGeometry(SIZE.exact[0], SIZE.exact[1], st, ys);
    setSize(exactCanvas, g);
    const ctx = exactCanvas.getContext("2d");
    ctx.clearRect(0, 0, g.width, g.height);
    drawAxes(ctx, g, t, "training step", "exact loss (median)");
    drawRule(ctx, g, info.tau, t.font, { dash: [5, 4], label: "τ", font: t.family });
    if (!C) drawLine(ctx, g, st, summary.exact_mean.data, t.muted, 1.5, [6, 4]);
    for (let c = 0; c < C; c++) drawLine(ctx, g, st, row(v.exactMedian, c, S), clusterColor(c), c === sel ? 3 : 2, [6, 4]);
    exposeGeometry(exactCanvas, g);
  }
  let barRows = [], eBarRows = [];
  function drawCompositions(v) {
    const t = th();
    const cats = categories(), cd = codes();
    const sel = model.get("cluster");
    if (!cd) return;
    const comp = composition(v.cluster, cd, v.nClusters, cats.length);
    barsCanvas.width = SIZE.main[0] + SIZE.exact[0];
    barsCanvas.height = barsHeight(v.nClusters);
    barRows = barLayout(barsCanvas.width, comp.shares, comp.counts);
    const names = Array.from({ length: v.nClusters }, (_, c) => `#${c} (${v.sizes[c]})`);
    drawBars(barsCanvas, barRows, cats, t, `composition by ${model.get("label")}`, sel, names);
    barsCanvas.dataset.label = model.get("label");
    barsCanvas.dataset.rows = JSON.stringify(barRows.map((r) => [r.y0, r.y1, r.segments.map((s) => [Math.round(s.x0 * 10) / 10, Math.round(s.x1 * 10) / 10])]));
    const ec = Int32Array.from(summary.exact_cluster.data, (x) => Math.round(x));
    const nE = summary.exact_median.shape[0];
    const ecomp = composition(ec, cd, nE, cats.length);
    eBars.width = SIZE.compare[0];
    eBars.height = barsHeight(nE);
    eBarRows = barLayout(eBars.width, ecomp.shares, ecomp.counts);
    const enames = Array.from({ length: nE }, (_, c) => `e${c} (${ecomp.counts[c].reduce((a, b) => a + b, 0)})`);
    drawBars(eBars, eBarRows, cats, t, `composition by ${model.get("label")}`, -1, enames);
    eBars.dataset.label = model.get("label");
  }
  function drawCompare() {
    const t = th();
    const S = nSteps(), st = steps(), nE = summary.exact_median.shape[0];
    const ys = [];
    for (let c = 0; c < nE; c++) ys.push(row(summary.exact_q1.data, c, S), row(summary.exact_q3.data, c, S));
    if (!nE) ys.push(summary.exact_mean.data);
    const g = chartGeometry(SIZE.compare[0], SIZE.compare[1], st, ys);
    for (const c of [eBands, eLines]) setSize(c, g);
    eStage.style.width = `${g.width}px`;
    eStage.style.height = `${g.height}px`;
    const bctx = eBands.getContext("2d");
    bctx.clearRect(0, 0, g.width, g.height);
    for (let c = 0; c < nE; c++) drawBand(bctx, g, st, row(summary.exact_q1.data, c, S), row(summary.exact_q3.data, c, S), clusterColor(c), 0.3);
    const ctx = eLines.getContext("2d");
    ctx.clearRect(0, 0, g.width, g.height);
    drawAxes(ctx, g, t, "training step", "exact loss");
    drawRule(ctx, g, info.tau, t.font, { dash: [5, 4], label: "τ", font: t.family });
    if (!nE) drawLine(ctx, g, st, summary.exact_mean.data, t.muted, 1.5);
    for (let c = 0; c < nE; c++) drawLine(ctx, g, st, row(summary.exact_median.data, c, S), clusterColor(c), 2);
    exposeGeometry(eStage, g);
    eStage.dataset.nClusters = String(nE);
  }
  function drawLegend(v) {
    legend.replaceChildren();
    const sel = model.get("cluster");
    const mk = (c, text) => {
      const btn = el("button", "wb-lc-cl", text);
      btn.type = "button";
      btn.dataset.cluster = String(c);
      btn.setAttribute("aria-pressed", String(c === sel));
      if (c >= 0) btn.style.borderColor = clusterColor(c);
      btn.addEventListener("click", () => setTrait("cluster", c === sel ? -1 : c));
      return btn;
    };
    for (let c = 0; c < v.nClusters; c++) legend.append(mk(c, `cluster ${c} · ${v.sizes[c]}`));
    if (sel >= 0) legend.append(mk(-1, "clear"));
  }
  function drawSamples(v) {
    samples.replaceChildren();
    const sel = model.get("cluster");
    if (!v || sel < 0 || sel >= v.nClusters) {
      samples.append(el("div", "wb-lc-note", "click a cluster (or a cluster button, or focus the chart and press ←/→) to list its samples"));
      samples.dataset.cluster = "-1";
      samples.dataset.count = "0";
      return;
    }
    const idx = members(v.cluster, sel);
    const shown = idx.slice(0, info.max_listed);
    samples.append(el("div", "wb-lc-subtitle", `cluster ${sel} of vector #${v.vector}: ${idx.length} samples` + (shown.length < idx.length ? ` (first ${shown.length} listed)` : "")));
    const ol = el("ol", "wb-lc-list");
    const labs = labels();
    for (const i of shown) {
      const li = el("li", "wb-lc-sample");
      li.dataset.sample = String(i);
      const h = highlight(info.texts[i], summary.target_start.data[i], summary.target_end.data[i]);
      const txt = el("span", "wb-lc-text");
      txt.append(h.before);
      if (h.token) txt.append(el("mark", "wb-lc-hl", h.token));
      txt.append(h.after);
      const tags = labs.map((name, j) => {
        const n = summary.codes.shape[1];
        return `${name} ${(info.categories[name] || [])[summary.codes.data[j * n + i]]}`;
      }).join(" · ");
      li.append(txt, el("span", "wb-lc-tags", tags));
      ol.append(li);
    }
    samples.append(ol);
    samples.dataset.cluster = String(sel);
    samples.dataset.count = String(idx.length);
    samples.dataset.listed = JSON.stringify(shown);
  }
  function drawHead() {
    const vs = model.get("basis");
    title.textContent = `POLCA loss clusters${info.title ? ` · ${info.title}` : ""} · vector #${vs} · τ = ${fmt(info.tau)}`;
    const lab = model.get("label");
    if (labelSel.options.length !== labels().length) {
      labelSel.replaceChildren(...labels().map((n) => {
        const o = el("option", "", n);
        o.value = n;
        return o;
      }));
    }
    labelSel.value = lab;
  }
  function draw() {
    const b = model.get("basis");
    drawHead();
    drawList();
    drawCompare();
    const v = vectorData(b);
    if (v && model.get("cluster") >= v.nClusters) {
      setTrait("cluster", -1);
      return;
    }
    if (!v && !info.all_in_state && !hasKernel(model)) note.show(`Vector #${b}`, (model.get("_offline") || {}).missing);
    else note.hide();
    if (!v) {
      status.textContent = info.all_in_state ? `vector #${b} is missing from the widget state` : `vector #${b}: waiting for the kernel (only the selected vector travels; a saved page without a kernel shows the vector selected when it was saved)`;
      stage.dataset.basis = "";
      legend.replaceChildren();
      return;
    }
    drawMain(v);
    drawExact(v);
    drawCompositions(v);
    drawLegend(v);
    drawSamples(v);
    stage.dataset.drawn = String(Number(stage.dataset.drawn || 0) + 1);
    stage.dataset.label = model.get("label");
  }
  function hitCluster(px, py) {
    const v = vectorData(model.get("basis"));
    if (!v || !geo || !v.nClusters) return null;
    const S = nSteps(), j = nearestIndex(steps(), geo.x.invert(px));
    let best = null, bestD = Infinity;
    for (let c = 0; c < v.nClusters; c++) {
      const lo = geo.y(v.q1[c * S + j]), hi = geo.y(v.q3[c * S + j]), m = geo.y(v.median[c * S + j]);
      const d = py >= Math.min(lo, hi) - 2 && py <= Math.max(lo, hi) + 2 ? 0 : Math.abs(py - m);
      if (d < bestD) {
        bestD = d;
        best = c;
      }
    }
    return bestD <= 12 ? { c: best, j, v } : null;
  }
  linesCanvas.addEventListener("mousemove", (e) => {
    const hit = hitCluster(e.offsetX, e.offsetY);
    if (!hit) return tip.hide();
    const r = root.getBoundingClientRect(), c = linesCanvas.getBoundingClientRect();
    tip.show(clusterTip(hit.v, hit.c, hit.j, steps()[hit.j], true), c.left - r.left + e.offsetX, c.top - r.top + e.offsetY);
    tip.el.dataset.cluster = String(hit.c);
  });
  linesCanvas.addEventListener("mouseleave", () => tip.hide());
  linesCanvas.addEventListener("click", (e) => {
    const hit = hitCluster(e.offsetX, e.offsetY);
    setTrait("cluster", hit ? hit.c : -1);
  });
  linesCanvas.addEventListener("keydown", (e) => {
    const v = vectorData(model.get("basis"));
    if (!v || !v.nClusters) return;
    const c = model.get("cluster");
    const next = { ArrowRight: c + 1, ArrowLeft: c < 0 ? v.nClusters - 1 : c - 1, Escape: -1 }[e.key];
    if (next === void 0) return;
    e.preventDefault();
    setTrait("cluster", next >= v.nClusters ? -1 : next);
  });
  for (const [cv, rows] of [[barsCanvas, () => barRows], [eBars, () => eBarRows]]) {
    cv.addEventListener("mousemove", (e) => {
      const s = segmentAt(rows(), e.offsetX, e.offsetY);
      if (!s) return tip.hide();
      const r = root.getBoundingClientRect(), c = cv.getBoundingClientRect();
      tip.show(`${cv === barsCanvas ? "cluster" : "exact-loss cluster"} ${s.c}: ${model.get("label")} ${categories()[s.k]} ${(100 * s.share).toFixed(1)}% (${s.count} samples)`, c.left - r.left + e.offsetX, c.top - r.top + e.offsetY);
    });
    cv.addEventListener("mouseleave", () => tip.hide());
  }
  barsCanvas.addEventListener("click", (e) => {
    const s = segmentAt(barRows, e.offsetX, e.offsetY);
    if (s) setTrait("cluster", s.c === model.get("cluster") ? -1 : s.c);
  });
  labelSel.addEventListener("change", () => setTrait("label", labelSel.value));
  const onInfo = () => {
    info = model.get("_info");
    summary = readSummary(info, model.get("_summary"));
    parsed.clear();
    draw();
  };
  const stopTheme = onThemeChange(draw);
  const events = ["change:basis", "change:cluster", "change:label", "change:_vectors"];
  for (const ev of events) model.on(ev, draw);
  model.on("change:_summary", onInfo);
  draw();
  return () => {
    stopTheme();
    for (const ev of events) model.off(ev, draw);
    model.off("change:_summary", onInfo);
  };
}
var loss_clusters_default = { render };
export {
  clusterTip,
  loss_clusters_default as default
};
