"""The one-problem line searches of the GLMM optimisers, written on
:func:`pywemix.objective.newton.backtrack`: the step length taken is the
first ``t_0 2^-k`` that the acceptance rule takes, with one evaluation per
length tried (derivatives only for the full step of the adaptive search).

A concave quadratic ``f(x) = -|x - 1|^2`` stands in for the objective; the
expected lengths come from scanning the rule directly.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from pywemix.estimation import laplace_fit, quadrature_optimize


class Quadratic:
    """``f(x) = -|x - 1|^2`` with the interfaces the two line searches call."""

    def __init__(self, p):
        self.p = self.theta_offset = p
        self.structure = SimpleNamespace(theta_is_diag=lambda: np.zeros(0, dtype=bool))
        self.calls = []

    @staticmethod
    def value(x):
        return -float(np.sum((np.asarray(x) - 1.0) ** 2))

    def evaluate(self, x, adapt=True, derivs=True):
        self.calls.append(derivs)
        x = np.asarray(x, dtype=float)
        return SimpleNamespace(
            llf=self.value(x),
            grad=-2.0 * (x - 1.0),
            group_A=np.array([self.value(x)]),
            hess=-2.0 * np.eye(len(x)) if derivs else None,
        )


def _first(rule, halvings=40):
    """The first ``k`` whose length passes ``rule(k)``, None if none does."""
    return next((k for k in range(halvings) if rule(k)), None)


@pytest.mark.parametrize("scale", [0.3, 1.0, 3.0, 40.0, -1.0])
def test_laplace_line_search_is_armijo_backtracking(scale):
    obj = Quadratic(3)
    x0 = np.array([3.0, -1.0, 0.5])
    ev = obj.evaluate(x0)
    obj.calls.clear()
    step = scale * (1.0 - x0)
    decrement = float(ev.grad @ step)
    t0 = min(1.0, 2.0 / np.max(np.abs(step)))
    k = _first(
        lambda k: obj.value(x0 + t0 * 0.5**k * step) >= ev.llf + 1e-4 * t0 * 0.5**k * decrement
    )
    found = laplace_fit._line_search(obj, x0, ev, step, decrement)
    if k is None:
        assert found is None and len(obj.calls) == 40
        return
    x, new, t = found
    assert t == t0 * 0.5**k and len(obj.calls) == k + 1
    np.testing.assert_array_equal(x, x0 + t * step)
    assert new.llf == obj.value(x)


@pytest.mark.parametrize("scale", [0.5, 2.5, 9.0, -1.0])
@pytest.mark.parametrize("gain", [None, "armijo"])
@pytest.mark.parametrize("halvings", [3, 40])
def test_adaptive_line_search_counts(scale, gain, halvings):
    obj = Quadratic(2)
    x0 = np.array([2.0, -2.0])
    llf = obj.value(x0)
    step = scale * (1.0 - x0)
    g = None if gain is None else float(-2.0 * (x0 - 1.0) @ step)
    need = (
        (lambda k: llf) if g is None else (lambda k: llf + quadrature_optimize.ARMIJO * 0.5**k * g)
    )
    k = _first(lambda k: obj.value(x0 + 0.5**k * step) >= need(k), halvings)
    x, ev = quadrature_optimize._line_search(obj, x0, llf, step, g, halvings)
    if k is None:
        assert x is None and ev is None and obj.calls == [True] + [False] * (halvings - 1)
        return
    assert obj.calls == [True] + [False] * k  # derivatives on the full step only
    np.testing.assert_array_equal(x, x0 + 0.5**k * step)
    assert ev.llf == obj.value(x) and (ev.hess is None) == (k > 0)
