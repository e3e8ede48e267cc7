"""Residuals and simulation from a fitted model.

R equivalents: ``residuals(m, type = "response" | "pearson")``,
``simulate.merMod``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..checks import check_positive_int
from ..objective.linpred import linear_predictor

__all__ = ["Residuals", "simulate", "draw_responses", "MAX_DRAW_BYTES"]

#: Largest array of draws (n x rows x 8 bytes) one call may allocate.
MAX_DRAW_BYTES = 2 * 1024**3


class Residuals(pd.Series):
    """Response residuals that can also be called: ``resid(kind="pearson")``."""

    _metadata = ["owner"]

    @property
    def _constructor(self):
        return pd.Series

    def __call__(self, kind: str = "response") -> pd.Series:
        return self.owner.residuals(kind)

    @classmethod
    def wrap(cls, series, owner):
        out = cls(series)
        out.owner = owner
        return out


def _sqrt_psd(S):
    vals, vecs = np.linalg.eigh(S)
    return vecs * np.sqrt(np.clip(vals, 0, None))


def _size(nbytes: float) -> str:
    """A byte count in readable units (``1.5 GB``)."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if nbytes < 1024:
            return f"{nbytes:.3g} {unit}"
        nbytes /= 1024
    return f"{nbytes:.3g} TB"


def check_draws(n, rows: int) -> int:
    """``n`` as a positive int whose ``n x rows`` draws fit in :data:`MAX_DRAW_BYTES`.

    TypeError for a non-integer, ValueError for ``n < 1`` or too many draws
    (naming ``n``, the memory they would need and what to do instead).
    """
    n = check_positive_int(n, "n")
    need = 8.0 * n * rows
    if need > MAX_DRAW_BYTES:
        fit = max(1, MAX_DRAW_BYTES // (8 * max(rows, 1)))
        raise ValueError(
            f"n={n} draws of {rows} rows need {_size(need)} of memory (n x rows x 8 "
            f"bytes; the computation needs a few times more), over the "
            f"{_size(MAX_DRAW_BYTES)} one call may allocate: use n <= {fit}, or draw in "
            f"a loop of smaller n with one generator, e.g. rng = "
            f"np.random.default_rng(1); for _ in range(k): sims = result.simulate("
            f"{max(1, fit // 4)}, seed=rng), and keep only the statistics you need of "
            "each batch"
        )
    return n


def draw_responses(design, beta, covs, sigma2, family, n, rng) -> np.ndarray:
    """Simulated responses, shape (rows, n), rows in the design's (sorted) order.

    New random effects ``u_l ~ N(0, Sigma_l)`` for every group of every level
    and draw, then ``y ~ N(eta, sigma^2)`` or the family's distribution.

    Raises
    ------
    ValueError
        ``n`` below 1 or draws over :data:`MAX_DRAW_BYTES` (see
        :func:`check_draws`); or means the family cannot draw from (see
        :func:`_family_draws`).
    """
    n = check_draws(n, design.n_obs)
    fixed = linear_predictor(design.X, beta, design.offset)
    eta = np.repeat(fixed[:, None], n, axis=1)
    for lev, Z, S in zip(design.levels, design.Z, covs):
        root = _sqrt_psd(np.asarray(S))
        u = rng.standard_normal((n, lev.n_groups, root.shape[0])) @ root.T
        eta += np.einsum("iq,kiq->ik", Z, u[:, lev.codes])
    if family is None:
        return eta + rng.normal(0.0, np.sqrt(sigma2), size=eta.shape)
    return _family_draws(family, eta, rng, design.y)


def _family_draws(family, eta, rng, y=None) -> np.ndarray:
    """``family.sample`` at ``eta`` (``family.simulate`` at the means
    ``family.mean(eta)``, with the trials of ``y`` for a binomial response
    with trials); a ValueError naming the range of the means when the
    generator refuses them.

    Notes
    -----
    numpy's Poisson generator refuses means above about 9.2e18 ("lam value
    too large"), which a log link reaches at a linear predictor of about 43:
    a model that implies such counts (predictors on a huge scale, or random
    effects whose variance is large and are drawn anew) cannot be simulated.
    The draw is refused rather than returned as NaN, which would only fail
    later (in the refits of ``bootstrap_lrt``, say).
    """
    try:
        return family.sample(eta, rng, y)
    except ValueError as exc:
        mu = family.mean(eta)
        with np.errstate(invalid="ignore"):
            low, high = np.nanmin(mu), np.nanmax(mu)
        raise ValueError(
            f"cannot draw {family.name} responses: the means of the draws (with new random "
            f"effects) range from {low:.4g} to {high:.4g} (linear predictor "
            f"{np.nanmin(eta):.4g} to {np.nanmax(eta):.4g}), which numpy's generator "
            f"refuses ({exc}). Check the fixed effects (result.params) and the random-"
            "effect variances (result.var_components): a model implying such means "
            "cannot be simulated"
        ) from exc


def make_rng(seed) -> np.random.Generator:
    """A numpy Generator from ``seed`` (None, an integer, a SeedSequence or a Generator)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, (int, np.integer, np.random.SeedSequence))
    ):
        raise TypeError(f"seed must be None, an integer or a numpy Generator, got {seed!r}")
    if isinstance(seed, (int, np.integer)) and seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    return np.random.default_rng(seed)


def simulate(result, n: int = 1, seed=None) -> pd.DataFrame:
    """Draw ``n`` response vectors from a fitted model.

    Parameters
    ----------
    result : MixResult
    n : int
        Number of draws.
    seed : int or numpy Generator, optional
        For reproducible draws.

    Returns
    -------
    DataFrame
        One column per draw (``sim_1``, ...), indexed like ``fittedvalues``.

    Raises
    ------
    TypeError
        ``n`` is not an integer.
    ValueError
        ``n`` below 1; ``n x rows x 8`` bytes over :data:`MAX_DRAW_BYTES`
        (2 GB; draw in a loop of smaller ``n`` with one generator as
        ``seed``); or, for a Poisson fit, means beyond what numpy's generator
        draws (about 9.2e18): the error names their range rather than
        returning NaN.

    Notes
    -----
    R equivalent: ``simulate.merMod`` with ``use.u = FALSE`` (new random
    effects for every draw). A binomial response with trials draws the
    successes out of each row's trials; an ordinal response draws its
    categories.
    """
    n = check_draws(n, result.nobs)
    rng = make_rng(seed)
    family = result.family_object
    y = draw_responses(
        result.design,
        result.fe_params.to_numpy(),
        result.random_effects_covariances,
        result.sigma2,
        family,
        int(n),
        rng,
    )
    if family is not None:
        y = family.labels(y)  # an ordinal response's categories
    return result.to_data_order(y, [f"sim_{k + 1}" for k in range(n)])
