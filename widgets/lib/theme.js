// JupyterLab theme values, read from its CSS variables so light and dark themes both work (with plain fallbacks
// for pages without JupyterLab, e.g. a static HTML export).

export function cssVar(el, name, fallback) {
  const v = getComputedStyle(el).getPropertyValue(name).trim();
  return v || fallback;
}

export function theme(el) {
  return {
    font: cssVar(el, "--jp-ui-font-color1", "#222"),
    muted: cssVar(el, "--jp-ui-font-color2", "#666"),
    accent: cssVar(el, "--jp-brand-color1", "#1976d2"),
    family: cssVar(el, "--jp-ui-font-family", "system-ui, sans-serif"),
  };
}

/** Call `fn` when JupyterLab switches theme (it flips data-jp-theme-* on <body>); returns a disposer. */
export function onThemeChange(fn) {
  if (typeof MutationObserver === "undefined" || !document.body) return () => {};
  const obs = new MutationObserver(() => fn());
  obs.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-jp-theme-name"] });
  return () => obs.disconnect();
}
