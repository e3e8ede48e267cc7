"""Residuals and simulation from a fitted model.

R equivalents: ``residuals(m, type = "response" | "pearson")``,
``simulate.merMod``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..objective.linpred import linear_predictor

__all__ = ["Residuals", "simulate", "draw_responses"]


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


def draw_responses(design, beta, covs, sigma2, family, n, rng) -> np.ndarray:
    """Simulated responses, shape (rows, n), rows in the design's (sorted) order.

    New random effects ``u_l ~ N(0, Sigma_l)`` for every group of every level
    and draw, then ``y ~ N(eta, sigma^2)`` or the family's distribution.
    """
    fixed = linear_predictor(design.X, beta, design.offset)
    eta = np.repeat(fixed[:, None], n, axis=1)
    for lev, Z, S in zip(design.levels, design.Z, covs):
        root = _sqrt_psd(np.asarray(S))
        u = rng.standard_normal((n, lev.n_groups, root.shape[0])) @ root.T
        eta += np.einsum("iq,kiq->ik", Z, u[:, lev.codes])
    if family is None:
        return eta + rng.normal(0.0, np.sqrt(sigma2), size=eta.shape)
    return family.simulate(family.mean(eta), rng)


def make_rng(seed) -> np.random.Generator:
    """A numpy Generator from ``seed`` (None, an integer, a SeedSequence or a Generator)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(
            seed, (int, np.integer, np.random.SeedSequence))):
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
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    rng = make_rng(seed)
    y = draw_responses(result.design, result.params.to_numpy(),
                       result.random_effects_covariances, result.sigma2,
                       result.family_object, int(n), rng)
    return result.to_data_order(y, [f"sim_{k + 1}" for k in range(n)])
