"""The optimiser's typed record with the estimates (pywemix.estimation.optimum)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pywemix.estimation.optimum import Optimum
from pywemix.estimation.search import OptimizationRecord

RECORD = OptimizationRecord(np.array([0.5]), 1.25, 7, 9, 1e-9, True, "done", "Newton", ())
ESTIMATES = dict(
    beta=np.array([1.0, 2.0]),
    sigma2=0.8,
    covariances=(np.eye(1) * 0.2,),
    theta=np.array([0.5]),
    llf=-1.25,
    criterion="ML",
    modes=(np.zeros((3, 1)),),
    mode_variances=(np.ones((3, 1)),),
)


def test_from_record_keeps_every_field_of_the_record():
    opt = Optimum.from_record(RECORD, **ESTIMATES)
    assert isinstance(opt, OptimizationRecord)
    for field in dataclasses.fields(OptimizationRecord):
        assert getattr(opt, field.name) is getattr(RECORD, field.name)
    assert opt.sigma2 == 0.8 and opt.criterion == "ML" and opt.evaluation is None


def test_an_optimum_is_frozen_and_needs_its_estimates():
    opt = Optimum.from_record(RECORD, **ESTIMATES)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opt.llf = 0.0
    missing = {k: v for k, v in ESTIMATES.items() if k != "llf"}
    with pytest.raises(TypeError, match="llf"):
        Optimum.from_record(RECORD, **missing)
