"""The quadrature objective as a sum over blocks of top-level groups.

Given the parameters, the top-level groups are independent: the
pseudo-log-likelihood, its fixed-node gradient and Hessian, and every
group's log integral are sums (or concatenations) over any partition of the
top-level groups. :class:`PartitionedQuadrature` evaluates one
:class:`~pywemix.objective.quadrature.QuadratureObjective` per block and adds
them up. The blocks run in threads for in-memory data (numpy releases the
interpreter lock in its array loops, so the blocks use every core, and each
block's temporaries are a fraction of the whole data's), or as Dask actors on
workers (:mod:`pywemix.dask.glmm`). The conditional modes stay with their
block between evaluations. R has no equivalent (``glmer`` and ``WeMix::mix``
evaluate in one piece).

Notes
-----
With blocks ``b`` of top-level groups,

.. math::

    \\ell(\\phi) = \\sum_b \\sum_{g \\in b} w_g A_g(\\phi), \\qquad
    \\nabla \\ell = \\sum_b \\nabla \\ell_b, \\qquad
    \\nabla^2 \\ell = \\sum_b \\nabla^2 \\ell_b,

and each group's conditional modes, nodes and posterior weights depend on its
own rows only, so a partitioned evaluation equals the whole one up to the
order of the floating-point sums.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..design.levels import Level
from .quadrature import Evaluation, QuadratureObjective

__all__ = [
    "PartitionedQuadrature",
    "GroupBlock",
    "BlockDesign",
    "ThreadRunner",
    "block_bounds",
    "block_rows",
    "partitioned_quadrature",
    "BLOCK_BYTES",
    "MIN_CELLS",
]

#: Target size of one block's largest temporary array (rows x quadrature
#: points x parameters doubles), in bytes: blocks this size keep the
#: temporaries of all running threads well under a gigabyte.
BLOCK_BYTES = 64e6
#: Below this many (row, quadrature point) cells the data are evaluated in
#: one piece: threads would cost more than they save.
MIN_CELLS = 2e6


@dataclass(frozen=True)
class BlockDesign:
    """The arrays of some rows in the layout a :class:`QuadratureObjective`
    reads (rows sorted by group at every level, levels from level 2 up)."""

    y: np.ndarray
    X: np.ndarray
    offset: np.ndarray
    Z: list
    w1: np.ndarray
    wg: list
    levels: list


def block_rows(design, lo: int, hi: int):
    """First and one-past-last row of top-level groups ``lo, ..., hi - 1``."""
    top = design.levels[-1]
    return int(top.starts[lo]), int(top.starts[hi]) if hi < top.n_groups else len(design.y)


def design_block(design, lo: int, hi: int) -> tuple[BlockDesign, list]:
    """The rows of top-level groups ``lo, ..., hi - 1`` of ``design``.

    Returns
    -------
    BlockDesign, list of ndarray
        The block and, per level, the global index of each of its groups.
    """
    r0, r1 = block_rows(design, lo, hi)
    bounds = [(int(lev.codes[r0]), int(lev.codes[r1 - 1]) + 1) for lev in design.levels]
    levels = []
    for li, (lev, (g0, g1)) in enumerate(zip(design.levels, bounds)):
        parent = None
        if lev.parent is not None:
            parent = lev.parent[g0:g1] - bounds[li + 1][0]
        levels.append(
            Level(
                lev.number,
                lev.name,
                lev.columns,
                lev.codes[r0:r1] - g0,
                lev.starts[g0:g1] - r0,
                parent,
                lev.labels[g0:g1],
            )
        )
    rows = slice(r0, r1)
    block = BlockDesign(
        design.y[rows],
        design.X[rows],
        design.offset[rows],
        [z[rows] for z in design.Z],
        design.w1[rows],
        [w[g0:g1] for w, (g0, g1) in zip(design.wg, bounds)],
        levels,
    )
    return block, [np.arange(g0, g1) for g0, g1 in bounds]


class GroupBlock:
    """The quadrature objective of one block of top-level groups.

    The interface :class:`PartitionedQuadrature` calls on each block (the
    Dask actors of :mod:`pywemix.dask.glmm` offer the same methods).
    """

    def __init__(self, block: BlockDesign, ids: list, structure, family, n_quad: int):
        self.obj = QuadratureObjective(block, structure, family, n_quad)
        self.ids = ids
        self.n_rows, self.w1_total = len(block.y), float(np.sum(block.w1))

    def totals(self):
        """(rows, total conditional level-1 weight, global top-group ids)."""
        return self.n_rows, self.w1_total, self.ids[-1]

    def evaluate(self, phi, adapt=True, derivs=True, hessian=False):
        """The block's :class:`Evaluation` (its top-level groups only)."""
        return self.obj.evaluate(phi, adapt=adapt, derivs=derivs)

    def adapted_gradient(self, phi, derivs=False):
        """:meth:`QuadratureObjective.adapted_gradient` of the block."""
        return self.obj.adapted_gradient(phi, derivs)

    def modes(self, phi):
        """(conditional modes, their variances, 0) per level (the 0 stands for
        the count of extreme fitted means, which in-memory fits check whole)."""
        modes, var = self.obj.conditional_modes(phi, variances=True)
        return modes, var, 0

    def means(self, phi):
        """Conditional means of the block's groups, per level."""
        return self.obj.conditional_means(phi)

    def node_posteriors(self, li: int):
        """(posterior weights, nodes) of level ``li`` from the last evaluation."""
        return self.obj.node_posteriors(li)

    def group_ids(self):
        """Global index of each of the block's groups, per level."""
        return self.ids


