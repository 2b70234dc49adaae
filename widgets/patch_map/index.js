// PatchMap front end (workbench/widgets/patch_map.py): a layer x position heat map of a patching effect per site
// (tabs), a layer x head view, a pair picker with the mean over pairs, an exact / attribution toggle with Pearson r,
// hover read-outs, and a clicked (or keyboard-selected) cell's top logit changes read from the saved top-k arrays.
// Maps come from `_summary` (the mean over pairs) or `_pairs` (each pair; all of them when they fit the offline
// budget, else the kernel sends the picked one); a page without a kernel says what it lacks.
import { hasKernel, kernelNote } from "../lib/offline.js";
import "../lib/offline.css";
import { LABEL_FONT_PX } from "../lib/labels.js";
import { cssVar, onThemeChange, theme } from "../lib/theme.js";
import { createTooltip } from "../lib/tooltip.js";
import { block, differAny, meanLabels, nanMean, num, readPacked, signed, topChanges } from "./data.js";
import { drawLegend, drawMap, drawRings } from "./draw.js";
import { cellAt, mapLayout, moveSelection } from "./layout.js";
import { symmetricMax } from "./scale.js";
import "./styles.css";

const HEAD = "head";

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

const quote = (t) => JSON.stringify(String(t));

function render({ model, el: host }) {
  const root = el("div", "wb-pm");
  host.appendChild(root);
  const tip = createTooltip(root, "wb-pm-tooltip");
  let info = model.get("_info");
  let summary = readPacked(info.summary_meta, model.get("_summary"));
  const parsed = new Map(); // pair -> {payload, arrays}
  let headSpan = 0;
  let hover = null;
  let geo = null;
  let current = null; // what the map shows: {view, src, arrays, values, ...}

  // ---------------------------------------------------------------------------------------------------- layout
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
  canvas.setAttribute("data-lm-suppress-shortcuts", "true"); // JupyterLab would take the arrows for the notebook
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

  // ----------------------------------------------------------------------------------------------------- state
  function save(values) {
    for (const [k, v] of Object.entries(values)) model.set(k, v);
    try {
      model.save_changes();
    } catch (e) {
      // no kernel (an exported page): the view still follows the local values
    }
  }

  const layers = () => Array.from(summary.layers.data, (v) => Math.round(v));
  const sites = () => info.sites;
  const headMethod = () => (info.head_methods.includes(model.get("method")) ? model.get("method") : info.head_methods[0]);
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

  /** What the map shows now, or {missing} when the picked pair is not here. */
  function view() {
    const p = model.get("pair"), site = model.get("site");
    const arrays = p < 0 ? summary : pairArrays(p);
    if (!arrays) return { missing: true, p };
    const L = layers().length;
    if (site === HEAD) {
      const m = headMethod();
      const key = `${m}:head_effect`;
      const H = info.n_heads;
      const span = Math.min(headSpan, spans() - 1);
      const heads = info.head_methods.map((h) => arrays[`${h}:head_effect`].data);
      return {
        view: HEAD, p, arrays, method: m, span, nRows: L, nCols: H,
        values: block(arrays[key], span), metric: block(arrays[`${m}:head_metric`], span),
        m: symmetricMax(...heads),
        cols: Array.from({ length: H }, (_, h) => `h${h}`), marks: null,
      };
    }
    const m = model.get("method"), s = sites().indexOf(site);
    const X = info.n_cells;
    const effects = info.methods.map((k) => arrays[`${k}:effect`].data);
    const cols = p < 0 ? meanLabels(info.tokens) : info.tokens[p];
    const marks = info.cells === "position"
      ? (p < 0 ? differAny(summary.differ) : summary.differ.data.subarray(p * X, (p + 1) * X)) : null;
    return {
      view: site, p, arrays, method: m, s, nRows: L, nCols: X,
      values: block(arrays[`${m}:effect`], s), metric: block(arrays[`${m}:metric`], s),
      m: symmetricMax(...effects), cols, marks,
    };
  }

  function selected(v) {
    const row = layers().indexOf(model.get("layer"));
    const col = v.view === HEAD ? model.get("head") : model.get("position");
    return row >= 0 && col >= 0 ? { row, col } : null;
  }

  // ---------------------------------------------------------------------------------------------- controls
  function drawControls() {
    const site = model.get("site"), method = model.get("method");
    const r = summary["attribution:pearson_r"];
    const hr = summary["attribution:head_pearson_r"];
    const names = [...sites(), ...(info.head_methods.length ? [HEAD] : [])];
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
      const rv = method === "attribution" ? (n === HEAD ? (hr ? hr.data[0] : NaN) : (r ? r.data[i] : NaN)) : NaN;
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
      pairSel.replaceChildren(...opts.map(([v, t]) => { const o = el("option", "", t); o.value = v; return o; }));
    }
    pairSel.value = String(model.get("pair"));
    pairSel.disabled = info.n_pairs < 2;
    spanBox.hidden = !(site === HEAD && info.head_spans.length > 1);
    if (spanSel.options.length !== info.head_spans.length) {
      spanSel.replaceChildren(...info.head_spans.map((t, i) => { const o = el("option", "", t); o.value = String(i); return o; }));
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
    const dir = { denoise: "denoising (clean activations into the corrupted run)",
      noise: "noising (corrupted activations into the clean run)" }[info.direction] || info.direction;
    title.textContent = `Patching · ${info.metric}` + (info.model ? ` · ${info.model}` : "");
    const p = model.get("pair");
    const pick = (name) => (p < 0 ? nanMean(summary[name].data) : summary[name].data[p]);
    const clean = pick("clean_metric"), bad = pick("corrupted_metric");
    const metrics = Number.isFinite(clean) || Number.isFinite(bad)
      ? ` · clean ${num(clean)}, corrupted ${num(bad)}${p < 0 ? " (means)" : ""}` : "";
    const ans = p < 0 ? [...new Set(info.answers.map((a) => a.join("\u0000")))] : [];
    const pairAns = p >= 0 ? info.answers[p] : (ans.length === 1 ? info.answers[0] : null);
    const answer = pairAns ? ` · answer ${quote(pairAns[0])} vs ${quote(pairAns[1])}` : "";
    sub.textContent = `${model.get("method")} · ${dir}${answer}${metrics}`;
  }

  // ------------------------------------------------------------------------------------------------------ map
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
    const { nan, every } = drawMap(canvas, geo, { values: v.values, m: v.m, rows: layers(), cols: v.cols,
      marks: v.marks, rowTitle: "layer" }, t);
    drawRings(overlay, geo, selected(v), hover, t);
    drawLegend(legend, v.m, t, (x) => num(x, 2));
    legendText.textContent = "effect: 1 = restores the clean answer, 0 = no change" + (nan ? " · hatched: no value" : "");
    Object.assign(canvas.dataset, {
      x0: geo.x0, y0: geo.y0, cw: geo.cw, ch: geo.ch, nRows: geo.nRows, nCols: geo.nCols, domain: v.m,
      view: v.view, pair: String(p), method: v.method, span: v.view === HEAD ? String(v.span) : "",
      source: p < 0 ? "mean" : "pair", labelEvery: every, nan,
      marks: v.marks ? Array.from(v.marks).map((x, i) => (x ? i : -1)).filter((i) => i >= 0).join(",") : "",
      drawn: String(Number(canvas.dataset.drawn || 0) + 1),
    });
    const sel = selected(v);
    canvas.dataset.selected = sel ? `${sel.row},${sel.col}` : "";
    status.textContent = p < 0 ? `mean over ${info.n_pairs} pairs (NaN ignored)` : "";
    drawTop(v);
  }

  /** Pixels the longest column label needs (rotated, so this is height under the map). */
  function labelRoom(cols, t) {
    const ctx = canvas.getContext("2d");
    ctx.font = `bold ${LABEL_FONT_PX}px ${t.family}`;
    let w = 0;
    for (const c of cols) w = Math.max(w, ctx.measureText(String(c)).width);
    return Math.ceil(w) + 10;
  }

  // -------------------------------------------------------------------------------------------- top changes
  function cellName(v, row, col) {
    const layer = layers()[row];
    if (v.view === HEAD) {
      const span = info.head_spans.length > 1 ? ` · span ${info.head_spans[v.span]}` : "";
      return `layer ${layer} · head ${col}${span}`;
    }
    const emb = v.view === "resid" && row === 0 && layer === 0 ? " (embeddings)" : "";
    const where = info.cells === "span" ? `span ${col}${info.span_positions[col] ? `: positions ${info.span_positions[col]}` : ""}`
      : `pos ${col}`;
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
      bar.style.width = `${Math.round((Math.abs(change) / big) * 48)}px`;
      li.append(el("span", "wb-pm-tok", quote(token)), el("span", "wb-pm-chg", signed(change)), bar);
      ol.append(li);
    }
    return ol;
  }

  function topSource(v) {
    if (v.view === HEAD) {
      const m = info.head_topk.includes(v.method) ? v.method : info.head_topk[0];
      return m ? { m, key: "head_top" } : null;
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
    top.append(el("div", "wb-pm-toptitle", cellName(v, sel.row, sel.col)),
      el("div", "wb-pm-topvalue", `effect ${num(value)} · metric ${num(metric)}${v.p < 0 ? ` (mean over ${info.n_pairs} pairs)` : ""}`));
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

  // -------------------------------------------------------------------------------------------------- input
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
  const events = ["change:pair", "change:site", "change:method", "change:layer", "change:position", "change:head",
    "change:_pairs"];
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

export default { render };
