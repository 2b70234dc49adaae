// GraphReorganization front end: the scatter of node means at context length T (scatter.js), a slider with
// play/pause, layer / component / colour pickers, and three curves against T (curves.js): accuracy, the energy ratio
// with its permutation-null band, Procrustes R^2, with the controls as grey lines. Every layer's sweep is read from
// the saved bundle when the page has one; otherwise picking a layer asks the kernel (trait `layer`), which answers
// with `_sweep`.
import { asBytes, unpack } from "../lib/binary.js";
import { cssVar, onThemeChange, theme } from "../lib/theme.js";
import { createTooltip } from "../lib/tooltip.js";
import { createPanel } from "./curves.js";
import { fitIndex, groupColors, nearestLog, neighbours, nodeAt } from "./geometry.js";
import { createScatter } from "./scatter.js";
import "./styles.css";

/** Milliseconds per frame when playing. */
export const FRAME_MS = 250;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
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

const pct = (v) => (Number.isFinite(v) ? `${(100 * v).toFixed(0)}%` : "—");
const num = (v, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : "—");

function render({ model, el: host }) {
  const root = el("div", "wb-gr");
  root.tabIndex = 0;
  // keys pressed inside the widget are the widget's: JupyterLab's notebook shortcuts (arrows move between cells,
  // space scrolls) are suppressed here
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
  side.append(title, sliderRow, tLabel, labelled("layer", layerSel), labelled("x", xSel), labelled("y", ySel),
    labelled("colour", colorSel), swatches, labelled("Laplacian layout", ghostBox), info, note);
  top.append(stage, side);
  const curves = el("div", "wb-gr-curves");
  const panels = {
    accuracy: createPanel("accuracy", "neighbour accuracy", (v) => pickT(v)),
    energy: createPanel("energy", "energy ratio (null band 1–99%)", (v) => pickT(v)),
    r2: createPanel("r2", "Procrustes R² (PC vs Laplacian 2–3)", (v) => pickT(v)),
  };
  curves.append(panels.accuracy.canvas, panels.energy.canvas, panels.r2.canvas);
  const legend = el("div", "wb-gr-legend");
  root.append(top, curves, legend);
  host.appendChild(root);
  const tip = createTooltip(root, "wb-gr-tooltip");

  let S = null; // static: {words, n, arrays, ...}
  const cache = new Map(); // layer -> unpacked sweep
  let hover = -1;
  let timer = null;

  const th = () => ({
    ...theme(root),
    grid: cssVar(root, "--jp-border-color2", "#ccc"),
    edge: cssVar(root, "--jp-border-color1", "#999"),
    ghost: cssVar(root, "--jp-ui-font-color2", "#777"),
    band: "rgba(128,128,128,0.22)",
    control: "rgba(128,128,128,0.85)",
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
    legend.textContent = S.controls.length
      ? `grey: controls (${S.controls.map((c, i) => `${c} = ${S.control_models[i]}`).join("; ")})` : "";
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
      note.textContent = `Layer ${layer} is not in this page's saved state: picking it needs a live kernel ` +
        `(the saved layers are ${S.layers.filter(inBundle).join(", ") || "none but the one shown first"}).`;
    } else {
      note.hidden = true;
      const pca = sw.a.pca.data;
      const xs = new Float32Array(n), ys = new Float32Array(n);
      for (let i = 0; i < n; i++) { xs[i] = pca[(ci * n + i) * K + c0]; ys[i] = pca[(ci * n + i) * K + c1]; }
      let gx = null, gy = null;
      const f = fitIndex(S.pairs, [c0, c1]);
      if (ghostBox.checked && f >= 0 && sw.a.fit) {
        gx = new Float32Array(n); gy = new Float32Array(n);
        const swap = c0 > c1 ? 1 : 0;
        for (let i = 0; i < n; i++) {
          const base = ((f * C + ci) * n + i) * 2;
          gx[i] = sw.a.fit.data[base + swap];
          gy[i] = sw.a.fit.data[base + 1 - swap];
        }
      }
      const ev = sw.a.explained ? sw.a.explained.data : null;
      scatter.draw({
        xs, ys, gx, gy, words: S.words, colors, adjacency: S.a.adjacency.data, hover, th: t,
        xLabel: `PC${c0 + 1}` + (ev ? ` (${pct(ev[ci * K + c0])})` : ""),
        yLabel: `PC${c1 + 1}` + (ev ? ` (${pct(ev[ci * K + c1])})` : ""),
      });
      const r2 = sw.a.procrustes_r2.data[ci], rho = sw.a.energy_ratio.data[ci];
      const p = sw.a.percentile ? sw.a.percentile.data[ci] : NaN;
      const absent = S.words.filter((_, i) => !Number.isFinite(xs[i]));
      info.textContent = `layer ${layer} · T = ${T}\nProcrustes R² ${num(r2)}\nenergy ratio ${num(rho)}` +
        (Number.isFinite(p) ? ` (${p.toFixed(1)}th percentile of its null)` : "") +
        (absent.length ? `\nnot in the window (masked): ${absent.join(", ")}` : "");
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
    const grey = (xs, arr, len) => S.controls.map((_, k) => ({ x: xs, y: ctrl(arr, k, len), color: t.control, width: 1 }));
    let band = null;
    if (a.accuracy_sd) {
      const m = a.accuracy.data, sd = a.accuracy_sd.data;
      band = { x: xpos, lo: m.map((v, i) => v - sd[i]), hi: m.map((v, i) => v + sd[i]), color: t.band };
    }
    let deg = 0;
    for (let i = 0; i < a.adjacency.data.length; i++) deg += a.adjacency.data[i];
    panels.accuracy.draw({
      series: [...(a.control_accuracy ? grey(xpos, a.control_accuracy, P) : []), { x: xpos, y: a.accuracy.data, color: t.accent, width: 2 }],
      band, refs: [{ y: deg / S.n / S.n, color: t.muted, dash: [1, 3] }], domain: [lo, hi], yrange: [0, 1], cursor: T, th: t,
    });
    if (!sw) {
      for (const k of ["energy", "r2"]) panels[k].draw({ series: [], band: null, domain: [lo, hi], yrange: [0, 1], cursor: T, th: t });
      return;
    }
    const xs = Float32Array.from(C);
    const nullBand = sw.a.null ? { x: xs, lo: sw.a.null.data.subarray(0, C.length),
      hi: sw.a.null.data.subarray((sw.quantiles.length - 1) * C.length, sw.quantiles.length * C.length), color: t.band } : null;
    const rho = sw.a.energy_ratio.data;
    let ymax = 1.2;
    for (const v of rho) if (Number.isFinite(v)) ymax = Math.max(ymax, v * 1.05);
    panels.energy.draw({
      series: [...(sw.a.control_energy_ratio ? grey(xs, sw.a.control_energy_ratio, C.length) : []), { x: xs, y: rho, color: t.accent, width: 2 }],
      band: nullBand, refs: [{ y: 1, color: t.muted }], domain: [lo, hi], yrange: [0, ymax], cursor: T, th: t,
    });
    panels.r2.draw({
      series: [...(sw.a.control_procrustes_r2 ? grey(xs, sw.a.control_procrustes_r2, C.length) : []), { x: xs, y: sw.a.procrustes_r2.data, color: t.accent, width: 2 }],
      band: null, domain: [lo, hi], yrange: [0, 1], cursor: T, th: t,
    });
  }

  // ------------------------------------------------------------------------------------------------ interaction
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
    if (frame() >= S.contexts.length - 1) setContext(S.contexts[0]); // replay from the start
    play.textContent = "❚❚ pause";
    root.dataset.playing = "1";
    timer = setInterval(() => {
      if (frame() >= S.contexts.length - 1) return stop();
      step(1);
    }, FRAME_MS);
  }
  const toggle = () => (timer ? stop() : start());
  play.addEventListener("click", toggle);
  slider.addEventListener("input", () => { stop(); setContext(S.contexts[Number(slider.value)]); });
  layerSel.addEventListener("change", () => { model.set("layer", Number(layerSel.value)); model.save_changes(); });
  const setComps = () => {
    const c = [Number(xSel.value), Number(ySel.value)];
    if (c[0] === c[1]) return draw(); // the kernel would refuse it: keep the old pair
    model.set("components", c);
    model.save_changes();
  };
  xSel.addEventListener("change", setComps);
  ySel.addEventListener("change", setComps);
  colorSel.addEventListener("change", () => { model.set("color_by", colorSel.value); model.save_changes(); });
  ghostBox.addEventListener("change", draw);
  root.addEventListener("keydown", (e) => {
    e.stopPropagation(); // keep the notebook from acting on the key too
    if (e.target instanceof HTMLSelectElement) return;
    if (e.key === " " || e.key === "Spacebar") { e.preventDefault(); toggle(); return; }
    if (e.target === slider) return; // the range input steps itself with the arrow keys
    const moves = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1 };
    if (e.key in moves) { e.preventDefault(); stop(); step(moves[e.key]); }
    if (e.key === "Home" && S) { e.preventDefault(); stop(); setContext(S.contexts[0]); }
    if (e.key === "End" && S) { e.preventDefault(); stop(); setContext(S.contexts[S.contexts.length - 1]); }
  });

  function onMove(e) {
    if (!S) return;
    const i = nodeAt(scatter.positions(), e.offsetX, e.offsetY);
    if (i !== hover) { hover = i; draw(); }
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
  scatter.canvas.addEventListener("mouseleave", () => { tip.hide(); if (hover >= 0) { hover = -1; draw(); } });

  const onStatic = () => { loadStatic(); draw(); };
  const onSweep = () => { const m = model.get("_sweep_meta"); if (m) cache.delete(m.layer); draw(); };
  const events = [["change:_static", onStatic], ["change:_sweep", onSweep], ["change:layer", draw],
    ["change:context", draw], ["change:components", draw], ["change:color_by", draw], ["change:_bundle", onStatic]];
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

export default { render };
