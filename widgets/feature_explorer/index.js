// FeatureExplorer front end (workbench/widgets/feature_explorer.py): an sae picker (architecture · sparsity · seed),
// a scatter of correlational (best label detection) against causal score over the picked sae's latents with the
// model's own neurons as grey rings (a click selects the nearest latent), a latent list sortable by frequency, best
// label score, causal effect and cross-seed match, and for the selected latent its label score bars, its causal
// effect beside its correlational score, its activation histogram, its top-activating contexts with each token
// shaded by its activation, its decoder direction's top tokens and its best match under another seed. Per-sae and
// per-latent data come from `_saes` and `_latents` (everything when it fits the offline budget, else the kernel
// sends what is picked); a page without a kernel says what it lacks.
import { hasKernel, kernelNote } from "../lib/offline.js";
import "../lib/offline.css";
import { cssVar, onThemeChange, theme } from "../lib/theme.js";
import { createTooltip } from "../lib/tooltip.js";
import { gap, latentKey, num, order, pct, pointAt, readPacked, row, saeKey, SORTS } from "./data.js";
import { COLORS, drawBars, drawContexts, drawHistogram, drawScatter } from "./draw.js";
import "./styles.css";

/** Rows the latent list shows at most (the best ones under the picked sort). */
const LIST_MAX = 400;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

const quote = (t) => JSON.stringify(String(t));

