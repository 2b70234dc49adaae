// Colours of LossClusters: clusters (Tableau 10) and label categories (Dark 2, then Paired), chosen to read on both
// JupyterLab themes. Outliers are never drawn as a cluster.

export const CLUSTER_COLORS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
  "#ff9da7", "#9c755f", "#bab0ac"];
export const CATEGORY_COLORS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
  "#666666", "#a6cee3", "#1f78b4", "#b2df8a", "#33a02c", "#fb9a99", "#e31a1c", "#fdbf6f", "#ff7f00", "#cab2d6",
  "#6a3d9a", "#ffff99", "#b15928", "#8dd3c7", "#bebada", "#80b1d3", "#fccde5"];

export const clusterColor = (c) => CLUSTER_COLORS[((c % CLUSTER_COLORS.length) + CLUSTER_COLORS.length) % CLUSTER_COLORS.length];
export const categoryColor = (k) => CATEGORY_COLORS[k % CATEGORY_COLORS.length];

/** "#rrggbb" -> [r, g, b]. */
export function rgb(hex) {
  const h = hex.replace("#", "");
  return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16));
}

/** "#rrggbb" with an alpha, as a CSS colour. */
export function rgba(hex, a) {
  const [r, g, b] = rgb(hex);
  return `rgba(${r},${g},${b},${a})`;
}
