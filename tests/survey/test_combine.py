"""Rubin's rules and the combined covariance kinds (pywemix.survey.combine)."""

from __future__ import annotations

import numpy as np
import pytest

from pywemix.results.covariances import Covariance
from pywemix.survey.combine import rubin, total_covariance


def test_total_covariance_is_its_parts_and_rubins_rules():
    rng = np.random.default_rng(3)
    M, p, m = 4, 3, 2
    est, comp = rng.normal(size=(M, p)), rng.normal(size=(M, m))
    iccs = rng.uniform(0.1, 0.3, M)
    records = []
    for _ in range(M):
        A, B = rng.normal(size=(p, p)), rng.normal(size=(m, m))
        records.append(
            Covariance(
                "robust",
                "cluster-robust (sandwich over 9 top-level groups)",
                A @ A.T,
                B @ B.T,
                rng.uniform(0.01, 0.02),
            )
        )
    total, fixed = total_covariance(
        "robust",
        records,
        est,
        comp,
        iccs,
        title="plausible-value total over 4 values",
        label="plausible values",
    )
    assert total.name == "robust" and total.is_total
    assert total.description == (
        "plausible-value total over 4 values: sampling "
        "(cluster-robust (sandwich over 9 top-level groups)) + "
        "imputation"
    )
    np.testing.assert_array_equal(total.fixed, total.sampling.fixed + total.imputation.fixed)
    np.testing.assert_array_equal(
        total.components, total.sampling.components + total.imputation.components
    )
    assert total.icc == total.sampling.icc + total.imputation.icc
    by_hand = rubin(est, np.stack([r.fixed for r in records]))
    np.testing.assert_allclose(total.fixed, by_hand.total, rtol=1e-15)
    np.testing.assert_allclose(fixed.mean, est.mean(axis=0))
    B = np.cov(est, rowvar=False)
    np.testing.assert_allclose(total.imputation.fixed, (1 + 1 / M) * B, rtol=1e-12)
    icc_between = np.var(iccs, ddof=1)
    assert total.icc == pytest.approx(
        np.mean([r.icc for r in records]) + (1 + 1 / M) * icc_between, rel=1e-12
    )
