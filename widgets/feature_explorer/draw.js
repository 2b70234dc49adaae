// FeatureExplorer canvases: the scatter of correlational (best detection) against causal score over every latent of
// the picked sae (neurons as grey rings, the selected latent in the cursor colour), the selected latent's
// activation histogram, its top-activating contexts with each token's cell shaded by its activation, and its label
// score bars. Mark colours are fixed (both themes); axis text follows the theme.
import { sized } from "../lib/plot.js";
import { CONTEXT, DOT, histogram, positions, scatterLayout, shadeCss, tokenBoxes, UNIT_DOT } from "./data.js";

/** Mark colours (documented: the browser test reads the selected latent by its colour). */
export const COLORS = { latent: "#1c7ed6", unit: "#868e96", selected: "#e8590c", bar: "#1c7ed6", best: "#e8590c",
  token: "#111111" };


const minus = (s) => s.replace("-", "−");

function frame(ctx, x0, x1, y0, y1, t) {
  ctx.strokeStyle = t.grid;
  ctx.lineWidth = 1;
  ctx.strokeRect(x0 + 0.5, y0 + 0.5, x1 - x0 - 1, y1 - y0 - 1);
}

/**
 * The scatter: xs (best detection), ys (causal effect) per latent; ux, uy per neuron (or null); `selected` the
 * selected latent. Drawn order: frame, neurons, latents, the selected latent (a filled disc of radius DOT + 2 in
 * COLORS.selected, drawn last). Returns {geo, points} (points: latent centres in CSS px).
 */
