// PopulationExplorer front end: controls (axes, colour, hyperparameter filters, "has head type"), the scatter
// (scatter.js) and, beside it, the selected model's attention maps drawn by the AttentionMap view (../attention_map/
// view.js) reading the explorer's map_* traits, or, in offline mode, the selected model's map from the saved state
// (`_maps`: every model on every example). Filtering runs here and, identically, in PopulationExplorer.visible().
import { decode } from "../lib/binary.js";
import { hasKernel, kernelNote } from "../lib/offline.js";
import { onThemeChange, theme } from "../lib/theme.js";
import { createTooltip } from "../lib/tooltip.js";
import { mount, renamed } from "../attention_map/view.js";
import { colorScale, createScatter } from "./scatter.js";
import "../attention_map/styles.css";
import "./styles.css";

const MAP_NAMES = {
  prompt: "sample", layer: "map_layer", head: "map_head", layer_labels: "map_layer_labels",
  head_labels: "map_head_labels", query_tokens: "map_query_tokens", key_tokens: "map_key_tokens", title: "map_title",
  _thumbs: "_map_thumbs", _thumbs_meta: "_map_thumbs_meta", _head: "_map_head", _head_meta: "_map_head_meta",
  _annotations: "_map_annotations", _annotations_meta: "_map_annotations_meta", _scores: "_map_scores",
  _scores_meta: "_map_scores_meta",
};

/** The saved map of model `sel` on example `sample` (offline mode), or null. */
export function savedMap(maps, sel, sample) {
  return (maps && sel >= 0 && maps[`${sel}/${sample}`]) || null;
}

/**
 * The linked map's source: the selected model's map from the saved state when it holds it (then no message goes to
 * the kernel), else the map_* traits the kernel fills. Choosing another model or example rebuilds the map.
 */
export function mapSource(model) {
  const base = renamed(model, MAP_NAMES);
  const entry = () => savedMap(model.get("_maps"), model.get("selected"), model.get("sample"));
  const rebuilds = new Map();
  return {
    ...base,
    get(k) {
      const e = entry();
      if (!e) return base.get(k);
      if (k in e) return e[k];
      const [L, H] = (e._thumbs_meta && e._thumbs_meta.shape) || [1, 1];
      if (k === "layer") return Math.max(0, Math.min(base.get("layer"), L - 1));
      if (k === "head") return Math.max(0, Math.min(base.get("head"), H - 1));
      if (k === "_head_meta" || k === "_heads_meta") return {}; // every head comes from the entry itself
      return base.get(k);
    },
    on(ev, fn) {
      base.on(ev, fn);
      if (ev !== "change:_thumbs") return;
      const again = () => fn();
      rebuilds.set(fn, again);
      model.on("change:selected", again);
      model.on("change:sample", again);
    },
    off(ev, fn) {
      base.off(ev, fn);
      const again = rebuilds.get(fn);
      if (ev !== "change:_thumbs" || !again) return;
      model.off("change:selected", again);
      model.off("change:sample", again);
      rebuilds.delete(fn);
    },
  };
}

const same = (a, b) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));

/** Which models pass the filters (mirrors PopulationExplorer.visible). */
export function visibleModels(cols, n, filters, hasHead, threshold, xs, ys) {
  const keep = new Array(n).fill(true);
  for (const [h, allowed] of Object.entries(filters || {})) {
    const c = cols[h];
    if (!c || allowed == null) continue;
    for (let i = 0; i < n; i++) if (!allowed.some((a) => same(c[i], a))) keep[i] = false;
  }
  if (hasHead && cols[`max_id_${hasHead}`]) {
    const c = cols[`max_id_${hasHead}`], t = Math.fround(threshold);
    for (let i = 0; i < n; i++) if (!(c[i] >= t)) keep[i] = false;
  }
  for (let i = 0; i < n; i++) if (!Number.isFinite(xs[i]) || !Number.isFinite(ys[i])) keep[i] = false;
  return keep;
}

function select(options, value, cls, onChange) {
  const s = document.createElement("select");
  s.className = cls;
  for (const [v, text] of options) {
    const o = document.createElement("option");
    o.value = v;
    o.textContent = text;
    s.append(o);
  }
  s.value = value;
  s.addEventListener("change", () => onChange(s.value));
  return s;
}

