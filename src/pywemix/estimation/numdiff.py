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


def _values(f, points: list, vectorized: bool) -> list:
    """``f`` at each of ``points``, in their order: one call per point, or (with
    ``vectorized``) one call on all of them stacked, ``f`` then returning one
    value per row."""
    if vectorized:
        return list(f(np.stack(points)))
    return [f(x) for x in points]


def jacobian(f, x, h, lower=None, vectorized: bool = False) -> np.ndarray:
    """Jacobian of ``f`` (scalar or vector valued) at ``x`` by central differences.

    Where ``x - h`` would cross ``lower`` a one-sided (second-order) forward
    difference is used instead. Returns shape ``(len(f(x)), len(x))`` or
    ``(len(x),)`` for a scalar ``f``. With ``vectorized``, ``f`` takes all
    the points at once as rows of a matrix and returns their values stacked
    (the same numbers in one call).
    """
    x = np.asarray(x, dtype=float)
    points, one_sided = [], []
    for i in range(len(x)):  # the points in the order they are evaluated
        e = np.zeros_like(x)
        e[i] = h[i]
        one_sided.append(lower is not None and x[i] - h[i] < lower[i])
        if one_sided[-1] and not any(one_sided[:-1]):
            points.append(x)
        points += [x + e, x + 2 * e] if one_sided[-1] else [x + e, x - e]
    values = iter(np.asarray(v, dtype=float) for v in _values(f, points, vectorized))
    cols = []
    f0 = None
    for i in range(len(x)):
        if one_sided[i]:
            if f0 is None:
                f0 = next(values)
            f1, f2 = next(values), next(values)
            cols.append((-3 * f0 + 4 * f1 - f2) / (2 * h[i]))
        else:
            up, down = next(values), next(values)
            cols.append((up - down) / (2 * h[i]))
    return np.stack(cols, axis=-1)


def hessian(f, x, h, vectorized: bool = False) -> np.ndarray:
    """Hessian of a scalar ``f`` at ``x`` by central differences (``vectorized``:
    as :func:`jacobian`)."""
    x = np.asarray(x, dtype=float)
    k = len(x)
    points = [x]  # the points in the order they are evaluated
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = h[i]
        points += [x + ei, x - ei]
        for j in range(i):
            ej = np.zeros(k)
            ej[j] = h[j]
            points += [x + ei + ej, x + ei - ej, x - ei + ej, x - ei - ej]
    values = iter(_values(f, points, vectorized))
    H = np.empty((k, k))
    f0 = next(values)
    for i in range(k):
        up, down = next(values), next(values)
        H[i, i] = (up - 2 * f0 + down) / h[i] ** 2
        for j in range(i):
            pp, pm, mp, mm = next(values), next(values), next(values), next(values)
            H[i, j] = H[j, i] = (pp - pm - mp + mm) / (4 * h[i] * h[j])
    return H
