"""Interactive JupyterLab widgets (anywidget). They read xarray/numpy only, never torch or nnsight."""

from workbench.widgets.attention_map import AttentionMap
from workbench.widgets.population_explorer import PopulationExplorer
from workbench.widgets.latent_decoder import LatentDecoder

__all__ = ["AttentionMap", "PopulationExplorer", "LatentDecoder"]
