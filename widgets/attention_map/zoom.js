// The selected head with token labels on both axes, a hover read-out, annotation strips (e.g. depth) under the
// key axis, and zooming: wheel, drag-select, +/- buttons and keys (+ - 0, arrows pan). The view is a token rectangle
// q0:q1 x k0:k1. It is drawn from the best data at hand: a full-resolution tile of that rectangle when the kernel has
// sent one, else the head's overview (kernel-pooled for long inputs); a zoom on a pooled overview asks the kernel
// for the tile through `requestTile(box)` and redraws when it arrives.
import { toCodes, valueAt } from "../lib/binary.js";
import { blit, cellImage, cropCodes, poolCodes } from "../lib/heatmap.js";
import { drawLabels } from "../lib/labels.js";
import { drawStrips } from "../lib/strip.js";
import { cellText, createTooltip } from "../lib/tooltip.js";

/** Largest side of the zoomed heatmap (px); more tokens than this are max-pooled again on the client. */
export const ZOOM_MAX_PX = 480;
/** Largest cell side (px), so a 3-token prompt is not drawn with 160-px cells. */
export const CELL_MAX_PX = 40;
/** Room for token labels (px). */
export const LABEL_ROOM_PX = 84;
/** Fewest tokens a zoomed view spans. */
export const MIN_SPAN = 4;
/** Wait (ms) after the last zoom step before asking the kernel for a tile. */
const TILE_DELAY_MS = 80;

