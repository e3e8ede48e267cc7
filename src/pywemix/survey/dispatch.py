"""The survey layer of ``mix``: preset -> by -> replicates / plausible values / plain.

:func:`fit_survey` is the one dispatch of every ``mix`` call, in memory or on
Dask (:mod:`pywemix.survey.engines`): it turns survey data
(:class:`~pywemix.SurveyData`) into arguments and a data frame
(:func:`~pywemix.survey.bind.bind_survey_data`), checks the survey arguments, takes
the survey preset's level weights when none are given
(:func:`~pywemix.survey.presets.preset_weights`), finds the replicate
weights (given, or the survey preset's), splits the data by
``by`` and fits each sample through its engine.
"""

from __future__ import annotations

from ..arguments import MixArguments
from ..executors import check_executor
from ..warnings import carrying, collecting
from .bind import bind_survey_data
from .by import fit_by
from .data import SurveyData
from .engines import engine_for
from .plausible import check_plausible_values
from .presets import preset_weights
from .replicates import Replicates

__all__ = ["fit_survey", "check_survey_arguments"]


def check_survey_arguments(args: MixArguments) -> None:
    """The checks of ``replicates``, ``plausible_values``, ``by`` and ``executor``
    that need no data (TypeError/ValueError)."""
    rep = args.replicates
    if rep is not None and rep is not False and not isinstance(rep, Replicates):
        raise TypeError(
            f"replicates must be a pywemix.Replicates (or False), got {type(rep).__name__}"
        )
    if args.plausible_values is not None:
        check_plausible_values(args.plausible_values, args.formula)
    if args.by is not None and not isinstance(args.by, str):
        raise TypeError(f"by must be a column name, got {args.by!r}")
    check_executor(args.executor)


def fit_survey(args: MixArguments, data):
    """
    Fit ``data`` with the checked arguments of ``mix``.

    Picks the engine (pandas or Dask), builds replicate weights, then fits
    by group, by plausible value or once.

    Parameters
    ----------
    args : MixArguments
        The checked arguments of :func:`pywemix.mix`.
    data : DataFrame
        A pandas, polars or Dask DataFrame.

    Returns
    -------
    MixResult, DaskMixResult, ReplicateResult, PlausibleValuesResult or ByResult
        The result, by what the arguments ask for.

    Raises
    ------
    ValueError
        For ``by=`` with a Dask DataFrame, or arguments the survey layer
        cannot honour.
    """
    if isinstance(data, SurveyData):  # the survey's defaults made arguments
        args, data = bind_survey_data(args, data)
    check_survey_arguments(args)
    engine = engine_for(data)
    data = engine.prepare(data)
    with collecting() as notes:  # what a survey preset could not apply, said once
        args, data = preset_weights(args, data)
        data, replicates = engine.replicates(args, data)
    if args.by is not None:
        return fit_by(args, data, replicates)
    with carrying(notes):  # ... and recorded by the result
        return engine.fit(args, data, replicates)
