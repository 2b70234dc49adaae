// Offline pages (a saved notebook, an exported teaching page): a widget restored from saved state with no kernel
// reads everything it can from that state; when a click needs data that is not there, it says so in the widget,
// with the sentence its Python side left in the `_offline` trait. Every widget uses these two helpers.

/** Whether a kernel is connected: JupyterLab's widget manager has one; the page runtime's HTML manager never does. */
export function hasKernel(model) {
  const wm = model && model.widget_manager;
  return !!(wm && wm.kernel);
}

/** A note element (hidden until shown) with the shared class `wb-needs-kernel` beside the widget's own class. */
export function kernelNote(cls) {
  const el = document.createElement("div");
  el.className = `${cls} wb-needs-kernel`;
  el.setAttribute("role", "status");
  el.hidden = true;
  return {
    el,
    /** Show `what` (e.g. "layer 3 · head 2") as needing a live kernel, with the saved state's reason. */
    show(what, reason) {
      el.textContent = `${what} needs a live kernel: it is not in this page's saved state` + (reason ? ` (${reason}).` : ".");
      el.hidden = false;
    },
    hide() {
      el.hidden = true;
      el.textContent = "";
    },
  };
}
