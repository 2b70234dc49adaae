// LatentDecoder front end: picker (picker.js), the decoded-token grid (grid.js) with the decoded trace on top
// (trace.js), a side panel with the gold trace, answer and per-step verification, and a hover read-out of the
// top-k tokens of any cell. The selected problem's grid comes from the saved state when it holds every problem
// (`_all`, the offline mode), else from the kernel (binary, when `problem` changes); the filter runs here
// (filter.js, the same rule as the kernel's). With neither a saved grid nor a kernel, a note says what needs one.
import { decode, valueAt } from "../lib/binary.js";
import { hasKernel, kernelNote } from "../lib/offline.js";
import "../lib/offline.css";
import { cssVar, onThemeChange, theme } from "../lib/theme.js";
import { createTooltip } from "../lib/tooltip.js";
import { cellAt, layout } from "./geometry.js";
import { drawCells, drawText, measureStrip } from "./grid.js";
import { visibleProblems } from "./filter.js";
import { createPicker } from "./picker.js";
import { checkFor, drawTrace } from "./trace.js";
import "./styles.css";

const OPS = { "+": "+", "-": "−", "*": "×", "/": "÷" };

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Hover text: where the cell is, then every top-k token with its probability. */
export function cellTip(view, prob, tok, ent, layer, col) {
  const [, C, K] = prob.shape;
  const where = view.mode === "latent"
    ? `layer ${view.rows[layer]} · ${view.cols[col]}`
    : `layer ${view.rows[layer]} · position ${col} ${JSON.stringify(view.cols[col])}`;
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
    (p) => { model.set("problem", p); model.save_changes(); },
    (f) => {
      // as the kernel does: a problem the new filter hides gives way to the first one it shows
      const vis = visibleProblems(model.get("_items"), f);
      model.set("filter", f);
      if (vis.length && !vis.includes(model.get("problem"))) model.set("problem", vis[0]);
      model.save_changes();
    },
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
  let cur = null; // {view, g, prob, tok, ent, boxes}

  const th = () => ({ ...theme(root), mono: cssVar(root, "--jp-code-font-family", "monospace") });

  function drawPicker() {
    const vis = visibleProblems(model.get("_items"), model.get("filter"));
    picker.update(model.get("_items"), vis, model.get("problem"), model.get("filter"), model.get("mode"),
      model.get("n_problems"));
  }

  /** The grid on show: the selected problem's from the saved state, else the kernel's when it is that problem. */
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
      const ops = s.operands.map((o) => (o.source === "latent" ? `${o.value}@${view.cols[o.latent]}` : `${o.value}`));
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
      if (!hasKernel(model)) note.show(`${model.get("mode") === "latent" ? "Problem" : "Prompt"} ${p}`,
        (model.get("_offline") || {}).missing);
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
      problem: view.problem, mode: view.mode, from: cur0.from, nRows: g.nRows, nCols: g.nCols, cellW: g.cw, cellH: g.ch,
      x0: g.x0, y0: g.y0, rowOrder: "last-layer-first",
    });
    stage.dataset.drawn = String(Number(stage.dataset.drawn || 0) + 1);
    tip.hide();
  }

  /** Everything that depends on the theme (text, trace) plus the cells. */
  function paint() {
    if (!cur) return;
    const { view, g, prob, tok, boxes } = cur;
    const t = th();
    drawCells(cells, g, prob);
    const used = new Set();
    if (view.trace) for (const s of view.trace.steps) for (const o of s.operands) if (o.segment !== null && o.segment !== undefined) used.add(o.segment);
    const tokens = drawText(text, g, view, prob, view.strings, tok, t, boxes, used);
    const drawn = drawTrace(trace, g, view.trace, view.verification, boxes, t);
    Object.assign(stage.dataset, {
      arrows: drawn.arrows.length, badges: drawn.badges.map((b) => b.text).join(","), tokensDrawn: tokens ? "1" : "0",
      segments: JSON.stringify(boxes.map((b) => [Math.round(b.x0), Math.round(b.x1), b.value])),
    });
    trace.dataset.arrows = JSON.stringify(drawn.arrows.map((a) => [a.x0, a.y0, a.x1, a.y1, a.source].map((v) => (typeof v === "number" ? Math.round(v * 10) / 10 : v))));
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

  const stopTheme = onThemeChange(() => { paint(); });
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

export default { render };
