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

// graph_reorganization/geometry.js
var SCATTER = { width: 440, height: 420, margin: 40 };
var RADIUS = 6;
var GHOST_RADIUS = 8;
var HIT_RADIUS = 10;
var PANEL = { width: 290, height: 170, left: 40, right: 10, top: 22, bottom: 28 };
function frameTransform(xs, ys, box = SCATTER) {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    if (!Number.isFinite(xs[i]) || !Number.isFinite(ys[i])) continue;
    x0 = Math.min(x0, xs[i]);
    x1 = Math.max(x1, xs[i]);
    y0 = Math.min(y0, ys[i]);
    y1 = Math.max(y1, ys[i]);
  }
  if (!Number.isFinite(x0)) {
    x0 = -1;
    x1 = 1;
    y0 = -1;
    y1 = 1;
  }
  const xr = Math.max(x1 - x0, 1e-12), yr = Math.max(y1 - y0, 1e-12);
  const s = Math.min((box.width - 2 * box.margin) / xr, (box.height - 2 * box.margin) / yr);
  const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
  const t = { cx, cy, s, width: box.width, height: box.height };
  t.px = (x) => box.width / 2 + s * (x - cx);
  t.py = (y) => box.height / 2 - s * (y - cy);
  return t;
}
var PALETTE = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf"
];
function hex(r, g, b) {
  return "#" + [r, g, b].map((v) => Math.round(v).toString(16).padStart(2, "0")).join("");
}
function hsl(h, s, l) {
  const a = s * Math.min(l, 1 - l);
  const f = (n) => {
    const k = (n + h / 30) % 12;
    return 255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1)));
  };
  return hex(f(0), f(8), f(4));
}
function groupColors(values) {
  const n = values ? values.length : 0;
  if (!values) return { colors: [], legend: [] };
  const distinct = [...new Set(Array.from(values))].sort((a, b) => a - b);
  if (distinct.length <= PALETTE.length) {
    const rank2 = new Map(distinct.map((v, i) => [v, i]));
    return { colors: Array.from(values, (v) => PALETTE[rank2.get(v)]), legend: distinct.map((v, i) => [v, PALETTE[i]]) };
  }
  const rank = new Map(distinct.map((v, i) => [v, i]));
  const m = distinct.length;
  const colors = Array.from(values, (v) => hsl(360 * rank.get(v) / m, 0.65, 0.5));
  return { colors, legend: distinct.map((v, i) => [v, hsl(360 * i / m, 0.65, 0.5)]), n };
}
function logScale(lo, hi, a, b) {
  const l0 = Math.log(lo), l1 = Math.log(hi);
  const span = l1 - l0 || 1;
  return {
    to: (v) => a + (Math.log(v) - l0) / span * (b - a),
    from: (p) => Math.exp(l0 + (p - a) / (b - a) * span)
  };
}
function nearestLog(values, v) {
  let best = 0, d = Infinity;
  const lv = Math.log(Math.max(v, 1e-12));
  for (let i = 0; i < values.length; i++) {
    const e = Math.abs(Math.log(values[i]) - lv);
    if (e < d) {
      d = e;
      best = i;
    }
  }
  return best;
}
function nodeAt(positions, x, y, radius = HIT_RADIUS) {
  let best = -1, d = radius * radius;
  positions.forEach((p, i) => {
    if (!p) return;
    const e = (p[0] - x) ** 2 + (p[1] - y) ** 2;
    if (e <= d) {
      d = e;
      best = i;
    }
  });
  return best;
}
function neighbours(adjacency, n, i) {
  const out = [];
  for (let j = 0; j < n; j++) if (adjacency[i * n + j] > 0) out.push(j);
  return out;
}
function fitIndex(pairs, components) {
  const [a, b] = components;
  return pairs.indexOf(`PC${Math.min(a, b) + 1}-${Math.max(a, b) + 1}`);
}

