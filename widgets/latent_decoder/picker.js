// Problem picker: three filter menus (correct / decoded / verified) composing the `filter` trait, a menu of the
// problems that pass it (computed by the kernel: `_visible`), and previous / next buttons. Native controls, so the
// keyboard works everywhere; JupyterLab's shortcuts are suppressed inside so arrow keys reach them.

const FILTERS = [
  ["correct", [["", "any answer"], ["correct", "correct"], ["incorrect", "incorrect"]]],
  ["decoded", [["", "decoded or not"], ["decoded", "decoded"], ["not decoded", "not decoded"]]],
  ["verified", [["", "verified or not"], ["verified", "verified"], ["not verified", "not verified"]]],
];

function option(value, text) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text;
  return o;
}

export function createPicker(onProblem, onFilter) {
  const el = document.createElement("div");
  el.className = "wb-ld-picker";
  el.setAttribute("data-lm-suppress-shortcuts", "true");
  const filters = document.createElement("div");
  filters.className = "wb-ld-filters";
  const menus = FILTERS.map(([name, opts]) => {
    const s = document.createElement("select");
    s.className = `wb-ld-filter wb-ld-filter-${name}`;
    s.setAttribute("aria-label", `filter: ${name}`);
    for (const [v, t] of opts) s.append(option(v, t));
    s.addEventListener("change", () => onFilter(menus.map((m) => m.value).filter(Boolean).join(",") || "all"));
    filters.append(s);
    return s;
  });
  const row = document.createElement("div");
  row.className = "wb-ld-pickrow";
  const prev = document.createElement("button");
  prev.className = "wb-ld-prev";
  prev.textContent = "◀";
  prev.setAttribute("aria-label", "previous problem");
  const next = document.createElement("button");
  next.className = "wb-ld-next";
  next.textContent = "▶";
  next.setAttribute("aria-label", "next problem");
  const select = document.createElement("select");
  select.className = "wb-ld-problem";
  select.setAttribute("aria-label", "problem");
  const count = document.createElement("span");
  count.className = "wb-ld-count";
  row.append(prev, select, next, count);
  el.append(filters, row);
  let visible = [];
  let current = 0;

  select.addEventListener("change", () => onProblem(Number(select.value)));
  const step = (d) => {
    if (!visible.length) return;
    const i = visible.indexOf(current);
    const j = i < 0 ? 0 : Math.min(visible.length - 1, Math.max(0, i + d));
    if (visible[j] !== current) onProblem(visible[j]);
  };
  prev.addEventListener("click", () => step(-1));
  next.addEventListener("click", () => step(1));

  /** Rebuild from the synced state. */
  function update(items, vis, problem, filter, mode, nProblems) {
    visible = vis;
    current = problem;
    filters.hidden = mode !== "latent";
    el.hidden = mode !== "latent" && nProblems <= 1;
    const terms = filter === "all" ? [] : filter.split(",");
    FILTERS.forEach(([, opts], i) => {
      menus[i].value = opts.map((o) => o[0]).find((v) => v && terms.includes(v)) || "";
    });
    select.replaceChildren();
    const shown = vis.includes(problem) ? vis : [problem, ...vis];
    for (const i of shown) {
      const it = items[i] || { label: String(i) };
      const flags = mode === "latent"
        ? ` ${it.correct === true ? "✓" : it.correct === false ? "✗" : ""}${it.decoded ? " ⟶" : ""}` +
          `${it.verified_checks !== null && it.verified_checks !== undefined ? ` ${it.verified_checks}✔` : ""}`
        : "";
      select.append(option(String(i), it.label + flags));
    }
    select.value = String(problem);
    prev.disabled = vis.indexOf(problem) <= 0;
    next.disabled = vis.indexOf(problem) < 0 ? !vis.length : vis.indexOf(problem) >= vis.length - 1;
    count.textContent = mode === "latent" ? `${vis.length} of ${nProblems} problems` : `${nProblems} prompts`;
    el.dataset.visible = vis.join(",");
  }

  return { el, update, select, prev, next, menus };
}
