// Composition bars: one horizontal bar per cluster, split by the categories of the chosen label (shares), drawn on a
// canvas; the layout is returned (and exposed) so hover and tests can find every segment.
import { categoryColor, clusterColor } from "./palette.js";

export const BAR = { left: 70, right: 12, top: 22, row: 22, height: 14 };

/** Pixel layout: per cluster {y0, y1, segments: [{k, x0, x1, share, count}]}. */
export function barLayout(width, shares, counts) {
  const w = width - BAR.left - BAR.right;
  return shares.map((row, c) => {
    const y0 = BAR.top + c * BAR.row;
    let acc = 0;
    const segments = row.map((share, k) => {
      const x0 = BAR.left + acc * w;
      acc += share;
      return { k, x0, x1: BAR.left + acc * w, share, count: counts[c][k] };
    });
    return { c, y0, y1: y0 + BAR.height, segments };
  });
}

export function barsHeight(nClusters) {
  return BAR.top + Math.max(1, nClusters) * BAR.row + 22;
}

export function drawBars(canvas, layout, categories, t, title, selected = -1, names = null) {
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.font = `11px ${t.family}`;
  ctx.fillStyle = t.font;
  ctx.textBaseline = "bottom";
  ctx.textAlign = "left";
  ctx.fillText(title, 4, BAR.top - 6);
  for (const row of layout) {
    ctx.fillStyle = clusterColor(row.c);
    ctx.fillRect(4, row.y0 + 2, 10, BAR.height - 4);
    ctx.fillStyle = row.c === selected ? t.accent : t.font;
    ctx.textBaseline = "middle";
    ctx.fillText(names ? names[row.c] : `cluster ${row.c}`, 18, (row.y0 + row.y1) / 2);
    for (const s of row.segments) {
      if (s.x1 - s.x0 <= 0) continue;
      ctx.fillStyle = categoryColor(s.k);
      ctx.fillRect(Math.round(s.x0), row.y0, Math.max(1, Math.round(s.x1) - Math.round(s.x0)), BAR.height);
    }
    if (row.c === selected) {
      ctx.strokeStyle = t.accent;
      ctx.lineWidth = 2;
      ctx.strokeRect(BAR.left - 1, row.y0 - 1, canvas.width - BAR.left - BAR.right + 2, BAR.height + 2);
    }
  }
  // legend of the categories under the bars
  let x = BAR.left;
  const y = BAR.top + layout.length * BAR.row + 10;
  ctx.textBaseline = "middle";
  categories.forEach((cat, k) => {
    ctx.fillStyle = categoryColor(k);
    ctx.fillRect(x, y - 5, 10, 10);
    ctx.fillStyle = t.font;
    ctx.fillText(cat, x + 13, y);
    x += 13 + ctx.measureText(cat).width + 10;
  });
}

/** The segment under (px, py), or null. */
export function segmentAt(layout, px, py) {
  for (const row of layout) {
    if (py < row.y0 || py > row.y1) continue;
    for (const s of row.segments) if (px >= s.x0 && px < s.x1) return { c: row.c, ...s };
  }
  return null;
}
