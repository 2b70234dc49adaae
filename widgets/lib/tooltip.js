// A small positioned read-out element: the shared .wb-tooltip look plus a class given by the caller (tests find it).
import "./tooltip.css";

export function createTooltip(parent, className) {
  const el = document.createElement("div");
  el.className = `wb-tooltip ${className}`;
  el.setAttribute("role", "tooltip");
  el.hidden = true;
  parent.appendChild(el);
  return {
    el,
    /** Show `text` near (x, y), in the parent's coordinates. */
    show(text, x, y) {
      el.textContent = text;
      el.hidden = false;
      el.style.left = `${Math.round(x + 12)}px`;
      el.style.top = `${Math.round(y + 12)}px`;
    },
    hide() {
      el.hidden = true;
    },
  };
}

/** `"cat" → "The": 0.412` (JSON quoting keeps whitespace tokens visible). */
export function cellText(queryToken, keyToken, value) {
  const w = Number.isNaN(value) ? "masked" : value.toFixed(3);
  return `${JSON.stringify(String(queryToken))} → ${JSON.stringify(String(keyToken))}: ${w}`;
}
