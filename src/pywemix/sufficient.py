"""Per-group weighted sufficient statistics (cross-products).

For rows sorted by group, ``group_crossprod`` returns for every group ``j``
the matrix ``G_j' W_j G_j`` (``W_j`` the diagonal of level-1 weights), the
only thing the Gaussian likelihood needs from the rows. It is computed once
per fit, in chunks of rows so memory stays bounded on millions of rows.
"""
from __future__ import annotations

import numpy as np

__all__ = ["group_crossprod", "group_sum"]

_CHUNK_CELLS = 4_000_000  # rows x d x d doubles per chunk (~32 MB)


def group_sum(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sum of ``values`` over contiguous groups beginning at ``starts``."""
    return np.add.reduceat(values, starts, axis=0)


def group_crossprod(G: np.ndarray, w: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Weighted cross-products ``sum_i w_i g_i g_i'`` of each contiguous group.

    Parameters
    ----------
    G : ndarray (n, d)
    w : ndarray (n,)
    starts : ndarray (J,)
        First row of each group (increasing, ``starts[0] == 0``).

    Returns
    -------
    ndarray (J, d, d)
    """
    n, d = G.shape
    J = len(starts)
    iu = np.triu_indices(d)
    out = np.empty((J, len(iu[0])))
    ends = np.r_[starts[1:], n]
    rows_per_chunk = max(1, _CHUNK_CELLS // max(1, len(iu[0])))
    g0 = 0
    while g0 < J:
        # take whole groups until the chunk holds about rows_per_chunk rows
        r0 = starts[g0]
        g1 = int(np.searchsorted(ends, r0 + rows_per_chunk, side="right"))
        g1 = max(g1, g0 + 1)
        r1 = ends[g1 - 1]
        Gc = G[r0:r1]
        P = (Gc[:, iu[0]] * w[r0:r1, None]) * Gc[:, iu[1]]
        out[g0:g1] = np.add.reduceat(P, starts[g0:g1] - r0, axis=0)
        g0 = g1
    M = np.empty((J, d, d))
    M[:, iu[0], iu[1]] = out
    M[:, iu[1], iu[0]] = out
    return M
