// Token labels along a heatmap axis, drawn on canvas. When cells are smaller than a line of text, every n-th token
// is labelled (n = the smallest step that keeps labels from overlapping).

export const LABEL_FONT_PX = 11;

/** Step between labelled tokens for cells of `cellPx` pixels. */
export function labelStep(cellPx) {
  return Math.max(1, Math.ceil((LABEL_FONT_PX + 2) / Math.max(cellPx, 1e-6)));
}

/** Fit a token into `maxPx`: show whitespace visibly, truncate with an ellipsis. */
export function fitLabel(ctx, token, maxPx) {
  let s = String(token).replace(/\n/g, "⏎").replace(/\t/g, "⇥").replace(/^ /, "␣");
  if (ctx.measureText(s).width <= maxPx) return s;
  while (s.length > 1 && ctx.measureText(s + "…").width > maxPx) s = s.slice(0, -1);
  return s + "…";
}

/**
 * Draw labels for `tokens` (cellPx apart) on `canvas`: axis "rows" writes right-aligned text down the canvas,
 * "cols" writes text rotated -90° along the bottom edge. Returns the step used.
 */
export function drawLabels(canvas, tokens, cellPx, axis, th) {
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = `${LABEL_FONT_PX}px ${th.family}`;
  ctx.fillStyle = th.font;
  const step = labelStep(cellPx);
  const room = (axis === "rows" ? canvas.width : canvas.height) - 4;
  for (let i = 0; i < tokens.length; i += step) {
    // keep the text inside the canvas even when cells are thinner than a line (e.g. 2,048 tokens)
    const extent = axis === "rows" ? canvas.height : canvas.width;
    const mid = Math.min(extent - LABEL_FONT_PX / 2, Math.max(LABEL_FONT_PX / 2, i * cellPx + cellPx / 2));
    const text = fitLabel(ctx, tokens[i], room);
    if (axis === "rows") {
      ctx.textAlign = "right";
      ctx.textBaseline = "middle";
      ctx.fillText(text, canvas.width - 3, mid);
    } else {
      ctx.save();
      ctx.translate(mid, canvas.height - 3);
      ctx.rotate(-Math.PI / 2);
      ctx.textAlign = "left";
      ctx.textBaseline = "middle";
      ctx.fillText(text, 0, 0);
      ctx.restore();
    }
  }
  canvas.dataset.step = String(step);
  return step;
}