function labelled(text, control) {
  const l = document.createElement("label");
  l.append(text, control);
  return l;
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "wb-pe";
  const left = document.createElement("div");
  left.className = "wb-pe-left";
  const right = document.createElement("div");
  right.className = "wb-pe-right";
  root.append(left, right);
  el.appendChild(root);
  const tip = createTooltip(root, "wb-pe-tooltip");

  let cols = {}, n = 0;
  function readTable() {
    const meta = model.get("_table_meta");
    const arr = decode(meta, model.get("_table"));
    n = arr.shape[1];
    cols = Object.fromEntries(meta.names.map((name, i) => [name, arr.data.subarray(i * n, (i + 1) * n)]));
  }
  readTable();
  const set = (obj) => { model.set(obj); model.save_changes(); };

  // ---------------------------------------------------------------------------------------------- controls
  const title = document.createElement("div");
  title.className = "wb-pe-title";
  const controls = document.createElement("div");
  controls.className = "wb-pe-controls";
  const varOpts = () => model.get("variables").map((v) => [v, v]);
  const xSel = select(varOpts(), model.get("x"), "wb-pe-x", (v) => set({ x: v }));
  const ySel = select(varOpts(), model.get("y"), "wb-pe-y", (v) => set({ y: v }));
  const cSel = select([["", "(none)"], ...varOpts()], model.get("color"), "wb-pe-color", (v) => set({ color: v }));
  controls.append(labelled("x ", xSel), labelled("y ", ySel), labelled("colour ", cSel));
  const filt = document.createElement("div");
  filt.className = "wb-pe-filters";
  const hyper = model.get("hyperparameters");
  for (const [h, values] of Object.entries(hyper)) {
    const row = document.createElement("div");
    row.className = "wb-pe-filter";
    row.dataset.name = h;
    row.append(`${h}: `);
    for (const v of values) {
      const cb = document.createElement("input");
      cb.type = "checkbox";
      cb.value = String(v);
      cb.dataset.name = h;
      cb.addEventListener("change", () => {
        const boxes = [...row.querySelectorAll("input")];
        const on = boxes.filter((b) => b.checked).map((b) => Number(b.value));
        const f = { ...model.get("filters") };
        if (on.length === boxes.length) delete f[h];
        else f[h] = on;
        set({ filters: f });
      });
      row.append(labelled(cb, String(v)));
    }
    filt.append(row);
  }
  const hh = select([["", "(any)"], ...model.get("score_types").map((s) => [s, s])], model.get("has_head"),
    "wb-pe-hashead", (v) => set({ has_head: v }));
  const thr = document.createElement("input");
  thr.type = "number";
  thr.className = "wb-pe-threshold";
  thr.min = "0";
  thr.max = "1";
  thr.step = "0.05";
  thr.value = String(model.get("threshold"));
  thr.addEventListener("change", () => set({ threshold: Number(thr.value) }));
  const hhRow = document.createElement("div");
  hhRow.append(labelled("has head ", hh), labelled(" ≥ ", thr));
  filt.append(hhRow);

  const scatter = createScatter((i) => set({ selected: i }), hover);
  const legend = document.createElement("div");
  legend.className = "wb-pe-legend";
  const status = document.createElement("div");
  status.className = "wb-pe-status";
  left.append(title, controls, filt, scatter.canvas, legend, status);

  // --------------------------------------------------------------------------------------------- linked map
  const mapHead = document.createElement("div");
  mapHead.className = "wb-pe-maphead";
  const sampleSel = select(model.get("sample_labels").map((s, i) => [String(i), s]), String(model.get("sample")),
    "wb-pe-sample", (v) => set({ sample: Number(v) }));
  const mapMsg = document.createElement("div");
  mapMsg.className = "wb-pe-mapmsg";
  mapHead.append(labelled("example ", sampleSel), mapMsg);
  const note = kernelNote("wb-pe-note");
  const mapEl = document.createElement("div");
  mapEl.className = "wb-pe-map";
  right.append(mapHead, note.el, mapEl);
  const unmount = mount(mapSource(model), mapEl);

  function hover(i, x, y) {
    if (i === null) return tip.hide();
    const hp = Object.keys(hyper).map((h) => `${h}=${+cols[h][i].toPrecision(4)}`).join(" ");
    const acc = ["id_accuracy", "ood_accuracy"].filter((c) => cols[c]).map((c) => `${c} ${cols[c][i].toFixed(3)}`);
    const lines = [`model ${model.get("model_labels")[i]}`, hp, acc.join(" · "),
      `top head: ${model.get("top_heads")[i] || "none"}`];
    const xv = cols[model.get("x")][i], yv = cols[model.get("y")][i];
    lines.push(`${model.get("x")} ${xv.toFixed(3)} · ${model.get("y")} ${yv.toFixed(3)}`);
    tip.show(lines.join("\n"), scatter.canvas.offsetLeft + x, scatter.canvas.offsetTop + y);
  }

  function draw() {
    const th = theme(root);
    const xs = cols[model.get("x")], ys = cols[model.get("y")], c = model.get("color");
    const cs = c ? cols[c] : null;
    const visible = visibleModels(cols, n, model.get("filters"), model.get("has_head"), model.get("threshold"), xs, ys);
    const sel = model.get("selected");
    scatter.draw({ xs, ys, cs, visible, sel, xName: model.get("x"), yName: model.get("y"), th });
    xSel.value = model.get("x");
    ySel.value = model.get("y");
    cSel.value = c;
    hh.value = model.get("has_head");
    thr.value = String(model.get("threshold"));
    const f = model.get("filters") || {};
    for (const cb of filt.querySelectorAll("input[type=checkbox]"))
      cb.checked = !f[cb.dataset.name] || f[cb.dataset.name].some((a) => same(Number(cb.value), a));
    legend.textContent = "";
    if (cs) {
      legend.append(`${c}: `);
      for (const [v, col] of colorScale(cs).legend) {
        const sw = document.createElement("span");
        sw.className = "wb-pe-swatch";
        sw.style.background = col;
        legend.append(sw, ` ${+v.toPrecision(4)}  `);
      }
    }
    const shown = visible.filter(Boolean).length;
    status.textContent = `${shown} of ${n} models shown` + (sel >= 0 ? ` · selected: model ${model.get("model_labels")[sel]}` : "");
    title.textContent = model.get("title");
    root.dataset.selected = String(sel);
  }

  function onMap() {
    const sel = model.get("selected"), sample = model.get("sample");
    const noExamples = !model.get("sample_labels").length;
    const saved = savedMap(model.get("_maps"), sel, sample);
    const live = model.get("_map_key") === `${sel}/${sample}` && !!model.get("_map_thumbs_meta").shape;
    const ok = sel >= 0 && !noExamples && (!!saved || live);
    mapEl.hidden = !ok;
    mapMsg.textContent = sel < 0 || noExamples ? model.get("map_message") : ok || !hasKernel(model) ? "" : "loading …";
    if (sel >= 0 && !noExamples && !ok && !hasKernel(model))
      note.show(`The attention of model ${model.get("model_labels")[sel]} on example ${sample}`,
        (model.get("_offline") || {}).missing);
    else note.hide();
    sampleSel.value = String(sample);
    right.dataset.model = String(sel);
    right.dataset.mapFrom = !ok ? "" : saved ? "state" : "kernel";
  }

  const events = ["change:x", "change:y", "change:color", "change:filters", "change:has_head", "change:threshold",
    "change:selected"];
  for (const e of events) model.on(e, draw);
  model.on("change:_map_thumbs", onMap);
  model.on("change:map_message", onMap);
  model.on("change:_map_key", onMap);
  model.on("change:sample", onMap);
  model.on("change:selected", onMap);
  const stopTheme = onThemeChange(draw);
  draw();
  onMap();
  return () => {
    for (const e of events) model.off(e, draw);
    model.off("change:_map_thumbs", onMap);
    model.off("change:map_message", onMap);
    model.off("change:_map_key", onMap);
    model.off("change:sample", onMap);
    model.off("change:selected", onMap);
    stopTheme();
    scatter.dispose();
    unmount();
  };
}

export default { render };
