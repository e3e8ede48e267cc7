"""Fits on Dask DataFrames (data larger than memory, on a cluster).

``pywemix.mix(formula, ddf, ...)`` with a :class:`dask.dataframe.DataFrame`
comes here. Gaussian models are fitted from per-group sufficient statistics
computed on the workers (:mod:`pywemix.dask.design`); binomial and Poisson
models by adaptive quadrature in one actor per partition of whole top-level
groups (:mod:`pywemix.dask.glmm`, needs a ``distributed.Client``). The
optimisers and variance estimators are those of in-memory fits. Dask is imported only when a
Dask object is passed (``pip install "pywemix[dask]"``).
"""
from __future__ import annotations

__all__ = ["is_dask_dataframe", "mix_dask", "mix_dask_plausible_values"]


def is_dask_dataframe(data) -> bool:
    """Whether ``data`` is a Dask DataFrame (imports Dask only for objects of
    the ``dask`` package)."""
    if type(data).__module__.split(".")[0] not in ("dask", "dask_expr"):
        return False
    import dask.dataframe as dd
    return isinstance(data, dd.DataFrame)


def mix_dask(formula, data, weights, *, cond_weights, family, link, n_quad, offset,
             center_group, center_grand, weight_scaling, survey, reml, start, max_iter):
    """``mix`` on a Dask DataFrame (arguments and result as :func:`pywemix.mix`).

    Returns
    -------
    DaskMixResult

    Notes
    -----
    What is not computed on the workers -- binomial and Poisson models
    without a ``distributed.Client`` (or with a non-numeric response), a
    column group-centred within two grouping factors, splines (``bs``,
    ``cr``, ...), ``lag``, transforms nested in learning transforms and
    learning transforms of the response -- is fitted in memory instead: the model's columns are collected into this
    process (``ddf[columns].compute()``), with a warning saying so, and the
    result is an ordinary :class:`~pywemix.results.result.MixResult`. The
    estimates are then exactly those of the in-memory fit; only the scale-out
    is missing.

    ``center_group`` / ``center_grand`` and the formula transforms that learn
    from the data (``center``, ``scale``, ``standardize``, ``poly``, the
    levels of ``C(x)``) are learned from partition sums on the workers
    (:mod:`pywemix.dask.transforms`).

    Gaussian family: two passes over the partitions find the rows dropped,
    the categories, the groups and their weights, then the per-level-2-group
    cross-products ``G_j' W_j G_j``; the profiled likelihood, optimiser and
    sandwich variance run on those statistics exactly as in memory
    (:meth:`pywemix.objective.gaussian.GaussianObjective.from_statistics`).
    """
    import numpy as np

    from ..estimation import estimate_variance, optimize
    from ..fit import check_arguments, fit_settings, warn_few_groups
    from ..objective.covariance import CovarianceStructure
    from ..objective.gaussian import GaussianObjective
    from ..objective.make import MixObjective
    from ..warnings import collecting
    from .design import build_dask_design
    from .result import DaskMixResult

    args = check_arguments(formula, family, link, cond_weights, n_quad, max_iter, reml,
                            weight_scaling, survey, center_group, center_grand)
    reason = _in_memory_reason(args, formula, data)
    if reason is not None:
        return _fit_in_memory(formula, data, weights, args, reason, offset,
                              dict(cond_weights=cond_weights, family=family, link=link,
                                   n_quad=n_quad, offset=offset, center_group=center_group,
                                   center_grand=center_grand, weight_scaling=weight_scaling,
                                   survey=survey, reml=reml, start=start, max_iter=max_iter))
    with collecting() as messages:
        design = build_dask_design(args.parsed, data, weights, args.cond_weights,
                                   offset=offset, weight_scaling=args.scaling,
                                   family=args.family, centering=args.transform)
        settings = fit_settings(formula, args, design)  # refuses weighted REML
        warn_few_groups(design)
        structure = CovarianceStructure.from_design(design)
        with np.errstate(all="ignore"):
            if args.family is None:
                function = GaussianObjective.from_statistics(
                    design.M2, design.n2, design.wg, design.levels, structure)
                objective = MixObjective(design, structure, None, function, reml=args.reml)
                optimum = optimize(objective, start=start, max_iter=args.max_iter)
            else:
                objective, optimum = _fit_quadrature(data, design, structure, args, start)
            variance = estimate_variance(objective, optimum)
    return DaskMixResult(design, settings, optimum, variance, messages, objective, data)


