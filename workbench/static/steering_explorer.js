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

// steering_explorer/data.js
function readPacked(meta, buffer) {
  return unpack(meta, buffer);
}
function coefIndex(coefs, coef) {
  let best = -1, gap = Infinity;
  coefs.forEach((c, i) => {
    const d = Math.abs(c - coef);
    if (d < gap) {
      gap = d;
      best = i;
    }
  });
  return best;
}
var textKey = (layerIndex, prompt) => `${layerIndex}:${prompt}`;
var CURVE = { width: 460, left: 56, right: 16, top: 14, main: 200, gap: 24, fluency: 70, bottom: 30 };
function curveLayout(coefs, fluency = true, g = CURVE) {
  const x0 = g.left, x1 = g.width - g.right;
  const mainTop = g.top, mainBottom = g.top + g.main;
  const flTop = mainBottom + g.gap, flBottom = fluency ? flTop + g.fluency : mainBottom;
  const height = (fluency ? flBottom : mainBottom) + g.bottom;
  const finite = coefs.filter(Number.isFinite);
  const cmin = finite.length ? Math.min(...finite) : 0, cmax = finite.length ? Math.max(...finite) : 1;
  return { width: g.width, height, x0, x1, mainTop, mainBottom, flTop, flBottom, cmin, cmax, fluency };
}
function xOf(geo, c) {
  if (geo.cmax === geo.cmin) return (geo.x0 + geo.x1) / 2;
  return geo.x0 + (c - geo.cmin) / (geo.cmax - geo.cmin) * (geo.x1 - geo.x0);
}
function yOf(top, bottom, lo, hi, v) {
  if (hi === lo) return (top + bottom) / 2;
  return bottom - (v - lo) / (hi - lo) * (bottom - top);
}
function shade(logprob) {
  if (!Number.isFinite(logprob)) return 0;
  return Math.round(Math.min(1, Math.max(0, -logprob / 6)) * 0.45 * 1e3) / 1e3;
}
function coefLabel(c) {
  if (!Number.isFinite(c)) return "—";
  if (c === 0) return "0";
  return (c < 0 ? "−" : "+") + String(Math.abs(c));
}

