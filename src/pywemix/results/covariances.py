"""The estimates of a result and its covariance kinds: one record every output reads.

Every result (a single fit, a fit with replicate weights, plausible values,
pooled imputations, a fit on Dask) holds one :class:`Estimates` record: the
fixed effects, the variance components, the ICC, and a registry of
covariance kinds (:class:`Covariances`) with one declared default, as
linearmodels keeps its covariance estimators. ``bse``, ``cov_params()``,
``conf_int()``, ``tidy()``, ``wald_test()``, ``summary()``, the plots,
``compare()`` and the command line read the default kind unless another is
named, and each says which kind it shows (its :attr:`Covariance.description`).

The kinds:

- ``"robust"``: the cluster-robust sandwich over the top-level groups
  (WeMix's standard errors);
- ``"model"``: the inverse information (frequency-weight reading);
- ``"replicate"``: the replication variance of replicate weights (with its
  method);
- for combinations of fits (plausible values, pooled imputations) each kind
  is a *total*: its :attr:`Covariance.sampling` part (the mean of the fits'
  variances of that kind) plus its :attr:`Covariance.imputation` part, so
  that ``sampling + imputation == total`` exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["Covariance", "Covariances", "Estimates", "make_estimates", "standard_errors"]


def _frozen(a) -> np.ndarray:
    a = np.array(a, dtype=float, copy=True)
    a.flags.writeable = False
    return a


def standard_errors(cov) -> np.ndarray:
    """
    Square roots of the diagonal of ``cov`` (NaN where it is missing or negative).

    Parameters
    ----------
    cov : array_like
        A square covariance matrix.

    Returns
    -------
    ndarray
        The standard errors.
    """
    v = np.diag(np.asarray(cov, dtype=float))
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(v) & (v >= 0), np.sqrt(np.abs(v)), np.nan)


#: Short names of the kinds, as a table column or an ICC footnote shows them.
_SHORT = {"robust": "cluster-robust", "model": "model-based", "replicate": "replication"}


@dataclass(frozen=True, eq=False)
class Covariance:
    """
    One kind of covariance of a result's estimates.

    A frozen dataclass: its fields are its parameters and attributes.

    Parameters
    ----------
    name : str
        The kind as ``cov_params(kind)`` names it: ``"robust"``, ``"model"``,
        ``"replicate"``.
    description : str
        What it is, in words, e.g. ``"cluster-robust (sandwich over 157
        top-level groups)"`` or ``"replicate weights (Fay's BRR, 80
        replicates, k = 0.5)"``; reports show it.
    fixed : ndarray (p, p)
        Covariance of the fixed effects (read-only).
    components : ndarray (m, m)
        Covariance of the variance components, in the rows of
        ``var_components`` (read-only; NaN where not estimated).
    icc : float, default NaN
        Variance of the ICC estimate (NaN when this kind has none).
    sampling, imputation : Covariance or None, default None
        For a total over plausible values or imputations: its parts, the
        mean sampling covariance of the fits (of this kind) and the
        imputation covariance ``(1 + 1/M) B``. ``fixed == sampling.fixed +
        imputation.fixed`` (and likewise for the other members).

    Raises
    ------
    ValueError
        If only one of ``sampling`` and ``imputation`` is given.
    """

    name: str
    description: str
    fixed: np.ndarray
    components: np.ndarray
    icc: float = np.nan
    sampling: Covariance | None = None
    imputation: Covariance | None = None

    def __post_init__(self):
        object.__setattr__(self, "fixed", _frozen(self.fixed))
        object.__setattr__(self, "components", _frozen(self.components))
        object.__setattr__(self, "icc", float(self.icc))
        if (self.sampling is None) != (self.imputation is None):
            raise ValueError("a total covariance needs both parts, sampling and imputation")

    @property
    def is_total(self) -> bool:
        """Whether this is a total over plausible values or imputations (with parts)."""
        return self.sampling is not None

    @property
    def short(self) -> str:
        """
        The kind in a word or two.

        ``"cluster-robust"``, ``"replication"``, ``"model-based"``; a total's
        ``"total (sampling, <its sampling kind> + imputation)"``.
        """
        if self.is_total:
            return f"total (sampling, {self.sampling_short} + imputation)"
        return _SHORT.get(self.name, self.name)

    @property
    def sampling_short(self) -> str:
        """The kind of the sampling part in a word or two (``short`` of a single fit)."""
        return _SHORT.get(self.name, self.name)

    @property
    def se_label(self) -> str:
        """What its standard errors are called in a footnote, e.g. ``"replication SE"``."""
        if self.is_total:
            return "total SE"
        return f"{self.short} SE"

    @property
    def icc_std_error(self) -> float:
        """Standard error of the ICC (NaN when this kind has none)."""
        v = self.icc
        return float(np.sqrt(v)) if np.isfinite(v) and v >= 0 else np.nan


@dataclass(frozen=True, eq=False)
class Covariances:
    """
    The covariance kinds of a result, with one declared default.

    ``get(None)`` is the default kind; ``get("robust")`` a named one; an
    unavailable kind is a ValueError listing the available ones.

    Parameters
    ----------
    kinds : sequence of Covariance
        The kinds, each named once.
    default : str
        The name of the default kind.

    Raises
    ------
    ValueError
        If a kind is repeated or the default is not among them.
    """

    kinds: tuple
    default: str

    def __post_init__(self):
        object.__setattr__(self, "kinds", tuple(self.kinds))
        names = [k.name for k in self.kinds]
        if len(set(names)) != len(names):
            raise ValueError(f"covariance kinds are repeated: {names}")
        if self.default not in names:
            raise ValueError(f"the default kind {self.default!r} is not among {names}")

    @property
    def names(self) -> tuple:
        """The kinds' names, the default first."""
        return (self.default,) + tuple(k.name for k in self.kinds if k.name != self.default)

    def __contains__(self, name) -> bool:
        return name in self.names

    def get(self, kind: str | None = None, argument: str = "kind") -> Covariance:
        """
        Return the record of a kind.

        Parameters
        ----------
        kind : str, optional
            The kind's name; None (default) is the default kind.
        argument : str, default "kind"
            Names the parameter in the error message (``kind`` or ``cov``).

        Returns
        -------
        Covariance
            The record.

        Raises
        ------
        ValueError
            If there is no such kind (the message lists the available ones).
        """
        if kind is None:
            kind = self.default
        for k in self.kinds:
            if isinstance(kind, str) and k.name == kind:
                return k
        valid = [repr(n) for n in self.names]
        listed = valid[0] if len(valid) == 1 else f"{', '.join(valid[:-1])} or {valid[-1]}"
        raise ValueError(
            f"{argument} must be {listed}, got {kind!r} (None is the "
            f"result's default, {self.default!r})"
        )

    @property
    def default_kind(self) -> Covariance:
        """The default kind's record."""
        return self.get(None)


