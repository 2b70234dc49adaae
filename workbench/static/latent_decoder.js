// lib/binary.js
function asBytes(v) {
  if (!v) return new Uint8Array(0);
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return new Uint8Array(0);
}
function halfToFloat(h) {
  const s = h & 32768 ? -1 : 1, e = h >> 10 & 31, f = h & 1023;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}
function decode(meta, buffer) {
  const bytes = asBytes(buffer);
  const shape = meta && meta.shape || [];
  const n = shape.reduce((a, b) => a * b, 1);
  const dtype = meta.dtype;
  let data;
  if (dtype === "uint8") {
    data = bytes.subarray(0, n);
  } else if (dtype === "float32") {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = dv.getFloat32(4 * i, true);
  } else if (dtype === "float16") {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = halfToFloat(dv.getUint16(2 * i, true));
  } else {
    throw new Error(`unknown dtype ${dtype}`);
  }
  if (data.length < n) throw new Error(`buffer holds ${data.length} values, shape ${shape} needs ${n}`);
  return { dtype, shape, scale: meta.scale ?? 1, nan: meta.nan ?? null, data };
}
function valueAt(arr, i) {
  const x = arr.data[i];
  if (arr.dtype === "uint8") return x === arr.nan ? NaN : x * arr.scale;
  return x;
}
function toCodes(arr) {
  if (arr.dtype === "uint8") return arr.data;
  const out = new Uint8Array(arr.data.length);
  for (let i = 0; i < out.length; i++) {
    const x = arr.data[i];
    out[i] = Number.isNaN(x) ? 255 : Math.round(Math.min(1, Math.max(0, x)) * 254);
  }
  return out;
}

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

// latent_decoder/geometry.js
var MARGIN_LEFT = 48;
var MARGIN_RIGHT = 28;
var COL_LABEL_H = 22;
var STRIP_H = 44;
var GRID_MAX_W = 880;
var GRID_MAX_H = 760;
function layout(nRows, nCols, withStrip, stripW = 0) {
  const cw = Math.max(4, Math.min(60, Math.floor(GRID_MAX_W / nCols)));
  const ch = Math.max(6, Math.min(26, Math.floor(GRID_MAX_H / nRows)));
  const strip = withStrip ? STRIP_H : 0;
  const x0 = MARGIN_LEFT, y0 = strip + COL_LABEL_H;
  const width = Math.max(x0 + nCols * cw + MARGIN_RIGHT, Math.ceil(stripW) + 16);
  const height = y0 + nRows * ch + 4;
  return { nRows, nCols, cw, ch, x0, y0, strip, width, height };
}
function cellXY(g, layer, col) {
  return [g.x0 + col * g.cw, g.y0 + (g.nRows - 1 - layer) * g.ch];
}
function cellCenter(g, layer, col) {
  const [x, y] = cellXY(g, layer, col);
  return [x + g.cw / 2, y + g.ch / 2];
}
function cellAt(g, x, y) {
  const col = Math.floor((x - g.x0) / g.cw);
  const row = Math.floor((y - g.y0) / g.ch);
  if (col < 0 || row < 0 || col >= g.nCols || row >= g.nRows) return null;
  return [g.nRows - 1 - row, col];
}

// lib/colors.js
var STOPS = [
  [68, 1, 84],
  [72, 40, 120],
  [62, 74, 137],
  [49, 104, 142],
  [38, 130, 142],
  [31, 158, 137],
  [53, 183, 121],
  [109, 205, 89],
  [180, 222, 44],
  [253, 231, 37]
];
var LUT = (() => {
  const lut = new Uint8ClampedArray(256 * 4);
  for (let c = 0; c < 255; c++) {
    const t = c / 254 * (STOPS.length - 1);
    const i = Math.min(STOPS.length - 2, Math.floor(t)), f = t - i;
    for (let k = 0; k < 3; k++) lut[4 * c + k] = Math.round(STOPS[i][k] + f * (STOPS[i + 1][k] - STOPS[i][k]));
    lut[4 * c + 3] = 255;
  }
  return lut;
})();

