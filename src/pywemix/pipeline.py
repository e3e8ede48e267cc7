"""The fit of one response to one data frame in memory: the stages in a row.

A short pipeline of the stages, each callable alone (as lme4's
``lFormula -> mkLmerDevfun -> optimizeLmer -> mkMerMod``):
:func:`pywemix.design.build_design`, :func:`pywemix.objective.make_objective`,
:func:`pywemix.estimation.optimize`, :func:`pywemix.estimation.estimate_variance`
and :func:`pywemix.results.make_result`, driven by the checked arguments of
``mix`` (:class:`~pywemix.arguments.MixArguments`). The survey layer
(plausible values, replicates, ``by=``) and the Dask fits call it; ``mix``
reaches it through the survey layer.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .arguments import MixArguments
from .design.model import build_design, response_values
from .design.scaling import normalize_scaling
from .design.validate import badly_scaled
from .estimation import estimate_variance, optimize
from .objective import make_objective
from .results.result import make_result
from .results.settings import FitSettings
from .warnings import FewGroupsWarning, collecting, record, warn

__all__ = ["fit_frame", "FrameFit", "DesignReuse", "fit_settings", "warn_few_groups"]


def fit_frame(args: MixArguments, data, reuse: DesignReuse | None = None):
    """``mix`` for one response: design -> objective -> optimum -> variance -> result.

    Parameters
    ----------
    args : MixArguments
        The checked arguments (the survey arguments are not read here).
    data : pandas.DataFrame or polars.DataFrame
    reuse : DesignReuse, optional
        Lets fits of data that differ only in the response share one design.

    Returns
    -------
    MixResult
    """
    with collecting() as messages:
        design = reuse.get(data, args) if reuse is not None else None
        if design is None:
            design = build_design(
                args.parsed,
                data,
                args.weights,
                args.cond_weights,
                family=args.family_object,
                offset=args.offset,
                transform=args.transform,
                weight_scaling=args.scaling,
                trials=args.trials,
            )
            if reuse is not None:
                reuse.put(data, args, design, list(messages))
        settings = fit_settings(args, design)
        warn_few_groups(design)
        # the optimisers probe points where the criterion is not defined
        # (overflow, singular matrices): such points are rejected, and what
        # goes wrong at the estimates is checked and reported by the stages
        try:
            with np.errstate(all="ignore"):
                objective = make_objective(
                    design, args.family_object, n_quad=args.n_quad, reml=args.reml
                )
                optimum = optimize(objective, start=args.start, max_iter=args.max_iter)
                variance = estimate_variance(objective, optimum)
        except np.linalg.LinAlgError as exc:
            raise ValueError(_numerical_failure(design, exc)) from exc
    return make_result(design, settings, optimum, variance, messages, arguments=args)


def _numerical_failure(design, exc) -> str:
    """The message of a fit whose linear algebra failed, naming badly scaled predictors."""
    bad = badly_scaled(design.X, design.x_names)
    hint = (
        f"; predictors on very different scales (standard deviations "
        f"{', '.join(f'{k!r}: {v:.3g}' for k, v in bad.items())}) are the usual cause: "
        "rescale them"
        if bad
        else "; check for extreme values or a degenerate model"
    )
    return f"the fit failed numerically (linear algebra: {exc}){hint}"


def _is_unit(design) -> bool:
    return bool(np.all(design.w1 == 1) and all(np.all(w == 1) for w in design.wg))


def fit_settings(args: MixArguments, design) -> FitSettings:
    """The settings record of a fit of ``design`` with ``args``.

    Raises
    ------
    ValueError
        For ``reml=True`` with weights other than 1 (from :class:`FitSettings`).
    """
    fam = args.family_object
    return FitSettings(
        formula=args.formula,
        family=fam.name if fam else "gaussian",
        link=fam.link if fam else "identity",
        n_quad=args.n_quad if fam else None,
        reml=args.reml,
        weighted=not _is_unit(design),
        weight_spec=tuple(design.weight_spec),
        cond_weights=args.cond_weights,
        weight_scaling=normalize_scaling(args.scaling),
        survey=args.survey_name,
        center_group=tuple((g, tuple(c)) for g, c in args.groups.items()),
        center_grand=tuple(args.grand),
        offset_column=design.offset_column,
        has_offset=bool(np.any(design.offset != 0)),
        family_object=fam.for_design(design) if fam else None,
    )


def warn_few_groups(design):
    """A :class:`FewGroupsWarning` when there are fewer than 20 top-level groups."""
    top = design.levels[-1]
    if top.n_groups < 20:
        warn(
            f"only {top.n_groups} top-level groups ({top.name}): cluster-robust "
            "standard errors are unreliable with fewer than 20 clusters",
            FewGroupsWarning,
        )


class FrameFit:
    """:func:`fit_frame` with its arguments bound: ``FrameFit(args)(data)``.

    Picklable (so that fits can run in a process pool or on a cluster). Fits
    of data frames that differ only in the response (plausible values) share
    one design (:class:`DesignReuse`), within one process.
    """

    def __init__(self, args: MixArguments):
        self.args = args
        self.reuse = DesignReuse()

    def __getstate__(self):
        return {"args": self.args}

    def __setstate__(self, state):
        self.__init__(state["args"])  # type: ignore[misc]

    def __call__(self, data):
        return fit_frame(self.args, data, self.reuse)


class DesignReuse:
    """The design of the first data frame, for frames differing only in the response.

    A later frame reuses it when it has the same shape and columns, the same
    values in every column but the response, and missing responses in the same
    rows; only the response vector is replaced. The design's warnings (rows
    dropped, ...) are recorded for every fit that reuses it, but not issued
    again: the user sees them once.
    """

    def __init__(self):
        self.entry = None

    def get(self, data, args: MixArguments):
        """
        Return the kept design with this frame's response, if it can be reused.

        Parameters
        ----------
        data : DataFrame
            The next frame.
        args : MixArguments
            The checked arguments of its fit.

        Returns
        -------
        ModelDesign or None
            The first frame's design with the response replaced (its warnings
            recorded again), or None when ``data`` differs in more than the response.
        """
        if self.entry is None or not isinstance(data, pd.DataFrame):
            return None
        first, key, design, messages = self.entry
        parsed = args.parsed
        resp = parsed.response
        if (
            key != (parsed, resp)
            or args.trials is not None
            or data.shape != first.shape
            or list(data.columns) != list(first.columns)
            or resp not in data.columns
            or not np.array_equal(data[resp].isna().to_numpy(), first[resp].isna().to_numpy())
            or not all(data[c].equals(first[c]) for c in data.columns if c != resp)
        ):
            return None
        values = data[resp].iloc[design.row_positions]
        family = args.family_object
        if family is not None:
            family, levels = family.for_response(values, resp)
            if levels != design.response_levels:  # an ordinal response's categories
                return None
        y = response_values(values, resp, family)
        frame = design.frame.copy(deep=False)
        frame[resp] = values.to_numpy()
        for m in messages:
            if not getattr(m, "issued", False):  # carried ones are there already
                record(m)
        return replace(design, y=y, frame=frame)

    def put(self, data, args: MixArguments, design, messages):
        """
        Keep the design of the first frame (later calls keep nothing).

        Parameters
        ----------
        data : DataFrame
            The frame the design was built from.
        args : MixArguments
            The checked arguments of its fit.
        design : ModelDesign
            Its design.
        messages : list
            The warnings issued while building it.
        """
        if isinstance(data, pd.DataFrame) and self.entry is None:
            self.entry = (data, (args.parsed, args.parsed.response), design, messages)