@dataclass(frozen=True, eq=False)
class Estimates:
    """
    Estimates of a result and their covariances: what every output reads.

    A frozen dataclass, made by :func:`make_estimates`: its fields are its
    parameters and attributes.

    Parameters
    ----------
    stored_params : Series
        Fixed effects, as stored; read them through ``params`` (a copy).
    stored_var_components : DataFrame
        Variances and covariances of the random effects and the residual
        (columns ``level``, ``group``, ``var1``, ``var2``, ``variance``,
        ``std_error``); ``std_error`` is the default kind's. Read it
        through ``var_components`` (a copy).
    icc : float
        Intraclass correlation.
    covariances : Covariances
        The covariance kinds, with their default.
    """

    stored_params: pd.Series = field(repr=False)
    stored_var_components: pd.DataFrame = field(repr=False)
    icc: float
    covariances: Covariances = field(repr=False)

    # The tables are handed out as copies (lazy under pandas' copy-on-write):
    # changing what a property returns never changes the record, with or
    # without copy-on-write (a pandas Series over a read-only array is still
    # writable in place under copy-on-write).
    @property
    def params(self) -> pd.Series:
        """Fixed effects (a copy)."""
        return self.stored_params.copy()

    @property
    def var_components(self) -> pd.DataFrame:
        """The variance-component table (a copy)."""
        return self.stored_var_components.copy()

    @property
    def default(self) -> Covariance:
        """The default kind's record."""
        return self.covariances.default_kind


def make_estimates(params, var_components, icc, kinds, default: str) -> Estimates:
    """
    Make an :class:`Estimates` record; the table's ``std_error`` column from the default kind.

    Parameters
    ----------
    params : Series
        Fixed effects.
    var_components : DataFrame
        Columns ``level``, ``group``, ``var1``, ``var2``, ``variance``; its
        ``std_error`` column is set (in place: pass a table of your own, e.g.
        a result's ``var_components``, which is a copy).
    icc : float
        Intraclass correlation.
    kinds : sequence of Covariance
        The covariance kinds.
    default : str
        The name of the default kind.

    Returns
    -------
    Estimates
        The record (``params`` read-only).

    Raises
    ------
    ValueError
        If a kind is repeated or ``default`` is not among them.
    """
    cov = Covariances(tuple(kinds), default)
    vc = var_components  # a table of the caller's own (a copy or new): not copied again
    for c in ("var1", "var2"):  # labels or None, never NaN
        if vc[c].dtype != object:  # (the stages build object columns already)
            vc[c] = pd.Series(
                [v if isinstance(v, str) else None for v in vc[c]], index=vc.index, dtype=object
            )
    se = standard_errors(cov.default_kind.components)
    if "std_error" not in vc or not np.array_equal(vc["std_error"].to_numpy(), se, equal_nan=True):
        vc["std_error"] = se
    params = pd.Series(_frozen(params), index=params.index, name="params")
    return Estimates(params, vc, float(icc), cov)
