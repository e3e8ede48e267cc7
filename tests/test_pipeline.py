"""The one-response pipeline (pywemix.pipeline): the stages in a row, driven by
the checked arguments of mix."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import pywemix
from pywemix.arguments import MixArguments
from pywemix.pipeline import DesignReuse, FrameFit, fit_frame


def _args(formula, **kw):
    given = dict(
        formula=formula,
        weights=None,
        cond_weights=False,
        family="gaussian",
        link=None,
        n_quad=13,
        offset=None,
        trials=None,
        center_group=None,
        center_grand=None,
        weight_scaling="none",
        survey=None,
        plausible_values=None,
        executor=None,
        reml=False,
        start=None,
        max_iter=None,
        replicates=None,
        by=None,
    )
    given.update(kw)
    return MixArguments(**given)


@pytest.fixture(scope="module")
def sleep():
    return pywemix.datasets.load_sleepstudy()


def test_fit_frame_is_mix(sleep):
    args = _args("Reaction ~ Days + (Days|Subject)", reml=True)
    a = fit_frame(args, sleep)
    b = pywemix.mix("Reaction ~ Days + (Days|Subject)", sleep, reml=True)
    np.testing.assert_array_equal(a.params, b.params)
    np.testing.assert_array_equal(a.bse, b.bse)
    assert a.arguments is args and a.settings == b.settings


def test_frame_fit_pickles_without_its_design_cache(sleep):
    fit = FrameFit(_args("Reaction ~ Days + (1|Subject)"))
    first = fit(sleep)
    assert fit.reuse.entry is not None
    again = pickle.loads(pickle.dumps(fit))
    assert again.reuse.entry is None
    np.testing.assert_array_equal(again(sleep).params, first.params)


def test_design_reuse_only_when_only_the_response_differs(sleep):
    args = _args("Reaction ~ Days + (1|Subject)")
    reuse = DesignReuse()
    fit_frame(args, sleep, reuse)
    other = sleep.assign(Reaction=sleep["Reaction"] * 2)
    assert reuse.get(other, args) is not None
    assert reuse.get(sleep.assign(Days=sleep["Days"] + 1), args) is None
    doubled = fit_frame(args, other, reuse)
    np.testing.assert_allclose(doubled.params, 2 * fit_frame(args, sleep).params, rtol=1e-7)


def test_weighted_reml_is_refused(sleep):
    args = _args("Reaction ~ Days + (1|Subject)", reml=True, weights=["w", None])
    with pytest.raises(ValueError, match="reml=True needs unit weights"):
        fit_frame(args, sleep.assign(w=np.linspace(1, 2, len(sleep))))
