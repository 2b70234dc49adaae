// PatchMap's diverging colour scale: symmetric about 0 (blue negative, near-white 0, red positive), so the sign of a
// patching effect reads at a glance on light and dark themes. A value v on a map whose largest |value| is m gets the
// code 127 ± round(127 * |t|) with t = clamp(v / m, -1, 1): 0 = -m (full blue), 127 = 0 (white), 254 = +m (full
// red); 255 = NaN (transparent: the hatched background shows through).

/** Seven stops of a red-blue diverging ramp, from t = -1 to t = +1 (the middle one is t = 0). */
export const STOPS = [
  [33, 102, 172], [103, 169, 207], [209, 229, 240], [247, 247, 247], [253, 219, 199], [239, 138, 98], [178, 24, 43],
];
export const CENTRE = 127;
export const NAN_CODE = 255;

/** Largest finite |value| over the given arrays, the half-width of the symmetric domain (1 when there is none). */
export function symmetricMax(...arrays) {
  let m = 0;
  for (const a of arrays) {
    if (!a) continue;
    for (let i = 0; i < a.length; i++) {
      const v = Math.abs(a[i]);
      if (v > m && Number.isFinite(v)) m = v;
    }
  }
  return m > 0 ? m : 1;
}

/** The colour code of value v on the domain [-m, m] (NaN: NAN_CODE). */
export function code(v, m) {
  if (!Number.isFinite(v)) return NAN_CODE;
  const t = Math.max(-1, Math.min(1, v / m));
  const k = Math.round(CENTRE * Math.abs(t)); // rounded on |t|, so v and -v land equally far from the centre
  return t < 0 ? CENTRE - k : CENTRE + k;
}

/** RGB of a position t in [-1, 1] on the ramp (linear between stops). */
export function rgbAt(t) {
  const x = ((Math.max(-1, Math.min(1, t)) + 1) / 2) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x)), f = x - i;
  return [0, 1, 2].map((k) => Math.round(STOPS[i][k] + f * (STOPS[i + 1][k] - STOPS[i][k])));
}

/** RGBA lookup table, 256 x 4 bytes: index = code; code 255 is transparent. */
export const LUT = (() => {
  const lut = new Uint8ClampedArray(256 * 4);
  for (let c = 0; c < NAN_CODE; c++) {
    const [r, g, b] = rgbAt((c - CENTRE) / CENTRE);
    lut.set([r, g, b, 255], 4 * c);
  }
  return lut;
})();

/** CSS colour of value v on [-m, m] ("transparent" for NaN). */
export function cssColor(v, m) {
  const c = code(v, m);
  if (c === NAN_CODE) return "transparent";
  return `rgb(${LUT[4 * c]},${LUT[4 * c + 1]},${LUT[4 * c + 2]})`;
}
