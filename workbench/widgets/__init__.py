"""Interactive JupyterLab widgets (anywidget). They read xarray/numpy only, never torch or nnsight."""

from workbench.widgets.attention_map import AttentionMap

__all__ = ["AttentionMap"]
