"""Finite-difference derivatives (central differences, vector-valued allowed).

Used for the optimiser's gradient and Newton polish and for the score and
Hessian blocks of the sandwich variance, where the functions are cheap and
smooth but have no convenient closed-form derivatives.
"""

from __future__ import annotations

import numpy as np

__all__ = ["steps", "jacobian", "hessian"]


def steps(x, rel: float, floor: float = 1e-2) -> np.ndarray:
    """Step sizes ``rel * max(|x_i|, floor)``: relative to each coordinate, and
    not below ``rel * floor`` near 0."""
    return rel * np.maximum(np.abs(np.asarray(x, dtype=float)), floor)


def jacobian(f, x, h, lower=None) -> np.ndarray:
    """Jacobian of ``f`` (scalar or vector valued) at ``x`` by central differences.

    Where ``x - h`` would cross ``lower`` a one-sided (second-order) forward
    difference is used instead. Returns shape ``(len(f(x)), len(x))`` or
    ``(len(x),)`` for a scalar ``f``.
    """
    x = np.asarray(x, dtype=float)
    cols = []
    f0 = None
    for i in range(len(x)):
        e = np.zeros_like(x)
        e[i] = h[i]
        if lower is not None and x[i] - h[i] < lower[i]:
            if f0 is None:
                f0 = np.asarray(f(x), dtype=float)
            f1 = np.asarray(f(x + e), dtype=float)
            f2 = np.asarray(f(x + 2 * e), dtype=float)
            cols.append((-3 * f0 + 4 * f1 - f2) / (2 * h[i]))
        else:
            cols.append(
                (np.asarray(f(x + e), dtype=float) - np.asarray(f(x - e), dtype=float)) / (2 * h[i])
            )
    return np.stack(cols, axis=-1)


def hessian(f, x, h) -> np.ndarray:
    """Hessian of a scalar ``f`` at ``x`` by central differences."""
    x = np.asarray(x, dtype=float)
    k = len(x)
    H = np.empty((k, k))
    f0 = f(x)
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = h[i]
        H[i, i] = (f(x + ei) - 2 * f0 + f(x - ei)) / h[i] ** 2
        for j in range(i):
            ej = np.zeros(k)
            ej[j] = h[j]
            H[i, j] = H[j, i] = (
                f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)
            ) / (4 * h[i] * h[j])
    return H
