"""Covariance structure of the random effects: parameters <-> matrices.

Each level's random effects have a block-diagonal covariance matrix, one
block per random term (``(1 + x | g)`` is one 2x2 block, ``(x || g)`` two 1x1
blocks). Parameter vectors hold the free elements of each level's
block-diagonal lower-triangular factor (:meth:`CovarianceStructure.packing`,
:meth:`CovarianceStructure.factors`), each block column by column and the
blocks in the order lme4 gives the random terms (:func:`lme4_block_order`):
lme4's ``theta`` (``getME(m, "theta")``), in its order, the factors
relative to the residual scale, block ``b`` of level ``l`` having covariance
``sigma^2 * Lambda_b Lambda_b'`` with a non-negative diagonal. Linear fits
optimise them; fits by quadrature optimise them too, as the factors of the
covariances themselves, binomial and Poisson models having ``sigma = 1``.
The variance estimators work on the free elements of the absolute covariance
matrices (variances and covariances).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

__all__ = ["CholeskyParameters", "CovarianceStructure", "lme4_block_order", "chain_auxiliary"]


@dataclass(frozen=True)
class CovarianceStructure:
    """Block structure of the random-effect covariances of every level.

    Parameters
    ----------
    sizes : list of list of int
        For each level (2 up), the size of each covariance block.
    names : list of list of tuple of str
        For each level and block, the effect names.
    order : tuple of (int, int), optional
        The blocks ``(level index, block index)`` in the order their
        elements take in a parameter vector; default level by level, each
        level's blocks in turn. :meth:`from_design` gives lme4's order
        (:func:`lme4_block_order`).
    """

    sizes: list
    names: list
    order: tuple | None = None

    @classmethod
    def from_design(cls, design) -> CovarianceStructure:
        return cls(
            [[len(b.names) for b in blk] for blk in design.blocks],
            [[b.names for b in blk] for blk in design.blocks],
            lme4_block_order(design),
        )

    @property
    def q(self) -> list:
        """Number of random effects per level."""
        return [sum(s) for s in self.sizes]

    # -- Cholesky factors from a parameter vector ----------------------------
    def packing(self) -> list:
        """Where each element of a parameter vector goes in the level factors.

        Returns
        -------
        list of ndarray
            Per level, an int array (n_l, 3) of (index in the vector, row,
            column) of the level's lower-triangular factor. Blocks follow each
            other along the diagonal; the vector holds them in the order
            ``order`` gives (lme4's, from :meth:`from_design`), and within a
            block the elements in column-major lower-triangular order, as
            lme4 orders ``theta``
            (``getME(m, "theta")``; for a 3x3 block (1,1), (2,1), (3,1),
            (2,2), (3,2), (3,3)). Every mapping between parameter vectors and
            factors (:meth:`layout`, :meth:`factors`, the starts, bounds and
            derivatives) goes through this one.
        """
        cache = self.__dict__.setdefault("_cache", {})
        if "packing" not in cache:
            order = self.order or [
                (li, bi) for li, lvl in enumerate(self.sizes) for bi in range(len(lvl))
            ]
            starts = [np.r_[0, np.cumsum(lvl)[:-1]].astype(int) for lvl in self.sizes]
            blocks: list = [[None] * len(lvl) for lvl in self.sizes]
            pos = 0
            for li, bi in order:
                c, r = np.triu_indices(self.sizes[li][bi])  # column by column
                off = starts[li][bi]
                blocks[li][bi] = np.column_stack([pos + np.arange(len(r)), off + r, off + c])
                pos += len(r)
            cache["packing"] = [np.vstack(b) for b in blocks]
        return cache["packing"]

    def layout(self, offset: int = 0) -> list:
        """:meth:`packing` as lists of ``(offset + index, row, column)`` tuples.

        ``offset`` is where the covariance elements start in a longer vector
        (the number of fixed effects in a GLMM's ``phi = (beta, chol)``).
        """
        return [[(offset + int(i), int(r), int(c)) for i, r, c in pack] for pack in self.packing()]

    @property
    def n_theta(self) -> int:
        """Length of a parameter vector (free elements of all the factors)."""
        return sum(len(p) for p in self.packing())

    def factors(self, vector) -> list:
        """Block-diagonal lower-triangular factor of every level from ``vector``.

        Parameters
        ----------
        vector : array_like (..., n_theta)
            Factor elements laid out as :meth:`packing` says; leading axes
            are batch axes.

        Returns
        -------
        list of ndarray
            Per level, ``L_l`` of shape (..., q_l, q_l).

        Notes
        -----
        The one mapping from parameters to factors. The vector is lme4's
        ``theta``, the factors relative to the residual scale: the
        covariance of level ``l`` is ``sigma^2 L_l L_l'`` (:meth:`relative_cov`;
        Bates et al. 2015, J. Stat. Softw. 67(1), sect. 3.1). Fits by
        quadrature (binomial, Poisson: ``sigma = 1``) pass the same
        ``theta``, the covariance then being ``L_l L_l'`` itself.
        """
        vector = np.asarray(vector, dtype=float)
        out = []
        for pack, q in zip(self.packing(), self.q):
            L = np.zeros(vector.shape[:-1] + (q, q))
            L[..., pack[:, 1], pack[:, 2]] = vector[..., pack[:, 0]]
            out.append(L)
        return out

    # -- relative Cholesky parameters (theta) ------------------------------
    def theta_start(self) -> np.ndarray:
        """lme4's start: identity relative factors."""
        cache = self.__dict__.setdefault("_cache", {})
        if "start" not in cache:
            pack = np.vstack(self.packing())
            cache["start"] = np.zeros(self.n_theta)
            cache["start"][pack[:, 0]] = pack[:, 1] == pack[:, 2]
        return cache["start"].copy()

    def theta_lower(self) -> np.ndarray:
        """Lower bounds: 0 on diagonals, -inf off the diagonal."""
        return np.where(self.theta_start() == 1.0, 0.0, -np.inf)

    def theta_is_diag(self) -> np.ndarray:
        """Whether each parameter is a diagonal element of its factor."""
        return self.theta_start() == 1.0

    def relative_cov(self, theta) -> list:
        """``T_l = Lambda_l Lambda_l'`` for every level, from theta (k,) or (..., k)."""
        return [L @ np.swapaxes(L, -1, -2) for L in self.factors(theta)]

    def relative_cov_grad(self, theta) -> list:
        """Derivatives of each ``T_l`` in every theta: per level (..., n_theta, q_l, q_l).

        Notes
        -----
        ``d(L L')/dL_ij = E L' + L E'`` with ``E`` the unit matrix at
        ``(i, j)``: row ``i`` of ``E L'`` is column ``j`` of ``L``.
        """
        theta = np.asarray(theta, dtype=float)
        n = theta.shape[-1]
        out = []
        for pack, L in zip(self.packing(), self.factors(theta)):
            q = L.shape[-1]
            half = np.zeros(theta.shape[:-1] + (n, q, q))
            half[..., pack[:, 0], pack[:, 1], :] = np.swapaxes(L, -1, -2)[..., pack[:, 2], :]
            out.append(half + np.swapaxes(half, -1, -2))
        return out

    def relative_cov_hess(self) -> list:
        """Second derivatives of each ``T_l`` in every pair of thetas.

        Per level an array (n_theta, n_theta, q_l, q_l); it does not depend on
        theta because ``T = Lambda Lambda'`` is quadratic in the factor:
        ``d2(L L')/dL_ij dL_ml = E_ij E_ml' + E_ml E_ij'``, nonzero only when
        the columns ``j`` and ``l`` match (then within one block).
        """
        n = self.n_theta
        out = []
        for pack, q in zip(self.packing(), self.q):
            d2T = np.zeros((n, n, q, q))
            a, b = np.nonzero(pack[:, 2][:, None] == pack[:, 2][None, :])
            ia, ib, ra, rb = pack[a, 0], pack[b, 0], pack[a, 1], pack[b, 1]
            np.add.at(d2T, (ia, ib, ra, rb), 1.0)
            np.add.at(d2T, (ia, ib, rb, ra), 1.0)
            out.append(d2T)
        return out

    def element_directions(self) -> list:
        """Unit changes of the covariance elements, one per parameter.

        Per level an array (n_theta, q_l, q_l): for the element at (row,
        column) of :meth:`packing`, the symmetric matrix with ones at (row,
        column) and (column, row). The derivative of a function of the
        covariances along these is ``G_rr`` on a diagonal and ``2 G_rc`` off
        it, with ``G`` its gradient in the (symmetric) covariance matrix
        (:meth:`gradient_matrices`).
        """
        n = self.n_theta
        out = []
        for pack, q in zip(self.packing(), self.q):
            D = np.zeros((n, q, q))
            D[pack[:, 0], pack[:, 1], pack[:, 2]] = 1.0
            D[pack[:, 0], pack[:, 2], pack[:, 1]] = 1.0
            out.append(D)
        return out

    def gradient_matrices(self, derivatives) -> list:
        """The gradient ``G_l`` (symmetric, q_l x q_l, zero between blocks) of
        a function of the covariances from its derivatives along
        :meth:`element_directions`."""
        derivatives = np.asarray(derivatives, dtype=float)
        out = []
        for pack, q in zip(self.packing(), self.q):
            G = np.zeros((q, q))
            g = derivatives[pack[:, 0]] / np.where(pack[:, 1] == pack[:, 2], 1.0, 2.0)
            G[pack[:, 1], pack[:, 2]] = g
            G[pack[:, 2], pack[:, 1]] = g
            out.append(G)
        return out

    def blocks(self) -> list:
        """Every covariance block as ``(level index, slice of its rows in the
        level's factor, its entries of the parameter vector (m, 3) as (index,
        row, column) within the block)``, in level order."""
        out = []
        for li, (pack, lvl) in enumerate(zip(self.packing(), self.sizes)):
            off = 0
            for k in lvl:
                inside = (pack[:, 1] >= off) & (pack[:, 1] < off + k)
                entries = pack[inside] - np.array([0, off, off])
                out.append((li, slice(off, off + k), entries))
                off += k
        return out

    def theta_from_cov(self, covs, sigma2) -> np.ndarray:
        """Relative Cholesky parameters of absolute covariances (for warm starts)."""
        out = np.zeros(self.n_theta)
        for lvl, S, pack in zip(self.sizes, covs, self.packing()):
            L, off = np.zeros_like(S, dtype=float), 0
            for k in lvl:
                B = S[off : off + k, off : off + k] / sigma2
                try:
                    lam = np.linalg.cholesky(B + 1e-12 * np.eye(k))
                except np.linalg.LinAlgError:
                    lam = np.diag(np.sqrt(np.clip(np.diag(B), 0, None)))
                L[off : off + k, off : off + k] = lam
                off += k
            out[pack[:, 0]] = L[pack[:, 1], pack[:, 2]]
        return out

    # -- absolute variances and covariances (the variance elements) -------
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
        pos: list = []
        off = 0
        for k in self.sizes[li]:
            pos.extend((off + i, off + i) for i in range(k))
            pos.extend((off + i, off + j) for i in range(k) for j in range(i + 1, k))
            off += k
        return pos

    def cov_to_elements(self, covs) -> np.ndarray:
        """The free elements of the covariance matrices ``covs`` (one per
        level), in the order of :meth:`element_labels`: per block, the
        variances, then the covariances."""
        return np.array(
            [covs[li][i, j] for li in range(len(self.sizes)) for i, j in self._positions(li)]
        )

    def elements_to_cov(self, elements) -> list:
        """The covariance matrix of every level from its free elements (the
        inverse of :meth:`cov_to_elements`)."""
        out, p = [], 0
        for li, q in enumerate(self.q):
            S = np.zeros((q, q))
            for i, j in self._positions(li):
                S[i, j] = S[j, i] = elements[p]
                p += 1
            out.append(S)
        return out

    #: Former names (``phi`` is the GLMM parameter vector ``(beta, chol)``);
    #: kept until pywemix.survey.refit uses the new ones.
    cov_to_phi = cov_to_elements
    phi_to_cov = elements_to_cov


def lme4_block_order(design) -> tuple | None:
    """The covariance blocks of ``design`` in the order lme4 lists them.

    Parameters
    ----------
    design : ModelDesign or DaskDesign
        With ``parsed.random`` (the random terms, ``||`` and ``a/b``
        expanded as lme4 expands them), ``levels`` and ``blocks``.

    Returns
    -------
    tuple of (int, int) or None
        ``(level index, block index)`` of every block; None when the design
        does not say which term made which block.

    Notes
    -----
    lme4 (``mkReTrms``) keeps the terms in formula order unless the
    numbers of groups of their factors ever increase along it; then it
    takes them in ``rev(order(nl))`` order: most groups first, terms with
    equally many groups in reverse formula order. ``getME(m, "theta")``
    follows that order (Bates et al. 2015, J. Stat. Softw. 67(1),
    sect. 2.3).
    """
    parsed, levels = getattr(design, "parsed", None), getattr(design, "levels", None)
    if parsed is None or levels is None:
        return None
    where = {lev.columns: li for li, lev in enumerate(levels)}
    seen = [0] * len(levels)
    terms = []
    for term in parsed.random:
        li = where.get(term.group)
        if li is None:
            return None
        terms.append((li, seen[li]))
        seen[li] += 1
    if [len(b) for b in design.blocks] != seen:
        return None
    nl = [levels[li].n_groups for li, _ in terms]
    if any(b > a for a, b in zip(nl, nl[1:])):
        terms = [terms[i] for i in sorted(range(len(terms)), key=lambda i: (nl[i], i))[::-1]]
    return tuple(terms)


class CholeskyParameters:
    """The parameters of a GLMM objective: fixed effects, the family's
    auxiliary parameters and the Cholesky factors (lme4's ``theta``; ``sigma = 1``).

    For objectives with a ``structure`` (:class:`CovarianceStructure`) whose
    parameter vector is ``phi = (beta, aux, chol)`` (``aux`` empty for the
    binomial and Poisson families; unconstrained, see
    :meth:`~pywemix.objective.families.Family.natural`): ``factors(chol)``
    gives each level's lower-triangular factor ``C_l`` and
    ``covariances(chol)`` the covariance matrices ``C_l C_l'``.
    """

    structure: CovarianceStructure  # set by the objective's __init__
    _chain: Any  # (J, D2) of the last split, or None

    def _set_parameters(self, family, p: int) -> None:
        """``family`` and the layout of ``phi``: ``p`` fixed effects, ``k``
        auxiliary parameters, ``n_c`` Cholesky elements (``P`` in all)."""
        self.family = self.base_family = family
        self.p, self.k = int(p), family.n_aux
        self.n_c = self.structure.n_theta
        self.P = self.p + self.k + self.n_c
        self._cpos = self.structure.layout(self.theta_offset)
        self._chain = None

    @property
    def theta_offset(self) -> int:
        """Where the Cholesky elements start in ``phi`` (after beta and aux)."""
        return self.p + getattr(self, "k", 0)

    def split(self, phi):
        """``(beta, chol)`` of ``phi``, with :attr:`family` bound to the
        auxiliary parameters of ``phi`` (and their Jacobians kept for
        :meth:`unconstrained`)."""
        phi = np.asarray(phi, dtype=float)
        p, k = self.p, getattr(self, "k", 0)
        if k:
            values, J, D2 = self.base_family.natural(phi[p : p + k])
            self.family = self.base_family.with_aux(values)
            self._chain = (J, D2)
        return phi[:p], phi[p + k :]

    def unconstrained(self, ev):
        """An evaluation whose derivatives are in the auxiliary parameters'
        values turned into one in the unconstrained ``phi``
        (:func:`chain_auxiliary`, with the Jacobians of the last :meth:`split`)."""
        if not getattr(self, "k", 0) or ev.grad is None:
            return ev
        return chain_auxiliary(ev, self.p, *self._chain)

    def factors(self, c) -> list:
        """Cholesky factors ``C_l`` of each level's covariance from the vector ``c``
        (:meth:`CovarianceStructure.factors`)."""
        factors = self.structure.factors(np.asarray(c, dtype=float))
        return [np.asarray(C, dtype=float) for C in factors]

    def covariances(self, c) -> list:
        """
        Covariance matrix of each level's random effects.

        Parameters
        ----------
        c : ndarray
            The Cholesky parameters (as :meth:`factors` takes them).

        Returns
        -------
        list of ndarray
            :math:`\\Sigma_l = C_l C_l^\\top`, one per level from level 2 up.
        """
        return [C @ C.T for C in self.factors(c)]


def chain_auxiliary(ev, start: int, J, D2):
    """``ev`` (an Evaluation) with its derivatives in the auxiliary parameters'
    values ``t`` (positions ``start, ..., start + k - 1``) turned into
    derivatives in the unconstrained ``a``.

    Notes
    -----
    With ``J = dt/da`` and ``D2_i`` the Hessian of ``t_i`` in ``a``:
    ``g_a = J' g_t`` (per group too), ``H_{a a} = J' H_{t t} J + sum_i g_{t,i}
    D2_i`` and ``H_{a x} = J' H_{t x}`` for the other parameters ``x``.
    """
    k = J.shape[0]
    sl = slice(start, start + k)

    def columns(G):
        G = np.array(G, dtype=float, copy=True)
        G[..., sl] = G[..., sl] @ J
        return G

    grad, group = columns(ev.grad), columns(ev.group_grad)
    hess = ev.hess
    if hess is not None:
        hess = columns(np.swapaxes(columns(hess), -1, -2))
        hess[sl, sl] += np.einsum("i,iab->ab", ev.grad[sl], D2)
    return replace(ev, grad=grad, group_grad=group, hess=hess)
