// One sequential colour scale (viridis): perceptually uniform, and neither end is white or black, so it reads on
// JupyterLab's light and dark themes alike. Code 255 (NaN: masked / padding) is transparent.

const STOPS = [
  [68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37],
];

/** RGBA lookup table, 256 x 4 bytes: index = code (0..254 maps 0..1), 255 = transparent. */
export const LUT = (() => {
  const lut = new Uint8ClampedArray(256 * 4);
  for (let c = 0; c < 255; c++) {
    const t = (c / 254) * (STOPS.length - 1);
    const i = Math.min(STOPS.length - 2, Math.floor(t)), f = t - i;
    for (let k = 0; k < 3; k++) lut[4 * c + k] = Math.round(STOPS[i][k] + f * (STOPS[i + 1][k] - STOPS[i][k]));
    lut[4 * c + 3] = 255;
  }
  return lut; // entry 255 stays 0,0,0,0
})();

/** CSS colour for a value in [0, 1]. */
export function cssColor(t) {
  const c = Math.round(Math.min(1, Math.max(0, t)) * 254);
  return `rgb(${LUT[4 * c]},${LUT[4 * c + 1]},${LUT[4 * c + 2]})`;
}