// graph_reorganization/curves.js
var fmt = (v) => v >= 1e3 ? `${v / 1e3}k` : String(v);
function logTicks(lo, hi) {
  const out = [];
  for (let e = Math.floor(Math.log10(lo)); 10 ** e <= hi; e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo && v <= hi && (m === 1 || hi / lo < 200)) out.push(v);
    }
  }
  return out;
}
function createPanel(name, title, onPick) {
  const canvas = document.createElement("canvas");
  canvas.className = `wb-gr-curve wb-gr-curve-${name}`;
  canvas.width = PANEL.width;
  canvas.height = PANEL.height;
  canvas.title = `${title}: click to move T`;
  let xscale = null;
  let lastDomain = [1, 2];
  canvas.addEventListener("click", (e) => {
    if (!xscale) return;
    const x = Math.min(Math.max(e.offsetX, PANEL.left), PANEL.width - PANEL.right);
    onPick(xscale.from(x));
  });
  function draw({ series, band, refs = [], domain, yrange, cursor, th }) {
    const ctx = canvas.getContext("2d");
    const W = PANEL.width, H = PANEL.height;
    ctx.clearRect(0, 0, W, H);
    lastDomain = domain;
    xscale = logScale(domain[0], domain[1], PANEL.left, W - PANEL.right);
    const [ylo, yhi] = yrange;
    const py = (v) => H - PANEL.bottom - (v - ylo) / (yhi - ylo) * (H - PANEL.top - PANEL.bottom);
    ctx.font = `10px ${th.family}`;
    ctx.fillStyle = th.font;
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    ctx.fillText(title, PANEL.left, 4);
    ctx.strokeStyle = th.grid;
    ctx.lineWidth = 1;
    ctx.strokeRect(PANEL.left + 0.5, PANEL.top + 0.5, W - PANEL.left - PANEL.right, H - PANEL.top - PANEL.bottom);
    ctx.fillStyle = th.muted;
    ctx.textAlign = "center";
    for (const t of logTicks(domain[0], domain[1])) ctx.fillText(fmt(t), xscale.to(t), H - PANEL.bottom + 3);
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const v of [ylo, (ylo + yhi) / 2, yhi]) ctx.fillText(String(+v.toFixed(2)), PANEL.left - 3, py(v));
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillText("context length T", PANEL.left + (W - PANEL.left - PANEL.right) / 2, H);
    ctx.save();
    ctx.beginPath();
    ctx.rect(PANEL.left, PANEL.top, W - PANEL.left - PANEL.right, H - PANEL.top - PANEL.bottom);
    ctx.clip();
    if (band) {
      ctx.fillStyle = band.color;
      ctx.beginPath();
      let started = false;
      for (let i = 0; i < band.x.length; i++) {
        if (!Number.isFinite(band.hi[i])) continue;
        const p = [xscale.to(band.x[i]), py(band.hi[i])];
        if (!started) {
          ctx.moveTo(...p);
          started = true;
        } else ctx.lineTo(...p);
      }
      for (let i = band.x.length - 1; i >= 0; i--) if (Number.isFinite(band.lo[i])) ctx.lineTo(xscale.to(band.x[i]), py(band.lo[i]));
      ctx.closePath();
      if (started) ctx.fill();
    }
    for (const r of refs) {
      ctx.strokeStyle = r.color;
      ctx.setLineDash(r.dash || [4, 3]);
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(PANEL.left, py(r.y));
      ctx.lineTo(W - PANEL.right, py(r.y));
      ctx.stroke();
    }
    ctx.setLineDash([]);
    for (const s of series) {
      ctx.strokeStyle = s.color;
      ctx.lineWidth = s.width || 1.5;
      ctx.setLineDash(s.dash || []);
      ctx.beginPath();
      let pen = false;
      for (let i = 0; i < s.x.length; i++) {
        if (!Number.isFinite(s.y[i])) {
          pen = false;
          continue;
        }
        const p = [xscale.to(s.x[i]), py(s.y[i])];
        if (pen) ctx.lineTo(...p);
        else {
          ctx.moveTo(...p);
          pen = true;
        }
      }
      ctx.stroke();
    }
    ctx.setLineDash([]);
    if (cursor) {
      ctx.strokeStyle = th.accent;
      ctx.lineWidth = 1;
      ctx.setLineDash([2, 2]);
      ctx.beginPath();
      const x = Math.round(xscale.to(cursor)) + 0.5;
      ctx.moveTo(x, PANEL.top);
      ctx.lineTo(x, H - PANEL.bottom);
      ctx.stroke();
      canvas.dataset.cursor = String(x - 0.5);
    }
    ctx.restore();
    canvas.dataset.domain = JSON.stringify(lastDomain);
  }
  return { canvas, draw, xFor: (v) => xscale ? xscale.to(v) : NaN };
}

