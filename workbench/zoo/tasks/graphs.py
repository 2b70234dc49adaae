"""Graphs whose nodes are ordinary words, and the random walks over them that a model reads in context.

Park, Lee, Lubana, Yang, Okawa, Nishi, Wattenberg & Tanaka (2025), "ICLR: In-Context Learning of Representations"
(arXiv 2501.00070): a model reads a uniform random walk over a graph of words, with no instruction, and its
representations of those words can reorganise to mirror the graph. This module builds the graphs (a grid, a ring, a
hexagonal lattice, the days of the week on a shuffled ring), seeded walks, the adjacency matrix, the Laplacian and its
eigenvectors, and checks that every word is one token for a model's tokenizer.

A walk's text is the words joined by single spaces, each with its leading space (``" apple bird car ..."``), after the
tokenizer's BOS token when the tokenizer adds one to plain text, and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: The 4 x 4 grid of the paper, in row order.
GRID_WORDS: tuple[str, ...] = ("apple", "bird", "car", "egg", "house", "milk", "plane", "opera",
                               "box", "sand", "sun", "mango", "rock", "math", "code", "phone")
#: The days of the week in their usual order; :func:`days_of_week` puts them on a ring in a shuffled order.
DAYS: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class GraphError(ValueError):
    """A graph, walk or word list is malformed; the message names what is wrong."""


@dataclass(frozen=True, eq=False)
class Graph:
    """An undirected, connected graph whose nodes are words.

    ``layout`` gives each node a drawing position (grid row/column, angle on a ring, lattice coordinates) and
    ``groups`` names categorical node labels used for colour (``row``/``col`` on a grid, ``ring`` position on a ring).
    Build one with :func:`grid`, :func:`ring`, :func:`hexagonal`, :func:`days_of_week` or :meth:`from_edges`.
    """

    name: str
    words: tuple[str, ...]
    adjacency: np.ndarray  # (n, n) uint8, symmetric, zero diagonal
    layout: np.ndarray  # (n, 2) float
    groups: dict[str, np.ndarray] = field(default_factory=dict)
    prior: np.ndarray | None = None  # (n, n) adjacency of a structure the model already knows (days: the week)

    def __post_init__(self) -> None:
        a = np.asarray(self.adjacency)
        n = len(self.words)
        if n < 2:
            raise GraphError(f"a graph needs at least 2 words, got {n}.")
        if len(set(self.words)) != n:
            dup = sorted({w for w in self.words if self.words.count(w) > 1})
            raise GraphError(f"words must be distinct; {dup} appear more than once.")
        if a.shape != (n, n):
            raise GraphError(f"adjacency must be {n} x {n} for {n} words, got shape {a.shape}.")
        if not np.array_equal(a, a.T) or np.any(np.diag(a)) or not np.isin(a, (0, 1)).all():
            raise GraphError("adjacency must be a symmetric 0/1 matrix with a zero diagonal (no self-loops).")
        unreached = sorted(set(range(n)) - _reachable(a, 0))
        if unreached:
            raise GraphError(f"graph {self.name!r} is disconnected: {[self.words[i] for i in unreached]} cannot be "
                             f"reached from {self.words[0]!r}; a walk must be able to visit every node.")
        object.__setattr__(self, "adjacency", a.astype(np.uint8))
        if self.prior is not None:
            p = np.asarray(self.prior)
            if p.shape != (n, n) or not np.array_equal(p, p.T):
                raise GraphError(f"prior must be a symmetric {n} x {n} adjacency, got shape {p.shape}.")
            object.__setattr__(self, "prior", p.astype(np.uint8))
        object.__setattr__(self, "layout", np.asarray(self.layout, dtype=np.float64).reshape(n, 2))

    def __repr__(self) -> str:
        return f"Graph({self.name!r}, nodes={self.n}, edges={self.n_edges})"

    # -------------------------------------------------------------------------------------------------- facts
    @property
    def n(self) -> int:
        return len(self.words)

    @property
    def n_edges(self) -> int:
        return int(self.adjacency.sum() // 2)

    @property
    def degree(self) -> np.ndarray:
        return self.adjacency.sum(1).astype(np.int64)

    def neighbours(self, node: int | str) -> np.ndarray:
        """Indices of the nodes adjacent to ``node`` (an index or a word)."""
        return np.flatnonzero(self.adjacency[self.index(node)])

    def index(self, node: int | str) -> int:
        """The index of ``node``, given as a word or an index; a node outside the graph is an error.

        >>> grid().index("milk"), grid().index(5)
        (5, 5)
        """
        if isinstance(node, (str, np.str_)):
            word = str(node).strip()
            if word not in self.words:
                raise GraphError(f"node {node!r} is not in graph {self.name!r}; its words are {list(self.words)}.")
            return self.words.index(word)
        if isinstance(node, (bool, np.bool_)) or not isinstance(node, (int, np.integer)):
            raise GraphError(f"node must be a word or an integer index, got {type(node).__name__}.")
        if not 0 <= int(node) < self.n:
            raise GraphError(f"node {int(node)} is outside graph {self.name!r}, whose nodes are 0..{self.n - 1}.")
        return int(node)

    def laplacian(self) -> np.ndarray:
        """The combinatorial Laplacian L = D - A."""
        a = self.adjacency.astype(np.float64)
        return np.diag(a.sum(1)) - a

    def spectral(self, prior: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Eigenvalues (ascending) and unit eigenvectors (columns) of the Laplacian (of :attr:`prior` if asked).
        Column 0 is constant; columns 1 and 2 (the paper's z2, z3) minimise the Dirichlet energy among directions
        orthogonal to it and draw a grid as a grid. Signs are fixed so each column's largest-magnitude entry is
        positive."""
        if prior and self.prior is None:
            raise GraphError(f"graph {self.name!r} has no prior structure.")
        a = (self.prior if prior else self.adjacency).astype(np.float64)
        values, vectors = np.linalg.eigh(np.diag(a.sum(1)) - a)
        pick = np.abs(vectors).argmax(0)
        vectors = vectors * np.sign(vectors[pick, np.arange(self.n)])
        return values, vectors

    # -------------------------------------------------------------------------------------------------- walks
    def walk(self, length: int, seed: int, start: int | str | None = None) -> np.ndarray:
        """A uniform random walk of ``length`` nodes: a random start (or ``start``), then each step to a uniformly
        chosen neighbour (never staying put). Seeded: the same seed gives the same walk.

        >>> g = grid(); w = g.walk(6, seed=0)
        >>> all(g.adjacency[a, b] for a, b in zip(w[:-1], w[1:]))
        True
        """
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
            raise GraphError(f"length must be a positive integer, got {length!r}.")
        rng = np.random.default_rng(seed)
        out = np.empty(int(length), dtype=np.int64)
        out[0] = rng.integers(self.n) if start is None else self.index(start)
        lists = [np.flatnonzero(row) for row in self.adjacency]
        for i in range(1, int(length)):
            nbrs = lists[out[i - 1]]
            out[i] = nbrs[rng.integers(len(nbrs))]
        return out

    def text(self, walk: Sequence[int]) -> str:
        """The walk as text: each word with its leading space, joined (``" apple bird"``); no BOS, no instruction."""
        return "".join(" " + self.words[self.index(int(i))] for i in walk)

    @classmethod
    def from_edges(cls, name: str, words: Sequence[str], edges: Sequence[tuple[int | str, int | str]],
                   layout: Any = None, groups: dict[str, Any] | None = None) -> Graph:
        """A graph from word pairs or index pairs; the layout defaults to a circle.

        >>> Graph.from_edges("path", ["a", "b", "c"], [("a", "b"), ("b", "c")]).n_edges
        2
        """
        words = tuple(str(w).strip() for w in words)
        a = np.zeros((len(words), len(words)), dtype=np.uint8)
        for e in edges:
            i, j = (_node_index(words, x, name) for x in e)
            if i == j:
                raise GraphError(f"edge {e!r} is a self-loop; walks never stay on a node.")
            a[i, j] = a[j, i] = 1
        if layout is None:
            angle = 2 * np.pi * np.arange(len(words)) / len(words)
            layout = np.stack([np.cos(angle), np.sin(angle)], 1)
        return cls(name, words, a, np.asarray(layout, dtype=np.float64),
                   {k: np.asarray(v) for k, v in (groups or {}).items()})


