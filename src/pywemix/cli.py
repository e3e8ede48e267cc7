"""The ``pywemix`` command line: fit a model from a data file, or run the demo.

Examples
--------
::

    pywemix demo
    pywemix demo --write-data pisa.csv
    pywemix fit "pv1math ~ escs + (1|schoolid)" pisa.csv --weights pwt1 pwt2 --cond-weights
    pywemix fit "y ~ x + (1|school) + (1|district)" three.csv --weights w1 w2 w3 --json
    pywemix fit "math ~ escs + (1|cntschid)" student.sav --survey PISA --school school.sav
    pywemix describe student.sav --survey PISA --school school.sav --json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import warnings

from . import __version__
from .dask.io import connect, read_parquet
from .datasets import load_pisa
from .fit import mix
from .io import read_data
from .results.plots import KINDS as PLOT_KINDS
from .survey import Replicates
from .survey.data import read_survey

__all__ = ["main", "DEMO_FORMULA"]

DEMO_FORMULA = "pv1math ~ escs + st04q01 + st29q03 + (1|schoolid)"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colour codes in some formulaic messages


def _print_result(result, as_json: bool, out=None):
    """The summary as text, or with ``--json`` exactly ``summary().to_json()``
    (the schema of :meth:`pywemix.results.summary.Summary.as_dict`)."""
    out = out if out is not None else sys.stdout
    summary = result.summary()
    out.write((summary.to_json() if as_json else str(summary)) + "\n")


def _pairs(items, what):
    """``["math=pv1,pv2"]`` -> ``{"math": ["pv1", "pv2"]}``."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"{what} must look like NAME=COL1,COL2,...; got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = [c.strip() for c in v.split(",") if c.strip()]
    return out


def _check_flags(args) -> None:
    """A flag that would have no effect is an error (ValueError naming it)."""
    if args.cond_weights and not args.weights:
        raise ValueError(
            "--cond-weights says the weights are conditional, but no weights "
            "were given: add --weights COL1 COL2 ... (one per level), or "
            "drop --cond-weights"
        )
    unused = [
        f
        for f, v in (
            ("--replicate-method", args.replicate_method),
            ("--fay", args.fay),
            ("--full-weight", args.full_weight),
        )
        if v is not None
    ]
    if unused and not args.replicates:
        raise ValueError(
            f"{', '.join(unused)} describe{'s' if len(unused) == 1 else ''} "
            "replicate weights, but no --replicates were given: name the "
            "replicate weight columns (--replicates w_fsturwt1-80), or drop "
            f"{'it' if len(unused) == 1 else 'them'} (--survey finds a "
            "survey's own replicates)"
        )
    if args.fay is not None and (args.replicate_method or "fay") != "fay":
        raise ValueError(
            f"--fay is Fay's k of --replicate-method fay, but the method is "
            f"{args.replicate_method}: drop --fay"
        )
    if args.n_quad is not None and args.family == "gaussian":
        raise ValueError(
            "--n-quad sets the quadrature points of binomial and Poisson "
            "models; a gaussian model has none: drop --n-quad (or give "
            "--family)"
        )


def _mix_kwargs(args) -> dict:
    _check_flags(args)
    weights = (
        [None if w.lower() in ("none", "-") else w for w in args.weights] if args.weights else None
    )
    kw = dict(
        weights=weights,
        cond_weights=args.cond_weights,
        family=args.family,
        link=args.link,
        weight_scaling=args.weight_scaling,
        survey=args.survey,
        offset=args.offset,
        reml=args.reml,
        max_iter=args.max_iter,
    )
    if args.n_quad is not None:
        kw["n_quad"] = args.n_quad
    if args.pv:
        kw["plausible_values"] = _pairs(args.pv, "--pv")
    if args.replicates:
        kw["replicates"] = Replicates(
            args.replicates,
            method=args.replicate_method or "fay",
            fay=0.5 if args.fay is None else args.fay,
            full_weight=args.full_weight,
        )
    if args.by:
        kw["by"] = args.by
    if args.center_group:
        kw["center_group"] = _pairs(args.center_group, "--center-group")
    if args.center_grand:
        kw["center_grand"] = [c for item in args.center_grand for c in item.split(",") if c]
    return kw


def _survey_file(args):
    """``read_survey`` of the data file with ``--survey``, ``--school``, ``--cache``."""
    return read_survey(args.data, args.survey, school=args.school, cache=_cache(args.cache))


def _cache(value):
    """``--cache``: a folder, ``beside`` (the file's folder) or ``none``; default the
    user's cache folder."""
    if value is None:
        return True
    return False if value.lower() == "none" else value


def _fit_from_args(args):
    """The fit: survey files (``--survey`` or ``--school``) through
    :func:`pywemix.read_survey`, which reads only the model's columns; other
    files whole."""
    kw = _mix_kwargs(args)
    survey = args.survey is not None or args.school is not None
    if not survey and args.cache is not None:
        raise ValueError(
            "--cache keeps the columns of a survey file read with --survey "
            "or --school: add one, or drop --cache"
        )
    if getattr(args, "scheduler", None):
        with connect(args.scheduler):
            data = _survey_file(args) if survey else read_parquet(args.data)
            return mix(args.formula, data, kw.pop("weights"), **kw)
    data = _survey_file(args) if survey else read_data(args.data)
    return mix(args.formula, data, kw.pop("weights"), **kw)


