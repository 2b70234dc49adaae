"""Interactive JupyterLab widgets (anywidget). They read xarray/numpy only, never torch or nnsight."""

from workbench.widgets.attention_map import AttentionMap
from workbench.widgets.population_explorer import PopulationExplorer

__all__ = ["AttentionMap", "PopulationExplorer"]