def _node_index(words: tuple[str, ...], x: int | str, name: str) -> int:
    if isinstance(x, str):
        if x.strip() not in words:
            raise GraphError(f"node {x!r} is not in graph {name!r}; its words are {list(words)}.")
        return words.index(x.strip())
    if not 0 <= int(x) < len(words):
        raise GraphError(f"node {int(x)} is outside graph {name!r}, whose nodes are 0..{len(words) - 1}.")
    return int(x)


def _reachable(a: np.ndarray, start: int) -> set[int]:
    seen, todo = {start}, [start]
    while todo:
        for j in np.flatnonzero(a[todo.pop()]):
            if int(j) not in seen:
                seen.add(int(j))
                todo.append(int(j))
    return seen


def _words(words: Sequence[str] | None, n: int, default: Sequence[str], what: str) -> tuple[str, ...]:
    chosen = tuple(default[:n]) if words is None else tuple(str(w).strip() for w in words)
    if len(chosen) != n:
        raise GraphError(f"{what} needs {n} words, got {len(chosen)}.")
    return chosen


# ------------------------------------------------------------------------------------------------------- families
def grid(m: int = 4, n: int = 4, words: Sequence[str] | None = None) -> Graph:
    """An m x n grid in row order, edges up/down/left/right, no wrap-around (the paper's 4 x 4 grid by default).

    >>> g = grid(); g.n, g.n_edges, list(g.words[:4])
    (16, 24, ['apple', 'bird', 'car', 'egg'])
    """
    if m < 1 or n < 1 or m * n < 2:
        raise GraphError(f"a grid needs m, n >= 1 and at least 2 nodes, got {m} x {n}.")
    if words is None and m * n > len(GRID_WORDS):
        raise GraphError(f"a {m} x {n} grid needs {m * n} words; pass words= (the default list has {len(GRID_WORDS)}).")
    chosen = _words(words, m * n, GRID_WORDS, f"a {m} x {n} grid")
    rows, cols = np.divmod(np.arange(m * n), n)
    edges = [(i, i + 1) for i in range(m * n) if cols[i] < n - 1] + [(i, i + n) for i in range(m * n - n)]
    layout = np.stack([cols, -rows], 1).astype(np.float64)
    return Graph.from_edges(f"grid {m}x{n}", chosen, edges, layout, {"row": rows, "col": cols})


