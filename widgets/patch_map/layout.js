// PatchMap's geometry: where each cell of a rows x cols map lies on the canvas, and what a pointer or a key picks.
// Cell (row, col) covers x in [x0 + col * cw, x0 + (col + 1) * cw) and y in [y0 + row * ch, y0 + (row + 1) * ch); the
// canvas exposes x0, y0, cw, ch as data-* attributes, so tests read pixels at a cell's centre without guessing.
// Below the cells: a strip of markers (MARK_PX) for positions where the prompts differ, then the rotated labels.

export const MARGIN = { left: 52, top: 6, right: 10 };
export const CELL = { minW: 1, maxW: 40, minH: 4, maxH: 26 };
export const MARK_PX = 5;
export const LABEL_GAP = 4;
export const LABEL_PX = 76;

/**
 * Geometry of a map of nRows x nCols cells fitting maxWidth x maxHeight pixels of cells; labelPx is the room for the
 * rotated column labels (at most LABEL_PX: longer labels are cut with an ellipsis).
 */
export function mapLayout(nRows, nCols, { maxWidth = 900, maxHeight = 440, labelPx = LABEL_PX } = {}) {
  const cw = Math.max(CELL.minW, Math.min(CELL.maxW, maxWidth / Math.max(1, nCols)));
  const ch = Math.max(CELL.minH, Math.min(CELL.maxH, Math.floor(maxHeight / Math.max(1, nRows))));
  const x0 = MARGIN.left, y0 = MARGIN.top;
  const w = cw * nCols, h = ch * nRows;
  const markY = y0 + h + 2;
  const labelY = markY + MARK_PX + LABEL_GAP;
  return {
    nRows, nCols, x0, y0, cw, ch, w, h, markY, labelY,
    width: Math.ceil(x0 + w + MARGIN.right),
    height: Math.ceil(labelY + Math.max(12, Math.min(LABEL_PX, labelPx))),
  };
}

/** The cell under canvas pixel (px, py), or null outside the cells. */
export function cellAt(g, px, py) {
  const col = Math.floor((px - g.x0) / g.cw), row = Math.floor((py - g.y0) / g.ch);
  if (px < g.x0 || py < g.y0 || col < 0 || row < 0 || col >= g.nCols || row >= g.nRows) return null;
  return { row, col };
}

/** Canvas pixel at the centre of cell (row, col). */
export function cellCenter(g, row, col) {
  return [g.x0 + (col + 0.5) * g.cw, g.y0 + (row + 0.5) * g.ch];
}

/** Every how many columns a label fits (labels are fontPx tall once rotated, plus 2 px). */
export function labelEvery(cellPx, fontPx = 11) {
  return Math.max(1, Math.ceil((fontPx + 2) / Math.max(cellPx, 1e-6)));
}

/**
 * The selection after a key: arrows move one cell (clamped), Home/End go to the row's first/last column, PageUp /
 * PageDown to the first/last row; with no selection any arrow starts at (0, 0). Returns null for other keys.
 */
export function moveSelection(sel, key, nRows, nCols) {
  const clampR = (r) => Math.max(0, Math.min(nRows - 1, r)), clampC = (c) => Math.max(0, Math.min(nCols - 1, c));
  const known = ["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Home", "End", "PageUp", "PageDown"];
  if (!known.includes(key)) return null;
  if (!sel || sel.row < 0 || sel.col < 0) return { row: 0, col: 0 };
  const { row, col } = sel;
  switch (key) {
    case "ArrowUp": return { row: clampR(row - 1), col };
    case "ArrowDown": return { row: clampR(row + 1), col };
    case "ArrowLeft": return { row, col: clampC(col - 1) };
    case "ArrowRight": return { row, col: clampC(col + 1) };
    case "Home": return { row, col: 0 };
    case "End": return { row, col: nCols - 1 };
    case "PageUp": return { row: 0, col };
    default: return { row: nRows - 1, col };
  }
}
