"""Interactive JupyterLab widgets (anywidget). They read xarray/numpy only, never torch or nnsight."""

from workbench.widgets.attention_map import AttentionMap
from workbench.widgets.population_explorer import PopulationExplorer
from workbench.widgets.latent_decoder import LatentDecoder
from workbench.widgets.graph_reorganization import GraphReorganization
from workbench.widgets.loss_clusters import LossClusters
from workbench.widgets.patch_map import PatchMap
from workbench.widgets.steering_explorer import SteeringExplorer
from workbench.widgets.feature_explorer import FeatureExplorer
from workbench.widgets.export import export_notebook, to_html

__all__ = ["AttentionMap", "PopulationExplorer", "LatentDecoder", "GraphReorganization", "LossClusters", "PatchMap",
           "SteeringExplorer", "FeatureExplorer", "to_html", "export_notebook"]
