// The page runtime of an exported teaching page (workbench.widgets.export): the Jupyter widgets HTML manager plus
// anywidget's model and view, bundled as one classic script that the exporter inlines into the page. On load it reads
// every `application/vnd.jupyter.widget-state+json` script, restores those models (binary buffers included) with no
// kernel, and draws each `application/vnd.jupyter.widget-view+json` script where it stands. Nothing is fetched: each
// widget's own ES module is in its saved state (`_esm`) and anywidget imports it from a blob: URL.
import * as base from "@jupyter-widgets/base";
import { HTMLManager } from "@jupyter-widgets/html-manager/lib/htmlmanager.js";
import anywidgetFactory from "anywidget";

const STATE = "application/vnd.jupyter.widget-state+json";
const VIEW = "application/vnd.jupyter.widget-view+json";

/** anywidget's front end, built against the same @jupyter-widgets/base as the manager. */
const ANYWIDGET = anywidgetFactory(base);

/** Modules the manager may ask for beyond its own (base, controls, output): anywidget only. */
function loader(name, version) {
  if (name === "anywidget") return Promise.resolve(ANYWIDGET);
  return Promise.reject(new Error(`this page does not include the widget module ${name}@${version}`));
}

/** Replace a view script with a message in place of the widget it could not draw. */
function fail(tag, err) {
  const box = document.createElement("div");
  box.className = "wb-page-error";
  box.textContent = `This widget could not be drawn: ${err && err.message ? err.message : err}`;
  tag.parentElement && tag.parentElement.insertBefore(box, tag);
  console.error(err);
}

/** Restore the models of one saved state and draw every view script whose model it holds. */
async function renderState(stateTag, root) {
  const manager = new HTMLManager({ loader });
  const models = await manager.set_state(JSON.parse(stateTag.textContent));
  const byId = new Map(models.map((m) => [m.model_id, m]));
  const views = Array.from(root.querySelectorAll(`script[type="${VIEW}"]`));
  let drawn = 0;
  await Promise.all(views.map(async (tag) => {
    let spec;
    try {
      spec = JSON.parse(tag.textContent);
    } catch (err) {
      return fail(tag, err);
    }
    const model = byId.get(spec.model_id);
    if (!model || !tag.parentElement) return;
    const host = document.createElement("div");
    host.className = "widget-subarea wb-page-widget";
    host.dataset.modelId = spec.model_id;
    tag.parentElement.insertBefore(host, tag);
    try {
      const view = await manager.create_view(model);
      await manager.display_view(view, host);
      drawn += 1;
    } catch (err) {
      fail(tag, err);
    }
  }));
  return drawn;
}

/** Draw every widget on the page; sets data-wb-page="ready" on <html> with the number drawn (tests wait on it). */
export async function renderPage(root = document) {
  const states = Array.from(root.querySelectorAll(`script[type="${STATE}"]`));
  let drawn = 0;
  for (const tag of states) {
    try {
      drawn += await renderState(tag, root);
    } catch (err) {
      fail(tag, err);
    }
  }
  document.documentElement.dataset.wbPage = "ready";
  document.documentElement.dataset.wbViews = String(drawn);
  return drawn;
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => renderPage());
else renderPage();