def ring(n: int = 16, words: Sequence[str] | None = None, name: str = "ring") -> Graph:
    """A ring (cycle) of n words in the given order.

    >>> ring(5, list("abcde")).neighbours("a").tolist()
    [1, 4]
    """
    if n < 3:
        raise GraphError(f"a ring needs at least 3 nodes, got {n}.")
    chosen = _words(words, n, GRID_WORDS, f"a ring of {n}")
    angle = np.pi / 2 - 2 * np.pi * np.arange(n) / n
    return Graph.from_edges(name, chosen, [(i, (i + 1) % n) for i in range(n)],
                            np.stack([np.cos(angle), np.sin(angle)], 1), {"ring": np.arange(n)})


def hexagonal(m: int = 4, n: int = 4, words: Sequence[str] | None = None) -> Graph:
    """A hexagonal (honeycomb) lattice of m rows x n columns, as a brick wall: every node links to its left and right
    neighbours, and to the node below when row + column is even, so each node has at most 3 neighbours.

    >>> h = hexagonal(); h.n, int(h.degree.max())
    (16, 3)
    """
    if m < 2 or n < 2:
        raise GraphError(f"a hexagonal lattice needs at least 2 x 2 nodes, got {m} x {n}.")
    if words is None and m * n > len(GRID_WORDS):
        raise GraphError(f"a {m} x {n} lattice needs {m * n} words; pass words=.")
    chosen = _words(words, m * n, GRID_WORDS, f"a {m} x {n} hexagonal lattice")
    rows, cols = np.divmod(np.arange(m * n), n)
    edges = [(i, i + 1) for i in range(m * n) if cols[i] < n - 1]
    edges += [(i, i + n) for i in range(m * n - n) if (rows[i] + cols[i]) % 2 == 0]
    # honeycomb drawing: columns at half-hexagon spacing, every other node lifted so each hexagon reads as one
    lift = np.where((rows + cols) % 2 == 0, -0.25, 0.25)
    layout = np.stack([cols * np.sqrt(3) / 2, -(rows * 1.5 + lift)], 1)
    return Graph.from_edges(f"hexagonal {m}x{n}", chosen, edges, layout, {"row": rows, "col": cols})


