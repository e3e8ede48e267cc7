"""Fits on Dask DataFrames (data larger than memory, on a cluster).

``pywemix.mix(formula, ddf, ...)`` with a :class:`dask.dataframe.DataFrame`
comes here. Gaussian models are fitted from per-group sufficient statistics
computed on the workers (:mod:`pywemix.dask.design`); the estimation and
variance stages are those of in-memory fits. Dask is imported only when a
Dask object is passed (``pip install "pywemix[dask]"``).
"""
from __future__ import annotations

__all__ = ["is_dask_dataframe", "mix_dask"]


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
    Gaussian family: two passes over the partitions find the rows dropped,
    the categories, the groups and their weights, then the per-level-2-group
    cross-products ``G_j' W_j G_j``; the profiled likelihood, optimiser and
    sandwich variance run on those statistics exactly as in memory
    (:meth:`pywemix.objective.gaussian.GaussianObjective.from_statistics`).
    """
    import numpy as np

    from ..estimation import estimate_variance, optimize
    from ..fit import _check_arguments, _few_groups, _settings
    from ..objective.covariance import CovarianceStructure
    from ..objective.gaussian import GaussianObjective
    from ..objective.make import MixObjective
    from ..warnings import collecting
    from .design import build_dask_design
    from .result import DaskMixResult

    args = _check_arguments(formula, family, link, cond_weights, n_quad, max_iter, reml,
                            weight_scaling, survey, center_group, center_grand)
    if args.family is not None:
        raise NotImplementedError(
            f"family {args.family.name!r} on a Dask DataFrame is not implemented yet: only "
            "the gaussian family is fitted from statistics; fit ddf.compute() in memory")
    if args.center_group or args.center_grand:
        raise NotImplementedError(
            "center_group / center_grand on a Dask DataFrame are not implemented: centre "
            "the columns first (e.g. ddf.assign with a groupby mean) and fit without them")
    with collecting() as messages:
        design = build_dask_design(args.parsed, data, weights, args.cond_weights,
                                   offset=offset, weight_scaling=args.scaling)
        settings = _settings(formula, args, design)
        if settings.reml and settings.weighted:
            raise ValueError(
                "reml=True needs unit weights: WeMix's weighted pseudo-likelihood is "
                "defined for maximum likelihood only; fit with reml=False")
        _few_groups(design)
        structure = CovarianceStructure.from_design(design)
        with np.errstate(all="ignore"):
            function = GaussianObjective.from_statistics(design.M2, design.n2, design.wg,
                                                         design.levels, structure)
            objective = MixObjective(design, structure, None, function, reml=args.reml)
            optimum = optimize(objective, start=start, max_iter=args.max_iter)
            variance = estimate_variance(objective, optimum)
    return DaskMixResult(design, settings, optimum, variance, messages, objective, data)
