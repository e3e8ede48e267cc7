"""Exact gradient of the adapted quadrature objective at three levels.

The objective a quadrature fit reports centres every group's nodes at its
conditional mode and scales them by the curvature there; both move with the
parameters. This module differentiates the adapted three-level objective
(one random effect per level, a family without parameters of its own) with
those movements included, by the implicit function theorem, instead of
``2 P`` evaluations of central differences. R equivalent: none (``glmer``
adapts at two levels only; WeMix differentiates numerically).

Notes
-----
Level 2 (schools ``j``, effect ``u`` in prior-sd units, rows ``i``), given a
context (the offset ``o_i``, district effect included), with
``eta_i = o_i + z_i c_2 u`` and ``F(u) = sum_i w_i l_i - u^2/2``: the mode
``u0`` solves ``F_u = 0``, ``Hn = 1 - c_2^2 sum_i w_i l''_i z_i^2``,
``B = sqrt(2 / Hn)``, nodes ``u_s = u0 + B x_s`` and

.. math::

    A_j = \\log B - \\tfrac12 \\log 2\\pi + \\operatorname{LSE}_s T_s,\\qquad
    T_s = \\log\\omega_s + x_s^2 - u_s^2/2 + \\sum_i w_i l(\\eta_{is}).

For a parameter ``theta`` moving the offsets by ``D_i`` (``c_2`` moves
``eta`` by ``z_i u`` instead): ``du0 = F_{u\\theta} / Hn``, ``dHn`` from the
third derivatives ``l'''`` at the mode, ``d log B = -dHn / (2 Hn)``,
``du_s = du0 + x_s dB`` and ``dA_j = d log B + sum_s p_s dT_s`` with the
posterior weights ``p_s`` and the total derivatives ``dT_s`` of the node
terms.

Level 3 (districts, effect ``v``): the centre ``v0`` is the root of
``g(v) = sum_j w_j G_j(v) - v``, ``G_j`` the schools' fixed-node gradients
in ``v`` (the posterior mean of the node scores ``a_s``), and the curvature
``Hn_3 = 1 - sum_j w_j H_j`` with ``H_j`` their Louis Hessians
``E[h_s + a_s^2] - G_j^2``. Their total derivatives (the schools' nodes
moving with ``theta`` and ``v``, from ``l''`` and ``l'''`` at the nodes)
give ``dv0 = -g_theta / g_v`` and ``dHn_3``; the district's log integral is
then differentiated as the school's, with the schools' total derivatives in
``theta`` and ``v`` at each district node.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .gausshermite import grid

__all__ = ["applies", "adapted_group_gradient", "Internals"]

_HALF_LOG_2PI = 0.5 * np.log(2 * np.pi)


@dataclass(frozen=True)
class Internals:
    """What the gradient needs of the objective beyond its public arrays:
    its level-2 mode search ``mode(li, off, Cs) -> (v, Hn)``, the positions
    ``cpos`` of each level's Cholesky elements in ``phi``, the district
    centres of its last evaluation (``district_modes() -> (J3,)``) and
    whether level 2 is computed with the rows last (``rows_last``)."""

    mode: Callable
    cpos: list
    district_modes: Callable
    rows_last: bool


def applies(obj, inner: Internals) -> bool:
    """Whether :func:`adapted_group_gradient` covers ``obj``: three levels,
    one effect per level, more than one node, level 2 computed with the rows
    last (no family parameters, one response column)."""
    return len(obj.levels) == 2 and list(obj.q) == [1, 1] and obj.n_quad > 1 and inner.rows_last


def _softmax(T, axis):
    m = np.max(T, axis=axis, keepdims=True)
    e = np.exp(T - m)
    S = np.sum(e, axis=axis, keepdims=True)
    return e / S, np.squeeze(m + np.log(S), axis=axis)


def _at_mode(obj, inner, off, D, c2, i2, Cs):
    """School modes ``u0`` (K, J), ``log B``, ``B`` (K, J) and their
    derivatives ``du0``, ``dlogB``, ``dB`` (Q, K, J) in every direction of
    ``D`` (offsets' derivatives, None where 0) for the contexts ``off`` (K, n)."""
    lev, z, w = obj.levels[0], obj.Z[0][:, 0], obj.w1
    v, _ = inner.mode(0, np.ascontiguousarray(off.T), Cs)
    u = np.ascontiguousarray(v[..., 0].T)  # (K, J)
    sizes = np.diff(np.r_[lev.starts, len(z)])
    eta = np.repeat(u, sizes, axis=-1) * (z * c2) + off
    _, l1, l2, l3 = obj.family.derivs(obj.y, eta, order=3)

    def rs(a):
        return np.add.reduceat(a, lev.starts, axis=-1)

    wl2z, wl3zz = w * l2 * z, w * l3 * z * z
    S1, S2, S3 = rs(w * l1 * z), rs(wl2z * z), rs(wl3zz * z)
    Hn = 1.0 - c2 * c2 * S2
    du, dHn = np.zeros((2, len(D)) + u.shape)
    for q, d in enumerate(D):
        R2 = 0.0 if d is None else rs(wl2z * d)
        R3 = 0.0 if d is None else rs(wl3zz * d)
        Fuq = c2 * R2 + (S1 + c2 * u * S2 if q == i2 else 0.0)
        du[q] = Fuq / Hn
        tilt = (u if q == i2 else 0.0) + c2 * du[q]
        dHn[q] = -c2 * c2 * (R3 + tilt * S3) - (2 * c2 * S2 if q == i2 else 0.0)
    dlogB = -0.5 * dHn / Hn
    B = np.sqrt(2.0 / Hn)
    return u, 0.5 * np.log(2.0 / Hn), B, du, dlogB, B * dlogB


def _school_pass(obj, inner, off, D, c2, i2, Cs, second=None):
    """The schools' log integrals ``A`` (K, J) and their total derivatives
    ``dA`` (Q, K, J) in the contexts ``off`` (K, n); with ``second`` =
    ``(c3, i3, z3)`` also the fixed-node gradient ``G`` and Louis Hessian
    ``H`` in the district effect (K, J) and their total derivatives (Q, K, J)."""
    lev, z, w = obj.levels[0], obj.Z[0][:, 0], obj.w1
    u, logB, B, du, dlogB, dB = _at_mode(obj, inner, off, D, c2, i2, Cs)
    x, logw = grid(obj.n_quad, 1)
    x = x[:, 0][:, None]  # (N, 1)
    us = u[:, None, :] + B[:, None, :] * x  # (K, N, J)
    sizes = np.diff(np.r_[lev.starts, len(z)])
    eta = np.repeat(us, sizes, axis=-1) * (z * c2) + off[:, None, :]
    l0, l1, l2, *l3 = obj.family.derivs(obj.y, eta, order=3 if second else 2)

    def rs(a):
        return np.add.reduceat(a, lev.starts, axis=-1)

    wl1 = w * l1
    T = logw[:, None] + rs(w * l0) - 0.5 * us * us
    post, lse = _softmax(T, axis=1)
    A = logB - _HALF_LOG_2PI + lse
    g1 = rs(wl1 * z)
    dA = np.empty(du.shape)
    dT = np.empty((len(D),) + us.shape)
    tilt = np.empty_like(dT)
    for q, d in enumerate(D):
        dus = du[q][:, None, :] + x * dB[q][:, None, :]
        tilt[q] = (us if q == i2 else 0.0) + c2 * dus
        dT[q] = -us * dus + tilt[q] * g1 + (0.0 if d is None else rs(wl1 * d[:, None, :]))
        dA[q] = dlogB[q] + np.sum(post * dT[q], axis=1)
    if second is None:
        return A, dA
    return A, dA, _district_moments(obj, post, dT, tilt, D, (l1, l2, l3[0]), second)


def _district_moments(obj, post, dT, tilt, D, derivs, second):
    """``G``, ``H`` (K, J) and ``dG``, ``dH`` (Q, K, J) of
    :func:`_school_pass` from the node quantities there."""
    c3, i3, z3 = second
    lev, z, w = obj.levels[0], obj.Z[0][:, 0], obj.w1
    l1, l2, l3 = derivs

    def rs(a):
        return np.add.reduceat(a, lev.starts, axis=-1)

    wl1z3, wl2z3, wl3zz = w * l1 * z3, w * l2 * z3, w * l3 * z3 * z3
    b1 = rs(wl1z3)
    b2 = rs(wl2z3 * z3)
    a, h = c3 * b1, c3 * c3 * b2
    P2z, P3z = rs(wl2z3 * z), rs(wl3zz * z)
    G = np.sum(post * a, axis=1)
    ha = h + a * a
    H = np.sum(post * ha, axis=1) - G * G
    dG, dH = np.empty((2,) + dT.shape[:2] + dT.shape[-1:])
    for q, d in enumerate(D):
        da = c3 * ((0.0 if d is None else rs(wl2z3 * d[:, None, :])) + tilt[q] * P2z)
        dh = c3 * c3 * ((0.0 if d is None else rs(wl3zz * d[:, None, :])) + tilt[q] * P3z)
        if q == i3:
            da, dh = da + b1, dh + 2 * c3 * b2
        cen = dT[q] - np.sum(post * dT[q], axis=1, keepdims=True)
        dG[q] = np.sum(post * (da + a * cen), axis=1)
        dH[q] = np.sum(post * (dh + 2 * a * da + ha * cen), axis=1) - 2 * G * dG[q]
    return G, H, dG, dH


def _directions(obj, inner, vrows, c3):
    """Offsets' derivatives in ``phi = (beta, c2, c3)`` and in the district
    effect (last), each broadcastable to (K, n) for the district effects
    ``vrows`` (K, n) of every row, or None where 0."""
    z3 = obj.Z[1][:, 0]
    D: list = [obj.X[:, k][None, :] for k in range(obj.p)] + [None] * obj.n_c
    D[inner.cpos[1][0][0]] = z3 * vrows
    return D + [(z3 * c3)[None, :]]


def adapted_group_gradient(obj, inner: Internals, phi, derivs=False):
    """The evaluation of ``obj`` at ``phi`` (with the fixed-node derivatives
    if ``derivs``) and the per-top-group gradients ``(G, P)`` of the adapted
    log integrals (None where a piece is not finite)."""
    ev = obj.evaluate(phi, adapt=True, derivs=derivs)
    beta, chol = obj.split(phi)
    Cs = obj.factors(chol)
    c2, c3 = float(Cs[0][0, 0]), float(Cs[1][0, 0])
    i2, P = inner.cpos[0][0][0], obj.P
    lev3, z3 = obj.levels[1], obj.Z[1][:, 0]
    cw, cs = obj.wg[0], obj.child_starts[0]
    base = obj.X @ beta + obj.offset
    v0 = inner.district_modes()
    vrows = v0[lev3.codes][None, :]
    D1 = _directions(obj, inner, vrows, c3)
    _, _, (_, H, dG, dH) = _school_pass(
        obj, inner, base + z3 * c3 * vrows, D1, c2, i2, Cs, (c3, inner.cpos[1][0][0], z3)
    )
    Sg = np.add.reduceat(cw * dG[:, 0], cs, axis=-1)  # (Q, J3)
    dv0 = -Sg[:P] / (Sg[P] - 1.0)
    Hn = 1.0 - np.add.reduceat(cw * H[0], cs)
    SdH = np.add.reduceat(cw * dH[:, 0], cs, axis=-1)
    dlogB = 0.5 * (SdH[:P] + SdH[P] * dv0) / Hn
    B = np.sqrt(2.0 / Hn)
    x, logw = grid(obj.n_quad, 1)
    x = x[:, 0][:, None]
    vk = v0 + B * x  # (N, J3)
    vk_rows = vk[:, lev3.codes]
    D = _directions(obj, inner, vk_rows, c3)
    A, dA = _school_pass(obj, inner, base + z3 * c3 * vk_rows, D, c2, i2, Cs)
    SA = np.add.reduceat(cw * A, cs, axis=-1)  # (N, J3)
    SdA = np.add.reduceat(cw * dA, cs, axis=-1)  # (Q, N, J3)
    post, _ = _softmax(logw[:, None] + SA - 0.5 * vk * vk, axis=0)
    dvk = dv0[:, None, :] + x * (B * dlogB)[:, None, :]  # (P, N, J3)
    dT = -vk * dvk + SdA[:P] + SdA[P] * dvk
    G = (dlogB + np.sum(post * dT, axis=1)).T
    return ev, (G if np.all(np.isfinite(G)) else None)
