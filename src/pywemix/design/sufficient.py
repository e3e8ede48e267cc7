"""Per-group weighted sufficient statistics (cross-products).

For rows sorted by group, ``group_crossprod`` returns for every group ``j``
the matrix ``G_j' W_j G_j`` (``W_j`` the diagonal of level-1 weights), the
only thing the Gaussian likelihood needs from the rows. It is computed once
per fit as batched matrix products: groups are put in buckets of similar
size (sizes within a factor of two), each bucket padded to a common length,
so there is no loop over groups and memory stays bounded on millions of rows.
"""

from __future__ import annotations

import numpy as np

__all__ = ["group_crossprod", "group_sum", "GroupRows"]


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
    sizes = np.diff(np.append(starts, n))
    bucket = np.ceil(np.log2(np.maximum(sizes, 1))).astype(int)
    M = np.empty((J, d, d))
    for b in np.unique(bucket):  # at most ~log2(n) buckets
        groups = np.flatnonzero(bucket == b)
        cap = int(sizes[groups].max())
        # keep each bucket's gathered block to about 2**22 cells
        step = max(1, (1 << 22) // max(1, cap * d))
        offs = np.arange(cap)
        for k in range(0, len(groups), step):
            gk = groups[k : k + step]
            inside = offs < sizes[gk, None]
            # padding repeats a group's first row with weight 0
            idx = np.where(inside, starts[gk, None] + offs, starts[gk, None])
            block = G[idx]
            weighted = block * (w[idx] * inside)[..., None]
            M[gk] = np.matmul(np.swapaxes(weighted, 1, 2), block)
    return M


class GroupRows:
    """The rows of contiguous groups laid out as padded blocks, for per-group
    products of many row vectors at once (:meth:`outer`).

    Groups are put in buckets of similar size (within a factor of two), as
    :func:`group_crossprod` does; each bucket is a (groups, rows) index
    array padded with the group's first row, and a 0/1 mask.

    Parameters
    ----------
    starts : ndarray (J,)
        First row of each group (increasing, ``starts[0] == 0``).
    n : int
        Number of rows.
    """

    def __init__(self, starts: np.ndarray, n: int):
        sizes = np.diff(np.r_[starts, n])
        bucket = np.ceil(np.log2(np.maximum(sizes, 1))).astype(int)
        self.n_groups = len(starts)
        self.buckets = []
        for b in np.unique(bucket):
            groups = np.flatnonzero(bucket == b)
            offs = np.arange(int(sizes[groups].max()))
            inside = offs < sizes[groups, None]
            idx = np.where(inside, starts[groups, None] + offs, starts[groups, None])
            self.buckets.append((groups, idx, inside.astype(float)))

    def outer(self, c: np.ndarray, F: np.ndarray) -> np.ndarray:
        """``out[..., j, :] = sum_{i in j} c[..., i] F[i, :]``.

        Parameters
        ----------
        c : ndarray (..., n)
            Row coefficients (any leading axes, e.g. one per problem).
        F : ndarray (n, k)
            Row vectors.

        Returns
        -------
        ndarray (..., J, k)
            One batched matrix product per bucket: no loop over groups.
        """
        lead = c.shape[:-1]
        flat = c.reshape(-1, c.shape[-1])
        out = np.empty((flat.shape[0], self.n_groups, F.shape[1]))
        for groups, idx, mask in self.buckets:
            cb = flat[:, idx] * mask  # (L, Jb, m)
            out[:, groups] = np.swapaxes(np.matmul(np.swapaxes(cb, 0, 1), F[idx]), 0, 1)
        return out.reshape(lead + out.shape[1:])
