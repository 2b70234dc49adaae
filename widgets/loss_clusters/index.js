// LossClusters front end (workbench/widgets/loss_clusters.py): the basis list with sparklines, the selected vector's
// clusters (median + interquartile band of projected loss, their exact loss dashed, break markers, the tau line,
// rules where every vector was found), composition bars by a switchable label, the exact-loss clusters side by
// side, and the samples of a clicked cluster with their own trajectories. Everything is read from binary buffers;
// a vector's payload comes from the widget state (all of them when they fit the budget) or from the kernel.
import { hasKernel, kernelNote } from "../lib/offline.js";
import "../lib/offline.css";
import { cssVar, onThemeChange, theme } from "../lib/theme.js";
import { createTooltip } from "../lib/tooltip.js";
import { barLayout, barsHeight, drawBars, segmentAt } from "./bars.js";
import { chartGeometry, drawAxes, drawBand, drawLine, drawMarker, drawRule, exposeGeometry, setSize } from "./chart.js";
import { composition, highlight, labelCodes, members, readSummary, readVector, trajValue } from "./data.js";
import { clusterColor } from "./palette.js";
import { fmt, nearestIndex, row } from "./scales.js";
import "./styles.css";

const SIZE = { main: [420, 250], exact: [260, 250], compare: [320, 210], spark: [90, 22] };

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
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

/** Tooltip text for a cluster at one step. */
export function clusterTip(v, c, j, step, exact) {
  const n = v.nSteps;
  const lines = [`cluster ${c} (${v.sizes[c]} samples) · step ${fmt(step)}`,
    `projected loss: median ${fmt(v.median[c * n + j])}, IQR [${fmt(v.q1[c * n + j])}, ${fmt(v.q3[c * n + j])}]`];
  if (exact) lines.push(`exact loss (median): ${fmt(v.exactMedian[c * n + j])}`);
  lines.push(`mean break step: ${fmt(v.breaks[c])}`);
  return lines.join("\n");
}

function render({ model, el: host }) {
  const root = el("div", "wb-lc");
  host.appendChild(root);
  const tip = createTooltip(root, "wb-lc-tooltip");
  const parsed = new Map(); // vector -> readVector(payload)
  let info = model.get("_info");
  let summary = readSummary(info, model.get("_summary"));

  // ---------------------------------------------------------------------------------------------------- layout
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

  const th = () => ({ ...theme(root), grid: cssVar(root, "--jp-border-color2", "#e0e0e0"),
    bg: cssVar(root, "--jp-layout-color0", "#fff") });

  // ----------------------------------------------------------------------------------------------------- state
  function setTrait(name, value) {
    model.set(name, value);
    try {
      model.save_changes();
    } catch (e) {
      // no kernel (a static export): the view still follows the local value
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

  // -------------------------------------------------------------------------------------------- basis list
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
      const geo = chartGeometry(SIZE.spark[0], SIZE.spark[1], steps(), [mean, [0]]);
      const sx = (s) => 2 + ((s - geo.xmin) / (geo.xmax - geo.xmin || 1)) * (SIZE.spark[0] - 4);
      const sy = (v) => 2 + (1 - (v - geo.ymin) / (geo.ymax - geo.ymin || 1)) * (SIZE.spark[1] - 4);
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
      r.append(el("span", "wb-lc-k", `#${i}`), spark,
        el("span", "wb-lc-at", `step ${fmt(summary.found_at.data[i])}`),
        el("span", "wb-lc-n", kept ? `${n} cl.` : "dropped"),
        el("span", "wb-lc-h", Number.isFinite(best) ? `h ${best.toFixed(2)}` : "h –"));
      r.title = `vector #${i}: found at step ${fmt(summary.found_at.data[i])}, eigenvalue ${fmt(summary.eigenvalue.data[i])}`
        + `\nmean projected loss ${fmt(mean[0])} → ${fmt(mean[S - 1])}` + (kept ? `\n${n} clusters; best ${model.get("label")} homogeneity ${fmt(best)}` : "\ndropped by the vector filter: its mean projected loss rises");
      r.addEventListener("click", () => setTrait("basis", i));
      list.append(r);
    }
    list.setAttribute("aria-activedescendant", "");
    list.dataset.selected = String(b);
  }

  list.addEventListener("keydown", (e) => {
    const b = model.get("basis"), k = info.n_basis;
    const next = { ArrowDown: b + 1, ArrowUp: b - 1, Home: 0, End: k - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    setTrait("basis", Math.max(0, Math.min(k - 1, next)));
  });

  // ------------------------------------------------------------------------------------------------- charts
  let geo = null; // the main chart's geometry, for hover and clicks
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
    Object.assign(stage.dataset, { basis: v.vector, cluster: sel, nClusters: C, overlaid,
      breaks: JSON.stringify(Array.from(v.breaks).map((x) => (Number.isFinite(x) ? Math.round(x * 10) / 10 : null))) });
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
    // exact-loss clusters
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
    samples.append(el("div", "wb-lc-subtitle", `cluster ${sel} of vector #${v.vector}: ${idx.length} samples`
      + (shown.length < idx.length ? ` (first ${shown.length} listed)` : "")));
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
      labelSel.replaceChildren(...labels().map((n) => { const o = el("option", "", n); o.value = n; return o; }));
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
      setTrait("cluster", -1); // a cluster of the previous vector (the kernel does the same); redraws
      return;
    }
    if (!v && !info.all_in_state && !hasKernel(model)) note.show(`Vector #${b}`, (model.get("_offline") || {}).missing);
    else note.hide();
    if (!v) {
      status.textContent = info.all_in_state ? `vector #${b} is missing from the widget state`
        : `vector #${b}: waiting for the kernel (only the selected vector travels; a saved page without a kernel shows the vector selected when it was saved)`;
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

  // -------------------------------------------------------------------------------------------------- input
  function hitCluster(px, py) {
    const v = vectorData(model.get("basis"));
    if (!v || !geo || !v.nClusters) return null;
    const S = nSteps(), j = nearestIndex(steps(), geo.x.invert(px));
    let best = null, bestD = Infinity;
    for (let c = 0; c < v.nClusters; c++) {
      const lo = geo.y(v.q1[c * S + j]), hi = geo.y(v.q3[c * S + j]), m = geo.y(v.median[c * S + j]);
      const d = py >= Math.min(lo, hi) - 2 && py <= Math.max(lo, hi) + 2 ? 0 : Math.abs(py - m);
      if (d < bestD) { bestD = d; best = c; }
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
    if (next === undefined) return;
    e.preventDefault();
    setTrait("cluster", next >= v.nClusters ? -1 : next);
  });
  for (const [cv, rows] of [[barsCanvas, () => barRows], [eBars, () => eBarRows]]) {
    cv.addEventListener("mousemove", (e) => {
      const s = segmentAt(rows(), e.offsetX, e.offsetY);
      if (!s) return tip.hide();
      const r = root.getBoundingClientRect(), c = cv.getBoundingClientRect();
      tip.show(`${cv === barsCanvas ? "cluster" : "exact-loss cluster"} ${s.c}: ${model.get("label")} ${categories()[s.k]}`
        + ` ${(100 * s.share).toFixed(1)}% (${s.count} samples)`, c.left - r.left + e.offsetX, c.top - r.top + e.offsetY);
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

export default { render };