// lib/heatmap.js
function cellImage(codes, rows, cols, offset = 0) {
  const img = new ImageData(cols, rows);
  const px = img.data;
  for (let i = 0, n = rows * cols; i < n; i++) {
    const c = codes[offset + i] * 4;
    px[4 * i] = LUT[c];
    px[4 * i + 1] = LUT[c + 1];
    px[4 * i + 2] = LUT[c + 2];
    px[4 * i + 3] = LUT[c + 3];
  }
  const off = document.createElement("canvas");
  off.width = cols;
  off.height = rows;
  off.getContext("2d").putImageData(img, 0, 0);
  return off;
}
function blit(ctx, image, x, y, w, h) {
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(image, 0, 0, image.width, image.height, x, y, w, h);
}

// lib/labels.js
var LABEL_FONT_PX = 11;
function labelStep(cellPx) {
  return Math.max(1, Math.ceil((LABEL_FONT_PX + 2) / Math.max(cellPx, 1e-6)));
}
function fitLabel(ctx, token, maxPx) {
  let s = String(token).replace(/\n/g, "⏎").replace(/\t/g, "⇥").replace(/^ /, "␣");
  if (ctx.measureText(s).width <= maxPx) return s;
  while (s.length > 1 && ctx.measureText(s + "…").width > maxPx) s = s.slice(0, -1);
  return s + "…";
}

// latent_decoder/grid.js
function topCodes(prob) {
  const [L, C, K] = prob.shape;
  const all = toCodes(prob);
  const out = new Uint8Array(L * C);
  for (let l = 0; l < L; l++)
    for (let c = 0; c < C; c++) out[(L - 1 - l) * C + c] = all[(l * C + c) * K];
  return out;
}
function drawCells(canvas, g, prob) {
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  blit(ctx, cellImage(topCodes(prob), g.nRows, g.nCols), g.x0, g.y0, g.nCols * g.cw, g.nRows * g.ch);
}
function inkFor(code) {
  if (code === 255) return null;
  const r = LUT[4 * code], gg = LUT[4 * code + 1], b = LUT[4 * code + 2];
  return 0.299 * r + 0.587 * gg + 0.114 * b > 140 ? "#111" : "#fff";
}
function measureStrip(ctx, segments, th) {
  ctx.font = `13px ${th.family}`;
  let x = 8;
  return segments.map((s) => {
    const w = ctx.measureText(s.text).width + (s.value === null ? 0 : 8);
    const box = { x0: x, x1: x + w, value: s.value, text: s.text };
    x += w + (s.value === null ? 0 : 2);
    return box;
  });
}
function drawText(canvas, g, view, prob, strings, tok, th, boxes, used) {
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.textBaseline = "middle";
  if (g.strip && boxes.length) {
    ctx.font = `13px ${th.family}`;
    const y = g.strip / 2;
    for (let i = 0; i < boxes.length; i++) {
      const b = boxes[i];
      if (b.value !== null) {
        ctx.strokeStyle = used.has(i) ? th.accent : th.muted;
        ctx.lineWidth = used.has(i) ? 2 : 1;
        ctx.strokeRect(b.x0 + 0.5, y - 10, b.x1 - b.x0 - 1, 20);
        ctx.textAlign = "center";
        ctx.fillStyle = th.font;
        ctx.fillText(b.text, (b.x0 + b.x1) / 2, y);
      } else {
        ctx.textAlign = "left";
        ctx.fillStyle = th.font;
        ctx.fillText(b.text, b.x0, y);
      }
    }
  }
  ctx.font = `11px ${th.family}`;
  ctx.fillStyle = th.muted;
  ctx.textAlign = "center";
  const cstep = Math.max(1, Math.ceil(24 / g.cw));
  for (let c = 0; c < g.nCols; c += cstep) {
    const [x] = cellXY(g, 0, c);
    const text = fitLabel(ctx, view.cols[c], Math.max(g.cw * cstep - 4, 8));
    ctx.fillText(text, x + g.cw / 2, g.strip + COL_LABEL_H / 2);
  }
  ctx.textAlign = "right";
  const rstep = labelStep(g.ch);
  for (let l = 0; l < g.nRows; l += rstep) {
    const [, y] = cellXY(g, l, 0);
    ctx.fillText(`L${view.rows[l]}`, g.x0 - 6, y + g.ch / 2);
  }
  if (g.cw < 18 || g.ch < 11) return false;
  const [L, C, K] = prob.shape;
  const codes = toCodes(prob);
  ctx.font = `${Math.min(12, g.ch - 6)}px ${th.mono}`;
  ctx.textAlign = "center";
  for (let l = 0; l < L; l++)
    for (let c = 0; c < C; c++) {
      const i = (l * C + c) * K;
      const ink = inkFor(codes[i]);
      if (!ink) continue;
      const [x, y] = cellXY(g, l, c);
      ctx.fillStyle = ink;
      const s = strings[tok.data[i]] ?? "";
      ctx.fillText(fitLabel(ctx, s, g.cw - 4), x + g.cw / 2, y + g.ch / 2 + 0.5);
    }
  return true;
}

