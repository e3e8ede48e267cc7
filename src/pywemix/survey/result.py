"""The result of a fit with replicate-weight variances.

:class:`ReplicateResult` holds the full-sample result (a ``MixResult``, or a
``PlausibleValuesResult`` when there are plausible values) and its own
:class:`~pywemix.results.covariances.Estimates` record, whose default
covariance kind is ``"replicate"`` (for plausible values, the replication
total with its sampling and imputation parts). Every output of the result
reads that record; what does not depend on the variance (``ranef``,
``predict``, ``llf``, ``fits``, ...) is the full-sample result's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..estimation.components import LATENT_RESIDUAL
from ..results.covariances import Covariance, make_estimates
from ..results.inference import InferenceMixin, variance_labels
from ..results.plots import KINDS, plot
from ..results.summary import Summary
from .combine import combine_fits, common_kinds

__all__ = ["ReplicateResult", "icc_rows", "single_result", "plausible_result"]


def icc_rows(vc: pd.DataFrame, values: np.ndarray, link: str) -> np.ndarray:
    """The ICC of :func:`~pywemix.estimation.components.icc_of` for many
    variance-component vectors at once: ``values`` (R, m) in the rows of ``vc``."""
    values = np.atleast_2d(values)
    variance = vc["var2"].isna().to_numpy()
    level = vc["level"].to_numpy()
    tau = values[:, variance & (level > 1)].sum(axis=1)
    if link == "identity":
        resid = values[:, variance & (level == 1)].sum(axis=1)
    elif link in LATENT_RESIDUAL:
        resid = np.full(len(values), LATENT_RESIDUAL[link])
    else:
        return np.full(len(values), np.nan)
    total = tau + resid
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, tau / total, np.nan)


class ReplicateResult(InferenceMixin):
    """
    A fit whose standard errors come from replicate weights.

    Built by ``mix(..., replicates=Replicates(...))`` (or a survey preset).
    ``params`` are the full-sample estimates. ``bse``, ``cov_params()``,
    ``var_components`` (``std_error``), ``var_cov()``, ``icc_std_error``,
    ``conf_int``, ``wald_test``, ``tidy``, ``summary()``, ``plot("coef")``
    and ``sampling_variance`` / ``imputation_variance`` (with plausible
    values) use the replication variance (kind ``"replicate"``, the
    default); ``"robust"`` still gives the full-sample sandwich and
    ``"model"`` the model-based variance. R equivalent: EdSurvey's
    ``mixed.sdf`` / ``lm.sdf`` with jackknife or BRR variances.

    Parameters
    ----------
    full : MixResult or PlausibleValuesResult
        The full-sample fit.
    replicates : Replicates
        The replicate weights.
    estimates : Estimates
        Estimates and covariance kinds (default ``"replicate"``).
    replicate_params : DataFrame
        Fixed effects of every replicate refit.
    replicate_var : DataFrame
        Variance components of every refit.
    replicate_icc : Series
        ICC of every refit.
    method : str
        The method in words (:meth:`Replicates.describe`).
    warnings : sequence of str, default ()
        Messages of the refits, kept after the full-sample fit's.

    Attributes
    ----------
    full : MixResult or PlausibleValuesResult
        The full-sample fit (attributes that do not depend on the variance,
        such as ``ranef``, ``llf`` or ``fits``, are taken from it).
    replicates : Replicates
        The replicate weights.
    estimates : Estimates
        Estimates and covariance kinds (default ``"replicate"``).
    replicate_params : DataFrame
        Fixed effects of every replicate refit (index: replicate column,
        or (plausible value, replicate column)).
    replicate_var_components : DataFrame
        Variance components of every refit, one column per ``tidy()`` label.
    replicate_icc : Series
        ICC of every refit.
    method : str
        E.g. ``"Fay's BRR, 80 replicates, k = 0.5"``.
    """

    def __init__(
        self,
        full,
        replicates,
        *,
        estimates,
        replicate_params,
        replicate_var,
        replicate_icc,
        method,
        warnings=(),
    ):
        d = self.__dict__
        d["full"], d["replicates"], d["method"] = full, replicates, method
        d["estimates"] = estimates
        d["replicate_params"] = replicate_params
        d["replicate_var_components"] = replicate_var
        d["replicate_icc"] = replicate_icc
        d["warnings"] = tuple(full.warnings) + tuple(w for w in warnings if w not in full.warnings)

    def __setattr__(self, name, value):
        raise AttributeError("ReplicateResult is immutable")

    def __getattr__(self, name):
        full = self.__dict__.get("full")
        if hasattr(type(self), name):
            # what the class defines (every variance output) is never the full
            # sample's: its own AttributeError (e.g. sampling_variance of one fit)
            return object.__getattribute__(self, name)
        if full is None or name.startswith("_"):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(full, name)

    def __getstate__(self):
        return self.__dict__

    def __setstate__(self, state):
        self.__dict__.update(state)

    @property
    def icc(self) -> float:
        """The full-sample ICC (its standard error: ``icc_std_error``)."""
        return self.estimates.icc

    @property
    def groups(self) -> pd.DataFrame:
        """The full-sample fit's groups table."""
        return self.full.groups

    @property
    def n_replicates(self) -> int:
        """Number of replicate weights (refits)."""
        return self.replicates.n_replicates

    def summary(self) -> Summary:
        """
        Report the full-sample fit with replication standard errors.

        Returns
        -------
        Summary
            Text, HTML in Jupyter, LaTeX, dict/JSON.
        """
        return Summary(self)

    def plot(self, kind: str = "coef", value: int = 0):
        """
        Draw a plot as a matplotlib Figure (see :mod:`pywemix.results.plots`).

        Parameters
        ----------
        kind : str, default "coef"
            ``"coef"`` draws the fixed effects with the intervals of
            ``conf_int()`` (replication variance); the diagnostics of one fit
            are the full-sample fit's.
        value : int, default 0
            With plausible values: which value's fit the diagnostics are of.

        Returns
        -------
        matplotlib.figure.Figure
            The figure.

        Raises
        ------
        ValueError
            For an unknown kind.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown plot kind {kind!r}; choose one of {', '.join(KINDS)}")
        if kind == "coef":
            return plot(self, kind)
        if getattr(self.full, "fits", None) is not None:
            return self.full.plot(kind, value)
        return self.full.plot(kind)

    def __repr__(self):
        return f"<ReplicateResult {self.formula!r}: {self.method}>"

    def _repr_html_(self):
        return self.summary()._repr_html_()


def _replicate_kind(rep, est, full, paired, icc_r) -> Covariance:
    """The ``"replicate"`` covariance of one full-sample fit from its refits."""
    vfull = full.var_components["variance"].to_numpy()
    return Covariance(
        "replicate",
        f"replicate weights ({rep.describe(paired)})",
        rep.variance(est.params, full.params.to_numpy(), paired),
        rep.variance(est.var, vfull, paired),
        float(rep.variance(icc_r[:, None], [full.icc], paired)[0, 0]),
    )


def single_result(full, rep, est, paired, warnings=()) -> ReplicateResult:
    """A ReplicateResult from one full-sample fit and its refits ``est``."""
    names = list(full.params.index)
    labels = variance_labels(full.var_components)
    icc_r = icc_rows(full.var_components, est.var, full.link or "identity")
    index = pd.Index(rep.columns, name="replicate")
    kinds = [_replicate_kind(rep, est, full, paired, icc_r)] + [
        full.covariance(k) for k in full.variance_kinds
    ]
    estimates = make_estimates(full.params, full.var_components, full.icc, kinds, "replicate")
    return ReplicateResult(
        full,
        rep,
        estimates=estimates,
        replicate_params=pd.DataFrame(est.params, index=index, columns=names),
        replicate_var=pd.DataFrame(est.var, index=index, columns=labels),
        replicate_icc=pd.Series(icc_r, index=index, name="icc"),
        method=rep.describe(paired),
        warnings=warnings,
    )


def plausible_result(pv, rep, ests, paired, warnings=()) -> ReplicateResult:
    """A ReplicateResult from a PlausibleValuesResult and the refits of each
    plausible value (``ests``: one per value, or only the first's).

    Notes
    -----
    Each value's replication variance ``U_m`` and the between-value
    variance combine by :func:`~pywemix.survey.pool.rubin`:
    ``T = mean_m U_m + (1 + 1/M) B`` (OECD 2009, PISA Data Analysis Manual,
    on plausible values and replicates); with ``plausible_values="first"``
    every ``U_m`` is the first value's. The other kinds (``"robust"``,
    ``"model"``) are the plausible-value result's totals.
    """
    fits = pv.fits
    singles = [single_result(f, rep, e, paired) for f, e in zip(fits, ests)]
    singles += [singles[0]] * (len(fits) - len(singles))  # "first": U_1 for all
    estimates, _ = combine_fits(
        fits,
        ["replicate"] + common_kinds(fits),
        title=f"plausible-value total over {len(fits)} values",
        label="plausible values",
        records={"replicate": [s.covariance("replicate") for s in singles]},
    )
    used = [c for c, _ in zip(pv.columns, ests)]
    stack = {
        name: pd.concat(
            [getattr(s, name) for s in singles[: len(ests)]],
            keys=used,
            names=["plausible_value", "replicate"],
        )
        for name in ("replicate_params", "replicate_var_components", "replicate_icc")
    }
    return ReplicateResult(
        pv,
        rep,
        estimates=estimates,
        replicate_params=stack["replicate_params"],
        replicate_var=stack["replicate_var_components"],
        replicate_icc=stack["replicate_icc"],
        method=rep.describe(paired),
        warnings=warnings,
    )
