"""The ``pywemix`` command line: fit a model from a data file, or run the demo.

Examples
--------
::

    pywemix demo
    pywemix fit "pv1math ~ escs + (1|schoolid)" pisa.csv --weights pwt1 pwt2 --cond-weights
    pywemix fit "y ~ x + (1|school) + (1|district)" three.csv --weights w1 w2 w3 --json
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from importlib import resources

import numpy as np
import pandas as pd

from . import __version__
from .fit import mix

__all__ = ["main", "result_to_dict", "DEMO_FORMULA"]

DEMO_FORMULA = "pv1math ~ escs + st04q01 + st29q03 + (1|schoolid)"


def _json_value(v):
    if isinstance(v, (np.floating, float)):
        return None if not np.isfinite(v) else float(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if v is pd.NA or v is None:
        return None
    return v


def result_to_dict(result) -> dict:
    """A JSON-ready dict of a fit's main figures."""
    vc = result.var_components.astype(object).where(result.var_components.notna(), None)
    return {
        "formula": result.formula,
        "family": result.family,
        "link": result.link,
        "criterion": result.criterion,
        "nobs": int(result.nobs),
        "llf": _json_value(result.llf),
        "params": {k: _json_value(v) for k, v in result.params.items()},
        "bse": {k: _json_value(v) for k, v in result.bse.items()},
        "var_components": [{k: _json_value(v) for k, v in row.items()}
                           for row in vc.to_dict(orient="records")],
        "icc": _json_value(result.icc),
        "groups": [{k: _json_value(v) for k, v in row.items()}
                   for row in result.groups.to_dict(orient="records")],
        "converged": bool(result.converged),
        "iterations": int(result.optimization.iterations) if result.optimization else None,
        "warnings": list(result.warnings),
    }


def _read(path):
    from .io import read_data
    return read_data(path)


def _print_result(result, as_json: bool, out=sys.stdout):
    if as_json:
        json.dump(result_to_dict(result), out, indent=1)
        out.write("\n")
    else:
        out.write(str(result.summary()) + "\n")


def _cmd_fit(args) -> int:
    data = _read(args.data)
    weights = [None if w.lower() in ("none", "-") else w for w in args.weights] \
        if args.weights else None
    result = mix(args.formula, data, weights, cond_weights=args.cond_weights)
    _print_result(result, args.json)
    return 0


def _cmd_demo(args) -> int:
    path = resources.files("pywemix") / "data" / "pisa_example.csv"
    with resources.as_file(path) as p:
        data = pd.read_csv(p)
    print(f"pywemix {__version__} demo: the bundled PISA-like example "
          f"({len(data)} students in {data['schoolid'].nunique()} schools)")
    print(f"mix({DEMO_FORMULA!r}, data, weights=['pwt1', 'pwt2'], cond_weights=True)\n")
    result = mix(DEMO_FORMULA, data, ["pwt1", "pwt2"], cond_weights=True)
    _print_result(result, args.json)
    return 0


def _parser():
    p = argparse.ArgumentParser(prog="pywemix", description=(
        "Survey-weighted mixed models with weights at every level (as R's WeMix)."))
    p.add_argument("--version", action="version", version=f"pywemix {__version__}")
    sub = p.add_subparsers(dest="command")
    f = sub.add_parser("fit", help="fit a model to a data file and print its summary")
    f.add_argument("formula", help='lme4-style formula, e.g. "y ~ x + (1|school)"')
    f.add_argument("data", help="data file (CSV, Parquet, SPSS, SAS or Stata)")
    f.add_argument("--weights", nargs="+", metavar="COL",
                   help="one weight column per level, level 1 first ('none' for unit)")
    f.add_argument("--cond-weights", action="store_true",
                   help="the weights are already conditional")
    f.add_argument("--json", action="store_true", help="print JSON instead of text")
    f.set_defaults(func=_cmd_fit)
    d = sub.add_parser("demo", help="fit the bundled PISA-like example")
    d.add_argument("--json", action="store_true", help="print JSON instead of text")
    d.set_defaults(func=_cmd_demo)
    return p


def main(argv=None) -> int:
    """Entry point of the ``pywemix`` command."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # warnings are part of the summary's notes
            return args.func(args)
    except (ValueError, TypeError, FileNotFoundError, ImportError) as exc:
        print(f"pywemix: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