// latent_decoder/filter.js
function visibleProblems(items, filter) {
  const terms = !filter || filter === "all" ? [] : filter.split(",");
  const pass = (it, t) => {
    const neg = t.startsWith("not ") || t === "incorrect";
    const key = t === "incorrect" ? "correct" : t.replace(/^not /, "");
    const v = it[key];
    return v !== null && v !== void 0 && Boolean(v) !== neg;
  };
  return (items || []).filter((it) => terms.every((t) => pass(it, t))).map((it) => it.index);
}

// latent_decoder/picker.js
var FILTERS = [
  ["correct", [["", "any answer"], ["correct", "correct"], ["incorrect", "incorrect"]]],
  ["decoded", [["", "decoded or not"], ["decoded", "decoded"], ["not decoded", "not decoded"]]],
  ["verified", [["", "verified or not"], ["verified", "verified"], ["not verified", "not verified"]]]
];
function option(value, text) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text;
  return o;
}
function createPicker(onProblem, onFilter) {
  const el2 = document.createElement("div");
  el2.className = "wb-ld-picker";
  el2.setAttribute("data-lm-suppress-shortcuts", "true");
  const filters = document.createElement("div");
  filters.className = "wb-ld-filters";
  const menus = FILTERS.map(([name, opts]) => {
    const s = document.createElement("select");
    s.className = `wb-ld-filter wb-ld-filter-${name}`;
    s.setAttribute("aria-label", `filter: ${name}`);
    for (const [v, t] of opts) s.append(option(v, t));
    s.addEventListener("change", () => onFilter(menus.map((m) => m.value).filter(Boolean).join(",") || "all"));
    filters.append(s);
    return s;
  });
  const row = document.createElement("div");
  row.className = "wb-ld-pickrow";
  const prev = document.createElement("button");
  prev.className = "wb-ld-prev";
  prev.textContent = "◀";
  prev.setAttribute("aria-label", "previous problem");
  const next = document.createElement("button");
  next.className = "wb-ld-next";
  next.textContent = "▶";
  next.setAttribute("aria-label", "next problem");
  const select = document.createElement("select");
  select.className = "wb-ld-problem";
  select.setAttribute("aria-label", "problem");
  const count = document.createElement("span");
  count.className = "wb-ld-count";
  row.append(prev, select, next, count);
  el2.append(filters, row);
  let visible = [];
  let current = 0;
  select.addEventListener("change", () => onProblem(Number(select.value)));
  const step = (d) => {
    if (!visible.length) return;
    const i = visible.indexOf(current);
    const j = i < 0 ? 0 : Math.min(visible.length - 1, Math.max(0, i + d));
    if (visible[j] !== current) onProblem(visible[j]);
  };
  prev.addEventListener("click", () => step(-1));
  next.addEventListener("click", () => step(1));
  function update(items, vis, problem, filter, mode, nProblems) {
    visible = vis;
    current = problem;
    filters.hidden = mode !== "latent";
    el2.hidden = mode !== "latent" && nProblems <= 1;
    const terms = filter === "all" ? [] : filter.split(",");
    FILTERS.forEach(([, opts], i) => {
      menus[i].value = opts.map((o) => o[0]).find((v) => v && terms.includes(v)) || "";
    });
    select.replaceChildren();
    const shown = vis.includes(problem) ? vis : [problem, ...vis];
    for (const i of shown) {
      const it = items[i] || { label: String(i) };
      const flags = mode === "latent" ? ` ${it.correct === true ? "✓" : it.correct === false ? "✗" : ""}${it.decoded ? " ⟶" : ""}${it.verified_checks !== null && it.verified_checks !== void 0 ? ` ${it.verified_checks}✔` : ""}` : "";
      select.append(option(String(i), it.label + flags));
    }
    select.value = String(problem);
    prev.disabled = vis.indexOf(problem) <= 0;
    next.disabled = vis.indexOf(problem) < 0 ? !vis.length : vis.indexOf(problem) >= vis.length - 1;
    count.textContent = mode === "latent" ? `${vis.length} of ${nProblems} problems` : `${nProblems} prompts`;
    el2.dataset.visible = vis.join(",");
  }
  return { el: el2, update, select, prev, next, menus };
}

