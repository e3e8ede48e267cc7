"""Gauss-Hermite product grids for adaptive quadrature.

``grid(n, q)`` gives the ``n**q`` nodes of the tensor-product rule for the
weight ``exp(-|x|^2)`` in ``q`` dimensions, and ``log(w) + |x|^2`` for each
node, the form adaptive quadrature needs (Liu and Pierce 1994). ``n = 1`` is
the Laplace approximation.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.polynomial.hermite import hermgauss

__all__ = ["grid"]


@lru_cache(maxsize=64)
def grid(n: int, q: int):
    """Nodes ``(n**q, q)`` and log-weights-plus-``|x|^2`` ``(n**q,)``.

    Notes
    -----
    For ``f`` smooth, ``int f(v) dv = |B| sum_k w_k exp(|x_k|^2) f(m + B x_k)``
    approximately, with ``m`` the mode of ``f`` and ``B = sqrt(2) R^{-T}``,
    ``R R'`` the negative Hessian of ``log f`` at ``m``.
    """
    if n < 1:
        raise ValueError(f"n_quad must be a positive integer, got {n}")
    x, w = hermgauss(n)
    mesh = np.meshgrid(*([x] * q), indexing="ij")
    nodes = np.stack([m.ravel() for m in mesh], axis=1) if q else np.zeros((1, 0))
    logw = np.zeros(len(nodes))
    for m in np.meshgrid(*([np.log(w)] * q), indexing="ij"):
        logw = logw + m.ravel()
    logw = logw + np.sum(nodes**2, axis=1)
    nodes.flags.writeable = False
    logw.flags.writeable = False
    return nodes, logw
