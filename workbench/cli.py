"""``workbench`` command line: a quick look at a model without opening JupyterLab.

    workbench lens smollm2-135m "The capital of France is"      # top lens token per layer at the last position
    workbench save-lens smollm2-135m "The capital of France is" lens.nc
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
    args = parser.parse_args(argv)

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


if __name__ == "__main__":
    raise SystemExit(main())
