"""Every result type implements the documented protocol (issue 19), and ``mix``
declares its return types."""

from __future__ import annotations

import inspect
import sys
import typing
import warnings

import numpy as np
import pandas as pd
import pytest

import pywemix
from pywemix.results.protocol import Report, Result

FORMULA = "pv1math ~ escs + (1|schoolid)"


def _quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pywemix.PywemixWarning)
        return pywemix.mix(*args, **kwargs)


@pytest.fixture(scope="module")
def results():
    data = pywemix.datasets.load_pisa_replicates()
    data["cnt"] = np.where(data["jkzone"] <= 15, "AAA", "BBB")
    kw = dict(weights=["pwt1", "pwt2"], cond_weights=True, weight_scaling="size")
    single = _quiet(FORMULA, data, **kw)
    pv = _quiet(
        "math ~ escs + (1|schoolid)",
        data,
        plausible_values={"math": [f"pv{k}math" for k in range(1, 4)]},
        **kw,
    )
    out = {
        "MixResult": single,
        "ReplicateResult": _quiet(
            FORMULA,
            data,
            replicates=pywemix.Replicates("w_fsturwt1-80", full_weight="w_fstuwt"),
            **kw,
        ),
        "PlausibleValuesResult": pv,
        "PooledResult": pywemix.pool(pv.fits),
        "ByResult": _quiet(FORMULA, data, by="cnt", **kw),
    }
    dd = pytest.importorskip("dask.dataframe")
    out["DaskMixResult"] = _quiet(FORMULA, dd.from_pandas(data, npartitions=2), **kw)
    return out


EXPECTED = {
    "MixResult",
    "ReplicateResult",
    "PlausibleValuesResult",
    "PooledResult",
    "ByResult",
    "DaskMixResult",
}


def test_every_result_type_implements_the_protocol(results):
    assert set(results) == EXPECTED
    for name, r in results.items():
        assert type(r).__name__ == name
        assert isinstance(r, Result), name
        assert isinstance(r.summary(), Report), name
        assert r.default_kind == r.variance_kinds[0]
        # kind=None is the default kind everywhere
        pd.testing.assert_frame_equal(r.cov_params(), r.cov_params(r.default_kind))
        pd.testing.assert_frame_equal(r.conf_int(), r.conf_int(kind=r.default_kind))
        pd.testing.assert_frame_equal(r.tidy(), r.tidy(kind=r.default_kind))
        assert r.tidy().attrs["variance"] == r.default_kind
        assert r.conf_int().attrs["variance"] == r.default_kind
        assert r.bse.attrs["variance"] == r.default_kind
        assert isinstance(r.warnings, tuple) and isinstance(r.formula, str)
        with pytest.raises(ValueError, match="kind must be"):
            r.cov_params("sandwich")


def test_methods_take_the_protocol_arguments(results):
    for name, r in results.items():
        for method in ("cov_params", "conf_int", "tidy", "wald_test"):
            params = inspect.signature(getattr(r, method)).parameters
            key = "cov" if method == "wald_test" else "kind"
            assert params[key].default is None, (name, method)


def test_the_protocol_is_documented_and_annotated():
    for member in (
        "params",
        "bse",
        "var_components",
        "variance_kinds",
        "default_kind",
        "warnings",
        "cov_params",
        "conf_int",
        "tidy",
        "wald_test",
        "summary",
        "plot",
    ):
        assert hasattr(Result, member), member
    hints = typing.get_type_hints(Result.cov_params)
    assert hints["return"] is pd.DataFrame
    assert Result.__doc__ and Report.__doc__


@pytest.mark.skipif(sys.version_info < (3, 11), reason="typing.get_overloads is 3.11+")
def test_mix_declares_its_return_types():
    from pywemix.fit import mix

    overloads = typing.get_overloads(mix)
    returns = [typing.get_type_hints(f)["return"] for f in overloads]
    assert returns[:5] == [
        pywemix.ByResult,
        pywemix.MixResult
        | pywemix.ReplicateResult
        | pywemix.PlausibleValuesResult,  # survey data, by their scale
        pywemix.ReplicateResult,
        pywemix.PlausibleValuesResult,
        pywemix.MixResult,
    ]
    assert inspect.signature(overloads[1]).parameters["data"].annotation == "SurveyData"
    by = inspect.signature(overloads[0]).parameters["by"]
    assert by.default is inspect.Parameter.empty  # by= given: a ByResult