class ThreadRunner:
    """Calls a method of every block, in up to ``threads`` threads."""

    def __init__(self, threads: int):
        self.threads = max(1, int(threads))

    def __call__(self, parts, name, args):
        def call(part):
            return getattr(part, name)(*args)

        if self.threads == 1 or len(parts) == 1:
            return [call(p) for p in parts]
        with ThreadPoolExecutor(min(self.threads, len(parts))) as pool:
            return list(pool.map(call, parts))


class PartitionedQuadrature(QuadratureObjective):
    """A quadrature objective whose top-level groups are split into blocks.

    Same interface as :class:`QuadratureObjective` (``evaluate``,
    ``conditional_modes``, ``conditional_means``, ``node_posteriors``,
    ``factors``, ...); each call is one call per block (through ``runner``,
    ``runner(parts, method_name, args) -> list of results``) and a sum or an
    assembly by group.

    Parameters
    ----------
    parts : list
        :class:`GroupBlock` objects (or Dask actors with the same methods).
    design : ModelDesign
        The whole design (its levels and group weights; rows are not read).
    structure, family, n_quad : as :class:`QuadratureObjective`
    runner : callable
    """

    def __init__(self, parts, design, structure, family, n_quad, runner):
        self.parts, self.runner = parts, runner
        self.n_quad = int(n_quad)
        self.structure, self.wg, self.levels = structure, design.wg, design.levels
        self.q = structure.q
        self._set_parameters(family, len(design.x_names))
        self.child_starts = [
            lev.child_starts(up) for lev, up in zip(design.levels[:-1], design.levels[1:])
        ]
        totals = self._each("totals")
        self.w1_total = float(sum(t[1] for t in totals))
        self.largest_partition = max(t[0] for t in totals)
        self.top_ids = [t[2] for t in totals]
        self.n_extreme = 0

    def _each(self, name, *args) -> list:
        return self.runner(self.parts, name, args)

    def evaluate(
        self, phi, adapt: bool = True, derivs: bool = True, hessian: bool = False
    ) -> Evaluation:
        """Sum of the blocks' evaluations (``hessian`` is passed on to blocks
        holding the Laplace objective, whose Hessian is on request)."""
        phi = np.asarray(phi, dtype=float)
        return self._sum(self._each("evaluate", phi, adapt, derivs, hessian), derivs)

    def _sum(self, evs, derivs) -> Evaluation:
        """The blocks' evaluations summed, the top groups' in place."""
        A = np.zeros(self.levels[-1].n_groups)
        llf, grad = 0.0, np.zeros(self.P)
        hess: np.ndarray | None = np.zeros((self.P, self.P))
        gg = np.zeros((len(A), self.P))
        for ev, ids in zip(evs, self.top_ids):
            if ev is None:
                continue
            llf += ev.llf
            A[ids] = ev.group_A
            if derivs:
                grad = grad + ev.grad
                hess = None if hess is None or ev.hess is None else hess + ev.hess
                gg[ids] = ev.group_grad
        if not derivs:
            return Evaluation(llf, None, None, A, None)
        return Evaluation(llf, grad, hess, A, gg)

    def adapted_gradient(self, phi, derivs: bool = False):
        """The blocks' :meth:`QuadratureObjective.adapted_gradient`: their
        evaluations summed as :meth:`evaluate` does and the gradients
        assembled by top-level group (None if a block has none)."""
        got = self._each("adapted_gradient", np.asarray(phi, dtype=float), derivs)
        if any(g is None for g in got):
            return None
        G, finite = np.zeros((self.levels[-1].n_groups, self.P)), True
        for (ev, g), ids in zip(got, self.top_ids):
            if ev is not None:  # else a partition without rows
                finite = finite and g is not None
                G[ids] = g if g is not None else 0.0
        return self._sum([ev for ev, _ in got], derivs), (G if finite else None)

    def _assemble(self, values, ids_per_part) -> list:
        out = [np.zeros((lev.n_groups, q)) for lev, q in zip(self.levels, self.q)]
        for part, ids in zip(values, ids_per_part):
            if part is None:
                continue
            for li, v in enumerate(part):
                out[li][ids[li]] = v
        return out

    def conditional_modes(self, phi, variances: bool = False):
        got = self._each("modes", np.asarray(phi, dtype=float))
        ids = self._each("group_ids")
        modes = self._assemble([g[0] if g else None for g in got], ids)
        var = self._assemble([g[1] if g else None for g in got], ids)
        self.n_extreme = sum(g[2] for g in got if g)
        return (modes, var) if variances else modes

    def conditional_means(self, phi) -> list:
        got = self._each("means", np.asarray(phi, dtype=float))
        return self._assemble(got, self._each("group_ids"))

    def node_posteriors(self, li: int):
        """The blocks' posterior weights ``(J, K, N)`` and nodes ``(J, K, N, q)``
        at level ``li`` from their last evaluations, assembled by group."""
        got = self._each("node_posteriors", li)
        ids = self._each("group_ids")
        first = next(g for g in got if g is not None)
        J = self.levels[li].n_groups
        post = np.zeros((J,) + first[0].shape[1:])
        nodes = np.zeros((J,) + first[1].shape[1:])
        for g, i in zip(got, ids):
            if g is not None:
                post[i[li]], nodes[i[li]] = g
        return post, nodes