export function drawScatter(canvas, { xs, ys, ux, uy, selected, xLabel, yLabel, t, guides = null, yScale = "linear" }) {
  const geo = scatterLayout(xs, ys, ux, uy, undefined, yScale);
  const ctx = sized(canvas, geo.width, geo.height);
  ctx.font = `11px ${t.family}`;
  frame(ctx, geo.x0, geo.x1, geo.y0, geo.y1, t);
  ctx.fillStyle = t.muted;
  ctx.textBaseline = "top";
  ctx.textAlign = "center";
  for (const v of [geo.xlo, (geo.xlo + geo.xhi) / 2, geo.xhi]) ctx.fillText(minus(v.toFixed(2)), geo.px(v), geo.y1 + 3);
  ctx.fillText(xLabel, (geo.x0 + geo.x1) / 2, geo.y1 + 18);
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  // ticks at the bottom, middle and top of the (scaled) axis, labelled with the unscaled effect
  const inv = (u) => (geo.yScale === "sqrt" ? Math.sign(u) * u * u : u);
  for (const u of [geo.ylo, (geo.ylo + geo.yhi) / 2, geo.yhi]) {
    ctx.fillText(minus(inv(u).toFixed(2)), geo.x0 - 4, geo.py(inv(u)));
  }
  ctx.save();
  ctx.translate(10, (geo.y0 + geo.y1) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = "center";
  ctx.fillText(yLabel, 0, 0);
  ctx.restore();
  ctx.save();
  ctx.beginPath();
  ctx.rect(geo.x0, geo.y0, geo.x1 - geo.x0, geo.y1 - geo.y0);
  ctx.clip();
  if (guides) {
    // the gap's thresholds as dashed lines: right of the vertical one is well-correlated, under the horizontal one
    // has no causal effect
    ctx.save();
    ctx.strokeStyle = t.muted;
    ctx.lineWidth = 1;
    ctx.setLineDash([4, 4]);
    ctx.beginPath();
    if (Number.isFinite(guides.x)) { ctx.moveTo(geo.px(guides.x), geo.y0); ctx.lineTo(geo.px(guides.x), geo.y1); }
    if (Number.isFinite(guides.y)) { ctx.moveTo(geo.x0, geo.py(guides.y)); ctx.lineTo(geo.x1, geo.py(guides.y)); }
    ctx.stroke();
    ctx.restore();
  }
  if (ux && uy) {
    ctx.strokeStyle = COLORS.unit;
    ctx.lineWidth = 1.2;
    for (const p of positions(geo, ux, uy)) {
      if (!p) continue;
      ctx.beginPath();
      ctx.arc(p[0], p[1], UNIT_DOT, 0, 2 * Math.PI);
      ctx.stroke();
    }
  }
  const points = positions(geo, xs, ys);
  ctx.fillStyle = COLORS.latent;
  for (const p of points) {
    if (!p) continue;
    ctx.beginPath();
    ctx.arc(p[0], p[1], DOT, 0, 2 * Math.PI);
    ctx.fill();
  }
  if (selected >= 0 && points[selected]) {
    ctx.fillStyle = COLORS.selected;
    ctx.beginPath();
    ctx.arc(points[selected][0], points[selected][1], DOT + 2, 0, 2 * Math.PI);
    ctx.fill();
  }
  ctx.restore();
  return { geo, points };
}

/** Histogram canvas geometry (CSS px). */
export const HIST = { width: 300, height: 140, left: 44, right: 10, top: 10, bottom: 30, bins: 24 };

/**
 * The activation histogram of the latent's active samples (`values`, all > 0) on [0, max] in HIST.bins bins, count
 * on a linear axis. Returns the bins ({edges, counts}).
 */
export function drawHistogram(canvas, values, t, g = HIST) {
  const ctx = sized(canvas, g.width, g.height);
  ctx.font = `11px ${t.family}`;
  const h = histogram(values, g.bins, 0);
  const x0 = g.left, x1 = g.width - g.right, y0 = g.top, y1 = g.height - g.bottom;
  frame(ctx, x0, x1, y0, y1, t);
  const hi = h.edges[h.edges.length - 1];
  const top = Math.max(1, ...h.counts);
  const x = (v) => (hi > 0 ? x0 + (v / hi) * (x1 - x0) : x0);
  ctx.fillStyle = COLORS.bar;
  h.counts.forEach((c, i) => {
    if (!c) return;
    const a = x(h.edges[i]), b = hi > 0 ? x(h.edges[i + 1]) : x1;
    const y = y1 - (c / top) * (y1 - y0);
    ctx.fillRect(a + 0.5, y, Math.max(1, b - a - 1), y1 - y);
  });
  ctx.fillStyle = t.muted;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  ctx.fillText(String(top), x0 - 4, y0 + 4);
  ctx.fillText("0", x0 - 4, y1 - 2);
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  ctx.fillText("0", x0, y1 + 3);
  ctx.fillText("activation (active samples)", (x0 + x1) / 2, y1 + 15);
  ctx.textAlign = "right";
  ctx.fillText(hi.toPrecision(3), x1, y1 + 3);
  return h;
}

/**
 * The top contexts: one row per context, its label ("#1  2.31") in the label column, then one cell per token filled
 * with shadeCss(activation, amax) and the token's text on it in COLORS.token. `rows` = [{tokens, acts, peak,
 * label}]. Returns every row's boxes ([x, y, w, h] CSS px).
 */
export function drawContexts(canvas, rows, amax, t, g = CONTEXT) {
  const font = `12px ${t.mono}`;
  const probe = canvas.getContext("2d");
  probe.font = font;
  const layout = rows.map((r, k) => tokenBoxes(r.tokens.map((tok) => probe.measureText(tok).width), k, g));
  const width = Math.max(g.label + 40, ...layout.map((b) => (b.length ? b[b.length - 1][0] + b[b.length - 1][2] : 0)))
    + g.right;
  const height = g.top + Math.max(1, rows.length) * g.row;
  const ctx = sized(canvas, width, height);
  rows.forEach((r, k) => {
    const boxes = layout[k];
    ctx.font = `11px ${t.family}`;
    ctx.fillStyle = t.muted;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    ctx.fillText(r.label, 2, g.top + k * g.row + g.cell / 2);
    ctx.font = font;
    ctx.textAlign = "center";
    boxes.forEach(([x, y, w, h], j) => {
      ctx.fillStyle = shadeCss(r.acts[j], amax);
      ctx.fillRect(x, y, w, h);
      if (j === r.peak) {
        ctx.strokeStyle = COLORS.token;
        ctx.lineWidth = 1;
        ctx.beginPath();
        ctx.moveTo(x, y + h - 0.5);
        ctx.lineTo(x + w, y + h - 0.5);
        ctx.stroke();
      }
      ctx.fillStyle = COLORS.token;
      ctx.fillText(r.tokens[j], x + w / 2, y + h / 2 + 1);
    });
  });
  return layout;
}

/** Label-score bars geometry (CSS px): one bar per label, on a [0, 1] axis from `left` to width - `right`. */
export const BARS = { width: 300, left: 110, right: 44, top: 4, row: 18, bar: 12, bottom: 6 };

/** Bars of the latent's detection score per label (best label in COLORS.best); returns the bar boxes. */
export function drawBars(canvas, names, values, best, t, g = BARS) {
  const height = g.top + names.length * g.row + g.bottom;
  const ctx = sized(canvas, g.width, height);
  ctx.font = `11px ${t.family}`;
  const x0 = g.left, x1 = g.width - g.right;
  ctx.strokeStyle = t.grid;
  ctx.beginPath();
  ctx.moveTo(x0 + 0.5, g.top);
  ctx.lineTo(x0 + 0.5, g.top + names.length * g.row);
  ctx.stroke();
  const boxes = [];
  names.forEach((name, k) => {
    const v = values[k];
    const y = g.top + k * g.row + (g.row - g.bar) / 2;
    const w = Number.isFinite(v) ? Math.max(0, Math.min(1, v)) * (x1 - x0) : 0;
    ctx.fillStyle = k === best ? COLORS.best : COLORS.bar;
    ctx.fillRect(x0, y, w, g.bar);
    boxes.push([x0, y, w, g.bar]);
    ctx.fillStyle = k === best ? t.font : t.muted;
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    ctx.fillText(name.length > 18 ? name.slice(0, 17) + "…" : name, x0 - 4, y + g.bar / 2);
    ctx.textAlign = "left";
    ctx.fillText(Number.isFinite(v) ? v.toFixed(3) : "—", x0 + w + 4, y + g.bar / 2);
  });
  return boxes;
}

export { CONTEXT };
