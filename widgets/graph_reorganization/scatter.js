// The scatter: node means at one context length in two principal components, the graph's edges as lines, each node
// labelled with its word and coloured by its group, the fitted Laplacian layout as ghost rings, and the hovered node
// with its neighbours highlighted. Drawn order: edges, ghosts, markers, labels, highlight (so a marker's centre pixel
// is its own colour). Where each node went is exposed in data-pos for tests and hover.
import { frameTransform, GHOST_RADIUS, neighbours, RADIUS, SCATTER } from "./geometry.js";

export function createScatter() {
  const canvas = document.createElement("canvas");
  canvas.className = "wb-gr-scatter";
  canvas.width = SCATTER.width;
  canvas.height = SCATTER.height;
  canvas.tabIndex = -1;
  let positions = [];

  /**
   * xs, ys: Float32Array per node (NaN = masked); gx, gy: ghost layout or null; words; colors (css per node);
   * adjacency (flat n x n); hover: node index or -1; labels: axis names; th: theme.
   */
  function draw({ xs, ys, gx, gy, words, colors, adjacency, hover, xLabel, yLabel, th }) {
    const ctx = canvas.getContext("2d");
    const n = words.length;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const t = frameTransform(xs, ys);
    positions = Array.from({ length: n }, (_, i) =>
      (Number.isFinite(xs[i]) && Number.isFinite(ys[i]) ? [t.px(xs[i]), t.py(ys[i])] : null));
    // frame and axis names
    ctx.strokeStyle = th.grid;
    ctx.lineWidth = 1;
    ctx.strokeRect(0.5, 0.5, canvas.width - 1, canvas.height - 1);
    ctx.fillStyle = th.muted;
    ctx.font = `11px ${th.family}`;
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillText(xLabel, canvas.width / 2, canvas.height - 4);
    ctx.save();
    ctx.translate(12, canvas.height / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText(yLabel, 0, 0);
    ctx.restore();
    // edges
    ctx.strokeStyle = th.edge;
    ctx.lineWidth = 1.5;
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) {
      if (!(adjacency[i * n + j] > 0) || !positions[i] || !positions[j]) continue;
      ctx.beginPath();
      ctx.moveTo(...positions[i]);
      ctx.lineTo(...positions[j]);
      ctx.stroke();
    }
    // ghost layout
    if (gx && gy) {
      ctx.save();
      ctx.beginPath();
      ctx.rect(0, 0, canvas.width, canvas.height);
      ctx.clip();
      ctx.strokeStyle = th.ghost;
      ctx.setLineDash([3, 3]);
      ctx.lineWidth = 1;
      for (let i = 0; i < n; i++) {
        if (!Number.isFinite(gx[i]) || !Number.isFinite(gy[i])) continue;
        ctx.beginPath();
        ctx.arc(t.px(gx[i]), t.py(gy[i]), GHOST_RADIUS, 0, 2 * Math.PI);
        ctx.stroke();
      }
      ctx.restore();
    }
    // markers
    for (let i = 0; i < n; i++) {
      if (!positions[i]) continue;
      ctx.fillStyle = colors[i] || th.accent;
      ctx.beginPath();
      ctx.arc(positions[i][0], positions[i][1], RADIUS, 0, 2 * Math.PI);
      ctx.fill();
    }
    // labels, up-right of the marker so its centre stays clear (up-left near the right edge)
    ctx.fillStyle = th.font;
    ctx.font = `11px ${th.family}`;
    ctx.textBaseline = "bottom";
    for (let i = 0; i < n; i++) {
      if (!positions[i]) continue;
      const [x, y] = positions[i];
      const right = x + RADIUS + 2 + ctx.measureText(words[i]).width <= canvas.width - 2;
      ctx.textAlign = right ? "left" : "right";
      ctx.fillText(words[i], right ? x + RADIUS + 2 : x - RADIUS - 2, y - RADIUS + 2);
    }
    // hover: the node and its neighbours ringed, their edges in the accent colour
    if (hover >= 0 && positions[hover]) {
      const nb = neighbours(adjacency, n, hover);
      ctx.strokeStyle = th.accent;
      ctx.lineWidth = 2.5;
      for (const j of nb) {
        if (!positions[j]) continue;
        ctx.beginPath();
        ctx.moveTo(...positions[hover]);
        ctx.lineTo(...positions[j]);
        ctx.stroke();
      }
      for (const j of [hover, ...nb]) {
        if (!positions[j]) continue;
        ctx.beginPath();
        ctx.arc(positions[j][0], positions[j][1], RADIUS + 3, 0, 2 * Math.PI);
        ctx.stroke();
      }
    }
    canvas.dataset.pos = JSON.stringify(positions.map((p) => (p ? [Math.round(p[0] * 10) / 10, Math.round(p[1] * 10) / 10] : null)));
    canvas.dataset.transform = JSON.stringify({ cx: t.cx, cy: t.cy, s: t.s });
    return positions;
  }

  return { canvas, draw, positions: () => positions };
}