def _fit_quadrature(data, design, structure, args, start):
    """Objective and optimum of a binomial or Poisson model on the cluster."""
    from distributed import get_client

    from ..estimation.stage import MAX_ITER
    from ..objective.make import MixObjective
    from .glmm import DistributedQuadrature, make_actors, optimize_distributed
    actors = make_actors(get_client(), data, design, args.family, args.n_quad, structure,
                         args.scaling)
    function = DistributedQuadrature(actors, design, structure, args.family, args.n_quad)
    _check_partition_grids(function, design, structure, args.n_quad)
    objective = MixObjective(design, structure, args.family, function, n_quad=args.n_quad)
    optimum = optimize_distributed(objective, start=start,
                                   max_iter=args.max_iter or MAX_ITER["quadrature"])
    return objective, optimum


def _check_partition_grids(function, design, structure, n_quad) -> None:
    """The quadrature grid's memory check of in-memory fits, for the largest
    partition (each actor evaluates its own rows)."""
    from types import SimpleNamespace

    import numpy as np

    from ..objective.make import check_grid_size
    largest = SimpleNamespace(n_obs=function.largest_partition,
                              X=np.empty((0, len(design.x_names))))
    check_grid_size(largest, structure, n_quad)


def _has_client() -> bool:
    try:
        from distributed import get_client
        get_client()
    except (ImportError, ValueError):
        return False
    return True


def _in_memory_reason(args, formula, data) -> str | None:
    """Why a fit cannot run on the workers (None when it can)."""
    import pandas as pd

    from .transforms import unsupported_term
    if args.family is not None:
        if not _has_client():
            return (f"family {args.family.name!r} needs a distributed.Client (its "
                    "quadrature runs in actors on the workers)")
        resp = args.parsed.response
        if args.parsed.response_is_column and resp in data.columns and \
                not pd.api.types.is_numeric_dtype(data.dtypes[resp]):
            return (f"family {args.family.name!r} with a non-numeric response {resp!r} "
                    "(code it 0/1 first to fit on the workers)")
    centred = [c for cols in args.center_group.values() for c in cols]
    twice = sorted({c for c in centred if centred.count(c) > 1})
    if twice:
        return (f"center_group centres {', '.join(map(repr, twice))} within several "
                "grouping factors (not computed on the workers)")
    term = unsupported_term(args.parsed)
    if term is not None:
        return (f"formula term {term} learns from the data in a way not computed on the "
                "workers (splines, lag, nested or response transforms)")
    return None


def _fit_in_memory(formula, data, weights, args, reason, offset, kwargs):
    """The documented fallback: collect the model's columns and fit in memory."""
    import pandas as pd

    from ..fit import fit_frame
    from ..warnings import PywemixWarning, warn
    cols = pd.Index(data.columns)
    needed = set(args.parsed.model_columns(cols)) | {w for w in (weights or []) if w}
    needed |= {c for cs in args.center_group.values() for c in cs} | set(args.center_grand)
    needed |= {offset} if isinstance(offset, str) else set()
    needed = [c for c in cols if c in needed]
    warn(f"{reason}: this fit on a Dask DataFrame collects its {len(needed)} model "
         f"columns ({', '.join(needed)}) into this process and runs in memory; the "
         "result is an ordinary MixResult", PywemixWarning)
    frame = data[needed].compute()
    return fit_frame(formula, frame, weights, **kwargs)


def mix_dask_plausible_values(formula, data, weights, plausible_values, kwargs):
    """One Dask fit per plausible value, combined by the EdSurvey rules (as
    :func:`pywemix.pv.fit_plausible_values`; rows where only some values are
    missing are dropped from every fit, with the same warning)."""
    from ..pv import PlausibleValuesResult, check_plausible_values
    from ..warnings import DataWarning, warn
    response, cols = check_plausible_values(plausible_values, formula)
    missing = data[cols].isna()
    partly = missing.any(axis=1) & ~missing.all(axis=1)
    n_partly = int(partly.sum().compute())
    if n_partly:
        warn(f"dropped {n_partly} rows where some plausible values are missing and others "
             f"are not ({', '.join(cols)}): every plausible value is fitted to the same "
             "rows", DataWarning)
        data = data[~partly]
    fits = [mix_dask(formula, data.assign(**{response: data[c]}), weights, **kwargs)
            for c in cols]
    return PlausibleValuesResult(fits, response, cols, formula)
