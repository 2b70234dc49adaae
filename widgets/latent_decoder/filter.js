// Which problems pass a filter ("all", or terms such as "correct,decoded"): the same rule as LatentDecoder.visible()
// in Python, so a page without a kernel filters problems itself.

/** Indices of the picker entries (`items`: {index, correct, decoded, verified}) that pass every term of `filter`. */
export function visibleProblems(items, filter) {
  const terms = !filter || filter === "all" ? [] : filter.split(",");
  const pass = (it, t) => {
    const neg = t.startsWith("not ") || t === "incorrect";
    const key = t === "incorrect" ? "correct" : t.replace(/^not /, "");
    const v = it[key];
    return v !== null && v !== undefined && Boolean(v) !== neg;
  };
  return (items || []).filter((it) => terms.every((t) => pass(it, t))).map((it) => it.index);
}