function render({ model, el: host }) {
  const root = el("div", "wb-fe");
  host.appendChild(root);
  const tip = createTooltip(root, "wb-fe-tooltip");
  let info = model.get("_info");
  let summary = readPacked(info.summary_meta, model.get("_summary"));
  const parsed = new Map(); // key -> {entry, value}
  let points = [];
  let shownContexts = { rows: [], boxes: [] };

  // ---------------------------------------------------------------------------------------------------- layout
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

  const th = () => ({ ...theme(root), grid: cssVar(root, "--jp-border-color2", "#ccc"),
    mono: cssVar(root, "--jp-code-font-family", "monospace") });

  function save(values) {
    for (const [k, v] of Object.entries(values)) model.set(k, v);
    try {
      model.save_changes();
    } catch (e) {
      // no kernel (an exported page): the view still follows the local values
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

  // ------------------------------------------------------------------------------------------------- drawing
  function drawControls() {
    if (saeSel.options.length !== info.saes.length) {
      saeSel.replaceChildren(...info.saes.map((name, s) => {
        const o = el("option", "", name);
        o.value = String(s);
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
    const out = drawScatter(scatter, { xs: sp.arrays.best.data, ys: sp.arrays.causal.data, ux, uy,
      selected: model.get("latent"), xLabel: "correlational: best label score", yLabel: "causal effect", t,
      guides: { x: info.well_correlated ?? NaN, y: info.no_effect ?? NaN }, yScale: yScaleSel.value });
    points = out.points;
    const g = out.geo;
    Object.assign(scatter.dataset, { x0: g.x0, x1: g.x1, y0: g.y0, y1: g.y1, xlo: g.xlo, xhi: g.xhi, ylo: g.ylo,
      yhi: g.yhi, yScale: g.yScale, sae: String(s), latent: String(model.get("latent")),
      drawn: String(Number(scatter.dataset.drawn || 0) + 1) });
    scatter.setAttribute("aria-label", `best label score against causal effect for the ${info.n_latents} latents of `
      + `${info.saes[s]}; click a point to select its latent`);
    const keys = [["latent", COLORS.latent, "SAE latents"], ["selected", COLORS.selected, `latent ${model.get("latent")}`]];
    if (ux) keys.push(["unit", COLORS.unit, `neurons / residual dims (${info.unit_kinds.join(", ")})`]);
    const well = info.well_correlated ?? NaN, none = info.no_effect ?? NaN;
    if (Number.isFinite(well) && Number.isFinite(none)) {
      const g = gap(sp.arrays.best.data, sp.arrays.causal.data, well, none);
      let text = `dashed: best label score ${num(well, 2)}, causal effect ${num(none)}. Well-correlated latents: `
        + `${g.well}; with no causal effect: ${g.none}${g.well ? ` (${pct(g.none / g.well, 0)})` : ""}`;
      if (ux) {
        const u = gap(ux, uy, well, none);
        text += `. Neurons / residual dims: ${u.well}; with no causal effect: ${u.none}`
          + `${u.well ? ` (${pct(u.none / u.well, 0)})` : ""}`;
      }
      gapLine.textContent = text + ".";
      Object.assign(gapLine.dataset, { well: String(g.well), none: String(g.none) });
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
    for (const [k, text] of [[null, "latent"], ["frequency", "freq"], ["detection", "best label"],
      ["causal", "causal"], ["match", "match"]]) {
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
      tr.append(el("td", "", String(l)), el("td", "", pct(a.frequency.data[l])),
        el("td", "", bl >= 0 ? `${label} ${num(a.best.data[l], 2)}` : "—"), el("td", "", num(a.causal.data[l])),
        el("td", "", num(a.match_cosine.data[l], 2)));
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
    // causal beside correlational, each with its rank among this sae's latents and the best neuron's
    const rank = (arr, v) => (Number.isFinite(v) ? 1 + Array.from(arr).filter((x) => x > v).length : NaN);
    const best = a.best.data[l], causal = a.causal.data[l];
    const mk = (name, v, r, unit, cls) => {
      const d = el("div", `wb-fe-score ${cls}`);
      d.dataset.value = String(v);
      d.append(el("span", "wb-fe-scorename", name), el("span", "wb-fe-scorevalue", num(v)),
        el("span", "wb-fe-note", `rank ${Number.isFinite(r) ? r : "—"} of ${info.n_latents}` +
          (Number.isFinite(unit) ? ` · best neuron ${num(unit)}` : "")));
      return d;
    };
    const maxOf = (arr) => (arr ? Math.max(...Array.from(arr.data).filter(Number.isFinite)) : NaN);
    compare.replaceChildren(
      mk(`correlational (${bl >= 0 ? info.labels[bl] : "no label"})`, best, rank(a.best.data, best), maxOf(summary.unit_best), "corr"),
      mk("causal effect", causal, rank(a.causal.data, causal), maxOf(summary.unit_causal), "causal"));
    // decoder top tokens
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
    // the best match under another seed
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
    histNote.textContent = nActive ? `active on ${nActive} of the ${n} samples kept in the Dataset (${pct(nActive / n)}); `
      + `largest ${num(amax)}`
      : "never active on these samples (a dead latent)";
    const rows = [];
    let off = 0;
    for (let k = 0; k < a.ctx_start.data.length; k++) {
      const start = a.ctx_start.data[k], len = a.ctx_len.data[k];
      const acts = a.ctx_act.data.subarray(off, off + len);
      off += len;
      rows.push({ tokens: info.tokens.slice(start, start + len), acts, peak: a.ctx_peak.data[k],
        label: `#${k + 1}  ${num(acts[a.ctx_peak.data[k]], 2)}` });
    }
    const boxes = drawContexts(contexts, rows, amax, t);
    shownContexts = { rows, boxes };
    contexts.dataset.boxes = JSON.stringify(boxes);
    contexts.dataset.amax = String(amax);
    contexts.dataset.shown = latentKey(s, l);
    contexts.dataset.strings = Array.from(a.ctx_string.data).join(",");
    ctxNote.textContent = rows.length ? rows.map((r, k) => `#${k + 1}: ${info.texts[a.ctx_string.data[k]]}`).join("   ")
      : "no context activates it";
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
    head.textContent = `latent ${l} · frequency ${pct(a.frequency.data[l], 2)} · best label `
      + `${bl >= 0 ? info.labels[bl] : "—"} ${num(a.best.data[l])} · causal ${num(a.causal.data[l])}`;
    head.dataset.latent = String(l);
    head.dataset.sae = String(s);
    drawScatterPane(sp);
    drawList(sp);
    drawSaePanels(sp, s, l);
    drawDetail(s, l);
  }

  // --------------------------------------------------------------------------------------------------- events
  saeSel.addEventListener("change", () => save({ sae: Number(saeSel.value) }));
  sortSel.addEventListener("change", () => save({ sort: sortSel.value }));
  yScaleSel.addEventListener("change", draw); // a view setting: nothing to sync
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
    if (i < 0 || !sp) { tip.hide(); scatter.style.cursor = ""; return; }
    const a = sp.arrays, bl = a.best_label.data[i];
    scatter.style.cursor = "pointer";
    const r = scatter.getBoundingClientRect(), rr = root.getBoundingClientRect();
    tip.show(`latent ${i} · ${bl >= 0 ? info.labels[bl] : "—"} ${num(a.best.data[i])} · causal ${num(a.causal.data[i])}`,
      x + r.left - rr.left, y + r.top - rr.top);
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

export default { render };
