"""Likelihood-ratio comparison of nested models and its parametric bootstrap.

R equivalents: ``anova.merMod`` (lme4) and ``pbkrtest::PBmodcomp``. With
sampling weights the log-likelihood is a pseudo-likelihood and the
chi-square reference distribution does not hold: use Wald tests
(``result.wald_test``) for weighted fits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from .arguments import MixArguments
from .dask import mix_dask
from .estimation.glmm import refit_llf
from .estimation.linear import refit_criteria
from .executors import check_executor, map_tasks
from .pipeline import fit_frame
from .results.diagnostics import draw_responses
from .results.result import MixResult
from .warnings import PseudoLikelihoodWarning, warn

__all__ = ["anova", "bootstrap_lrt", "BootstrapResult"]


def _check_model(m, what):
    if not isinstance(m, MixResult):
        hint = (
            ": plausible-value results hold one fit per value; compare single fits"
            if hasattr(m, "fits")
            else ""
        )
        raise TypeError(
            f"{what} must be a fitted model (a MixResult from pywemix.mix), "
            f"got {type(m).__name__}{hint}"
        )


_DIFFERENT_DATA = (
    "models were fitted to different data: models must be fitted to the same rows "
    "(matched by their position in the data, or by unique index labels) with the same "
    "responses; check for rows dropped because of missing values in one model's "
    "variables, and refit both to the same data frame"
)


def _on_workers(m) -> bool:
    """Whether ``m`` is a fit whose rows stay on Dask workers (DaskMixResult)."""
    return hasattr(m, "same_rows")


def _check_same_data(models):
    """Raise unless every model was fitted like the first to the same observations.

    Returns, per model, the permutation ``perm`` with model ``k``'s design
    rows = the first model's design rows ``[perm]``.
    """
    base = models[0]
    perms: list[np.ndarray | None] = [np.arange(base.nobs)]
    for m in models[1:]:
        for label, a, b in base.settings.differences(m.settings):
            raise ValueError(
                f"models were fitted with different settings: {label} is "
                f"{a!r} in {base.formula!r} but {b!r} in {m.formula!r}; "
                "refit them alike"
            )
        if _on_workers(base) or _on_workers(m):
            # Dask fits: the same Dask DataFrame, rows and responses (one pass)
            if not (_on_workers(base) and base.same_rows(m)):
                raise ValueError(_DIFFERENT_DATA)
            perms.append(None)
            continue
        perm = _row_map(base, m)
        if perm is None:
            raise ValueError(_DIFFERENT_DATA)
        if not _close(_offset(base)[perm], _offset(m)):
            raise ValueError(
                f"models were fitted with different offsets ({base.formula!r} "
                f"and {m.formula!r}); refit them with the same offset"
            )
        perms.append(perm)
    return perms


def _offset(m):
    return np.asarray(m.design.offset, dtype=float) if m.settings.has_offset else np.zeros(m.nobs)


def _close(a, b):
    scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0), 1e-300)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= 1e-10 * scale))


def _row_map(m0, m1):
    """Positions in m0's design rows of each of m1's design rows, or None.

    Rows are matched by their position in the user's data, else (when both
    fits' index labels are unique) by label; a matching is accepted only if
    it is one-to-one and the responses and every variable the two designs
    share agree row by row.
    """
    if m0.nobs != m1.nobs:
        return None
    d0, d1 = m0.design, m1.design
    keys = [(d0.row_positions, d1.row_positions)]
    i0, i1 = pd.Index(d0.frame.index), pd.Index(d1.frame.index)
    if i0.is_unique and i1.is_unique:
        keys.append((i0, i1))
    for k0, k1 in keys:
        try:
            perm = pd.Index(k0).get_indexer(pd.Index(k1))
        except (TypeError, ValueError):  # labels that cannot be compared
            continue
        if (
            np.all(perm >= 0)
            and len(np.unique(perm)) == len(perm)
            and _close(np.asarray(d0.y, float)[perm], np.asarray(d1.y, float))
            and _frames_agree(m0, m1, perm)
        ):
            return perm
    return None


def _frames_agree(m0, m1, perm):
    """Whether the variables of both formulas and the weights agree row by row."""
    f0, f1 = m0.design.frame, m1.design.frame
    shared = (set(m0.design.parsed.required_columns) & set(m1.design.parsed.required_columns)) | {
        w for w in m0.weight_spec if w is not None
    }
    for c in (c for c in shared if c in f0.columns and c in f1.columns):
        a, b = f0[c].iloc[perm], f1[c]
        if pd.api.types.is_numeric_dtype(a.dtype) and pd.api.types.is_numeric_dtype(b.dtype):
            if not _close(a.to_numpy(dtype=float), b.to_numpy(dtype=float)):
                return False
        elif not np.array_equal(a.to_numpy(dtype=object), b.to_numpy(dtype=object)):
            return False
    return True


def _random_signature(m):
    sig = set()
    for lev, blocks in zip(m.design.levels, m.design.blocks):
        for b in blocks:
            names = b.names
            for i, a in enumerate(names):
                sig.add((lev.name, a, None))
                for c in names[i + 1 :]:
                    sig.add((lev.name, a, c))
    return sig


def _check_nested(small, big):
    fixed_ok = set(small.params.index) <= set(big.params.index)
    rand_ok = _random_signature(small) <= _random_signature(big)
    if not (fixed_ok and rand_ok) or small.df_modelwc >= big.df_modelwc:
        raise ValueError(
            f"models are not nested: {small.formula!r} is not a special case of "
            f"{big.formula!r} (its fixed effects and random terms must be a subset)"
        )


def anova(*models, refit: bool = False) -> pd.DataFrame:
    """
    Likelihood-ratio tests of nested models, as lme4's ``anova``.

    Parameters
    ----------
    *models : MixResult
        Two or more nested fits to the same data.
    refit : bool
        Refit REML fits by ML when their fixed effects differ (lme4 does this
        by default; here it must be asked for).

    Returns
    -------
    DataFrame
        One row per model in order of increasing parameters: ``npar``,
        ``llf``, ``aic``, ``bic``, ``chisq``, ``df``, ``p_value``;
        ``attrs["notes"]`` explains caveats (boundary tests, weights).

    Raises
    ------
    TypeError
        If an argument is not a single fit (a ``MixResult``).
    ValueError
        If the models are not nested, or were not fitted to the same rows
        (matched by position in the data or by unique index labels, with
        equal responses) with the same family, weights, weight scaling,
        survey preset, centering and offset.

    See Also
    --------
    bootstrap_lrt : A parametric bootstrap p-value of the same statistic.
    pywemix.MixResult.wald_test : Wald tests, valid for weighted fits.

    Notes
    -----
    ``chisq = 2 (llf_1 - llf_0)`` against a chi-square with
    ``df = npar_1 - npar_0``. A test that a variance is zero is on the
    boundary of the parameter space: the chi-square p-value is then
    conservative (roughly twice too large for one variance).

    Examples
    --------
    >>> import pywemix
    >>> sleep = pywemix.datasets.load_sleepstudy()
    >>> m0 = pywemix.mix("Reaction ~ Days + (1|Subject)", sleep)
    >>> m1 = pywemix.mix("Reaction ~ Days + (Days|Subject)", sleep)
    >>> pywemix.anova(m0, m1)[["npar", "chisq", "df"]].round(2)
                                      npar  chisq   df
    Reaction ~ Days + (1|Subject)        4    NaN  NaN
    Reaction ~ Days + (Days|Subject)     6  42.14  2.0
    """
    if len(models) < 2:
        raise ValueError("anova needs at least two models")
    for k, m in enumerate(models):
        _check_model(m, f"anova's model {k + 1}")
    if not isinstance(refit, (bool, np.bool_)):
        raise TypeError(f"refit must be True or False, got {refit!r}")
    _check_same_data(models)
    models = tuple(sorted(models, key=lambda m: m.df_modelwc))
    crit = {m.criterion for m in models}
    fixed_differ = len({tuple(m.params.index) for m in models}) > 1
    if "REML" in crit and (fixed_differ or len(crit) > 1):
        if not refit:
            raise ValueError(
                "REML fits with different fixed effects cannot be compared by their "
                "restricted likelihoods; refit with reml=False or pass refit=True"
            )
        models = tuple(_refit_ml(m) for m in models)
    for small, big in zip(models[:-1], models[1:]):
        _check_nested(small, big)
    notes = []
    if any(m.weighted for m in models):
        msg = (
            "weighted fits: the log-likelihood is a pseudo-likelihood, so the "
            "chi-square reference distribution is not valid; use Wald tests "
            "(result.wald_test) instead"
        )
        warn(msg, PseudoLikelihoodWarning)
        notes.append(msg)
    rows = [
        dict(
            npar=m.df_modelwc,
            llf=m.llf,
            aic=m.information_criteria()[0],
            bic=m.information_criteria()[1],
        )
        for m in models
    ]
    df = pd.DataFrame(rows, index=[m.formula for m in models])
    chisq = 2 * np.diff(df["llf"].to_numpy())
    dof = np.diff(df["npar"].to_numpy())
    df["chisq"] = np.r_[np.nan, np.maximum(chisq, 0.0)]
    df["df"] = np.r_[np.nan, dof]
    df["p_value"] = np.r_[np.nan, stats.chi2.sf(np.maximum(chisq, 0.0), dof)]
    for small, big in zip(models[:-1], models[1:]):
        if _random_signature(small) != _random_signature(big):
            notes.append(
                f"{big.formula!r} adds variance parameters: the test is on the "
                "boundary of the parameter space and its chi-square p-value is "
                "conservative (bootstrap_lrt gives a better one)"
            )
    df.attrs["notes"] = notes
    return df


def _refit_ml(m):
    """``m`` refitted by maximum likelihood with the arguments of its fit.

    A Dask fit is refitted on its Dask DataFrame; an in-memory fit on its
    design's frame, which holds the rows used, centred as in the fit, in the
    design's order (as its offset), so the centering is not applied again.
    """
    if m.criterion != "REML":
        return m
    args = m.arguments if m.arguments is not None else _arguments_of(m)
    if _on_workers(m):
        return mix_dask(args.replace(reml=False), m.data)
    d = m.design
    offset = d.offset if m.settings.has_offset else None
    return fit_frame(
        args.replace(reml=False, offset=offset, center_group=None, center_grand=None), d.frame
    )


def _arguments_of(m) -> MixArguments:
    """The arguments of a fit made from the stages by hand (no ``arguments``
    record), from its settings."""
    s = m.settings
    return MixArguments(
        formula=m.formula,
        weights=list(s.weight_spec),
        cond_weights=s.cond_weights,
        family=s.family_object or s.family,
        link=None if s.family_object else s.link,
        n_quad=s.n_quad or 1,
        offset=None,
        trials=None,
        center_group=None,
        center_grand=None,
        weight_scaling="none",
        survey=None,
        plausible_values=None,
        executor=None,
        reml=s.reml,
        start=None,
        max_iter=None,
        replicates=None,
        by=None,
    )


@dataclass(frozen=True)
class BootstrapResult:
    """Parametric bootstrap likelihood-ratio test.

    Attributes
    ----------
    statistic : float
        Observed ``2 (llf_1 - llf_0)``.
    p_value : float
        ``(1 + #{T* >= T}) / (n + 1)``.
    mc_error : float
        Monte Carlo standard error of the p-value, ``sqrt(p (1 - p) / n)``.
    n : int
        Replicates used (those whose refits converged).
    replicates : ndarray
        The bootstrap statistics.
    chi2_p_value : float
        The asymptotic chi-square p-value, for comparison.
    """

    statistic: float
    p_value: float
    mc_error: float
    n: int
    replicates: np.ndarray
    chi2_p_value: float
    df: int

    def __repr__(self):
        return (
            f"Parametric bootstrap LRT: statistic {self.statistic:.4f}, p = "
            f"{self.p_value:.4g} (Monte Carlo s.e. {self.mc_error:.2g}, {self.n} "
            f"replicates; chi-square({self.df}) p = {self.chi2_p_value:.4g})"
        )


class _Refit:
    """Picklable ``Y (n, b) -> maximised criterion of each column`` for a model."""

    def __init__(self, result, perm=None):
        objective = result.objective
        self.family = objective.family
        self.perm = perm
        # the optimiser's parameters: theta (Gaussian) or phi = (beta, chol)
        self.start = np.asarray(result.optimization.x)
        if self.family is None:
            self.gauss, self.reml = objective.function, objective.reml
        else:
            self.design, self.n_quad = objective.design, objective.n_quad

    def __call__(self, Y):
        if self.perm is not None:
            Y = Y[self.perm]
        if self.family is None:
            return refit_criteria(self.gauss.with_responses(Y), self.start, self.reml)
        trials = self.design.y[:, 1:] if np.ndim(self.design.y) == 2 else None
        return np.array(
            [
                refit_llf(
                    replace(
                        self.design, y=y if trials is None else np.column_stack([y, trials[:, 0]])
                    ),
                    self.family,
                    self.n_quad,
                    self.start,
                )
                for y in Y.T
            ]
        )


def _chunk(fits, ys):
    f0, f1 = fits
    return list(2.0 * (f1(ys) - f0(ys)))


def bootstrap_lrt(
    m0,
    m1,
    n: int = 1000,
    seed: int | np.random.Generator | None = None,
    *,
    executor=None,
    progress: bool | None = None,
    allow_weighted: bool = False,
) -> BootstrapResult:
    """
    Parametric bootstrap of the likelihood-ratio statistic (Davison and Hinkley 1997).

    Simulates ``n`` responses from the null fit ``m0``, refits both models to
    each, and compares the observed statistic with the simulated ones.

    Parameters
    ----------
    m0, m1 : MixResult
        Null and alternative fits (nested, same data).
    n : int
        Replicates.
    seed : int, optional
        Makes the run reproducible (also with an executor).
    executor : concurrent.futures.Executor or distributed.Client, optional
        Runs chunks of replicates in parallel (threads, processes or a Dask
        cluster, which receives the two fits once); see
        :func:`pywemix.executors.map_tasks`.
    progress : bool, optional
        Show a tqdm progress bar (default: when ``n >= 200``).
    allow_weighted : bool
        Weighted fits are refused unless this is true: the statistic is then a
        pseudo-likelihood ratio.

    Returns
    -------
    BootstrapResult
        The observed statistic, the bootstrap p-value with its Monte Carlo
        error, the replicates' statistics and the chi-square p-value.

    Raises
    ------
    TypeError
        If ``m0`` or ``m1`` is not a single fit, ``executor`` has no callable
        ``map`` or ``seed`` is not a valid seed.
    ValueError
        As for :func:`anova` (same rows and settings, nested models), and for
        a bad ``n`` or weighted fits without ``allow_weighted``.
    ImportError
        If ``progress=True`` and tqdm is not installed.
    NotImplementedError
        For fits on a Dask DataFrame (their rows stay on the workers).

    See Also
    --------
    anova : The chi-square test of the same statistic.

    Notes
    -----
    The p-value is :math:`(1 + \\#\\{t_b \\ge t\\}) / (B + 1)` over the
    :math:`B` finite replicates (Davison and Hinkley 1997, *Bootstrap Methods
    and their Application*, sec. 4.2); R equivalent
    ``pbkrtest::PBmodcomp`` (Halekoh and Hojsgaard 2014, *Journal of
    Statistical Software* 59(9)).

    Examples
    --------
    >>> import pywemix
    >>> sleep = pywemix.datasets.load_sleepstudy()
    >>> m0 = pywemix.mix("Reaction ~ Days + (1|Subject)", sleep)
    >>> m1 = pywemix.mix("Reaction ~ Days + (Days|Subject)", sleep)
    >>> boot = pywemix.bootstrap_lrt(m0, m1, n=19, seed=1)
    >>> round(boot.statistic, 2), boot.p_value
    (42.14, 0.05)
    """
    _check_model(m0, "m0")
    _check_model(m1, "m1")
    if _on_workers(m0) or _on_workers(m1):
        raise NotImplementedError(
            "bootstrap_lrt simulates responses and refits both models to them from the "
            "fitted rows, which a fit on a Dask DataFrame keeps on the workers: fit both "
            "models in memory to bootstrap (ddf.compute(), or a sample of whole groups), "
            "or compare the Dask fits with anova / result.wald_test"
        )
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    check_executor(executor)
    try:
        rng = np.random.default_rng(seed)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"seed must be None or a non-negative integer, got {seed!r} ({exc})"
        ) from None
    if (m0.weighted or m1.weighted) and not allow_weighted:
        raise ValueError(
            "bootstrap_lrt on weighted fits compares pseudo-likelihoods; its null "
            "distribution is not that of a likelihood ratio. Use Wald tests "
            "(result.wald_test), or pass allow_weighted=True to run it anyway"
        )
    if m0.df_modelwc > m1.df_modelwc:
        m0, m1 = m1, m0
    perm = _check_same_data([m0, m1])[1]
    _check_nested(m0, m1)
    if m0.criterion != m1.criterion or (
        m0.criterion == "REML" and list(m0.params.index) != list(m1.params.index)
    ):
        raise ValueError("REML fits with different fixed effects: refit with reml=False")
    observed = 2.0 * (m1.llf - m0.llf)
    ys = draw_responses(
        m0.design,
        m0.fe_params.to_numpy(),
        m0.random_effects_covariances,
        m0.sigma2,
        m0.family_object,
        n,
        rng,
    )
    # the designs of both fits hold the same rows, maybe in another order
    f0, g1 = _Refit(m0), _Refit(m1, perm)
    size = 50 if m0.family_object is not None else 250
    chunks = np.array_split(np.arange(n), max(1, int(np.ceil(n / size))))
    show = (n >= 200) if progress is None else bool(progress)
    parts = map_tasks(
        executor,
        _chunk,
        [ys[:, idx] for idx in chunks],
        shared=(f0, g1),
        progress=show,
        desc="bootstrap",
        unit="chunk",
    )
    stats_ = [v for part in parts for v in part]
    t = np.array(stats_, dtype=float)
    t = t[np.isfinite(t)]
    k = len(t)
    p = (1 + np.sum(t >= observed - 1e-10 * abs(observed))) / (k + 1)
    dof = int(m1.df_modelwc - m0.df_modelwc)
    return BootstrapResult(
        float(observed),
        float(p),
        float(np.sqrt(p * (1 - p) / k)),
        k,
        t,
        float(stats.chi2.sf(max(observed, 0), dof)),
        dof,
    )
