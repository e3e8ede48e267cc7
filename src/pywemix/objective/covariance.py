"""Covariance structure of the random effects: parameters <-> matrices.

Each level's random effects have a block-diagonal covariance matrix, one
block per random term (``(1 + x | g)`` is one 2x2 block, ``(x || g)`` two 1x1
blocks). The optimiser works on the *relative* Cholesky factors, as lme4's
``theta``: block ``b`` of level ``l`` has covariance
``sigma^2 * Lambda_b Lambda_b'`` with ``Lambda_b`` lower triangular and a
non-negative diagonal. The variance estimators work on the free elements of
the absolute covariance matrices (variances and covariances).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CovarianceStructure"]


@dataclass(frozen=True)
class CovarianceStructure:
    """Block structure of the random-effect covariances of every level.

    Parameters
    ----------
    sizes : list of list of int
        For each level (2 up), the size of each covariance block.
    names : list of list of tuple of str
        For each level and block, the effect names.
    """

    sizes: list
    names: list

    @classmethod
    def from_design(cls, design) -> "CovarianceStructure":
        return cls([[len(b.names) for b in blk] for blk in design.blocks],
                   [[b.names for b in blk] for blk in design.blocks])

    @property
    def q(self) -> list:
        """Number of random effects per level."""
        return [sum(s) for s in self.sizes]

    # -- relative Cholesky parameters (theta) ------------------------------
    @property
    def n_theta(self) -> int:
        return sum(k * (k + 1) // 2 for lvl in self.sizes for k in lvl)

    def _tril(self, k):
        cache = self.__dict__.setdefault("_tril_cache", {})
        if k not in cache:
            cache[k] = np.tril_indices(k)
        return cache[k]

    def theta_start(self) -> np.ndarray:
        """lme4's start: identity relative factors."""
        out = []
        for lvl in self.sizes:
            for k in lvl:
                r, c = self._tril(k)
                out.extend((r == c).astype(float))
        return np.array(out)

    def theta_lower(self) -> np.ndarray:
        """Lower bounds: 0 on diagonals, -inf off the diagonal."""
        out = []
        for lvl in self.sizes:
            for k in lvl:
                r, c = self._tril(k)
                out.extend(np.where(r == c, 0.0, -np.inf))
        return np.array(out)

    def theta_is_diag(self) -> np.ndarray:
        return np.isfinite(self.theta_lower())

    def _factors(self, theta):
        """Per level, per block: (position, size, offset, lower-tri factor (..., k, k))."""
        theta = np.asarray(theta, dtype=float)
        out, pos = [], 0
        for lvl in self.sizes:
            blocks, off = [], 0
            for k in lvl:
                r, c = self._tril(k)
                lam = np.zeros(theta.shape[:-1] + (k, k))
                lam[..., r, c] = theta[..., pos:pos + len(r)]
                blocks.append((pos, k, off, lam))
                pos += len(r)
                off += k
            out.append(blocks)
        return out

    def relative_cov(self, theta) -> list:
        """``T_l = Lambda_l Lambda_l'`` for every level, from theta (k,) or (..., k)."""
        theta = np.asarray(theta, dtype=float)
        out = []
        for blocks, q in zip(self._factors(theta), self.q):
            T = np.zeros(theta.shape[:-1] + (q, q))
            for _, k, off, lam in blocks:
                T[..., off:off + k, off:off + k] = lam @ np.swapaxes(lam, -1, -2)
            out.append(T)
        return out

    def relative_cov_grad(self, theta) -> list:
        """Derivatives of each ``T_l`` in every theta: per level (..., n_theta, q_l, q_l)."""
        theta = np.asarray(theta, dtype=float)
        n = theta.shape[-1]
        out = []
        for blocks, q in zip(self._factors(theta), self.q):
            dT = np.zeros(theta.shape[:-1] + (n, q, q))
            for pos, k, off, lam in blocks:
                r, c = self._tril(k)
                for e, (i, j) in enumerate(zip(r, c)):
                    # d(L L')/dL_ij = E L' + L E' with E the unit matrix at (i, j)
                    block = np.zeros(theta.shape[:-1] + (k, k))
                    block[..., i, :] += lam[..., :, j]
                    block[..., :, i] += lam[..., :, j]
                    dT[..., pos + e, off:off + k, off:off + k] = block
            out.append(dT)
        return out

    def relative_cov_hess(self) -> list:
        """Second derivatives of each ``T_l`` in every pair of thetas.

        Per level an array (n_theta, n_theta, q_l, q_l); it does not depend on
        theta because ``T = Lambda Lambda'`` is quadratic in the factor:
        ``d2(L L')/dL_ij dL_kl = E_ij E_kl' + E_kl E_ij'`` within a block.
        """
        n = self.n_theta
        out = []
        pos = 0
        for lvl, q in zip(self.sizes, self.q):
            d2T = np.zeros((n, n, q, q))
            off = 0
            for k in lvl:
                r, c = self._tril(k)
                for a, (i, j) in enumerate(zip(r, c)):
                    for b, (m, l) in enumerate(zip(r, c)):
                        if j == l:  # E_ij E_ml' is nonzero only when columns match
                            d2T[pos + a, pos + b, off + i, off + m] += 1.0
                            d2T[pos + a, pos + b, off + m, off + i] += 1.0
                pos += len(r)
                off += k
            out.append(d2T)
        return out

    def theta_from_cov(self, covs, sigma2) -> np.ndarray:
        """Relative Cholesky parameters of absolute covariances (for warm starts)."""
        out = []
        for lvl, S in zip(self.sizes, covs):
            off = 0
            for k in lvl:
                B = S[off:off + k, off:off + k] / sigma2
                try:
                    lam = np.linalg.cholesky(B + 1e-12 * np.eye(k))
                except np.linalg.LinAlgError:
                    lam = np.diag(np.sqrt(np.clip(np.diag(B), 0, None)))
                r, c = self._tril(k)
                out.extend(lam[r, c])
                off += k
        return np.array(out)

    # -- absolute variances and covariances (phi) -------------------------
    def level_slices(self) -> list:
        """Slice of each level's free elements in the vector of all of them."""
        out, pos = [], 0
        for lvl in self.sizes:
            n = sum(k * (k + 1) // 2 for k in lvl)
            out.append(slice(pos, pos + n))
            pos += n
        return out

    def element_labels(self) -> list:
        """(level index, var1, var2) of each free element; var2 None for variances.

        Within a block, variances come first, then covariances, as lme4 and
        WeMix list them.
        """
        out = []
        for li, (lvl, names) in enumerate(zip(self.sizes, self.names)):
            for k, nm in zip(lvl, names):
                for i in range(k):
                    out.append((li, nm[i], None))
                for i in range(k):
                    for j in range(i + 1, k):
                        out.append((li, nm[i], nm[j]))
        return out

    def _positions(self, li):
        """Matrix positions (row, col) of the free elements of level ``li``."""
        pos, off = [], 0
        for k in self.sizes[li]:
            pos.extend((off + i, off + i) for i in range(k))
            pos.extend((off + i, off + j) for i in range(k) for j in range(i + 1, k))
            off += k
        return pos

    def cov_to_phi(self, covs) -> np.ndarray:
        return np.array([covs[li][i, j] for li in range(len(self.sizes))
                         for i, j in self._positions(li)])

    def phi_to_cov(self, phi) -> list:
        out, p = [], 0
        for li, q in enumerate(self.q):
            S = np.zeros((q, q))
            for i, j in self._positions(li):
                S[i, j] = S[j, i] = phi[p]
                p += 1
            out.append(S)
        return out
