// Overview: every layer x head as a thumbnail on one canvas (rows = layers, cols = heads). Click or arrow keys
// select a head. Geometry is exposed as data-* attributes so tests can aim clicks without guessing.
import { decode, toCodes } from "../lib/binary.js";
import { blit, cellImage } from "../lib/heatmap.js";

/** Largest thumbnail side on screen (px) and smallest; the grid aims to stay within GRID_MAX_PX wide. */
export const THUMB_MAX_PX = 48;
export const THUMB_MIN_PX = 10;
export const GRID_MAX_PX = 520;
const GAP = 3;
/** Score badges: drawn in the bottom-right corner of thumbnails at least this wide (px), white with dark text. */
export const BADGE_MIN_PX = 20;
export const BADGE_H = 11;
export const BADGE_BG = "rgb(255,255,255)";
const BADGE_FG = "rgb(20,20,20)";
const MARGIN_LEFT = 30; // room for layer numbers
const MARGIN_TOP = 16; // room for head numbers

export function createGrid(onSelect) {
  const canvas = document.createElement("canvas");
  canvas.className = "wb-am-grid";
  canvas.tabIndex = 0;
  canvas.setAttribute("role", "grid");
  canvas.setAttribute("aria-label", "attention heads: arrow keys move the selection");
  // JupyterLab's shortcut handler (capture phase) would take the arrow keys for notebook navigation
  canvas.setAttribute("data-lm-suppress-shortcuts", "true");
  let geo = null; // {L, H, px, image}
  let sel = [0, 0];

  function build(meta, buffer) {
    const arr = decode(meta, buffer);
    const [L, H, tq, tk] = arr.shape;
    const codes = toCodes(arr);
    const px = Math.max(THUMB_MIN_PX, Math.min(THUMB_MAX_PX, Math.floor((GRID_MAX_PX - MARGIN_LEFT) / H) - GAP));
    // every thumbnail painted once into an offscreen atlas; selection changes only re-blit it
    const atlas = document.createElement("canvas");
    atlas.width = MARGIN_LEFT + H * (px + GAP);
    atlas.height = MARGIN_TOP + L * (px + GAP);
    const actx = atlas.getContext("2d");
    for (let l = 0; l < L; l++)
      for (let h = 0; h < H; h++) {
        const img = cellImage(codes, tq, tk, (l * H + h) * tq * tk);
        blit(actx, img, MARGIN_LEFT + h * (px + GAP), MARGIN_TOP + l * (px + GAP), px, px);
      }
    geo = { L, H, px, atlas };
    canvas.width = atlas.width;
    canvas.height = atlas.height;
    Object.assign(canvas.dataset, {
      nLayers: L, nHeads: H, thumbPx: px, gap: GAP, x0: MARGIN_LEFT, y0: MARGIN_TOP, thumbCells: `${tq}x${tk}`,
    });
  }

  /** badges: null, or one {text, title} (or null) per head in layer-major order, drawn on each thumbnail. */
  function draw(th, layerLabels, headLabels, badges = null) {
    if (!geo) return;
    const { L, H, px, atlas } = geo;
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(atlas, 0, 0);
    ctx.font = `10px ${th.family}`;
    ctx.fillStyle = th.muted;
    ctx.textBaseline = "middle";
    ctx.textAlign = "center";
    const every = Math.max(1, Math.ceil(22 / (px + GAP)));
    for (let h = 0; h < H; h += every) ctx.fillText(headLabels[h] ?? h, MARGIN_LEFT + h * (px + GAP) + px / 2, 8);
    ctx.textAlign = "right";
    for (let l = 0; l < L; l += Math.max(1, Math.ceil(12 / (px + GAP))))
      ctx.fillText(layerLabels[l] ?? l, MARGIN_LEFT - 5, MARGIN_TOP + l * (px + GAP) + px / 2);
    let nBadges = 0;
    if (badges && px >= BADGE_MIN_PX) {
      ctx.font = `9px ${th.family}`;
      ctx.textAlign = "right";
      ctx.textBaseline = "bottom";
      for (let l = 0; l < L; l++)
        for (let h = 0; h < H; h++) {
          const b = badges[l * H + h];
          if (!b) continue;
          const w = Math.min(px, Math.ceil(ctx.measureText(b.text).width) + 4);
          const x1 = MARGIN_LEFT + h * (px + GAP) + px, y1 = MARGIN_TOP + l * (px + GAP) + px;
          ctx.fillStyle = BADGE_BG;
          ctx.fillRect(x1 - w, y1 - BADGE_H, w, BADGE_H);
          ctx.fillStyle = BADGE_FG;
          ctx.fillText(b.text, x1 - 2, y1);
          nBadges++;
        }
    }
    canvas.dataset.badges = String(nBadges);
    if (badges) canvas.dataset.badgeW = String(BADGE_H);
    const [sl, sh] = sel;
    ctx.strokeStyle = th.accent;
    ctx.lineWidth = 2;
    ctx.strokeRect(MARGIN_LEFT + sh * (px + GAP) - 1.5, MARGIN_TOP + sl * (px + GAP) - 1.5, px + 3, px + 3);
    canvas.dataset.selected = `${sl},${sh}`;
    canvas.dataset.drawn = String(Number(canvas.dataset.drawn || 0) + 1);
  }

  function cellAt(x, y) {
    if (!geo) return null;
    const h = Math.floor((x - MARGIN_LEFT) / (geo.px + GAP));
    const l = Math.floor((y - MARGIN_TOP) / (geo.px + GAP));
    return l >= 0 && h >= 0 && l < geo.L && h < geo.H ? [l, h] : null;
  }

  function onClick(e) {
    const c = cellAt(e.offsetX, e.offsetY);
    if (c) onSelect(c[0], c[1]);
  }

  function onKey(e) {
    if (!geo) return;
    const d = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] }[e.key];
    if (!d) return;
    e.preventDefault();
    e.stopPropagation(); // keep JupyterLab's notebook from moving between cells
    const l = Math.min(geo.L - 1, Math.max(0, sel[0] + d[0]));
    const h = Math.min(geo.H - 1, Math.max(0, sel[1] + d[1]));
    onSelect(l, h);
  }

  canvas.addEventListener("click", onClick);
  canvas.addEventListener("keydown", onKey);
  return {
    canvas,
    build,
    draw,
    cellAt,
    setSelection(l, h) {
      sel = [l, h];
    },
    dispose() {
      canvas.removeEventListener("click", onClick);
      canvas.removeEventListener("keydown", onKey);
    },
  };
}