export function createZoom(root, requestTile = () => false) {
  const el = document.createElement("div");
  el.className = "wb-am-zoompanel";
  const bar = document.createElement("div");
  bar.className = "wb-am-zoombar";
  const heading = document.createElement("span");
  heading.className = "wb-am-zoomtitle";
  const mk = (cls, text, title) => {
    const b = document.createElement("button");
    b.className = cls;
    b.textContent = text;
    b.title = title;
    b.type = "button";
    return b;
  };
  const bIn = mk("wb-am-zoomin", "+", "zoom in (+ key, wheel, or drag a rectangle)");
  const bOut = mk("wb-am-zoomout", "−", "zoom out (- key)");
  const bFit = mk("wb-am-fit", "fit", "whole head (0 key)");
  const info = document.createElement("span");
  info.className = "wb-am-viewinfo";
  bar.append(heading, bIn, bOut, bFit, info);

  const wrap = document.createElement("div");
  wrap.className = "wb-am-zoomwrap";
  const corner = document.createElement("div");
  corner.className = "wb-am-corner";
  corner.textContent = "query ↓ key →";
  const klabels = document.createElement("canvas");
  klabels.className = "wb-am-klabels";
  const qlabels = document.createElement("canvas");
  qlabels.className = "wb-am-qlabels";
  const holder = document.createElement("div");
  holder.className = "wb-am-zoomholder";
  const canvas = document.createElement("canvas");
  canvas.className = "wb-am-zoom";
  canvas.tabIndex = 0;
  canvas.setAttribute("data-lm-suppress-shortcuts", "true");
  canvas.setAttribute("aria-label", "attention head: + - 0 zoom, arrow keys pan, drag to zoom into a rectangle");
  const selBox = document.createElement("div");
  selBox.className = "wb-am-selbox";
  selBox.hidden = true;
  holder.append(canvas, selBox);
  const stripLabel = document.createElement("div");
  stripLabel.className = "wb-am-striplabel";
  const strip = document.createElement("canvas");
  strip.className = "wb-am-strip";
  wrap.append(corner, klabels, qlabels, holder, stripLabel, strip);
  el.append(bar, wrap);
  const tip = createTooltip(root, "wb-am-tooltip");

  // cur: {over: {arr, codes, meta, p}, tile, nq, nk, qt, kt, ann, W, H, view: {q0,q1,k0,k1}, th}
  let cur = null;
  let tileTimer = null;
  let asked = "";

  const boxKey = (b) => `${b.q0},${b.q1},${b.k0},${b.k1}`;
  const covers = (t, v) => t && t.meta.q0 <= v.q0 && t.meta.q1 >= v.q1 && t.meta.k0 <= v.k0 && t.meta.k1 >= v.k1;
  const isFull = (v) => v.q0 === 0 && v.k0 === 0 && v.q1 === cur.nq && v.k1 === cur.nk;

  /** The data that draws the current view: a covering tile finer than the overview, else the overview. */
  function sourceFor(v) {
    const t = cur.tile;
    if (covers(t, v) && t.meta.pool[0] < cur.over.p) return { ...t, q0: t.meta.q0, k0: t.meta.k0, p: t.meta.pool[0], kind: "tile" };
    return { ...cur.over, q0: 0, k0: 0, kind: "overview" };
  }

  /** Draw a new head (decoded overview `arr` with its meta) and reset the view to the whole head. */
  function draw(arr, meta, qt, kt, th, ann = []) {
    const nq = qt.length, nk = kt.length; // real token counts (kernel pooled rows*f >= nq)
    const cell = Math.min(CELL_MAX_PX, ZOOM_MAX_PX / Math.max(nq, nk));
    const W = Math.max(1, Math.round(nk * cell)), H = Math.max(1, Math.round(nq * cell));
    canvas.width = W;
    canvas.height = H;
    qlabels.width = LABEL_ROOM_PX;
    qlabels.height = H;
    klabels.width = W;
    klabels.height = LABEL_ROOM_PX;
    strip.width = W;
    const over = { arr, codes: toCodes(arr), meta, p: (meta.pool && meta.pool[0]) || 1 };
    cur = { over, tile: null, nq, nk, qt, kt, ann, W, H, th, view: { q0: 0, q1: nq, k0: 0, k1: nk } };
    asked = "";
    stripLabel.textContent = "";
    for (const a of ann) {
      const d = document.createElement("div");
      d.textContent = a.name;
      stripLabel.append(d);
    }
    Object.assign(canvas.dataset, { layer: meta.layer, head: meta.head, prompt: meta.prompt, nQuery: nq, nKey: nk });
    render();
  }

  function render() {
    if (!cur) return;
    const { view: v, W, H, th } = cur;
    const vq = v.q1 - v.q0, vk = v.k1 - v.k0;
    const pxq = H / vq, pxk = W / vk;
    const s = sourceFor(v);
    const [rows, cols] = s.arr.shape;
    const r0 = Math.floor((v.q0 - s.q0) / s.p), r1 = Math.ceil((v.q1 - s.q0) / s.p);
    const c0 = Math.floor((v.k0 - s.k0) / s.p), c1 = Math.ceil((v.k1 - s.k0) / s.p);
    const sub = cropCodes(s.codes, rows, cols, r0, r1, c0, c1);
    const pooled = poolCodes(sub.codes, sub.rows, sub.cols, ZOOM_MAX_PX);
    const span = s.p * pooled.f; // tokens per image pixel
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, W, H);
    blit(ctx, cellImage(pooled.codes, pooled.rows, pooled.cols),
      (s.k0 + c0 * s.p - v.k0) * pxk, (s.q0 + r0 * s.p - v.q0) * pxq, pooled.cols * span * pxk, pooled.rows * span * pxq);
    drawLabels(qlabels, cur.qt.slice(v.q0, v.q1), pxq, "rows", th);
    drawLabels(klabels, cur.kt.slice(v.k0, v.k1), pxk, "cols", th);
    drawStrips(strip, cur.ann, v.k0, v.k1, pxk, th);
    strip.hidden = stripLabel.hidden = cur.ann.length === 0;
    info.textContent = isFull(v) ? `${cur.nq} × ${cur.nk}` : `q ${v.q0}–${v.q1 - 1} · k ${v.k0}–${v.k1 - 1}`;
    Object.assign(canvas.dataset, {
      view: boxKey(v), dataSource: s.kind, pool: span,
      cellPx: pxk.toFixed(4), cellPxQ: pxq.toFixed(4), tilePool: s.kind === "tile" ? s.p : "",
    });
    canvas.dataset.drawn = String(Number(canvas.dataset.drawn || 0) + 1);
    tip.hide();
    // still pooled data for a zoomed view: ask for this rectangle, unless the tile on show was made for exactly it
    // (a coarse tile of a larger view, e.g. half of a 32k head pooled 8x, must not stop a finer one)
    if (s.p > 1 && !isFull(v) && !(s.kind === "tile" && boxKey(cur.tile.meta) === boxKey(v))) scheduleTile(v);
  }

  function scheduleTile(v) {
    clearTimeout(tileTimer);
    tileTimer = setTimeout(() => {
      if (!cur || boxKey(cur.view) !== boxKey(v) || asked === boxKey(v)) return;
      asked = boxKey(v);
      canvas.dataset.tileRequests = String(Number(canvas.dataset.tileRequests || 0) + 1);
      requestTile({ layer: cur.over.meta.layer, head: cur.over.meta.head, prompt: cur.over.meta.prompt, ...v });
    }, TILE_DELAY_MS);
  }

  /** A tile reply (decoded arr + meta) for the head on show: keep it and redraw when it helps the current view. */
  function addTile(arr, meta) {
    if (!cur || meta.layer !== cur.over.meta.layer || meta.head !== cur.over.meta.head) return false;
    cur.tile = { arr, codes: toCodes(arr), meta };
    canvas.dataset.tilesReceived = String(Number(canvas.dataset.tilesReceived || 0) + 1);
    render();
    return true;
  }

  function setView(q0, q1, k0, k1) {
    if (!cur) return;
    const clampSpan = (a, b, n) => {
      let s = Math.max(Math.min(MIN_SPAN, n), Math.min(n, Math.round(b - a)));
      let lo = Math.round(a);
      lo = Math.max(0, Math.min(n - s, lo));
      return [lo, lo + s];
    };
    const [nq0, nq1] = clampSpan(q0, q1, cur.nq);
    const [nk0, nk1] = clampSpan(k0, k1, cur.nk);
    cur.view = { q0: nq0, q1: nq1, k0: nk0, k1: nk1 };
    render();
  }

  /** Zoom by `factor` (>1 = in) keeping the token under canvas point (x, y) in place. */
  function zoomAt(factor, x = cur.W / 2, y = cur.H / 2) {
    if (!cur) return;
    const v = cur.view;
    const vq = v.q1 - v.q0, vk = v.k1 - v.k0;
    const tq = v.q0 + (y / cur.H) * vq, tk = v.k0 + (x / cur.W) * vk;
    const nq = Math.max(MIN_SPAN, vq / factor), nk = Math.max(MIN_SPAN, vk / factor);
    setView(tq - (y / cur.H) * nq, tq - (y / cur.H) * nq + nq, tk - (x / cur.W) * nk, tk - (x / cur.W) * nk + nk);
  }

  function pan(dq, dk) {
    const v = cur.view;
    const sq = Math.max(1, Math.round((v.q1 - v.q0) * dq)), sk = Math.max(1, Math.round((v.k1 - v.k0) * dk));
    setView(v.q0 + Math.sign(dq) * sq, v.q1 + Math.sign(dq) * sq, v.k0 + Math.sign(dk) * sk, v.k1 + Math.sign(dk) * sk);
  }

  const tokenAt = (x, y) => {
    const v = cur.view;
    return [v.q0 + Math.floor((y / cur.H) * (v.q1 - v.q0)), v.k0 + Math.floor((x / cur.W) * (v.k1 - v.k0))];
  };

  function onMove(e) {
    if (!cur) return;
    if (drag) return onDrag(e);
    const [q, k] = tokenAt(e.offsetX, e.offsetY);
    if (q < 0 || k < 0 || q >= cur.nq || k >= cur.nk) return tip.hide();
    const s = sourceFor({ q0: q, q1: q + 1, k0: k, k1: k + 1 });
    const cols = s.arr.shape[1];
    const v = valueAt(s.arr, Math.floor((q - s.q0) / s.p) * cols + Math.floor((k - s.k0) / s.p));
    const note = s.p > 1 ? ` (max of ${s.p}×${s.p})` : "";
    const r = root.getBoundingClientRect(), c = canvas.getBoundingClientRect();
    tip.show(cellText(cur.qt[q], cur.kt[k], v) + note, c.left - r.left + e.offsetX, c.top - r.top + e.offsetY);
  }

  // drag-select: press, drag a rectangle, release -> zoom to it (a press without a drag does nothing)
  let drag = null;
  function onDown(e) {
    if (!cur || e.button !== 0) return;
    drag = { x: e.offsetX, y: e.offsetY, x1: e.offsetX, y1: e.offsetY };
  }
  function onDrag(e) {
    drag.x1 = Math.max(0, Math.min(cur.W, e.offsetX));
    drag.y1 = Math.max(0, Math.min(cur.H, e.offsetY));
    Object.assign(selBox.style, {
      left: `${Math.min(drag.x, drag.x1)}px`, top: `${Math.min(drag.y, drag.y1)}px`,
      width: `${Math.abs(drag.x1 - drag.x)}px`, height: `${Math.abs(drag.y1 - drag.y)}px`,
    });
    selBox.hidden = false;
    tip.hide();
  }
  function onUp(e) {
    if (!drag) return;
    const d = drag;
    drag = null;
    selBox.hidden = true;
    if (Math.abs(d.x1 - d.x) < 4 || Math.abs(d.y1 - d.y) < 4) return;
    const [qa, ka] = tokenAt(Math.min(d.x, d.x1), Math.min(d.y, d.y1));
    const [qb, kb] = tokenAt(Math.max(d.x, d.x1), Math.max(d.y, d.y1));
    setView(qa, qb + 1, ka, kb + 1);
  }
  function onWheel(e) {
    if (!cur) return;
    e.preventDefault();
    zoomAt(e.deltaY < 0 ? 1.5 : 1 / 1.5, e.offsetX, e.offsetY);
  }
  function onKey(e) {
    if (!cur) return;
    const acts = {
      "+": () => zoomAt(2), "=": () => zoomAt(2), "-": () => zoomAt(0.5), "0": () => setView(0, cur.nq, 0, cur.nk),
      ArrowUp: () => pan(-0.25, 0), ArrowDown: () => pan(0.25, 0), ArrowLeft: () => pan(0, -0.25),
      ArrowRight: () => pan(0, 0.25),
    };
    const act = acts[e.key];
    if (!act) return;
    e.preventDefault();
    e.stopPropagation(); // keep JupyterLab's notebook from acting on the key
    act();
  }

  const onLeave = () => tip.hide();
  const zin = () => zoomAt(2), zout = () => zoomAt(0.5), fit = () => cur && setView(0, cur.nq, 0, cur.nk);
  canvas.addEventListener("mousemove", onMove);
  canvas.addEventListener("mouseleave", onLeave);
  canvas.addEventListener("mousedown", onDown);
  window.addEventListener("mouseup", onUp);
  canvas.addEventListener("wheel", onWheel, { passive: false });
  canvas.addEventListener("keydown", onKey);
  bIn.addEventListener("click", zin);
  bOut.addEventListener("click", zout);
  bFit.addEventListener("click", fit);
  return {
    el,
    canvas,
    draw,
    addTile,
    setView,
    zoomAt,
    /** Heading text above the head, with optional badges [{text, title}]. */
    setHeading(text, badges = []) {
      heading.textContent = text;
      for (const b of badges) {
        const s = document.createElement("span");
        s.className = "wb-am-badge";
        s.textContent = b.text;
        s.title = b.title || "";
        heading.append(s);
      }
    },
    redrawLabels(th) {
      if (!cur) return;
      cur.th = th;
      render();
    },
    dispose() {
      clearTimeout(tileTimer);
      canvas.removeEventListener("mousemove", onMove);
      canvas.removeEventListener("mouseleave", onLeave);
      canvas.removeEventListener("mousedown", onDown);
      window.removeEventListener("mouseup", onUp);
      canvas.removeEventListener("wheel", onWheel);
      canvas.removeEventListener("keydown", onKey);
    },
  };
}
