"""``workbench`` command line: a quick look at a model without opening JupyterLab.

    workbench lens smollm2-135m "The capital of France is"      # top lens token per layer at the last position
    workbench save-lens smollm2-135m "The capital of France is" lens.nc
    workbench export notebooks/00_tour.ipynb -o tour.html --execute   # one offline HTML page, widgets included
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lens = sub.add_parser("lens", help="print the top logit-lens token of every layer at the last position")
    lens.add_argument("model")
    lens.add_argument("text")
    lens.add_argument("-k", type=int, default=1)
    save = sub.add_parser("save-lens", help="compute the logit lens and save it as netCDF")
    save.add_argument("model")
    save.add_argument("text")
    save.add_argument("path")
    save.add_argument("-k", type=int, default=10)
    export = sub.add_parser("export", help="write a notebook as one self-contained offline HTML page (widgets too)")
    export.add_argument("notebook", help="the .ipynb file")
    export.add_argument("-o", "--output", required=True, help="the .html file to write (its folder must exist)")
    export.add_argument("--execute", action="store_true", help="run the notebook first, in a fresh kernel")
    args = parser.parse_args(argv)
    if args.command == "export":
        return _export(args.notebook, args.output, args.execute)

    import workbench as wb

    try:
        model = wb.load_model(args.model)
        ds = wb.logit_lens(model, args.text, k=args.k)
    except ValueError as e:  # our errors are ValueErrors with a one-line message
        print(f"workbench: {e}", file=sys.stderr)
        return 2
    if args.command == "save-lens":
        wb.save(ds, args.path)
        print(args.path)
        return 0
    last = ds.isel(position=-1)
    for layer in last.layer.values:
        row = last.sel(layer=layer)
        tokens = ", ".join(f"{t!r} {p:.2f}" for t, p in zip(row.token.values, row.prob.values))
        print(f"layer {int(layer):3d}: {tokens}")
    return 0


def _export(notebook: str, output: str, execute: bool) -> int:
    """``workbench export``: 0 and the page's path and size on success; 2 and one line on bad input; 1 when a cell
    fails under --execute."""
    import warnings

    from workbench.widgets.export import OfflineWarning, export_notebook

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", OfflineWarning)
            path = export_notebook(notebook, output, execute_first=execute)
        for w in caught:
            if issubclass(w.category, OfflineWarning):
                print(f"workbench: warning: {w.message}", file=sys.stderr)
            else:
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    except ValueError as e:
        print(f"workbench: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # a cell failed under --execute (nbclient's CellExecutionError), or the kernel died
        first = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        print(f"workbench: exporting {notebook} failed while executing it: {first}", file=sys.stderr)
        return 1
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
