// One curve panel against context length on a log axis: the study's line (accent), an optional band (sd or the
// permutation null), dashed reference lines, the controls as grey lines, and a cursor at the current T. A click
// reports the context length under the pointer.
import { logScale, PANEL } from "./geometry.js";

const fmt = (v) => (v >= 1000 ? `${v / 1000}k` : String(v));

/** Ticks of a log axis: 1, 10, 100, ... plus 2x and 5x when the range is short. */
export function logTicks(lo, hi) {
  const out = [];
  for (let e = Math.floor(Math.log10(lo)); 10 ** e <= hi; e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo && v <= hi && (m === 1 || hi / lo < 200)) out.push(v);
    }
  }
  return out;
}

export function createPanel(name, title, onPick) {
  const canvas = document.createElement("canvas");
  canvas.className = `wb-gr-curve wb-gr-curve-${name}`;
  canvas.width = PANEL.width;
  canvas.height = PANEL.height;
  canvas.title = `${title}: click to move T`;
  let xscale = null;
  let lastDomain = [1, 2];

  canvas.addEventListener("click", (e) => {
    if (!xscale) return;
    const x = Math.min(Math.max(e.offsetX, PANEL.left), PANEL.width - PANEL.right);
    onPick(xscale.from(x));
  });

  /**
   * series: [{x: Float32Array|Array, y, color, width, dash}]; band: {x, lo, hi, color} | null;
   * refs: [{y, color, dash}]; domain: [xlo, xhi] (> 0); yrange: [lo, hi]; cursor: x value; th: theme.
   */
  function draw({ series, band, refs = [], domain, yrange, cursor, th }) {
    const ctx = canvas.getContext("2d");
    const W = PANEL.width, H = PANEL.height;
    ctx.clearRect(0, 0, W, H);
    lastDomain = domain;
    xscale = logScale(domain[0], domain[1], PANEL.left, W - PANEL.right);
    const [ylo, yhi] = yrange;
    const py = (v) => H - PANEL.bottom - ((v - ylo) / (yhi - ylo)) * (H - PANEL.top - PANEL.bottom);
    ctx.font = `10px ${th.family}`;
    ctx.fillStyle = th.font;
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    ctx.fillText(title, PANEL.left, 4);
    ctx.strokeStyle = th.grid;
    ctx.lineWidth = 1;
    ctx.strokeRect(PANEL.left + 0.5, PANEL.top + 0.5, W - PANEL.left - PANEL.right, H - PANEL.top - PANEL.bottom);
    ctx.fillStyle = th.muted;
    ctx.textAlign = "center";
    for (const t of logTicks(domain[0], domain[1])) ctx.fillText(fmt(t), xscale.to(t), H - PANEL.bottom + 3);
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const v of [ylo, (ylo + yhi) / 2, yhi]) ctx.fillText(String(+v.toFixed(2)), PANEL.left - 3, py(v));
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillText("context length T", PANEL.left + (W - PANEL.left - PANEL.right) / 2, H);

    ctx.save();
    ctx.beginPath();
    ctx.rect(PANEL.left, PANEL.top, W - PANEL.left - PANEL.right, H - PANEL.top - PANEL.bottom);
    ctx.clip();
    if (band) {
      ctx.fillStyle = band.color;
      ctx.beginPath();
      let started = false;
      for (let i = 0; i < band.x.length; i++) {
        if (!Number.isFinite(band.hi[i])) continue;
        const p = [xscale.to(band.x[i]), py(band.hi[i])];
        if (!started) { ctx.moveTo(...p); started = true; } else ctx.lineTo(...p);
      }
      for (let i = band.x.length - 1; i >= 0; i--) if (Number.isFinite(band.lo[i])) ctx.lineTo(xscale.to(band.x[i]), py(band.lo[i]));
      ctx.closePath();
      if (started) ctx.fill();
    }
    for (const r of refs) {
      ctx.strokeStyle = r.color;
      ctx.setLineDash(r.dash || [4, 3]);
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(PANEL.left, py(r.y));
      ctx.lineTo(W - PANEL.right, py(r.y));
      ctx.stroke();
    }
    ctx.setLineDash([]);
    for (const s of series) {
      ctx.strokeStyle = s.color;
      ctx.lineWidth = s.width || 1.5;
      ctx.setLineDash(s.dash || []);
      ctx.beginPath();
      let pen = false;
      for (let i = 0; i < s.x.length; i++) {
        if (!Number.isFinite(s.y[i])) { pen = false; continue; }
        const p = [xscale.to(s.x[i]), py(s.y[i])];
        if (pen) ctx.lineTo(...p); else { ctx.moveTo(...p); pen = true; }
      }
      ctx.stroke();
    }
    ctx.setLineDash([]);
    if (cursor) {
      ctx.strokeStyle = th.accent;
      ctx.lineWidth = 1;
      ctx.setLineDash([2, 2]);
      ctx.beginPath();
      const x = Math.round(xscale.to(cursor)) + 0.5;
      ctx.moveTo(x, PANEL.top);
      ctx.lineTo(x, H - PANEL.bottom);
      ctx.stroke();
      canvas.dataset.cursor = String(x - 0.5);
    }
    ctx.restore();
    canvas.dataset.domain = JSON.stringify(lastDomain);
  }

  return { canvas, draw, xFor: (v) => (xscale ? xscale.to(v) : NaN) };
}
