// Layout of the LatentDecoder stage: one coordinate system shared by the three stacked canvases (cells, text, trace),
// so an arrow from a question number to a cell is a straight line in the same pixels the cells are drawn in.
// Rows are layers with the last layer on top (the logit-lens convention); columns are latent steps or positions.

export const MARGIN_LEFT = 48; // layer labels
export const MARGIN_RIGHT = 28; // room for a badge on the last column
export const COL_LABEL_H = 22; // latent / input-token labels above the grid
export const STRIP_H = 44; // question strip (latent mode only)
export const GRID_MAX_W = 880;
export const GRID_MAX_H = 760;

/** Geometry for `nRows` layers x `nCols` columns; `stripW` is the measured width of the question text. */
export function layout(nRows, nCols, withStrip, stripW = 0) {
  const cw = Math.max(4, Math.min(60, Math.floor(GRID_MAX_W / nCols)));
  const ch = Math.max(6, Math.min(26, Math.floor(GRID_MAX_H / nRows)));
  const strip = withStrip ? STRIP_H : 0;
  const x0 = MARGIN_LEFT, y0 = strip + COL_LABEL_H;
  const width = Math.max(x0 + nCols * cw + MARGIN_RIGHT, Math.ceil(stripW) + 16);
  const height = y0 + nRows * ch + 4;
  return { nRows, nCols, cw, ch, x0, y0, strip, width, height };
}

/** Top-left corner of the cell of (layer, col). */
export function cellXY(g, layer, col) {
  return [g.x0 + col * g.cw, g.y0 + (g.nRows - 1 - layer) * g.ch];
}

/** Centre of the cell of (layer, col). */
export function cellCenter(g, layer, col) {
  const [x, y] = cellXY(g, layer, col);
  return [x + g.cw / 2, y + g.ch / 2];
}

/** (layer, col) under a stage point, or null. */
export function cellAt(g, x, y) {
  const col = Math.floor((x - g.x0) / g.cw);
  const row = Math.floor((y - g.y0) / g.ch);
  if (col < 0 || row < 0 || col >= g.nCols || row >= g.nRows) return null;
  return [g.nRows - 1 - row, col];
}