// latent_decoder/trace.js
var ARROW = "rgba(230, 40, 90, 0.92)";
var BOX = "rgb(230, 40, 90)";
function checkFor(verification, step) {
  if (!verification || !verification.steps) return null;
  return verification.steps.find((v) => v.latent === step.latent && v.result === step.result) || null;
}
function arrows(g, trace, boxes) {
  const out = [];
  if (!trace) return out;
  trace.steps.forEach((s, k) => {
    const [rx, ry] = cellCenter(g, s.layer, s.latent);
    for (const o of s.operands) {
      let x0, y0;
      if (o.source === "latent") {
        [x0, y0] = cellCenter(g, o.layer, o.latent);
        if (o.latent === s.latent && o.layer === s.layer) continue;
      } else if (o.segment !== null && o.segment !== void 0 && boxes[o.segment]) {
        const b = boxes[o.segment];
        x0 = (b.x0 + b.x1) / 2;
        y0 = g.strip / 2 + 10;
      } else continue;
      const dx = rx - x0, dy = ry - y0, len = Math.hypot(dx, dy) || 1;
      const t = Math.max(0, 1 - Math.min(g.cw, g.ch) * 0.45 / len);
      out.push({ x0, y0, x1: x0 + dx * t, y1: y0 + dy * t, step: k, source: o.source });
    }
  });
  return out;
}
function arrowHead(ctx, a) {
  const ang = Math.atan2(a.y1 - a.y0, a.x1 - a.x0), h = 7;
  ctx.beginPath();
  ctx.moveTo(a.x1, a.y1);
  ctx.lineTo(a.x1 - h * Math.cos(ang - 0.45), a.y1 - h * Math.sin(ang - 0.45));
  ctx.lineTo(a.x1 - h * Math.cos(ang + 0.45), a.y1 - h * Math.sin(ang + 0.45));
  ctx.closePath();
  ctx.fill();
}
function drawTrace(canvas, g, trace, verification, boxes, th) {
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!trace || !trace.steps.length) return { arrows: [], badges: [] };
  const segs = arrows(g, trace, boxes);
  ctx.strokeStyle = ARROW;
  ctx.fillStyle = ARROW;
  ctx.lineWidth = 2.5;
  for (const a of segs) {
    ctx.beginPath();
    ctx.moveTo(a.x0, a.y0);
    ctx.lineTo(a.x1, a.y1);
    ctx.stroke();
    arrowHead(ctx, a);
  }
  const badges = [];
  trace.steps.forEach((s, k) => {
    const [x, y] = cellXY(g, s.layer, s.latent);
    ctx.strokeStyle = BOX;
    ctx.lineWidth = 2;
    ctx.strokeRect(x + 1, y + 1, g.cw - 2, g.ch - 2);
    if (s.rank > 0 && g.cw >= 18) {
      ctx.font = `9px ${th.family}`;
      ctx.fillStyle = BOX;
      ctx.textAlign = "left";
      ctx.textBaseline = "top";
      ctx.fillText(`#${s.rank}`, x + 2, y + 2);
    }
    const v = checkFor(verification, s);
    if (v) {
      const text = `${v.verified}/${verification.checks}`;
      ctx.font = `bold 10px ${th.family}`;
      const w = ctx.measureText(text).width + 8, bx = x + g.cw - w / 2, by = y - 7;
      ctx.fillStyle = v.verified > 0 ? "rgb(20, 130, 60)" : "rgb(120, 120, 120)";
      ctx.beginPath();
      ctx.roundRect ? ctx.roundRect(bx, by, w, 14, 7) : ctx.rect(bx, by, w, 14);
      ctx.fill();
      ctx.fillStyle = "#fff";
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText(text, bx + w / 2, by + 7.5);
      badges.push({ step: k, text, x: bx + w / 2, y: by + 7 });
    }
  });
  return { arrows: segs, badges };
}

