"""The linear predictor ``eta = X beta + offset + sum_l Z_l u_l``, written once."""

from __future__ import annotations

import numpy as np

__all__ = ["linear_predictor", "add_random"]


def add_random(eta: np.ndarray, Z: list, codes: list, effects: list) -> np.ndarray:
    """``eta + sum_l Z_l u_l[codes_l]``: each row's random effects of every level.

    Parameters
    ----------
    eta : ndarray (n,)
    Z : list of ndarray (n, q_l)
        Random-effect design of each level (level 2 up).
    codes : list of ndarray (n,)
        Group index of each row at each level.
    effects : list of ndarray (J_l, q_l)
        Random effects of each level's groups.
    """
    eta = np.array(eta, dtype=float, copy=True)
    for Zl, c, u in zip(Z, codes, effects):
        eta += np.einsum("ij,ij->i", Zl, np.asarray(u)[c])
    return eta


def linear_predictor(X, beta, offset=None, Z=(), codes=(), effects=()) -> np.ndarray:
    """``X beta + offset + sum_l Z_l u_l`` (offset and random parts optional)."""
    eta = np.asarray(X, dtype=float) @ np.asarray(beta, dtype=float)
    if offset is not None:
        eta = eta + offset
    return add_random(eta, list(Z), list(codes), list(effects))
