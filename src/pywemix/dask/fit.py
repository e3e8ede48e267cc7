"""``mix`` on a Dask DataFrame: one fit, on the workers.

Gaussian models are fitted from per-group sufficient statistics computed on
the workers (:mod:`pywemix.dask.design`); binomial and Poisson models by
adaptive quadrature in one actor per partition of whole top-level groups
(:mod:`pywemix.dask.glmm`, needs a ``distributed.Client``). The optimisers
and variance estimators are those of in-memory fits. The survey layer
(:mod:`pywemix.survey`) calls :func:`mix_dask` once per fit (plausible values:
once per value).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from ..arguments import MixArguments
from ..estimation import estimate_variance, optimize
from ..estimation.stage import MAX_ITER
from ..objective.covariance import CovarianceStructure
from ..objective.gaussian import GaussianObjective
from ..objective.make import MixObjective, check_grid_size
from ..pipeline import fit_frame, fit_settings, warn_few_groups
from ..warnings import PywemixWarning, collecting, warn
from .client import has_client
from .design import build_dask_design
from .glmm import DistributedQuadrature, make_actors, optimize_distributed
from .result import DaskMixResult
from .transforms import unsupported_term

__all__ = ["mix_dask", "in_memory_reason", "collect_model_columns", "model_column_names"]


def mix_dask(args: MixArguments, data, carry=()):
    """
    Fit ``mix`` on a Dask DataFrame.

    Parameters
    ----------
    args : MixArguments
        The checked arguments of :func:`pywemix.mix`.
    data : dask.dataframe.DataFrame
        The data, left on the workers where the model allows.
    carry : sequence of str, default ()
        Columns the actors of a binomial or Poisson fit keep with their
        rows, for refits with other weights (:mod:`pywemix.survey.dask_refit`).

    Returns
    -------
    DaskMixResult or MixResult
        A :class:`~pywemix.dask.result.DaskMixResult`, or a
        :class:`~pywemix.results.result.MixResult` when the model is fitted in
        memory (see Notes).

    Notes
    -----
    What is not computed on the workers -- binomial and Poisson models
    without a ``distributed.Client`` (or with a non-numeric response), a
    column group-centred within two grouping factors, splines (``bs``,
    ``cr``, ...), ``lag``, transforms nested in learning transforms and
    learning transforms of the response -- is fitted in memory instead: the
    model's columns are collected into this process
    (``ddf[columns].compute()``), with a warning saying so, and the result
    is an ordinary :class:`~pywemix.results.result.MixResult`. The
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
    reason = in_memory_reason(args, data)
    if reason is not None:
        return fit_frame(args, collect_model_columns(args, data, reason))
    with collecting() as messages:
        design = build_dask_design(
            args.parsed,
            data,
            args.weights,
            args.cond_weights,
            offset=args.offset,
            weight_scaling=args.scaling,
            family=args.family_object,
            centering=args.transform,
        )
        settings = fit_settings(args, design)  # refuses weighted REML
        warn_few_groups(design)
        structure = CovarianceStructure.from_design(design)
        with np.errstate(all="ignore"):
            if args.family_object is None:
                function = GaussianObjective.from_statistics(
                    design.M2, design.n2, design.wg, design.levels, structure
                )
                objective = MixObjective(design, structure, None, function, reml=args.reml)
                optimum = optimize(objective, start=args.start, max_iter=args.max_iter)
            else:
                objective, optimum = _fit_quadrature(data, design, structure, args, carry)
            variance = estimate_variance(objective, optimum)
    return DaskMixResult(
        design, settings, optimum, variance, messages, objective, data, arguments=args
    )


def _fit_quadrature(data, design, structure, args, carry=()):
    """Objective and optimum of a binomial or Poisson model on the cluster."""
    from distributed import get_client

    family, n_quad = args.family_object.for_design(design), args.n_quad
    actors = make_actors(get_client(), data, design, family, n_quad, structure, args.scaling, carry)
    function = DistributedQuadrature(actors, design, structure, family, n_quad)
    _check_partition_grids(function, design, structure, n_quad)
    objective = MixObjective(design, structure, family, function, n_quad=n_quad)
    optimum = optimize_distributed(
        objective, start=args.start, max_iter=args.max_iter or MAX_ITER["quadrature"]
    )
    return objective, optimum


def _check_partition_grids(function, design, structure, n_quad) -> None:
    """The quadrature grid's memory check of in-memory fits, for the largest
    partition (each actor evaluates its own rows)."""
    largest = SimpleNamespace(
        n_obs=function.largest_partition, X=np.empty((0, len(design.x_names)))
    )
    check_grid_size(largest, structure, n_quad)


def in_memory_reason(args: MixArguments, data) -> str | None:
    """Why a fit cannot run on the workers (None when it can)."""
    family, parsed = args.family_object, args.parsed
    if family is not None:
        if not has_client():
            return (
                f"family {family.name!r} needs a distributed.Client (its "
                "quadrature runs in actors on the workers)"
            )
        if args.trials is not None:
            return (
                f"trials={args.trials!r} (a proportion of successes) is not computed on "
                "the workers (write the response as cbind(successes, failures) to fit "
                "there)"
            )
        resp = parsed.response
        if (
            parsed.response_is_column
            and resp in data.columns
            and not pd.api.types.is_numeric_dtype(data.dtypes[resp])
        ):
            return (
                f"family {family.name!r} with a non-numeric response {resp!r} "
                "(code it 0/1 first to fit on the workers)"
            )
    centred = [c for cols in args.groups.values() for c in cols]
    twice = sorted({c for c in centred if centred.count(c) > 1})
    if twice:
        return (
            f"center_group centres {', '.join(map(repr, twice))} within several "
            "grouping factors (not computed on the workers)"
        )
    term = unsupported_term(parsed)
    if term is not None:
        return (
            f"formula term {term} learns from the data in a way not computed on the "
            "workers (splines, lag, nested or response transforms)"
        )
    return None


def model_column_names(args: MixArguments, columns) -> list:
    """The columns of ``columns`` a fit with ``args`` reads (response,
    predictors, grouping factors, weights, centred columns, offset), in
    their order."""
    cols = pd.Index(columns)
    needed = set(args.parsed.model_columns(cols)) | {w for w in (args.weights or []) if w}
    needed |= {c for cs in args.groups.values() for c in cs} | set(args.grand)
    needed |= {args.offset} if isinstance(args.offset, str) else set()
    needed |= {args.trials} if args.trials is not None else set()
    return [c for c in cols if c in needed]


def collect_model_columns(args: MixArguments, data, reason, extra=()) -> pd.DataFrame:
    """The documented fallback: the model's columns (and ``extra`` ones, e.g.
    replicate weights) collected into this process as a pandas DataFrame,
    with a warning giving ``reason``, to be fitted in memory."""
    needed = model_column_names(args, data.columns)
    more = [c for c in dict.fromkeys(extra) if c not in needed]
    also = f" and {len(more)} other columns ({_few(more)})" if more else ""
    kind = "that of an in-memory fit" if more else "an ordinary MixResult"
    warn(
        f"{reason}: this fit on a Dask DataFrame collects its {len(needed)} model "
        f"columns ({', '.join(needed)}){also} into this process and runs in memory; the "
        f"result is {kind}",
        PywemixWarning,
    )
    return data[needed + more].compute()


def _few(names) -> str:
    return ", ".join(names[:5]) + (f", ... ({len(names)} in all)" if len(names) > 5 else "")
