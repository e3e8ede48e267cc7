"""Warning categories: each kind of note has its own, exported from pywemix."""

from __future__ import annotations

import re
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

import pywemix
from pywemix.objective import make as glmm


def _grid(n_obs, q, p=3, n_theta=3):
    design = SimpleNamespace(n_obs=n_obs, X=np.zeros((1, p)))
    return design, SimpleNamespace(q=q, n_theta=n_theta)


def _rows_for_warning(n_quad, q, P):
    """Fewest rows whose grid passes the warning limit but not the memory one."""
    per_row = int(np.prod([float(n_quad) ** k for k in q]))
    return int(glmm.MAX_BYTES / 8 / (per_row * P * P * 8)) + 1


def test_large_grid_is_a_performance_warning_suggesting_a_size():
    q, n_quad = (2,), 13
    design, structure = _grid(_rows_for_warning(13, q, P=6), q)
    with pytest.warns(pywemix.PerformanceWarning) as caught:
        glmm.check_grid_size(design, structure, n_quad)
    assert len(caught) == 1
    assert not issubclass(caught[0].category, pywemix.ConvergenceWarning)
    text = str(caught[0].message)
    assert "169 quadrature points per row" in text  # 13 ** 2
    suggested = [int(k) for k in re.findall(r"n_quad=(\d+)", text) if int(k) != n_quad]
    assert len(suggested) == 1 and 1 <= suggested[0] < n_quad
    # the suggestion is fast enough: no warning with it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        glmm.check_grid_size(design, structure, suggested[0])
    # and it is the largest such number
    with pytest.warns(pywemix.PerformanceWarning):
        glmm.check_grid_size(design, structure, suggested[0] + 1)


def test_performance_warning_is_exported():
    assert pywemix.PerformanceWarning is pywemix.warnings.PerformanceWarning
    assert issubclass(pywemix.PerformanceWarning, pywemix.PywemixWarning)
    assert "PerformanceWarning" in pywemix.__all__