def days_of_week(seed: int = 0) -> Graph:
    """The seven days on a ring in a seeded shuffled order, so the in-context ring conflicts with the order the model
    already knows: the shuffle is drawn again until no two days that follow each other in the week are neighbours on
    the ring. ``groups["week"]`` keeps each day's usual position (Monday = 0), ``groups["ring"]`` its place on the
    in-context ring, and :attr:`Graph.prior` is the week's own ring.

    >>> g = days_of_week(0); sorted(g.words) == sorted(DAYS), g.n_edges
    (True, 7)
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(DAYS))
    while _shares_week_edge(order):
        order = rng.permutation(len(DAYS))
    g = ring(len(DAYS), [DAYS[i] for i in order], name="days of week (shuffled ring)")
    week = np.zeros_like(g.adjacency)
    for i in range(len(DAYS)):  # the week's own ring, Monday-Tuesday-...-Sunday-Monday, on the shuffled nodes
        a, b = int(np.flatnonzero(order == i)[0]), int(np.flatnonzero(order == (i + 1) % len(DAYS))[0])
        week[a, b] = week[b, a] = 1
    return Graph(g.name, g.words, g.adjacency, g.layout, {"ring": np.arange(len(DAYS)), "week": order}, prior=week)


def _shares_week_edge(order: np.ndarray) -> bool:
    n = len(order)
    return any((order[(i + 1) % n] - order[i]) % n in (1, n - 1) for i in range(n))


# ------------------------------------------------------------------------------------------------------ tokens
class TokenizationError(GraphError):
    """A graph word is not exactly one token for the model's tokenizer."""


def word_token_ids(graph: Graph, tokenizer: Any) -> np.ndarray:
    """The token id of each word with its leading space, checking each is exactly one token and all are distinct.

    The error names the word and shows how the tokenizer splits it.
    """
    ids = []
    for w in graph.words:
        pieces = tokenizer.encode(" " + w, add_special_tokens=False)
        if len(pieces) != 1:
            shown = tokenizer.convert_ids_to_tokens(pieces)
            raise TokenizationError(f"word {w!r} of graph {graph.name!r} is not one token: ' {w}' splits into "
                                    f"{len(pieces)} tokens {shown}; choose words that are single tokens.")
        unk = getattr(tokenizer, "unk_token_id", None)
        if unk is not None and pieces[0] == unk:
            raise TokenizationError(f"word {w!r} of graph {graph.name!r} is not in the tokenizer's vocabulary: ' {w}' "
                                    f"becomes the unknown token {tokenizer.unk_token!r}; choose words it knows.")
        ids.append(pieces[0])
    if len(set(ids)) != len(ids):
        raise TokenizationError(f"two words of graph {graph.name!r} map to the same token: {list(zip(graph.words, ids))}.")
    return np.asarray(ids, dtype=np.int64)


def bos_id(tokenizer: Any) -> int | None:
    """The BOS id when the tokenizer puts one before plain text (Gemma, Llama), else None (GPT-2, SmolLM2)."""
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is None:
        return None
    ids = tokenizer("x", add_special_tokens=True)["input_ids"]
    return int(bos) if ids and ids[0] == bos else None


def walk_token_ids(graph: Graph, walk: Sequence[int], tokenizer: Any) -> np.ndarray:
    """The model input for a walk: BOS (when the tokenizer adds one) then one token per word."""
    words = word_token_ids(graph, tokenizer)
    body = words[np.asarray(walk, dtype=np.int64)]
    bos = bos_id(tokenizer)
    return body if bos is None else np.concatenate([[bos], body]).astype(np.int64)
