// Stand-in for the ipywidgets 7 modules (@jupyter-widgets/base7, controls7) that the HTML manager would load for a
// widget saved by ipywidgets 7. Workbench pages come from ipywidgets 8 kernels, so the page runtime leaves them out
// (about 180 kB); a version-7 widget fails with this message instead of drawing.
throw new Error("this page includes the ipywidgets 8 widget modules only; re-run the notebook with ipywidgets 8");