// latent_decoder/index.js
var OPS = { "+": "+", "-": "−", "*": "×", "/": "÷" };
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== void 0) e.textContent = text;
  return e;
}
function cellTip(view, prob, tok, ent, layer, col) {
  const [, C, K] = prob.shape;
  const where = view.mode === "latent" ? `layer ${view.rows[layer]} · ${view.cols[col]}` : `layer ${view.rows[layer]} · position ${col} ${JSON.stringify(view.cols[col])}`;
  const lines = [where];
  for (let r = 0; r < K; r++) {
    const i = (layer * C + col) * K + r;
    const p = valueAt(prob, i);
    const s = view.strings[tok.data[i]] ?? "";
    if (Number.isNaN(p)) {
      lines.push("   (not read out at this layer)");
      break;
    }
    lines.push(`${String(r + 1).padStart(2)}. ${JSON.stringify(s)}  ${p.toFixed(3)}`);
  }
  const e = ent ? ent.data[layer * C + col] : NaN;
  if (!Number.isNaN(e)) lines.push(`entropy ${e.toFixed(2)} nats`);
  return lines.join("\n");
}
function render({ model, el: host }) {
  const root = el("div", "wb-ld");
  const side = el("div", "wb-ld-side");
  const title = el("div", "wb-ld-title");
  const picker = createPicker(
    (p) => {
      model.set("problem", p);
      model.save_changes();
    },
    (f) => {
      const vis = visibleProblems(model.get("_items"), f);
      model.set("filter", f);
      if (vis.length && !vis.includes(model.get("problem"))) model.set("problem", vis[0]);
      model.save_changes();
    }
  );
  const info = el("div", "wb-ld-info");
  const note = kernelNote("wb-ld-kernelnote");
  side.append(title, picker.el, note.el, info);
  const scroller = el("div", "wb-ld-scroll");
  const stage = el("div", "wb-ld-stage");
  const cells = el("canvas", "wb-ld-cells");
  const text = el("canvas", "wb-ld-text");
  const trace = el("canvas", "wb-ld-trace");
  stage.append(cells, text, trace);
  scroller.append(stage);
  root.append(scroller, side);
  host.appendChild(root);
  const tip = createTooltip(root, "wb-ld-tooltip");
  let cur = null;
  const th = () => ({ ...theme(root), mono: cssVar(root, "--jp-code-font-family", "monospace") });
  function drawPicker() {
    const vis = visibleProblems(model.get("_items"), model.get("filter"));
    picker.update(
      model.get("_items"),
      vis,
      model.get("problem"),
      model.get("filter"),
      model.get("mode"),
      model.get("n_problems")
    );
  }
  function selected() {
    const p = model.get("problem");
    const saved = (model.get("_all") || {})[String(p)];
    if (saved) return { view: saved.view, prob: saved.prob, tok: saved.tok, ent: saved.ent, from: "state" };
    const view = model.get("_view");
    if (view && view.prob_meta && view.problem === p)
      return { view, prob: model.get("_prob"), tok: model.get("_tok"), ent: model.get("_ent"), from: "kernel" };
    return null;
  }
  function drawInfo(view) {
    info.replaceChildren();
    if (view.mode !== "latent") {
      if (view.text) info.append(el("div", "wb-ld-q", view.text));
      info.append(el("div", "wb-ld-note", "logit lens: columns are input positions, rows layers; cell = top-1 token"));
      return;
    }
    const f = view.info || {};
    const add = (label, value, cls = "") => {
      const d = el("div", `wb-ld-row ${cls}`);
      d.append(el("span", "wb-ld-key", label), el("span", "wb-ld-val", value));
      info.append(d);
      return d;
    };
    if (view.question) add("question", view.question, "wb-ld-question");
    add("gold", f.gold_trace || "—", "wb-ld-gold");
    const verdict = f.correct === true ? "✓ correct" : f.correct === false ? "✗ incorrect" : "";
    add("answer", `${f.answer || "—"} · predicted ${f.predicted || "—"} ${verdict}`, "wb-ld-answer");
    const t = view.trace;
    const status = !t ? "no trace" : t.found ? `found (${t.method.replace("_", " ")})` : `not found (${t.method.replace("_", " ")})`;
    add("decoded", status, "wb-ld-status");
    const list = el("ol", "wb-ld-steps");
    const v = view.verification;
    if (t) t.steps.forEach((s, k) => {
      const ops = s.operands.map((o) => o.source === "latent" ? `${o.value}@${view.cols[o.latent]}` : `${o.value}`);
      const li = el("li", "wb-ld-step");
      li.append(el("span", "", `${ops.join(` ${OPS[s.op] || s.op} `)} = ${s.result}`));
      li.append(el("span", "wb-ld-where", ` ${view.cols[s.latent]} · L${view.rows[s.layer]} · #${s.rank}`));
      const c = checkFor(v, s);
      if (c) {
        const b = el("span", `wb-ld-badge ${c.verified > 0 ? "ok" : "no"}`, `${c.verified > 0 ? "✓" : "✗"} ${c.verified}/${v.checks}`);
        b.title = (c.alternatives || []).map((a) => `question value ${a.question_value}: expected ${a.expected}, top-1 ${JSON.stringify(a.top1)} ${a.ok ? "✓" : "✗"}`).join("\n");
        li.append(b);
      }
      li.dataset.step = String(k);
      list.append(li);
    });
    info.append(list);
    if (v) add("verified", `${f.verified_checks ?? v.verified_checks ?? "—"} of ${v.checks} checks`, "wb-ld-verified");
  }
  function draw() {
    const cur0 = selected();
    if (!cur0) {
      stage.classList.add("wb-stale");
      stage.dataset.from = "";
      const p = model.get("problem");
      if (!hasKernel(model)) note.show(
        `${model.get("mode") === "latent" ? "Problem" : "Prompt"} ${p}`,
        (model.get("_offline") || {}).missing
      );
      return;
    }
    note.hide();
    stage.classList.remove("wb-stale");
    const { view } = cur0;
    const prob = decode(view.prob_meta, cur0.prob);
    const tok = decode(view.tok_meta, cur0.tok);
    const ent = view.ent_meta && view.ent_meta.dtype ? decode(view.ent_meta, cur0.ent) : null;
    const t = th();
    const mctx = text.getContext("2d");
    const boxes = view.mode === "latent" ? measureStrip(mctx, view.segments || [], t) : [];
    const stripW = boxes.length ? boxes[boxes.length - 1].x1 : 0;
    const g = layout(prob.shape[0], prob.shape[1], view.mode === "latent", stripW);
    for (const c of [cells, text, trace]) {
      c.width = g.width;
      c.height = g.height;
    }
    stage.style.width = `${g.width}px`;
    stage.style.height = `${g.height}px`;
    cur = { view, g, prob, tok, ent, boxes };
    paint();
    drawInfo(view);
    title.textContent = model.get("title") ? `${model.get("title")} · ${view.mode}` : view.mode === "latent" ? "latent decoding" : "logit lens";
    Object.assign(stage.dataset, {
      problem: view.problem,
      mode: view.mode,
      from: cur0.from,
      nRows: g.nRows,
      nCols: g.nCols,
      cellW: g.cw,
      cellH: g.ch,
      x0: g.x0,
      y0: g.y0,
      rowOrder: "last-layer-first"
    });
    stage.dataset.drawn = String(Number(stage.dataset.drawn || 0) + 1);
    tip.hide();
  }
  function paint() {
    if (!cur) return;
    const { view, g, prob, tok, boxes } = cur;
    const t = th();
    drawCells(cells, g, prob);
    const used = /* @__PURE__ */ new Set();
    if (view.trace) {
      for (const s of view.trace.steps) for (const o of s.operands) if (o.segment !== null && o.segment !== void 0) used.add(o.segment);
    }
    const tokens = drawText(text, g, view, prob, view.strings, tok, t, boxes, used);
    const drawn = drawTrace(trace, g, view.trace, view.verification, boxes, t);
    Object.assign(stage.dataset, {
      arrows: drawn.arrows.length,
      badges: drawn.badges.map((b) => b.text).join(","),
      tokensDrawn: tokens ? "1" : "0",
      segments: JSON.stringify(boxes.map((b) => [Math.round(b.x0), Math.round(b.x1), b.value]))
    });
    trace.dataset.arrows = JSON.stringify(drawn.arrows.map((a) => [a.x0, a.y0, a.x1, a.y1, a.source].map((v) => typeof v === "number" ? Math.round(v * 10) / 10 : v)));
  }
  function onMove(e) {
    if (!cur) return;
    const hit = cellAt(cur.g, e.offsetX, e.offsetY);
    if (!hit) return tip.hide();
    const [layer, col] = hit;
    const r = root.getBoundingClientRect(), c = trace.getBoundingClientRect();
    tip.show(cellTip(cur.view, cur.prob, cur.tok, cur.ent, layer, col), c.left - r.left + e.offsetX, c.top - r.top + e.offsetY);
    tip.el.dataset.cell = `${layer},${col}`;
  }
  const onLeave = () => tip.hide();
  trace.addEventListener("mousemove", onMove);
  trace.addEventListener("mouseleave", onLeave);
  const stopTheme = onThemeChange(() => {
    paint();
  });
  model.on("change:_view", draw);
  model.on("change:problem", draw);
  model.on("change:_all", draw);
  for (const ev of ["change:_items", "change:_visible", "change:problem", "change:filter"]) model.on(ev, drawPicker);
  drawPicker();
  draw();
  return () => {
    stopTheme();
    model.off("change:_view", draw);
    model.off("change:problem", draw);
    model.off("change:_all", draw);
    for (const ev of ["change:_items", "change:_visible", "change:problem", "change:filter"]) model.off(ev, drawPicker);
    trace.removeEventListener("mousemove", onMove);
    trace.removeEventListener("mouseleave", onLeave);
  };
}
var latent_decoder_default = { render };
export {
  cellTip,
  latent_decoder_default as default
};
