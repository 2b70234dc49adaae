// The selected head at full (or kernel-pooled) resolution with token labels on both axes and a hover read-out.
import { toCodes, valueAt } from "../lib/binary.js";
import { blit, cellImage, poolCodes } from "../lib/heatmap.js";
import { drawLabels } from "../lib/labels.js";
import { cellText, createTooltip } from "../lib/tooltip.js";

/** Largest side of the zoomed heatmap (px); more tokens than this are max-pooled again on the client. */
export const ZOOM_MAX_PX = 480;
/** Largest cell side (px), so a 3-token prompt is not drawn with 160-px cells. */
export const CELL_MAX_PX = 40;
/** Room for token labels (px). */
export const LABEL_ROOM_PX = 84;

export function createZoom(root) {
  const wrap = document.createElement("div");
  wrap.className = "wb-am-zoomwrap";
  const corner = document.createElement("div");
  corner.className = "wb-am-corner";
  corner.textContent = "query ↓ key →";
  const klabels = document.createElement("canvas");
  klabels.className = "wb-am-klabels";
  const qlabels = document.createElement("canvas");
  qlabels.className = "wb-am-qlabels";
  const canvas = document.createElement("canvas");
  canvas.className = "wb-am-zoom";
  wrap.append(corner, klabels, qlabels, canvas);
  const tip = createTooltip(root, "wb-am-tooltip");
  let cur = null; // {arr, nq, nk, f, cw, ch, qt, kt}

  /** Draw `arr` (decoded head, shape [rows, cols] after kernel pooling by meta.pool) with these tokens. */
  function draw(arr, meta, qt, kt, th) {
    const [rows, cols] = arr.shape;
    const f = (meta.pool && meta.pool[0]) || 1;
    const nq = qt.length, nk = kt.length; // real token counts (kernel pooled rows*f >= nq)
    const cell = Math.min(CELL_MAX_PX, ZOOM_MAX_PX / Math.max(nq, nk));
    const w = Math.max(1, Math.round(nk * cell)), h = Math.max(1, Math.round(nq * cell));
    const pooled = poolCodes(toCodes(arr), rows, cols, ZOOM_MAX_PX);
    canvas.width = w;
    canvas.height = h;
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, w, h);
    // one image pixel covers (f * pooled.f) tokens; the last block may be partial, so scale by token counts
    const span = f * pooled.f;
    blit(ctx, cellImage(pooled.codes, pooled.rows, pooled.cols),
      0, 0, pooled.cols * span * cell, pooled.rows * span * cell);
    qlabels.width = LABEL_ROOM_PX;
    qlabels.height = h;
    klabels.width = w;
    klabels.height = LABEL_ROOM_PX;
    drawLabels(qlabels, qt, cell, "rows", th);
    drawLabels(klabels, kt, cell, "cols", th);
    cur = { arr, nq, nk, f, cell, qt, kt };
    Object.assign(canvas.dataset, {
      layer: meta.layer, head: meta.head, prompt: meta.prompt, nQuery: nq, nKey: nk,
      cellPx: cell.toFixed(4), pool: f * pooled.f,
    });
    canvas.dataset.drawn = String(Number(canvas.dataset.drawn || 0) + 1);
    tip.hide();
  }

  function onMove(e) {
    if (!cur) return;
    const q = Math.floor(e.offsetY / cur.cell), k = Math.floor(e.offsetX / cur.cell);
    if (q < 0 || k < 0 || q >= cur.nq || k >= cur.nk) return tip.hide();
    const cols = cur.arr.shape[1];
    const v = valueAt(cur.arr, Math.floor(q / cur.f) * cols + Math.floor(k / cur.f));
    const note = cur.f > 1 ? ` (max of ${cur.f}×${cur.f})` : "";
    const r = root.getBoundingClientRect(), c = canvas.getBoundingClientRect();
    tip.show(cellText(cur.qt[q], cur.kt[k], v) + note, c.left - r.left + e.offsetX, c.top - r.top + e.offsetY);
  }

  const onLeave = () => tip.hide();
  canvas.addEventListener("mousemove", onMove);
  canvas.addEventListener("mouseleave", onLeave);
  return {
    el: wrap,
    canvas,
    draw,
    redrawLabels(th) {
      if (!cur) return;
      drawLabels(qlabels, cur.qt, cur.cell, "rows", th);
      drawLabels(klabels, cur.kt, cur.cell, "cols", th);
    },
    dispose() {
      canvas.removeEventListener("mousemove", onMove);
      canvas.removeEventListener("mouseleave", onLeave);
    },
  };
}
