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

// lib/plot.js
function sized(canvas, w, h) {
  const dpr = Math.max(1, Math.round(globalThis.devicePixelRatio || 1));
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  canvas.dataset.dpr = String(dpr);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return ctx;
}
function extent(...arrays) {
  let lo = Infinity, hi = -Infinity;
  for (const a of arrays) if (a) {
    for (const v of a) if (Number.isFinite(v)) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  if (!Number.isFinite(lo)) return [0, 1];
  if (hi === lo) return [lo - 0.5, hi + 0.5];
  const pad = 0.05 * (hi - lo);
  return [lo - pad, hi + pad];
}
function row(arr, i) {
  const n = arr.shape[arr.shape.length - 1];
  return arr.data.subarray(i * n, (i + 1) * n);
}
function num(v, digits = 3) {
  if (!Number.isFinite(v)) return "—";
  return v.toFixed(digits).replace("-", "−");
}

// feature_explorer/data.js
function readPacked(meta, buffer) {
  return unpack(meta, buffer);
}
var SORTS = {
  detection: { array: "best", label: "best label score" },
  frequency: { array: "frequency", label: "frequency" },
  causal: { array: "causal", label: "causal effect" },
  match: { array: "match_cosine", label: "cross-seed match" }
};
function order(values) {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  return idx.sort((a, b) => {
    const va = values[a], vb = values[b];
    const fa = Number.isFinite(va), fb = Number.isFinite(vb);
    if (fa !== fb) return fa ? -1 : 1;
    if (fa && va !== vb) return vb - va;
    return a - b;
  });
}
function histogram(values, bins = 24, lo = 0, hi = void 0) {
  if (hi === void 0) {
    hi = lo;
    for (const v of values) if (Number.isFinite(v) && v > hi) hi = v;
  }
  const counts = new Array(bins).fill(0);
  const w = (hi - lo) / bins;
  const edges = Array.from({ length: bins + 1 }, (_, i) => i === bins ? hi : lo + i * w);
  for (const v of values) {
    if (!Number.isFinite(v) || v < lo || v > hi) continue;
    const i = w > 0 ? Math.min(bins - 1, Math.floor((v - lo) / w)) : 0;
    counts[i] += 1;
  }
  return { edges, counts };
}
var SHADE_RGB = [232, 89, 12];
function shadeCode(a, amax) {
  if (!Number.isFinite(a) || !(amax > 0)) return 0;
  return Math.round(Math.min(1, Math.max(0, a / amax)) * 254);
}
function shadeRgb(code) {
  const t = code / 254;
  return SHADE_RGB.map((c) => Math.round(255 + t * (c - 255)));
}
function shadeCss(a, amax) {
  const [r, g, b] = shadeRgb(shadeCode(a, amax));
  return `rgb(${r},${g},${b})`;
}
var CONTEXT = { label: 92, top: 4, row: 26, cell: 20, gap: 2, pad: 3, minCell: 12, right: 8 };
function tokenBoxes(widths, rowIndex, g = CONTEXT) {
  const y = g.top + rowIndex * g.row;
  let x = g.label;
  return Array.from(widths, (tw) => {
    const w = Math.max(g.minCell, Math.ceil(tw) + 2 * g.pad);
    const box = [x, y, w, g.cell];
    x += w + g.gap;
    return box;
  });
}
var SCATTER = { width: 380, height: 300, left: 48, right: 12, top: 12, bottom: 36 };
var DOT = 3.5;
var UNIT_DOT = 3;
var HIT = 8;
var Y_SCALES = {
  linear: (v) => v,
  sqrt: (v) => Math.sign(v) * Math.sqrt(Math.abs(v))
};
function scatterLayout(xs, ys, ux = null, uy = null, g = SCATTER, yScale = "linear") {
  const f = Y_SCALES[yScale] || Y_SCALES.linear;
  const [xlo, xhi] = extent(xs, ux);
  const [ylo, yhi] = extent(Array.from(ys || [], f), uy ? Array.from(uy, f) : null);
  const x0 = g.left, x1 = g.width - g.right, y0 = g.top, y1 = g.height - g.bottom;
  const geo = { width: g.width, height: g.height, x0, x1, y0, y1, xlo, xhi, ylo, yhi, yScale, f };
  geo.px = (v) => x0 + (v - xlo) / (xhi - xlo) * (x1 - x0);
  geo.py = (v) => y1 - (f(v) - ylo) / (yhi - ylo) * (y1 - y0);
  return geo;
}
function positions(geo, xs, ys) {
  return Array.from(xs, (x, i) => Number.isFinite(x) && Number.isFinite(ys[i]) ? [geo.px(x), geo.py(ys[i])] : null);
}
function pointAt(points, x, y, radius = HIT) {
  let best = -1, d = radius * radius;
  points.forEach((p, i) => {
    if (!p) return;
    const e = (p[0] - x) ** 2 + (p[1] - y) ** 2;
    if (e <= d) {
      d = e;
      best = i;
    }
  });
  return best;
}
function gap(best, causal, well, none) {
  let w = 0, n = 0;
  if (!Number.isFinite(well) || !Number.isFinite(none)) return { well: 0, none: 0 };
  well = Math.fround(well);
  none = Math.fround(none);
  for (let i = 0; i < best.length; i++) {
    if (!(best[i] >= well)) continue;
    w += 1;
    if (causal[i] < none) n += 1;
  }
  return { well: w, none: n };
}
var saeKey = (s) => String(s);
var latentKey = (s, l) => `${s}:${l}`;
function pct(v, digits = 1) {
  if (!Number.isFinite(v)) return "—";
  return `${(100 * v).toFixed(digits)}%`;
}

// feature_explorer/draw.js
var COLORS = {
  latent: "#1c7ed6",
  unit: "#868e96",
  selected: "#e8590c",
  bar: "#1c7ed6",
  best: "#e8590c",
  token: "#111111"
};
var minus = (s) => s.replace("-", "−");
function frame(ctx, x0, x1, y0, y1, t) {
  ctx.strokeStyle = t.grid;
  ctx.lineWidth = 1;
  ctx.strokeRect(x0 + 0.5, y0 + 0.5, x1 - x0 - 1, y1 - y0 - 1);
}
function drawScatter(canvas, { xs, ys, ux, uy, selected, xLabel, yLabel, t, guides = null, yScale = "linear" }) {
  const geo = scatterLayout(xs, ys, ux, uy, void 0, yScale);
  const ctx = sized(canvas, geo.width, geo.height);
  ctx.font = `11px ${t.family}`;
  frame(ctx, geo.x0, geo.x1, geo.y0, geo.y1, t);
  ctx.fillStyle = t.muted;
  ctx.textBaseline = "top";
  ctx.textAlign = "center";
  for (const v of [geo.xlo, (geo.xlo + geo.xhi) / 2, geo.xhi]) ctx.fillText(minus(v.toFixed(2)), geo.px(v), geo.y1 + 3);
  ctx.fillText(xLabel, (geo.x0 + geo.x1) / 2, geo.y1 + 18);
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  const inv = (u) => geo.yScale === "sqrt" ? Math.sign(u) * u * u : u;
  for (const u of [geo.ylo, (geo.ylo + geo.yhi) / 2, geo.yhi]) {
    ctx.fillText(minus(inv(u).toFixed(2)), geo.x0 - 4, geo.py(inv(u)));
  }
  ctx.save();
  ctx.translate(10, (geo.y0 + geo.y1) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = "center";
  ctx.fillText(yLabel, 0, 0);
  ctx.restore();
  ctx.save();
  ctx.beginPath();
  ctx.rect(geo.x0, geo.y0, geo.x1 - geo.x0, geo.y1 - geo.y0);
  ctx.clip();
  if (guides) {
    ctx.save();
    ctx.strokeStyle = t.muted;
    ctx.lineWidth = 1;
    ctx.setLineDash([4, 4]);
    ctx.beginPath();
    if (Number.isFinite(guides.x)) {
      ctx.moveTo(geo.px(guides.x), geo.y0);
      ctx.lineTo(geo.px(guides.x), geo.y1);
    }
    if (Number.isFinite(guides.y)) {
      ctx.moveTo(geo.x0, geo.py(guides.y));
      ctx.lineTo(geo.x1, geo.py(guides.y));
    }
    ctx.stroke();
    ctx.restore();
  }
  if (ux && uy) {
    ctx.strokeStyle = COLORS.unit;
    ctx.lineWidth = 1.2;
    for (const p of positions(geo, ux, uy)) {
      if (!p) continue;
      ctx.beginPath();
      ctx.arc(p[0], p[1], UNIT_DOT, 0, 2 * Math.PI);
      ctx.stroke();
    }
  }
  const points = positions(geo, xs, ys);
  ctx.fillStyle = COLORS.latent;
  for (const p of points) {
    if (!p) continue;
    ctx.beginPath();
    ctx.arc(p[0], p[1], DOT, 0, 2 * Math.PI);
    ctx.fill();
  }
  if (selected >= 0 && points[selected]) {
    ctx.fillStyle = COLORS.selected;
    ctx.beginPath();
    ctx.arc(points[selected][0], points[selected][1], DOT + 2, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.restore();
  return { geo, points };
}
var HIST = { width: 300, height: 140, left: 44, right: 10, top: 10, bottom: 30, bins: 24 };
function drawHistogram(canvas, values, t, g = HIST) {
  const ctx = sized(canvas, g.width, g.height);
  ctx.font = `11px ${t.family}`;
  const h = histogram(values, g.bins, 0);
  const x0 = g.left, x1 = g.width - g.right, y0 = g.top, y1 = g.height - g.bottom;
  frame(ctx, x0, x1, y0, y1, t);
  const hi = h.edges[h.edges.length - 1];
  const top = Math.max(1, ...h.counts);
  const x = (v) => hi > 0 ? x0 + v / hi * (x1 - x0) : x0;
  ctx.fillStyle = COLORS.bar;
  h.counts.forEach((c, i) => {
    if (!c) return;
    const a = x(h.edges[i]), b = hi > 0 ? x(h.edges[i + 1]) : x1;
    const y = y1 - c / top * (y1 - y0);
    ctx.fillRect(a + 0.5, y, Math.max(1, b - a - 1), y1 - y);
  });
  ctx.fillStyle = t.muted;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  ctx.fillText(String(top), x0 - 4, y0 + 4);
  ctx.fillText("0", x0 - 4, y1 - 2);
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  ctx.fillText("0", x0, y1 + 3);
  ctx.fillText("activation (active samples)", (x0 + x1) / 2, y1 + 15);
  ctx.textAlign = "right";
  ctx.fillText(hi.toPrecision(3), x1, y1 + 3);
  return h;
}
function drawContexts(canvas, rows, amax, t, g = CONTEXT) {
  const font = `12px ${t.mono}`;
  const probe = canvas.getContext("2d");
  probe.font = font;
  const layout = rows.map((r, k) => tokenBoxes(r.tokens.map((tok) => probe.measureText(tok).width), k, g));
  const width = Math.max(g.label + 40, ...layout.map((b) => b.length ? b[b.length - 1][0] + b[b.length - 1][2] : 0)) + g.right;
  const height = g.top + Math.max(1, rows.length) * g.row;
  const ctx = sized(canvas, width, height);
  rows.forEach((r, k) => {
    const boxes = layout[k];
    ctx.font = `11px ${t.family}`;
    ctx.fillStyle = t.muted;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    ctx.fillText(r.label, 2, g.top + k * g.row + g.cell / 2);
    ctx.font = font;
    ctx.textAlign = "center";
    boxes.forEach(([x, y, w, h], j) => {
      ctx.fillStyle = shadeCss(r.acts[j], amax);
      ctx.fillRect(x, y, w, h);
      if (j === r.peak) {
        ctx.strokeStyle = COLORS.token;
        ctx.lineWidth = 1;
        ctx.beginPath();
        ctx.moveTo(x, y + h - 0.5);
        ctx.lineTo(x + w, y + h - 0.5);
        ctx.stroke();
      }
      ctx.fillStyle = COLORS.token;
      ctx.fillText(r.tokens[j], x + w / 2, y + h / 2 + 1);
    });
  });
  return layout;
}
var BARS = { width: 300, left: 110, right: 44, top: 4, row: 18, bar: 12, bottom: 6 };
function drawBars(canvas, names, values, best, t, g = BARS) {
  const height = g.top + names.length * g.row + g.bottom;
  const ctx = sized(canvas, g.width, height);
  ctx.font = `11px ${t.family}`;
  const x0 = g.left, x1 = g.width - g.right;
  ctx.strokeStyle = t.grid;
  ctx.beginPath();
  ctx.moveTo(x0 + 0.5, g.top);
  ctx.lineTo(x0 + 0.5, g.top + names.length * g.row);
  ctx.stroke();
  const boxes = [];
  names.forEach((name, k) => {
    const v = values[k];
    const y = g.top + k * g.row + (g.row - g.bar) / 2;
    const w = Number.isFinite(v) ? Math.max(0, Math.min(1, v)) * (x1 - x0) : 0;
    ctx.fillStyle = k === best ? COLORS.best : COLORS.bar;
    ctx.fillRect(x0, y, w, g.bar);
    boxes.push([x0, y, w, g.bar]);
    ctx.fillStyle = k === best ? t.font : t.muted;
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    ctx.fillText(name.length > 18 ? name.slice(0, 17) + "…" : name, x0 - 4, y + g.bar / 2);
    ctx.textAlign = "left";
    ctx.fillText(Number.isFinite(v) ? v.toFixed(3) : "—", x0 + w + 4, y + g.bar / 2);
  });
  return boxes;
}

// feature_explorer/index.js
var LIST_MAX = 400;
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== void 0) e.textContent = text;
  return e;
}
var quote = (t) => JSON.stringify(String(t));
function render({ model, el: host }) {
  const root = el("div", "wb-fe");
  host.appendChild(root);
  const tip = createTooltip(root, "wb-fe-tooltip");
  let info = model.get("_info");
  let summary = readPacked(info.summary_meta, model.get("_summary"));
  const parsed = /* @__PURE__ */ new Map();
  let points = [];
  let shownContexts = { rows: [], boxes: [] };
  const title = el("div", "wb-fe-title");
  const controls = el("div", "wb-fe-controls");
  const saeSel = el("select", "wb-fe-sae");
  saeSel.setAttribute("aria-label", "sparse autoencoder (architecture · sparsity · seed)");
  const saeBox = el("label", "wb-fe-field", "SAE ");
  saeBox.append(saeSel);
  const sortSel = el("select", "wb-fe-sort");
  sortSel.setAttribute("aria-label", "sort the latent list by");
  for (const [k, s] of Object.entries(SORTS)) {
    const o = el("option", "", s.label);
    o.value = k;
    sortSel.append(o);
  }
  const sortBox = el("label", "wb-fe-field", "sort by ");
  sortBox.append(sortSel);
  const yScaleSel = el("select", "wb-fe-yscale");
  yScaleSel.setAttribute("aria-label", "scale of the scatter's causal-effect axis");
  for (const [k, text] of [["linear", "linear"], ["sqrt", "square root"]]) {
    const o = el("option", "", text);
    o.value = k;
    yScaleSel.append(o);
  }
  const yScaleBox = el("label", "wb-fe-field", "causal axis ");
  yScaleBox.append(yScaleSel);
  controls.append(saeBox, sortBox, yScaleBox);
  const saeStats = el("div", "wb-fe-saestats");
  const note = kernelNote("wb-fe-kernelnote");
  const left = el("div", "wb-fe-left");
  const scatter = el("canvas", "wb-fe-scatter");
  scatter.setAttribute("role", "img");
  const legend = el("div", "wb-fe-legend");
  const gapLine = el("div", "wb-fe-gap");
  const listWrap = el("div", "wb-fe-listwrap");
  const list = el("table", "wb-fe-list");
  list.tabIndex = 0;
  list.setAttribute("aria-label", "latents: arrow keys move the selection");
  list.setAttribute("data-lm-suppress-shortcuts", "true");
  listWrap.append(list);
  const listNote = el("div", "wb-fe-note");
  left.append(scatter, legend, gapLine, listWrap, listNote);
  const right = el("div", "wb-fe-right");
  const head = el("div", "wb-fe-head");
  head.setAttribute("aria-live", "polite");
  const compare = el("div", "wb-fe-compare");
  const section = (name, text) => {
    const b = el("div", "wb-fe-section");
    b.dataset.section = name;
    b.append(el("div", "wb-fe-sectionhead", text));
    right.append(b);
    return b;
  };
  right.append(head, compare);
  const barsBox = section("labels", "label scores (AUROC; |Pearson r| for numeric labels)");
  const bars = el("canvas", "wb-fe-bars");
  bars.setAttribute("role", "img");
  barsBox.append(bars);
  const histBox = section("histogram", "activation histogram");
  const hist = el("canvas", "wb-fe-hist");
  hist.setAttribute("role", "img");
  const histNote = el("div", "wb-fe-note");
  histBox.append(hist, histNote);
  const ctxBox = section("contexts", "top-activating contexts (cell colour: activation / the latent's largest)");
  const contexts = el("canvas", "wb-fe-contexts");
  contexts.setAttribute("role", "img");
  const ctxNote = el("div", "wb-fe-note");
  const ctxScroll = el("div", "wb-fe-scroll");
  ctxScroll.append(contexts);
  ctxBox.append(ctxScroll, ctxNote);
  const decBox = section("decoder", "decoder direction through the unembedding (top tokens)");
  const decoder = el("div", "wb-fe-decoder");
  decBox.append(decoder);
  const matchBox = section("match", "best match under another seed");
  const match = el("div", "wb-fe-match");
  matchBox.append(match);
  const body = el("div", "wb-fe-body");
  body.append(left, right);
  root.append(title, controls, saeStats, note.el, body);
  const th = () => ({
    ...theme(root),
    grid: cssVar(root, "--jp-border-color2", "#ccc"),
    mono: cssVar(root, "--jp-code-font-family", "monospace")
  });
  function save(values) {
    for (const [k, v] of Object.entries(values)) model.set(k, v);
    try {
      model.save_changes();
    } catch (e) {
    }
  }
  function cached(trait, key) {
    const entry = (model.get(trait) || {})[key];
    if (!entry) return null;
    const hit = parsed.get(`${trait}/${key}`);
    if (hit && hit.entry === entry) return hit.value;
    const value = { ...entry, arrays: readPacked(entry.meta, entry.data) };
    parsed.set(`${trait}/${key}`, { entry, value });
    return value;
  }
  const saePayload = (s) => cached("_saes", saeKey(s));
  const latentPayload = (s, l) => cached("_latents", latentKey(s, l));
  function drawControls() {
    if (saeSel.options.length !== info.saes.length) {
      saeSel.replaceChildren(...info.saes.map((name, s2) => {
        const o = el("option", "", name);
        o.value = String(s2);
        return o;
      }));
    }
    saeSel.value = String(model.get("sae"));
    saeSel.disabled = info.saes.length < 2;
    sortSel.value = model.get("sort");
    const bits = ["Feature explorer"];
    if (info.model) bits.push(info.model);
    if (info.where) bits.push(info.where);
    bits.push(`${info.n_latents} latents · ${info.n_samples} token samples`);
    title.textContent = bits.join(" · ");
    const s = model.get("sae");
    const stats = info.scalars.map((name) => {
      const v = summary[name] ? summary[name].data[s] : NaN;
      return Number.isFinite(v) ? `${name} ${name.endsWith("share") ? pct(v) : num(v)}` : null;
    }).filter(Boolean);
    saeStats.textContent = `${info.saes[s]}${stats.length ? " · " + stats.join(" · ") : ""}`;
  }
  function drawScatterPane(sp) {
    const t = th(), s = model.get("sae");
    const ux = summary.unit_best ? summary.unit_best.data : null;
    const uy = summary.unit_causal ? summary.unit_causal.data : null;
    const out = drawScatter(scatter, {
      xs: sp.arrays.best.data,
      ys: sp.arrays.causal.data,
      ux,
      uy,
      selected: model.get("latent"),
      xLabel: "correlational: best label score",
      yLabel: "causal effect",
      t,
      guides: { x: info.well_correlated ?? NaN, y: info.no_effect ?? NaN },
      yScale: yScaleSel.value
    });
    points = out.points;
    const g = out.geo;
    Object.assign(scatter.dataset, {
      x0: g.x0,
      x1: g.x1,
      y0: g.y0,
      y1: g.y1,
      xlo: g.xlo,
      xhi: g.xhi,
      ylo: g.ylo,
      yhi: g.yhi,
      yScale: g.yScale,
      sae: String(s),
      latent: String(model.get("latent")),
      drawn: String(Number(scatter.dataset.drawn || 0) + 1)
    });
    scatter.setAttribute("aria-label", `best label score against causal effect for the ${info.n_latents} latents of ${info.saes[s]}; click a point to select its latent`);
    const keys = [["latent", COLORS.latent, "SAE latents"], ["selected", COLORS.selected, `latent ${model.get("latent")}`]];
    if (ux) keys.push(["unit", COLORS.unit, `neurons / residual dims (${info.unit_kinds.join(", ")})`]);
    const well = info.well_correlated ?? NaN, none = info.no_effect ?? NaN;
    if (Number.isFinite(well) && Number.isFinite(none)) {
      const g2 = gap(sp.arrays.best.data, sp.arrays.causal.data, well, none);
      let text = `dashed: best label score ${num(well, 2)}, causal effect ${num(none)}. Well-correlated latents: ${g2.well}; with no causal effect: ${g2.none}${g2.well ? ` (${pct(g2.none / g2.well, 0)})` : ""}`;
      if (ux) {
        const u = gap(ux, uy, well, none);
        text += `. Neurons / residual dims: ${u.well}; with no causal effect: ${u.none}${u.well ? ` (${pct(u.none / u.well, 0)})` : ""}`;
      }
      gapLine.textContent = text + ".";
      Object.assign(gapLine.dataset, { well: String(g2.well), none: String(g2.none) });
    } else gapLine.textContent = "";
    gapLine.hidden = !gapLine.textContent;
    legend.replaceChildren(...keys.map(([k, c, text]) => {
      const span = el("span", "wb-fe-key");
      span.dataset.key = k;
      const sw = el("span", "wb-fe-swatch");
      sw.style.background = c;
      span.append(sw, document.createTextNode(text));
      return span;
    }));
  }
  function drawList(sp) {
    const key = model.get("sort");
    const sel = model.get("latent");
    const a = sp.arrays;
    const ids = order(a[SORTS[key].array].data).slice(0, LIST_MAX);
    const headRow = el("tr");
    for (const [k, text] of [
      [null, "latent"],
      ["frequency", "freq"],
      ["detection", "best label"],
      ["causal", "causal"],
      ["match", "match"]
    ]) {
      const h = el("th", "", text);
      if (k) {
        h.dataset.sort = k;
        h.setAttribute("aria-sort", k === key ? "descending" : "none");
        h.addEventListener("click", () => save({ sort: k }));
      }
      headRow.append(h);
    }
    const rows = ids.map((l) => {
      const tr = el("tr", l === sel ? "selected" : "");
      tr.dataset.latent = String(l);
      const bl = a.best_label.data[l];
      const label = bl >= 0 ? info.labels[bl] : "—";
      tr.append(
        el("td", "", String(l)),
        el("td", "", pct(a.frequency.data[l])),
        el("td", "", bl >= 0 ? `${label} ${num(a.best.data[l], 2)}` : "—"),
        el("td", "", num(a.causal.data[l])),
        el("td", "", num(a.match_cosine.data[l], 2))
      );
      tr.addEventListener("click", () => save({ latent: l }));
      return tr;
    });
    list.replaceChildren(headRow, ...rows);
    list.dataset.order = ids.slice(0, 50).join(",");
    listNote.textContent = info.n_latents > LIST_MAX ? `the ${LIST_MAX} best of ${info.n_latents} latents by ${SORTS[key].label}` : "";
    const mine = list.querySelector("tr.selected");
    if (mine && mine.scrollIntoView && document.activeElement === list) mine.scrollIntoView({ block: "nearest" });
  }
  function drawSaePanels(sp, s, l) {
    const t = th(), a = sp.arrays;
    const bl = a.best_label.data[l];
    const det = row(a.detection, l);
    drawBars(bars, info.labels, det, bl, t);
    bars.dataset.latent = String(l);
    const rank = (arr, v) => Number.isFinite(v) ? 1 + Array.from(arr).filter((x) => x > v).length : NaN;
    const best = a.best.data[l], causal = a.causal.data[l];
    const mk = (name, v, r, unit, cls) => {
      const d = el("div", `wb-fe-score ${cls}`);
      d.dataset.value = String(v);
      d.append(
        el("span", "wb-fe-scorename", name),
        el("span", "wb-fe-scorevalue", num(v)),
        el("span", "wb-fe-note", `rank ${Number.isFinite(r) ? r : "—"} of ${info.n_latents}` + (Number.isFinite(unit) ? ` · best neuron ${num(unit)}` : ""))
      );
      return d;
    };
    const maxOf = (arr) => arr ? Math.max(...Array.from(arr.data).filter(Number.isFinite)) : NaN;
    compare.replaceChildren(
      mk(`correlational (${bl >= 0 ? info.labels[bl] : "no label"})`, best, rank(a.best.data, best), maxOf(summary.unit_best), "corr"),
      mk("causal effect", causal, rank(a.causal.data, causal), maxOf(summary.unit_causal), "causal")
    );
    decoder.replaceChildren();
    if (sp.decoder_tokens && sp.decoder_tokens.length) {
      const toks = sp.decoder_tokens[l] || [];
      const logits = a.decoder_logits ? row(a.decoder_logits, l) : null;
      const table = el("table", "wb-fe-dectable");
      const tr = el("tr");
      toks.forEach((tok, r) => {
        const td = el("td", "", `${quote(tok)} ${logits ? num(logits[r], 2) : ""}`);
        td.dataset.rank = String(r);
        tr.append(td);
      });
      table.append(tr);
      decoder.append(table);
    } else decoder.textContent = "no decoder tokens in this Dataset";
    match.replaceChildren();
    const ms = summary.match_sae ? summary.match_sae.data[s] : -1;
    const ml = a.match_latent ? a.match_latent.data[l] : -1;
    const mc = a.match_cosine.data[l];
    if (ms >= 0 && ml >= 0 && Number.isFinite(mc)) {
      const txt = el("span", "", `latent ${ml} of ${info.saes[ms]} · decoder cosine ${num(mc)}`);
      const go = el("button", "wb-fe-go", "show it");
      go.type = "button";
      go.addEventListener("click", () => save({ sae: ms, latent: ml }));
      match.append(txt, go);
      match.dataset.sae = String(ms);
      match.dataset.latent = String(ml);
    } else {
      match.textContent = "no matched sae for this one";
      match.dataset.sae = "";
      match.dataset.latent = "";
    }
  }
  function drawDetail(s, l) {
    const t = th();
    const lp = latentPayload(s, l);
    for (const c of [hist, contexts]) c.classList.toggle("wb-stale", !lp);
    if (!lp) {
      histNote.textContent = "";
      ctxNote.textContent = "";
      contexts.dataset.shown = "";
      const what = `Latent ${l} of ${info.saes[s]}`;
      if (hasKernel(model)) head.textContent += " · waiting for the kernel";
      else note.show(what, model.get("_offline").missing);
      return;
    }
    const a = lp.arrays;
    const [amax, nActive, n] = a.stats.data;
    const h = drawHistogram(hist, a.active.data, t);
    hist.dataset.counts = h.counts.join(",");
    hist.dataset.hi = String(h.edges[h.edges.length - 1]);
    histNote.textContent = nActive ? `active on ${nActive} of the ${n} samples kept in the Dataset (${pct(nActive / n)}); largest ${num(amax)}` : "never active on these samples (a dead latent)";
    const rows = [];
    let off = 0;
    for (let k = 0; k < a.ctx_start.data.length; k++) {
      const start = a.ctx_start.data[k], len = a.ctx_len.data[k];
      const acts = a.ctx_act.data.subarray(off, off + len);
      off += len;
      rows.push({
        tokens: info.tokens.slice(start, start + len),
        acts,
        peak: a.ctx_peak.data[k],
        label: `#${k + 1}  ${num(acts[a.ctx_peak.data[k]], 2)}`
      });
    }
    const boxes = drawContexts(contexts, rows, amax, t);
    shownContexts = { rows, boxes };
    contexts.dataset.boxes = JSON.stringify(boxes);
    contexts.dataset.amax = String(amax);
    contexts.dataset.shown = latentKey(s, l);
    contexts.dataset.strings = Array.from(a.ctx_string.data).join(",");
    ctxNote.textContent = rows.length ? rows.map((r, k) => `#${k + 1}: ${info.texts[a.ctx_string.data[k]]}`).join("   ") : "no context activates it";
  }
  function draw() {
    drawControls();
    const s = model.get("sae"), l = model.get("latent");
    const sp = saePayload(s);
    note.hide();
    if (!sp) {
      for (const c of [scatter, bars, hist, contexts]) c.classList.add("wb-stale");
      list.replaceChildren();
      head.textContent = `${info.saes[s]}: ` + (hasKernel(model) ? "waiting for the kernel" : "not in this page");
      if (!hasKernel(model)) note.show(info.saes[s], model.get("_offline").missing);
      return;
    }
    for (const c of [scatter, bars]) c.classList.remove("wb-stale");
    const a = sp.arrays;
    const bl = a.best_label.data[l];
    head.textContent = `latent ${l} · frequency ${pct(a.frequency.data[l], 2)} · best label ${bl >= 0 ? info.labels[bl] : "—"} ${num(a.best.data[l])} · causal ${num(a.causal.data[l])}`;
    head.dataset.latent = String(l);
    head.dataset.sae = String(s);
    drawScatterPane(sp);
    drawList(sp);
    drawSaePanels(sp, s, l);
    drawDetail(s, l);
  }
  saeSel.addEventListener("change", () => save({ sae: Number(saeSel.value) }));
  sortSel.addEventListener("change", () => save({ sort: sortSel.value }));
  yScaleSel.addEventListener("change", draw);
  const at = (e) => {
    const r = scatter.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };
  scatter.addEventListener("click", (e) => {
    const i = pointAt(points, ...at(e));
    if (i >= 0) save({ latent: i });
  });
  scatter.addEventListener("mousemove", (e) => {
    const [x, y] = at(e);
    const i = pointAt(points, x, y);
    const sp = saePayload(model.get("sae"));
    if (i < 0 || !sp) {
      tip.hide();
      scatter.style.cursor = "";
      return;
    }
    const a = sp.arrays, bl = a.best_label.data[i];
    scatter.style.cursor = "pointer";
    const r = scatter.getBoundingClientRect(), rr = root.getBoundingClientRect();
    tip.show(
      `latent ${i} · ${bl >= 0 ? info.labels[bl] : "—"} ${num(a.best.data[i])} · causal ${num(a.causal.data[i])}`,
      x + r.left - rr.left,
      y + r.top - rr.top
    );
  });
  scatter.addEventListener("mouseleave", () => tip.hide());
  contexts.addEventListener("mousemove", (e) => {
    const r = contexts.getBoundingClientRect(), rr = root.getBoundingClientRect();
    const x = e.clientX - r.left, y = e.clientY - r.top;
    const { rows, boxes } = shownContexts;
    for (let k = 0; k < boxes.length; k++) {
      const j = boxes[k].findIndex(([bx, by, bw, bh]) => x >= bx && x < bx + bw && y >= by && y < by + bh);
      if (j >= 0) {
        tip.show(`${quote(rows[k].tokens[j])}: ${num(rows[k].acts[j])}`, x + r.left - rr.left, y + r.top - rr.top);
        return;
      }
    }
    tip.hide();
  });
  contexts.addEventListener("mouseleave", () => tip.hide());
  list.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    const sp = saePayload(model.get("sae"));
    if (!sp) return;
    e.preventDefault();
    const ids = order(sp.arrays[SORTS[model.get("sort")].array].data);
    const i = ids.indexOf(model.get("latent"));
    const j = Math.max(0, Math.min(ids.length - 1, i + (e.key === "ArrowDown" ? 1 : -1)));
    save({ latent: ids[j] });
  });
  const onInfo = () => {
    info = model.get("_info");
    summary = readPacked(info.summary_meta, model.get("_summary"));
    parsed.clear();
    draw();
  };
  const events = ["change:sae", "change:latent", "change:sort", "change:_saes", "change:_latents"];
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
var feature_explorer_default = { render };
export {
  feature_explorer_default as default
};