def _cmd_describe(args) -> int:
    """``pywemix describe FILE``: the scales, weights and replicates of a survey file."""
    info = _survey_file(args).describe()
    print(json.dumps(info.to_dict(), indent=1) if args.json else str(info))
    return 0


def _cmd_fit(args) -> int:
    _print_result(_fit_from_args(args), args.json)
    return 0


def _cmd_plot(args) -> int:
    if args.pv and args.kind != "coef":
        raise ValueError(
            "plots need a single fit, but --pv makes one fit per plausible "
            "value: plot one value (give its column as the response) "
            "without --pv, or draw the combined estimates with --kind coef"
        )
    folder = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(folder):  # fail before the fit, not after it
        raise ValueError(f"cannot write {args.output!r}: folder {folder!r} does not exist")
    fig = _fit_from_args(args).plot(args.kind)
    fig.savefig(args.output, dpi=args.dpi)
    print(f"wrote {args.output}")
    return 0


def _write_data(data, path) -> None:
    """Write a data frame in the format of ``path``'s extension."""
    ext = path.lower()
    if ext.endswith((".parquet", ".pq")):
        data.to_parquet(path, index=False)
    elif ext.endswith((".sav", ".dta")):
        try:
            import pyreadstat
        except ImportError:
            raise ImportError(
                "writing SPSS or Stata files needs the package pyreadstat, "
                "which is not installed: pip install pyreadstat (or "
                "pip install 'pywemix[files]')"
            ) from None
        (pyreadstat.write_sav if ext.endswith(".sav") else pyreadstat.write_dta)(data, path)
    elif ext.endswith((".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip")):
        data.to_csv(path, index=False)
    else:
        raise ValueError(
            f"--write-data {path!r}: use a .csv (also .csv.gz), .parquet, .sav or .dta file name"
        )


def _cmd_demo(args) -> int:
    data = load_pisa()
    if args.write_data:
        _write_data(data, args.write_data)
        print(
            f"wrote the example data ({len(data)} rows, columns "
            f"{', '.join(data.columns)}) to {args.write_data}"
        )
        return 0
    banner = sys.stderr if args.json else sys.stdout  # --json: stdout holds only JSON
    print(
        f"pywemix {__version__} demo: the bundled PISA-like example "
        f"({len(data)} students in {data['schoolid'].nunique()} schools)",
        file=banner,
    )
    print(
        f"mix({DEMO_FORMULA!r}, data, weights=['pwt1', 'pwt2'], cond_weights=True, "
        "weight_scaling='size')\n",
        file=banner,
    )
    result = mix(DEMO_FORMULA, data, ["pwt1", "pwt2"], cond_weights=True, weight_scaling="size")
    _print_result(result, args.json)
    return 0


def _model_args(f):
    f.add_argument("formula", help='lme4-style formula, e.g. "y ~ x + (1|school)"')
    f.add_argument(
        "data",
        help="data file (CSV or TSV, also compressed: .csv.gz, ...; "
        "Parquet, SPSS .sav, SAS .sas7bdat/.xpt or Stata .dta)",
    )
    f.add_argument(
        "--weights",
        nargs="+",
        metavar="COL",
        help="one weight column per level, level 1 first ('none' for unit)",
    )
    f.add_argument(
        "--cond-weights", action="store_true", help="the weights are already conditional"
    )
    f.add_argument(
        "--family",
        default="gaussian",
        choices=["gaussian", "binomial", "poisson", "negative_binomial", "gamma", "ordinal"],
    )
    f.add_argument("--link", default=None, help="link function (logit, probit, cloglog, log)")
    f.add_argument(
        "--n-quad",
        type=int,
        default=None,
        help="quadrature points per effect (binomial, poisson; default 13)",
    )
    f.add_argument("--offset", default=None, metavar="COL", help="offset column")
    f.add_argument(
        "--reml",
        action="store_true",
        help="restricted maximum likelihood (Gaussian, unit weights only)",
    )
    f.add_argument(
        "--max-iter", type=int, default=None, metavar="N", help="maximum optimiser iterations"
    )
    f.add_argument(
        "--pv",
        action="append",
        metavar="NAME=COL1,COL2,...",
        help="plausible values of the response, e.g. math=pv1math,pv2math",
    )
    f.add_argument(
        "--weight-scaling",
        default="none",
        help="level-1 weight scaling: none, size (A) or effective (B)",
    )
    f.add_argument(
        "--survey",
        default=None,
        help="survey: PISA, TIMSS, PIRLS, TALIS, NAEP, ... (the file is then read "
        "as survey data: a scale named as the response, e.g. math, is "
        "fitted per plausible value with the survey's weights and "
        "replicates)",
    )
    _survey_args(f)
    f.add_argument(
        "--replicates",
        nargs="+",
        metavar="COL",
        help="replicate weight columns, ranges allowed: w_fsturwt1-80",
    )
    f.add_argument(
        "--replicate-method",
        default=None,
        choices=["fay", "brr", "jk1", "jk2", "bootstrap"],
        help="variance formula of --replicates (default fay)",
    )
    f.add_argument(
        "--fay", type=float, default=None, help="Fay's k of --replicate-method fay (default 0.5)"
    )
    f.add_argument(
        "--full-weight",
        default=None,
        metavar="COL",
        help="full-sample total weight of the replicates (e.g. w_fstuwt)",
    )
    f.add_argument(
        "--by",
        default=None,
        metavar="COL",
        help="fit one model per value of this column (e.g. cnt)",
    )
    f.add_argument(
        "--center-group",
        action="append",
        metavar="GROUP=COL1,COL2",
        help="group-mean centre columns within a grouping factor",
    )
    f.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="fit on a Dask cluster: 'local' (a local cluster) or a scheduler "
        "address; DATA is then Parquet read with Dask (a file, folder or "
        "glob such as 'data/*.parquet'); needs pywemix[dask]",
    )
    f.add_argument(
        "--center-grand", action="append", metavar="COL1,COL2", help="grand-mean centre columns"
    )


