"""The result of a fit with replicate-weight variances.

:class:`ReplicateResult` wraps the full-sample result (a ``MixResult``, or
a ``PlausibleValuesResult`` when there are plausible values) and replaces
its variances by replication variances; everything else (``ranef``,
``predict``, ``llf``, ``fits``, ...) is the full-sample result's.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..estimation.components import LATENT_RESIDUAL
from ..results.inference import InferenceMixin
from .pool import rubin

__all__ = ["ReplicateResult", "icc_rows"]


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
    """A fit whose standard errors come from replicate weights.

    Built by ``mix(..., replicates=Replicates(...))``. ``params`` are the
    full-sample estimates. ``bse``, ``cov_params()``, ``var_components``
    (``std_error``), ``var_cov()``, ``icc_std_error``, ``conf_int``,
    ``wald_test`` and ``tidy`` use the replication variance (``kind`` /
    ``cov`` ``"replicate"``, the default); ``"robust"`` still gives the
    full-sample sandwich and ``"model"`` the model-based variance.

    Attributes
    ----------
    full : MixResult or PlausibleValuesResult
        The full-sample fit (every other attribute is taken from it).
    replicates : Replicates
    replicate_params : DataFrame
        Fixed effects of every replicate refit (index: replicate column,
        or (plausible value, replicate column)).
    replicate_var_components : DataFrame
        Variance components of every refit, one column per ``tidy()`` label.
    replicate_icc : Series
    method : str
        E.g. ``"Fay's BRR, 80 replicates, k = 0.5"``.
    """

    def __init__(self, full, replicates, *, replicate_params, replicate_var, replicate_icc,
                 cov, var_cov, icc_variance, method, warnings=()):
        d = self.__dict__
        d["full"], d["replicates"], d["method"] = full, replicates, method
        d["replicate_params"] = replicate_params
        d["replicate_var_components"] = replicate_var
        d["replicate_icc"] = replicate_icc
        d["_params"] = full.params
        # the stored covariances (raw_*): building the result asks for no
        # variance a user would be warned about
        d["_cov"] = {"replicate": np.asarray(cov, dtype=float),
                     **{k: full.raw_cov_params(k) for k in ("robust", "model")}}
        d["_var_cov"] = {"replicate": np.asarray(var_cov, dtype=float),
                         **{k: full.raw_var_cov(k) for k in ("robust", "model")}}
        vc = full.var_components
        vc["std_error"] = np.sqrt(np.clip(np.diag(var_cov), 0, None))
        d["_var_components"] = vc
        d["_groups"] = full.groups
        d["icc_std_error"] = float(np.sqrt(max(icc_variance, 0.0))) \
            if np.isfinite(icc_variance) else np.nan
        d["warnings"] = tuple(full.warnings) + tuple(w for w in warnings
                                                     if w not in full.warnings)

    def __setattr__(self, name, value):
        raise AttributeError("ReplicateResult is immutable")

    def __getattr__(self, name):
        full = self.__dict__.get("full")
        if full is None or name.startswith("_"):
            raise AttributeError(name)
        return getattr(full, name)

    def __getstate__(self):
        return self.__dict__

    def __setstate__(self, state):
        self.__dict__.update(state)

    @property
    def icc(self) -> float:
        """The full-sample ICC (replication standard error: ``icc_std_error``)."""
        return self.full.icc

    @property
    def n_replicates(self) -> int:
        return self.replicates.n_replicates

    def cov_params(self, kind: str = "replicate") -> pd.DataFrame:
        """Covariance of the fixed effects: ``"replicate"`` (default),
        ``"robust"`` (sandwich) or ``"model"``."""
        return super().cov_params(kind)

    def var_cov(self, kind: str = "replicate") -> np.ndarray:
        return super().var_cov(kind)

    def std_errors(self, kind: str = "replicate") -> pd.Series:
        return super().std_errors(kind)

    @property
    def bse(self) -> pd.Series:
        """Replication standard errors of the fixed effects."""
        return self.std_errors("replicate")

    def conf_int(self, alpha: float = 0.05, kind: str = "replicate", which: str = "fixed"):
        return super().conf_int(alpha, kind, which)

    def wald_test(self, terms=None, *, R=None, q=None, kind: str = "fixed",
                  cov: str = "replicate"):
        return super().wald_test(terms, R=R, q=q, kind=kind, cov=cov)

    def tidy(self, alpha: float = 0.05, kind: str = "replicate") -> pd.DataFrame:
        return super().tidy(alpha, kind)

    def summary(self):
        """The full-sample report with replication standard errors."""
        from ..results.summary import Summary
        return Summary(
            self, header=[("Variance estimation", f"replicate weights: {self.method}")],
            se_note=(f"Standard errors from replicate weights ({self.method}); the "
                     "cluster-robust sandwich is cov_params('robust')."),
            icc_std_error=self.icc_std_error, icc_se_label="replication SE")

    def __repr__(self):
        return f"<ReplicateResult {self.formula!r}: {self.method}>"

    def _repr_html_(self):
        return self.summary()._repr_html_()


def _var_labels(full):
    from ..results.inference import variance_labels
    return variance_labels(full.var_components)


def single_result(full, rep, est, paired, warnings=()) -> ReplicateResult:
    """A ReplicateResult from one full-sample fit and its refits ``est``."""
    names = list(full.params.index)
    labels = _var_labels(full)
    vfull = full.var_components["variance"].to_numpy()
    link = full.link or "identity"
    icc_r = icc_rows(full.var_components, est.var, link)
    index = pd.Index(rep.columns, name="replicate")
    return ReplicateResult(
        full, rep,
        replicate_params=pd.DataFrame(est.params, index=index, columns=names),
        replicate_var=pd.DataFrame(est.var, index=index, columns=labels),
        replicate_icc=pd.Series(icc_r, index=index, name="icc"),
        cov=rep.variance(est.params, full.params.to_numpy(), paired),
        var_cov=rep.variance(est.var, vfull, paired),
        icc_variance=float(rep.variance(icc_r[:, None], [full.icc], paired)[0, 0]),
        method=rep.describe(paired), warnings=warnings)


def plausible_result(pv, rep, ests, paired, warnings=()) -> ReplicateResult:
    """A ReplicateResult from a PlausibleValuesResult and the refits of each
    plausible value (``ests``: one per value, or only the first's).

    Notes
    -----
    Each value's replication variance ``U_m`` and the between-value
    variance combine by :func:`~pywemix.survey.pool.rubin`:
    ``T = mean_m U_m + (1 + 1/M) B`` (OECD 2009, PISA Data Analysis Manual,
    on plausible values and replicates); with ``plausible_values="first"``
    every ``U_m`` is the first value's.
    """
    fits = pv.fits
    singles = [single_result(f, rep, e, paired) for f, e in zip(fits, ests)]
    singles += [singles[0]] * (len(fits) - len(singles))   # "first": U_1 for all
    est = np.stack([f.params.to_numpy() for f in fits])
    vest = np.stack([f.var_components["variance"].to_numpy() for f in fits])
    iest = np.array([[f.icc] for f in fits])
    cov = rubin(est, np.stack([s.cov_params().to_numpy() for s in singles])).total
    var_cov = rubin(vest, np.stack([s.var_cov() for s in singles])).total
    icc_var = rubin(iest, np.array([[[s.icc_std_error ** 2]] for s in singles])).total
    used = [c for c, _ in zip(pv.columns, ests)]
    stack = {name: pd.concat([getattr(s, name) for s in singles[:len(ests)]], keys=used,
                             names=["plausible_value", "replicate"])
             for name in ("replicate_params", "replicate_var_components", "replicate_icc")}
    return ReplicateResult(
        pv, rep, replicate_params=stack["replicate_params"],
        replicate_var=stack["replicate_var_components"],
        replicate_icc=stack["replicate_icc"], cov=cov, var_cov=var_cov,
        icc_variance=float(icc_var[0, 0]), method=rep.describe(paired),
        warnings=warnings)