// steering_explorer/draw.js
var COLORS = {
  steer: "#1c7ed6",
  random: "#868e96",
  prompt: "#2f9e44",
  fluency: "#ae3ec9",
  cursor: "#e8590c",
  second: "#f08c00"
};
function line(ctx, xs, ys, x, y, color, dash = []) {
  ctx.save();
  ctx.strokeStyle = color;
  ctx.lineWidth = 2;
  ctx.setLineDash(dash);
  ctx.beginPath();
  let on = false;
  for (let i = 0; i < xs.length; i++) {
    if (!Number.isFinite(ys[i])) {
      on = false;
      continue;
    }
    const px = x(xs[i]), py = y(ys[i]);
    if (on) ctx.lineTo(px, py);
    else ctx.moveTo(px, py);
    on = true;
  }
  ctx.stroke();
  ctx.restore();
}
function dots(ctx, xs, ys, x, y, color) {
  ctx.fillStyle = color;
  for (let i = 0; i < xs.length; i++) {
    if (!Number.isFinite(ys[i])) continue;
    ctx.beginPath();
    ctx.arc(x(xs[i]), y(ys[i]), 2.5, 0, 2 * Math.PI);
    ctx.fill();
  }
}
function yTicks(ctx, top, bottom, lo, hi, left, t, fmt = (v) => v.toFixed(2)) {
  ctx.fillStyle = t.muted;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const v of [lo, (lo + hi) / 2, hi]) ctx.fillText(fmt(v).replace("-", "−"), left - 4, yOf(top, bottom, lo, hi, v));
}
function frame(ctx, x0, x1, top, bottom, t) {
  ctx.strokeStyle = t.grid;
  ctx.lineWidth = 1;
  ctx.strokeRect(x0 + 0.5, top + 0.5, x1 - x0 - 1, bottom - top - 1);
}
function drawCurve(canvas, geo, d, t) {
  const ctx = sized(canvas, geo.width, geo.height);
  ctx.font = `11px ${t.family}`;
  const x = (c) => xOf(geo, c);
  const [lo, hi] = extent(d.steer, d.random, d.low, d.high, d.prompt);
  const y = (v) => yOf(geo.mainTop, geo.mainBottom, lo, hi, v);
  frame(ctx, geo.x0, geo.x1, geo.mainTop, geo.mainBottom, t);
  if (d.low && d.high) {
    ctx.fillStyle = "rgba(134,142,150,0.25)";
    ctx.beginPath();
    d.coefs.forEach((c, i) => i ? ctx.lineTo(x(c), y(d.low[i])) : ctx.moveTo(x(c), y(d.low[i])));
    for (let i = d.coefs.length - 1; i >= 0; i--) ctx.lineTo(x(d.coefs[i]), y(d.high[i]));
    ctx.closePath();
    ctx.fill();
  }
  if (d.random) line(ctx, d.coefs, d.random, x, y, COLORS.random, [2, 3]);
  if (d.prompt) {
    const v = Array.from(d.prompt).find(Number.isFinite);
    if (v !== void 0) {
      ctx.save();
      ctx.strokeStyle = COLORS.prompt;
      ctx.lineWidth = 1.5;
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      ctx.moveTo(geo.x0, y(v));
      ctx.lineTo(geo.x1, y(v));
      ctx.stroke();
      ctx.restore();
    }
  }
  line(ctx, d.coefs, d.steer, x, y, COLORS.steer);
  dots(ctx, d.coefs, d.steer, x, y, COLORS.steer);
  yTicks(ctx, geo.mainTop, geo.mainBottom, lo, hi, geo.x0, t);
  ctx.save();
  ctx.translate(12, (geo.mainTop + geo.mainBottom) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = "center";
  ctx.fillStyle = t.muted;
  ctx.fillText(d.label, 0, 0);
  ctx.restore();
  if (geo.fluency) {
    const [flo, fhi] = extent(d.fluency);
    const fy = (v) => yOf(geo.flTop, geo.flBottom, flo, fhi, v);
    frame(ctx, geo.x0, geo.x1, geo.flTop, geo.flBottom, t);
    line(ctx, d.coefs, d.fluency, x, fy, COLORS.fluency);
    dots(ctx, d.coefs, d.fluency, x, fy, COLORS.fluency);
    yTicks(ctx, geo.flTop, geo.flBottom, flo, fhi, geo.x0, t, (v) => v.toFixed(1));
    ctx.fillStyle = t.muted;
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    ctx.fillText("fluency (log-prob under the unsteered model)", geo.x0 + 4, geo.flTop - 14);
  }
  const bottom = geo.fluency ? geo.flBottom : geo.mainBottom;
  ctx.fillStyle = t.muted;
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const c of d.coefs) ctx.fillText(String(c).replace("-", "−"), x(c), bottom + 4);
  ctx.fillText("coef", (geo.x0 + geo.x1) / 2, bottom + 16);
  const cx = Math.round(x(d.coef));
  ctx.fillStyle = COLORS.cursor;
  ctx.fillRect(cx - 1, geo.mainTop, 2, geo.mainBottom - geo.mainTop);
  if (geo.fluency) ctx.fillRect(cx - 1, geo.flTop, 2, geo.flBottom - geo.flTop);
  return cx;
}
function drawSmall(canvas, { series, mark = null, title = "", xLabel = "", t }) {
  const W = 260, H = 150, L = 44, R = 10, T = 18, B = 30;
  const ctx = sized(canvas, W, H);
  ctx.font = `11px ${t.family}`;
  const allX = series.flatMap((s) => Array.from(s.xs));
  const xlo = Math.min(...allX), xhi = Math.max(...allX);
  const [lo, hi] = extent(...series.map((s) => s.ys));
  const x = (v) => xhi === xlo ? (L + W - R) / 2 : L + (v - xlo) / (xhi - xlo) * (W - R - L);
  const y = (v) => yOf(T, H - B, lo, hi, v);
  frame(ctx, L, W - R, T, H - B, t);
  for (const s of series) {
    line(ctx, s.xs, s.ys, x, y, s.color, s.dash || []);
    dots(ctx, s.xs, s.ys, x, y, s.color);
  }
  yTicks(ctx, T, H - B, lo, hi, L, t);
  ctx.fillStyle = t.font;
  ctx.textAlign = "left";
  ctx.textBaseline = "top";
  ctx.fillText(title, L, 2);
  ctx.fillStyle = t.muted;
  ctx.textAlign = "center";
  ctx.fillText(
    `${xLabel} ${String(+xlo.toFixed(2)).replace("-", "−")} … ${String(+xhi.toFixed(2)).replace("-", "−")}`,
    (L + W - R) / 2,
    H - B + 6
  );
  if (mark !== null && Number.isFinite(mark)) {
    ctx.fillStyle = COLORS.cursor;
    ctx.fillRect(Math.round(x(mark)) - 1, T, 2, H - B - T);
  }
}