def _survey_args(f):
    f.add_argument(
        "--school",
        default=None,
        metavar="FILE",
        help="school file merged on the survey's school key (PISA CNT + CNTSCHID, "
        "TIMSS/PIRLS IDCNTRY + IDSCHOOL)",
    )
    f.add_argument(
        "--cache",
        default=None,
        metavar="FOLDER",
        help="column cache of a survey file: a folder, 'beside' (next to the "
        "file) or 'none' (default: $PYWEMIX_CACHE_DIR or "
        "~/.cache/pywemix/columns)",
    )


def _parser():
    p = argparse.ArgumentParser(
        prog="pywemix",
        description=("Survey-weighted mixed models with weights at every level (as R's WeMix)."),
    )
    p.add_argument("--version", action="version", version=f"pywemix {__version__}")
    sub = p.add_subparsers(dest="command")
    f = sub.add_parser("fit", help="fit a model to a data file and print its summary")
    _model_args(f)
    f.add_argument(
        "--json", action="store_true", help="print summary().to_json() instead of the text report"
    )
    f.set_defaults(func=_cmd_fit)
    pl = sub.add_parser("plot", help="fit a model and write a diagnostic plot")
    _model_args(pl)
    pl.add_argument(
        "--kind",
        required=True,
        choices=list(PLOT_KINDS),
        help="coef: fixed effects with 95%% intervals (with --pv: combined "
        "over the plausible values); the others are residual and "
        "random-effect diagnostics of one fit",
    )
    pl.add_argument("-o", "--output", required=True, help="image file to write (e.g. qq.png)")
    pl.add_argument("--dpi", type=int, default=100)
    pl.set_defaults(func=_cmd_plot)
    ds = sub.add_parser(
        "describe",
        help="list a survey file's scales (plausible values), "
        "weights and replicate weights, reading no data",
    )
    ds.add_argument(
        "data",
        help="the student (or teacher) file: SPSS, SAS, Stata, CSV, "
        "Parquet, or a folder of Parquet files",
    )
    ds.add_argument(
        "--survey", default=None, help="PISA, TIMSS, PIRLS, TALIS, NAEP, ... (default: detected)"
    )
    _survey_args(ds)
    ds.add_argument(
        "--json", action="store_true", help="print describe().to_dict() as JSON instead of the text"
    )
    ds.set_defaults(func=_cmd_describe)
    d = sub.add_parser("demo", help="fit the bundled PISA-like example")
    d.add_argument("--json", action="store_true", help="print JSON instead of text")
    d.add_argument(
        "--write-data",
        metavar="FILE",
        default=None,
        help="write the example data to FILE (.csv, .parquet, .sav or .dta) instead of fitting it",
    )
    d.set_defaults(func=_cmd_demo)
    return p


def main(argv=None) -> int:
    """Entry point of the ``pywemix`` command.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success; 1 if reading, fitting or plotting failed (the error is
        printed as one ``pywemix: error: ...`` line on stderr); 2 for usage
        errors (argparse exits with 2 itself).
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # warnings are part of the summary's notes
            return args.func(args)
    except Exception as exc:  # reading, fitting or plotting: one line, no traceback
        print(f"pywemix: error: {_message(exc)}", file=sys.stderr)
        return 1


def _message(exc) -> str:
    """An exception as one line of text after ``pywemix: error:``."""
    text = " ".join(_ANSI.sub("", str(exc)).split()) or type(exc).__name__
    if not isinstance(exc, (ValueError, TypeError, ImportError, OSError)):
        text = f"{type(exc).__name__}: {text}"  # say what kind of failure it was
    return text


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
