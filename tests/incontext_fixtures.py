"""A small in-context study shared by the widget tests and the notebooks they open (same seeds, same numbers):
a tiny random-init Gemma-3 over the grid's 16 word tokens, with the mixing toy as its control."""

from __future__ import annotations

CONTEXTS = [12, 25, 50, 100, 200, 300]


def make_study():
    from tiny_models import tiny_word_model, word_tokenizer
    from workbench import load_model
    from workbench.analyses import incontext as ic
    from workbench.zoo.tasks import graphs

    g = graphs.grid()
    model = load_model(tiny_word_model("gemma3", g.n, seed=1), tokenizer=word_tokenizer(g.words))
    ds = ic.study(model, g, n_walks=2, length=300, contexts=CONTEXTS, n_perm=200, progress=False)
    toy = ic.mixing_toy(g, n_walks=2, length=300, contexts=CONTEXTS, n_perm=200)
    return ic.with_controls(ds, toy=toy)