// graph_reorganization/scatter.js
function createScatter() {
  const canvas = document.createElement("canvas");
  canvas.className = "wb-gr-scatter";
  canvas.width = SCATTER.width;
  canvas.height = SCATTER.height;
  canvas.tabIndex = -1;
  let positions = [];
  function draw({ xs, ys, gx, gy, words, colors, adjacency, hover, xLabel, yLabel, th }) {
    const ctx = canvas.getContext("2d");
    const n = words.length;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const t = frameTransform(xs, ys);
    positions = Array.from({ length: n }, (_, i) => Number.isFinite(xs[i]) && Number.isFinite(ys[i]) ? [t.px(xs[i]), t.py(ys[i])] : null);
    ctx.strokeStyle = th.grid;
    ctx.lineWidth = 1;
    ctx.strokeRect(0.5, 0.5, canvas.width - 1, canvas.height - 1);
    ctx.fillStyle = th.muted;
    ctx.font = `11px ${th.family}`;
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillText(xLabel, canvas.width / 2, canvas.height - 4);
    ctx.save();
    ctx.translate(12, canvas.height / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText(yLabel, 0, 0);
    ctx.restore();
    ctx.strokeStyle = th.edge;
    ctx.lineWidth = 1.5;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) {
      if (!(adjacency[i * n + j] > 0) || !positions[i] || !positions[j]) continue;
      ctx.beginPath();
      ctx.moveTo(...positions[i]);
      ctx.lineTo(...positions[j]);
      ctx.stroke();
    }
    if (gx && gy) {
      ctx.save();
      ctx.beginPath();
      ctx.rect(0, 0, canvas.width, canvas.height);
      ctx.clip();
      ctx.strokeStyle = th.ghost;
      ctx.setLineDash([3, 3]);
      ctx.lineWidth = 1;
      for (let i = 0; i < n; i++) {
        if (!Number.isFinite(gx[i]) || !Number.isFinite(gy[i])) continue;
        ctx.beginPath();
        ctx.arc(t.px(gx[i]), t.py(gy[i]), GHOST_RADIUS, 0, 2 * Math.PI);
        ctx.stroke();
      }
      ctx.restore();
    }
    for (let i = 0; i < n; i++) {
      if (!positions[i]) continue;
      ctx.fillStyle = colors[i] || th.accent;
      ctx.beginPath();
      ctx.arc(positions[i][0], positions[i][1], RADIUS, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.fillStyle = th.font;
    ctx.font = `11px ${th.family}`;
    ctx.textBaseline = "bottom";
    for (let i = 0; i < n; i++) {
      if (!positions[i]) continue;
      const [x, y] = positions[i];
      const right = x + RADIUS + 2 + ctx.measureText(words[i]).width <= canvas.width - 2;
      ctx.textAlign = right ? "left" : "right";
      ctx.fillText(words[i], right ? x + RADIUS + 2 : x - RADIUS - 2, y - RADIUS + 2);
    }
    if (hover >= 0 && positions[hover]) {
      const nb = neighbours(adjacency, n, hover);
      ctx.strokeStyle = th.accent;
      ctx.lineWidth = 2.5;
      for (const j of nb) {
        if (!positions[j]) continue;
        ctx.beginPath();
        ctx.moveTo(...positions[hover]);
        ctx.lineTo(...positions[j]);
        ctx.stroke();
      }
      for (const j of [hover, ...nb]) {
        if (!positions[j]) continue;
        ctx.beginPath();
        ctx.arc(positions[j][0], positions[j][1], RADIUS + 3, 0, 2 * Math.PI);
        ctx.stroke();
      }
    }
    canvas.dataset.pos = JSON.stringify(positions.map((p) => p ? [Math.round(p[0] * 10) / 10, Math.round(p[1] * 10) / 10] : null));
    canvas.dataset.transform = JSON.stringify({ cx: t.cx, cy: t.cy, s: t.s });
    return positions;
  }
  return { canvas, draw, positions: () => positions };
}

// graph_reorganization/index.js
var FRAME_MS = 250;
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== void 0) e.textContent = text;
  return e;
}
function labelled(text, control) {
  const l = el("label", "wb-gr-field");
  l.append(el("span", "wb-gr-key", text), control);
  return l;
}
function options(select, items) {
  select.replaceChildren(...items.map(([value, text]) => {
    const o = el("option", "", text);
    o.value = String(value);
    return o;
  }));
}
var pct = (v) => Number.isFinite(v) ? `${(100 * v).toFixed(0)}%` : "—";
var num = (v, d = 2) => Number.isFinite(v) ? v.toFixed(d) : "—";
function render({ model, el: host }) {
  const root = el("div", "wb-gr");
  root.tabIndex = 0;
  root.setAttribute("data-lm-suppress-shortcuts", "true");
  const title = el("div", "wb-gr-title");
  const top = el("div", "wb-gr-top");
  const scatter = createScatter();
  const stage = el("div", "wb-gr-stage");
  stage.append(scatter.canvas);
  const side = el("div", "wb-gr-side");
  const play = el("button", "wb-gr-play", "▶ play");
  play.type = "button";
  const slider = el("input", "wb-gr-slider");
  slider.type = "range";
  slider.min = "0";
  slider.step = "1";
  slider.setAttribute("aria-label", "context length T");
  const tLabel = el("span", "wb-gr-t");
  const layerSel = el("select", "wb-gr-layer");
  const xSel = el("select", "wb-gr-x");
  const ySel = el("select", "wb-gr-y");
  const colorSel = el("select", "wb-gr-color");
  const ghostBox = el("input", "wb-gr-ghost");
  ghostBox.type = "checkbox";
  ghostBox.checked = true;
  const info = el("div", "wb-gr-info");
  const swatches = el("div", "wb-gr-swatches");
  const note = el("div", "wb-gr-note");
  note.hidden = true;
  const sliderRow = el("div", "wb-gr-row");
  sliderRow.append(play, slider);
  side.append(
    title,
    sliderRow,
    tLabel,
    labelled("layer", layerSel),
    labelled("x", xSel),
    labelled("y", ySel),
    labelled("colour", colorSel),
    swatches,
    labelled("Laplacian layout", ghostBox),
    info,
    note
  );
  top.append(stage, side);
  const curves = el("div", "wb-gr-curves");
  const panels = {
    accuracy: createPanel("accuracy", "neighbour accuracy", (v) => pickT(v)),
    energy: createPanel("energy", "energy ratio (null band 1–99%)", (v) => pickT(v)),
    r2: createPanel("r2", "Procrustes R² (PC vs Laplacian 2–3)", (v) => pickT(v))
  };
  curves.append(panels.accuracy.canvas, panels.energy.canvas, panels.r2.canvas);
  const legend = el("div", "wb-gr-legend");
  root.append(top, curves, legend);
  host.appendChild(root);
  const tip = createTooltip(root, "wb-gr-tooltip");
  let S = null;
  const cache = /* @__PURE__ */ new Map();
  let hover = -1;
  let timer = null;
  const th = () => ({
    ...theme(root),
    grid: cssVar(root, "--jp-border-color2", "#ccc"),
    edge: cssVar(root, "--jp-border-color1", "#999"),
    ghost: cssVar(root, "--jp-ui-font-color2", "#777"),
    band: "rgba(128,128,128,0.22)",
    control: "rgba(128,128,128,0.85)"
  });
  function loadStatic() {
    const meta = model.get("_static_meta");
    if (!meta || !meta.arrays) return;
    const a = unpack(meta, model.get("_static"));
    const n = meta.words.length;
    S = { ...meta, n, a, contexts: Array.from(a.contexts.data), layers: Array.from(a.layers.data) };
    cache.clear();
    options(layerSel, S.layers.map((l) => [l, `${l}${inBundle(l) ? "" : " · live kernel"}`]));
    const comps = Array.from({ length: S.n_components }, (_, k) => [k, `PC${k + 1}`]);
    options(xSel, comps);
    options(ySel, comps);
    options(colorSel, [["", "none"], ...S.groups.map((g) => [g, g])]);
    slider.max = String(S.contexts.length - 1);
    legend.textContent = S.controls.length ? `grey: controls (${S.controls.map((c, i) => `${c} = ${S.control_models[i]}`).join("; ")})` : "";
  }
  function inBundle(layer) {
    const b = model.get("_bundle_meta");
    return !!(b && b[String(layer)]);
  }
  function sweepFor(layer) {
    if (cache.has(layer)) return cache.get(layer);
    const b = model.get("_bundle_meta");
    let sw = null;
    if (b && b[String(layer)]) {
      const { offset, meta } = b[String(layer)];
      sw = { ...meta, a: unpack(meta, asBytes(model.get("_bundle")).subarray(offset)) };
    } else {
      const meta = model.get("_sweep_meta");
      if (meta && meta.layer === layer) sw = { ...meta, a: unpack(meta, model.get("_sweep")) };
    }
    if (sw) cache.set(layer, sw);
    return sw;
  }
  function setContext(T) {
    if (T === model.get("context")) return;
    model.set("context", T);
    model.save_changes();
  }
  function pickT(v) {
    if (S) setContext(S.contexts[nearestLog(S.contexts, v)]);
  }
  function frame() {
    const T = model.get("context");
    const ci = S.contexts.indexOf(T);
    return ci >= 0 ? ci : nearestLog(S.contexts, T);
  }
  function draw() {
    if (!S) return;
    const layer = model.get("layer"), ci = frame(), T = S.contexts[ci];
    const [c0, c1] = model.get("components");
    const sw = sweepFor(layer);
    const n = S.n, C = S.contexts.length, K = S.n_components;
    slider.value = String(ci);
    layerSel.value = String(layer);
    xSel.value = String(c0);
    ySel.value = String(c1);
    colorSel.value = model.get("color_by");
    const ws = S.a.window_start ? S.a.window_start.data[ci] : NaN;
    tLabel.textContent = `T = ${T}` + (Number.isFinite(ws) ? ` · window [${ws}, ${T})` : "");
    title.textContent = model.get("title") || S.graph;
    const t = th();
    const group = model.get("color_by");
    const scale = group && S.a[`group:${group}`] ? groupColors(S.a[`group:${group}`].data) : { colors: [], legend: [] };
    const colors = scale.colors;
    swatches.replaceChildren(...scale.legend.map(([v, c]) => {
      const s = el("span", "wb-gr-swatch", `${group} ${v}`);
      s.style.setProperty("--swatch", c);
      return s;
    }));
    if (!sw) {
      note.hidden = false;
      note.textContent = `Layer ${layer} is not in this page's saved state: picking it needs a live kernel (the saved layers are ${S.layers.filter(inBundle).join(", ") || "none but the one shown first"}).`;
    } else {
      note.hidden = true;
      const pca = sw.a.pca.data;
      const xs = new Float32Array(n), ys = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        xs[i] = pca[(ci * n + i) * K + c0];
        ys[i] = pca[(ci * n + i) * K + c1];
      }
      let gx = null, gy = null;
      const f = fitIndex(S.pairs, [c0, c1]);
      if (ghostBox.checked && f >= 0 && sw.a.fit) {
        gx = new Float32Array(n);
        gy = new Float32Array(n);
        const swap = c0 > c1 ? 1 : 0;
        for (let i = 0; i < n; i++) {
          const base = ((f * C + ci) * n + i) * 2;
          gx[i] = sw.a.fit.data[base + swap];
          gy[i] = sw.a.fit.data[base + 1 - swap];
        }
      }
      const ev = sw.a.explained ? sw.a.explained.data : null;
      scatter.draw({
        xs,
        ys,
        gx,
        gy,
        words: S.words,
        colors,
        adjacency: S.a.adjacency.data,
        hover,
        th: t,
        xLabel: `PC${c0 + 1}` + (ev ? ` (${pct(ev[ci * K + c0])})` : ""),
        yLabel: `PC${c1 + 1}` + (ev ? ` (${pct(ev[ci * K + c1])})` : "")
      });
      const r2 = sw.a.procrustes_r2.data[ci], rho = sw.a.energy_ratio.data[ci];
      const p = sw.a.percentile ? sw.a.percentile.data[ci] : NaN;
      const absent = S.words.filter((_, i) => !Number.isFinite(xs[i]));
      info.textContent = `layer ${layer} · T = ${T}
Procrustes R² ${num(r2)}
energy ratio ${num(rho)}` + (Number.isFinite(p) ? ` (${p.toFixed(1)}th percentile of its null)` : "") + (absent.length ? `
not in the window (masked): ${absent.join(", ")}` : "");
    }
    drawCurves(sw, T, t);
    Object.assign(root.dataset, { layer, context: T, frame: ci, components: `${c0},${c1}`, ready: sw ? "1" : "0" });
    root.dataset.drawn = String(Number(root.dataset.drawn || 0) + 1);
  }
  function drawCurves(sw, T, t) {
    const a = S.a, C = S.contexts;
    const P = a.accuracy.data.length;
    const xpos = Float32Array.from({ length: P }, (_, i) => i + 1);
    const lo = 1, hi = Math.max(P, C[C.length - 1]);
    const ctrl = (arr, k, len) => arr.data.subarray(k * len, (k + 1) * len);
    const grey = (xs2, arr, len) => S.controls.map((_, k) => ({ x: xs2, y: ctrl(arr, k, len), color: t.control, width: 1 }));
    let band = null;
    if (a.accuracy_sd) {
      const m = a.accuracy.data, sd = a.accuracy_sd.data;
      band = { x: xpos, lo: m.map((v, i) => v - sd[i]), hi: m.map((v, i) => v + sd[i]), color: t.band };
    }
    let deg = 0;
    for (let i = 0; i < a.adjacency.data.length; i++) deg += a.adjacency.data[i];
    panels.accuracy.draw({
      series: [...a.control_accuracy ? grey(xpos, a.control_accuracy, P) : [], { x: xpos, y: a.accuracy.data, color: t.accent, width: 2 }],
      band,
      refs: [{ y: deg / S.n / S.n, color: t.muted, dash: [1, 3] }],
      domain: [lo, hi],
      yrange: [0, 1],
      cursor: T,
      th: t
    });
    if (!sw) {
      for (const k of ["energy", "r2"]) panels[k].draw({ series: [], band: null, domain: [lo, hi], yrange: [0, 1], cursor: T, th: t });
      return;
    }
    const xs = Float32Array.from(C);
    const nullBand = sw.a.null ? {
      x: xs,
      lo: sw.a.null.data.subarray(0, C.length),
      hi: sw.a.null.data.subarray((sw.quantiles.length - 1) * C.length, sw.quantiles.length * C.length),
      color: t.band
    } : null;
    const rho = sw.a.energy_ratio.data;
    let ymax = 1.2;
    for (const v of rho) if (Number.isFinite(v)) ymax = Math.max(ymax, v * 1.05);
    panels.energy.draw({
      series: [...sw.a.control_energy_ratio ? grey(xs, sw.a.control_energy_ratio, C.length) : [], { x: xs, y: rho, color: t.accent, width: 2 }],
      band: nullBand,
      refs: [{ y: 1, color: t.muted }],
      domain: [lo, hi],
      yrange: [0, ymax],
      cursor: T,
      th: t
    });
    panels.r2.draw({
      series: [...sw.a.control_procrustes_r2 ? grey(xs, sw.a.control_procrustes_r2, C.length) : [], { x: xs, y: sw.a.procrustes_r2.data, color: t.accent, width: 2 }],
      band: null,
      domain: [lo, hi],
      yrange: [0, 1],
      cursor: T,
      th: t
    });
  }
  function step(d) {
    if (!S) return;
    const ci = Math.min(S.contexts.length - 1, Math.max(0, frame() + d));
    setContext(S.contexts[ci]);
  }
  function stop() {
    if (timer) clearInterval(timer);
    timer = null;
    play.textContent = "▶ play";
    root.dataset.playing = "0";
  }
  function start() {
    if (!S) return;
    if (frame() >= S.contexts.length - 1) setContext(S.contexts[0]);
    play.textContent = "❚❚ pause";
    root.dataset.playing = "1";
    timer = setInterval(() => {
      if (frame() >= S.contexts.length - 1) return stop();
      step(1);
    }, FRAME_MS);
  }
  const toggle = () => timer ? stop() : start();
  play.addEventListener("click", toggle);
  slider.addEventListener("input", () => {
    stop();
    setContext(S.contexts[Number(slider.value)]);
  });
  layerSel.addEventListener("change", () => {
    model.set("layer", Number(layerSel.value));
    model.save_changes();
  });
  const setComps = () => {
    const c = [Number(xSel.value), Number(ySel.value)];
    if (c[0] === c[1]) return draw();
    model.set("components", c);
    model.save_changes();
  };
  xSel.addEventListener("change", setComps);
  ySel.addEventListener("change", setComps);
  colorSel.addEventListener("change", () => {
    model.set("color_by", colorSel.value);
    model.save_changes();
  });
  ghostBox.addEventListener("change", draw);
  root.addEventListener("keydown", (e) => {
    e.stopPropagation();
    if (e.target instanceof HTMLSelectElement) return;
    if (e.key === " " || e.key === "Spacebar") {
      e.preventDefault();
      toggle();
      return;
    }
    if (e.target === slider) return;
    const moves = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1 };
    if (e.key in moves) {
      e.preventDefault();
      stop();
      step(moves[e.key]);
    }
    if (e.key === "Home" && S) {
      e.preventDefault();
      stop();
      setContext(S.contexts[0]);
    }
    if (e.key === "End" && S) {
      e.preventDefault();
      stop();
      setContext(S.contexts[S.contexts.length - 1]);
    }
  });
  function onMove(e) {
    if (!S) return;
    const i = nodeAt(scatter.positions(), e.offsetX, e.offsetY);
    if (i !== hover) {
      hover = i;
      draw();
    }
    if (i < 0) return tip.hide();
    const ci = frame(), n = S.n, T = S.contexts[ci];
    const occ = S.a.occurrences ? S.a.occurrences.data[ci * n + i] : NaN;
    const ws = S.a.window_start ? S.a.window_start.data[ci] : NaN;
    const groups = S.groups.map((g) => `${g} ${S.a[`group:${g}`].data[i]}`).join(", ");
    const lines = [`${S.words[i]}${groups ? ` (${groups})` : ""}`];
    if (Number.isFinite(occ)) lines.push(`${occ.toFixed(1)} occurrences per walk in [${ws}, ${T}) (${S.n_walks} walks)`);
    lines.push(`neighbours: ${neighbours(S.a.adjacency.data, n, i).map((j) => S.words[j]).join(", ")}`);
    const r = root.getBoundingClientRect(), c = scatter.canvas.getBoundingClientRect();
    tip.show(lines.join("\n"), c.left - r.left + e.offsetX, c.top - r.top + e.offsetY);
    tip.el.dataset.node = String(i);
  }
  scatter.canvas.addEventListener("mousemove", onMove);
  scatter.canvas.addEventListener("mouseleave", () => {
    tip.hide();
    if (hover >= 0) {
      hover = -1;
      draw();
    }
  });
  const onStatic = () => {
    loadStatic();
    draw();
  };
  const onSweep = () => {
    const m = model.get("_sweep_meta");
    if (m) cache.delete(m.layer);
    draw();
  };
  const events = [
    ["change:_static", onStatic],
    ["change:_sweep", onSweep],
    ["change:layer", draw],
    ["change:context", draw],
    ["change:components", draw],
    ["change:color_by", draw],
    ["change:_bundle", onStatic]
  ];
  for (const [ev, fn] of events) model.on(ev, fn);
  const stopTheme = onThemeChange(draw);
  loadStatic();
  draw();
  return () => {
    stop();
    stopTheme();
    for (const [ev, fn] of events) model.off(ev, fn);
  };
}
var graph_reorganization_default = { render };
export {
  FRAME_MS,
  graph_reorganization_default as default
};