// steering_explorer/index.js
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== void 0) e.textContent = text;
  return e;
}
function render({ model, el: host }) {
  const root = el("div", "wb-se");
  host.appendChild(root);
  let info = model.get("_info");
  let summary = readPacked(info.summary_meta, model.get("_summary"));
  const parsed = /* @__PURE__ */ new Map();
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
      layerSel.replaceChildren(...info.layers.map((l) => {
        const o = el("option", "", String(l));
        o.value = String(l);
        return o;
      }));
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
    return b === void 0 ? a.data.subarray(li * C, (li + 1) * C) : a.data.subarray((li * 3 + b) * C, (li * 3 + b + 1) * C);
  };
  function drawCurves() {
    const t = th(), li = layerIndex(), ci = coefIndex(coefs(), model.get("coef"));
    const fluency = series("fluency", li);
    const geo = curveLayout(coefs(), !!fluency);
    const cx = drawCurve(curve, geo, {
      coefs: coefs(),
      steer: series("score", li, 0),
      random: series("score", li, 1),
      prompt: series("score", li, 2),
      low: series("random_low", li),
      high: series("random_high", li),
      fluency,
      coef: coefs()[ci],
      label: "score (log-prob behaviour − not)"
    }, t);
    Object.assign(curve.dataset, {
      x0: geo.x0,
      x1: geo.x1,
      cmin: geo.cmin,
      cmax: geo.cmax,
      top: geo.mainTop,
      bottom: geo.mainBottom,
      flTop: geo.fluency ? geo.flTop : "",
      flBottom: geo.fluency ? geo.flBottom : "",
      cursor: String(cx),
      coef: String(coefs()[ci]),
      drawn: String(Number(curve.dataset.drawn || 0) + 1)
    });
    curve.setAttribute("aria-label", `score against steering coefficient; cursor at coef ${coefs()[ci]}`);
    legend.replaceChildren(...[
      ["steer", COLORS.steer, "steering vector"],
      ["random", COLORS.random, "random vectors (band: min–max)"],
      ["prompt", COLORS.prompt, "prompt baseline"],
      ...fluency ? [["fluency", COLORS.fluency, "fluency"]] : [],
      ["cursor", COLORS.cursor, "selected coef"]
    ].map(([k, c, text]) => {
      const s = el("span", "wb-se-key");
      s.dataset.key = k;
      const sw = el("span", "wb-se-swatch");
      sw.style.background = c;
      s.append(sw, document.createTextNode(text));
      return s;
    }));
    const at = (name, b) => {
      const s = series(name, li, b);
      return s ? s[ci] : NaN;
    };
    const parts = [
      `coef ${coefLabel(coefs()[ci])}: score ${num(at("score", 0))}`,
      `random ${num(at("score", 1))}`,
      `prompt ${num(at("score", 2))}`
    ];
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
      drawSmall(c, {
        t,
        title: "layer sweep (effect per layer)",
        xLabel: "layer",
        series: [{ xs: summary.sweep_layers.data, ys: summary.layer_effect.data, color: COLORS.steer }],
        mark: Array.from(summary.sweep_layers.data).includes(model.get("layer")) ? model.get("layer") : null
      });
    }
    const li = layerIndex();
    if (summary.frozen_effect) {
      const { b, c } = box("frozen");
      const score = summary.effect ? series("effect", li, 0) : series("score", li, 0);
      drawSmall(c, { t, title: "frozen attention", xLabel: "coef", mark: model.get("coef"), series: [
        { xs: coefs(), ys: score, color: COLORS.steer },
        { xs: coefs(), ys: series("frozen_effect", li), color: COLORS.second, dash: [4, 3] }
      ] });
      if (info.frozen_share !== null) b.append(el("div", "wb-se-note", `share kept with attention frozen: ${num(info.frozen_share, 2)}`));
    }
    if (summary.sparsity_effect) {
      const { b, c } = box("sparsity");
      const names = info.rankings.length ? info.rankings : ["magnitude", "attribution"];
      const colors = [COLORS.steer, COLORS.second];
      drawSmall(c, {
        t,
        title: "share of the effect kept vs sparsity",
        xLabel: "sparsity",
        series: names.map((_, r) => ({ xs: summary.sparsity.data, ys: row(summary.sparsity_effect, r), color: colors[r % 2] }))
      });
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
var steering_explorer_default = { render };
export {
  steering_explorer_default as default
};
