// AttentionMap front end: the view (view.js) mounted on the widget's own model.
import { mount } from "./view.js";
import "./styles.css";

function render({ model, el }) {
  return mount(model, el);
}

export default { render };