def block_bounds(design, structure, n_quad: int, block_bytes=None, min_cells=None) -> list:
    """Contiguous runs ``(lo, hi)`` of top-level groups, each with about
    ``block_bytes`` (default ``BLOCK_BYTES``) of temporaries; one run when the
    data have fewer than ``min_cells`` (default ``MIN_CELLS``) row-node cells."""
    block_bytes = BLOCK_BYTES if block_bytes is None else block_bytes
    min_cells = MIN_CELLS if min_cells is None else min_cells
    per_row = float(np.prod([float(n_quad) ** q for q in structure.q]))
    P = design.X.shape[1] + structure.n_theta
    top = design.levels[-1]
    n = len(design.y)
    if n * per_row < min_cells or top.n_groups < 2:
        return [(0, top.n_groups)]
    rows_per_block = max(1.0, block_bytes / (8.0 * per_row * P))
    ends = np.r_[top.starts[1:], n]  # row after each top group
    cut = np.searchsorted(ends, np.arange(1, int(np.ceil(n / rows_per_block))) * rows_per_block)
    edges = np.unique(np.r_[0, np.minimum(cut + 1, top.n_groups), top.n_groups])
    if len(edges) < 3:  # one block: split in two for the second thread
        edges = np.array([0, top.n_groups // 2, top.n_groups])
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def partitioned_quadrature(design, structure, family, n_quad: int, threads=None, bounds=None):
    """A :class:`QuadratureObjective` for small data; else a
    :class:`PartitionedQuadrature` over blocks of top-level groups run in
    ``threads`` threads (default: the CPUs available to this process)."""
    bounds = block_bounds(design, structure, n_quad) if bounds is None else bounds
    if len(bounds) == 1:
        return QuadratureObjective(design, structure, family, n_quad)
    if threads is None:
        threads = (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else (os.cpu_count() or 1)
        )
    parts = [
        GroupBlock(*design_block(design, lo, hi), structure, family, n_quad) for lo, hi in bounds
    ]
    return PartitionedQuadrature(parts, design, structure, family, n_quad, ThreadRunner(threads))
