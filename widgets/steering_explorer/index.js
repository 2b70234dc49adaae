// SteeringExplorer front end (workbench/widgets/steering_explorer.py): a coefficient slider (arrow keys step through
// the Dataset's coefficients), a layer picker (one vector per layer) and a prompt picker; the unsteered and steered
// generations side by side with the positions the vector touched underlined and tokens shaded by log-probability;
// the evaluation curve with the random band, the prompt baseline, the fluency guard and a cursor at the selected
// coef; the layer sweep, frozen-attention and sparsity curves and the OV tokens table when present. Generations come
// from `_texts` (all of them when they fit the offline budget, else the kernel sends the picked layer and prompt); a
// page without a kernel says what it lacks.
import { hasKernel, kernelNote } from "../lib/offline.js";
import "../lib/offline.css";
import { cssVar, onThemeChange, theme } from "../lib/theme.js";
import { coefIndex, coefLabel, curveLayout, num, readPacked, row, shade, textKey } from "./data.js";
import { COLORS, drawCurve, drawSmall } from "./draw.js";
import "./styles.css";

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function render({ model, el: host }) {
  const root = el("div", "wb-se");
  host.appendChild(root);
  let info = model.get("_info");
  let summary = readPacked(info.summary_meta, model.get("_summary"));
  const parsed = new Map();

  const title = el("div", "wb-se-title");
  const controls = el("div", "wb-se-controls");
  const slider = el("input", "wb-se-slider");
  slider.type = "range";
  slider.min = "0";
  slider.step = "1";
  slider.setAttribute("aria-label", "steering coefficient: arrow keys step");
  slider.setAttribute("data-lm-suppress-shortcuts", "true");
  const coefOut = el("output", "wb-se-coef");
  const coefBox = el("label", "wb-se-field", "coef ");
  coefBox.append(slider, coefOut);
  const layerSel = el("select", "wb-se-layer");
  layerSel.setAttribute("aria-label", "layer of the steering vector");
  const layerBox = el("label", "wb-se-field", "layer ");
  layerBox.append(layerSel);
  const promptSel = el("select", "wb-se-prompt");
  promptSel.setAttribute("aria-label", "prompt");
  const promptBox = el("label", "wb-se-field", "prompt ");
  promptBox.append(promptSel);
  controls.append(coefBox, layerBox, promptBox);
  const panes = el("div", "wb-se-panes");
  const mkPane = (which) => {
    const p = el("div", "wb-se-pane");
    p.dataset.which = which;
    const head = el("div", "wb-se-panehead");
    const toks = el("div", "wb-se-tokens");
    p.append(head, toks);
    panes.append(p);
    return { p, head, toks };
  };
  const base = mkPane("unsteered"), steered = mkPane("steered");
  const readout = el("div", "wb-se-readout");
  readout.setAttribute("aria-live", "polite");
  const note = kernelNote("wb-se-kernelnote");
  const curve = el("canvas", "wb-se-curve");
  curve.setAttribute("role", "img");
  const legend = el("div", "wb-se-legend");
  const extras = el("div", "wb-se-extras");
  root.append(title, controls, panes, note.el, readout, curve, legend, extras);

  const th = () => ({ ...theme(root), grid: cssVar(root, "--jp-border-color2", "#ccc") });
  const coefs = () => info.coefs;
  const layerIndex = () => Math.max(0, info.layers.indexOf(model.get("layer")));

  function save(values) {
    for (const [k, v] of Object.entries(values)) model.set(k, v);
    try {
      model.save_changes();
    } catch (e) {
      // no kernel (an exported page): the view still follows the local values
    }
  }

  function payload(li, p) {
    const entry = (model.get("_texts") || {})[textKey(li, p)];
    if (!entry) return null;
    const hit = parsed.get(textKey(li, p));
    if (hit && hit.entry === entry) return hit.value;
    const value = { ...entry, arrays: readPacked(entry.meta, entry.data) };
    parsed.set(textKey(li, p), { entry, value });
    return value;
  }

  function drawControls() {
    slider.max = String(coefs().length - 1);
    const i = coefIndex(coefs(), model.get("coef"));
    slider.value = String(i);
    slider.setAttribute("aria-valuetext", `coef ${coefs()[i]}`);
    coefOut.textContent = coefLabel(coefs()[i]);
    layerBox.hidden = !info.layer_dim;
    if (layerSel.options.length !== info.layers.length) {
      layerSel.replaceChildren(...info.layers.map((l) => { const o = el("option", "", String(l)); o.value = String(l); return o; }));
    }
    layerSel.value = String(model.get("layer"));
    if (promptSel.options.length !== info.n_prompts) {
      promptSel.replaceChildren(...info.prompts.map((t, p) => {
        const o = el("option", "", `${p}: ${t.length > 48 ? t.slice(0, 47) + "…" : t}`);
        o.value = String(p);
        return o;
      }));
    }
    promptSel.value = String(model.get("prompt"));
    promptSel.disabled = info.n_prompts < 2;
    const bits = [`Steering · ${info.behaviour || "behaviour"}`];
    if (info.model) bits.push(info.model);
    bits.push(`layer ${model.get("layer")}`);
    if (info.where) bits.push(`added at ${info.where} positions`);
    if (info.vector_norm !== null) bits.push(`‖v‖ ${num(info.vector_norm, 2)}`);
    title.textContent = bits.join(" · ");
  }

  function fillPane(pane, gen, ci, p, label) {
    pane.head.textContent = label;
    pane.p.dataset.coef = String(coefs()[ci]);
    const toks = pane.toks;
    toks.replaceChildren();
    const ptoks = info.prompt_tokens[p] || [];
    const pt = summary.prompt_touched ? row(summary.prompt_touched, p) : null;
    const prompt = el("span", "wb-se-prompttext");
    if (ptoks.length) {
      ptoks.forEach((t, j) => {
        const s = el("span", "wb-se-ptok", t);
        if (pt && pt[j] > 0) s.classList.add("touched");
        prompt.append(s);
      });
    } else prompt.textContent = info.prompts[p] || "";
    const g = el("span", "wb-se-gen");
    const text = gen.text[ci];
    g.dataset.text = text;
    const tokens = gen.tokens[ci] || [];
    const touched = gen.arrays.touched ? row(gen.arrays.touched, ci) : null;
    const lp = gen.arrays.logprob ? row(gen.arrays.logprob, ci) : null;
    if (tokens.length) {
      tokens.forEach((t, j) => {
        const s = el("span", "wb-se-gtok", t);
        if (touched && touched[j] > 0) s.classList.add("touched");
        if (lp) {
          s.style.backgroundColor = `rgba(240,140,0,${shade(lp[j])})`;
          s.title = `log-prob ${num(lp[j])}`;
        }
        g.append(s);
      });
    } else g.textContent = text;
    toks.append(prompt, g);
  }

  function drawTexts() {
    const li = layerIndex(), p = model.get("prompt");
    const gen = payload(li, p);
    if (!gen) {
      for (const pane of [base, steered]) pane.toks.replaceChildren();
      const what = `Prompt ${p}${info.layer_dim ? ` at layer ${model.get("layer")}` : ""}`;
      if (hasKernel(model)) {
        note.hide();
        base.head.textContent = `${what}: waiting for the kernel`;
      } else note.show(what, model.get("_offline").missing);
      panes.dataset.shown = "";
      return;
    }
    note.hide();
    const ci = coefIndex(coefs(), model.get("coef"));
    const zi = coefs().indexOf(0);
    fillPane(base, gen, zi, p, "unsteered (coef 0)");
    fillPane(steered, gen, ci, p, `steered (coef ${coefLabel(coefs()[ci])})`);
    panes.dataset.shown = `${li}:${p}:${coefs()[ci]}`;
  }

  const series = (name, li, b) => {
    const a = summary[name];
    if (!a) return null;
    const C = coefs().length;
    return b === undefined ? a.data.subarray(li * C, (li + 1) * C) : a.data.subarray((li * 3 + b) * C, (li * 3 + b + 1) * C);
  };

  function drawCurves() {
    const t = th(), li = layerIndex(), ci = coefIndex(coefs(), model.get("coef"));
    const fluency = series("fluency", li);
    const geo = curveLayout(coefs(), !!fluency);
    const cx = drawCurve(curve, geo, {
      coefs: coefs(), steer: series("score", li, 0), random: series("score", li, 1), prompt: series("score", li, 2),
      low: series("random_low", li), high: series("random_high", li), fluency, coef: coefs()[ci],
      label: "score (log-prob behaviour − not)",
    }, t);
    Object.assign(curve.dataset, { x0: geo.x0, x1: geo.x1, cmin: geo.cmin, cmax: geo.cmax, top: geo.mainTop,
      bottom: geo.mainBottom, flTop: geo.fluency ? geo.flTop : "", flBottom: geo.fluency ? geo.flBottom : "",
      cursor: String(cx), coef: String(coefs()[ci]), drawn: String(Number(curve.dataset.drawn || 0) + 1) });
    curve.setAttribute("aria-label", `score against steering coefficient; cursor at coef ${coefs()[ci]}`);
    legend.replaceChildren(...[["steer", COLORS.steer, "steering vector"], ["random", COLORS.random, "random vectors (band: min–max)"],
      ["prompt", COLORS.prompt, "prompt baseline"], ...(fluency ? [["fluency", COLORS.fluency, "fluency"]] : []),
      ["cursor", COLORS.cursor, "selected coef"]].map(([k, c, text]) => {
      const s = el("span", "wb-se-key");
      s.dataset.key = k;
      const sw = el("span", "wb-se-swatch");
      sw.style.background = c;
      s.append(sw, document.createTextNode(text));
      return s;
    }));
    const at = (name, b) => { const s = series(name, li, b); return s ? s[ci] : NaN; };
    const parts = [`coef ${coefLabel(coefs()[ci])}: score ${num(at("score", 0))}`,
      `random ${num(at("score", 1))}`, `prompt ${num(at("score", 2))}`];
    if (summary.effect) parts.push(`effect ${num(at("effect", 0), 2)}`);
    if (fluency) parts.push(`fluency ${num(fluency[ci], 2)} (coef 0: ${num(fluency[coefs().indexOf(0)], 2)})`);
    if (summary.sentiment) parts.push(`sentiment ${num(at("sentiment"), 2)}`);
    readout.textContent = parts.join(" · ");
    readout.dataset.score = String(at("score", 0));
  }

  function drawExtras() {
    const t = th();
    extras.replaceChildren();
    const box = (name) => {
      const b = el("div", "wb-se-extra");
      b.dataset.extra = name;
      const c = el("canvas", "wb-se-small");
      b.append(c);
      extras.append(b);
      return { b, c };
    };
    if (summary.layer_effect) {
      const { c } = box("layers");
      drawSmall(c, { t, title: "layer sweep (effect per layer)", xLabel: "layer",
        series: [{ xs: summary.sweep_layers.data, ys: summary.layer_effect.data, color: COLORS.steer }],
        mark: Array.from(summary.sweep_layers.data).includes(model.get("layer")) ? model.get("layer") : null });
    }
    const li = layerIndex();
    if (summary.frozen_effect) {
      const { b, c } = box("frozen");
      const score = summary.effect ? series("effect", li, 0) : series("score", li, 0);
      drawSmall(c, { t, title: "frozen attention", xLabel: "coef", mark: model.get("coef"), series: [
        { xs: coefs(), ys: score, color: COLORS.steer },
        { xs: coefs(), ys: series("frozen_effect", li), color: COLORS.second, dash: [4, 3] }] });
      if (info.frozen_share !== null) b.append(el("div", "wb-se-note", `share kept with attention frozen: ${num(info.frozen_share, 2)}`));
    }
    if (summary.sparsity_effect) {
      const { b, c } = box("sparsity");
      const names = info.rankings.length ? info.rankings : ["magnitude", "attribution"];
      const colors = [COLORS.steer, COLORS.second];
      drawSmall(c, { t, title: "share of the effect kept vs sparsity", xLabel: "sparsity",
        series: names.map((_, r) => ({ xs: summary.sparsity.data, ys: row(summary.sparsity_effect, r), color: colors[r % 2] })) });
      b.append(el("div", "wb-se-note", names.map((n, r) => `${r % 2 ? "orange" : "blue"}: ${n}`).join(" · ")));
    }
    if (info.ov && info.ov.tokens) {
      const b = el("div", "wb-se-extra");
      b.dataset.extra = "ov";
      b.append(el("div", "wb-se-note", "top tokens of the vector through each head's OV circuit"));
      const table = el("table", "wb-se-ov");
      info.ov.tokens.forEach((toks, o) => {
        const tr = el("tr");
        const name = info.ov.layer.length ? `L${info.ov.layer[o]}.H${info.ov.head[o]}` : `#${o}`;
        tr.append(el("th", "", name));
        toks.forEach((tok, r) => {
          const w = summary.ov_weight ? row(summary.ov_weight, o)[r] : NaN;
          tr.append(el("td", "", `${JSON.stringify(tok)} ${num(w, 2)}`));
        });
        table.append(tr);
      });
      b.append(table);
      extras.append(b);
    }
  }

  function draw() {
    drawControls();
    drawTexts();
    drawCurves();
    drawExtras();
  }

  slider.addEventListener("input", () => save({ coef: coefs()[Number(slider.value)] }));
  layerSel.addEventListener("change", () => save({ layer: Number(layerSel.value) }));
  promptSel.addEventListener("change", () => save({ prompt: Number(promptSel.value) }));

  const onInfo = () => {
    info = model.get("_info");
    summary = readPacked(info.summary_meta, model.get("_summary"));
    parsed.clear();
    draw();
  };
  const events = ["change:coef", "change:layer", "change:prompt", "change:_texts"];
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
