"""The Examples sections of the package's docstrings run and print what they show.

The same as ``python -m pytest --doctest-modules src/pywemix`` (about 15 s),
one test per module with examples, so that an example that goes stale fails
the suite as README code blocks do (tests/test_readme.py).
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import warnings

import pytest

import pywemix


def _modules_with_examples() -> list[str]:
    names = [pywemix.__name__] + [
        m.name for m in pkgutil.walk_packages(pywemix.__path__, f"{pywemix.__name__}.")
    ]
    finder = doctest.DocTestFinder()
    out = []
    for name in names:
        try:
            module = importlib.import_module(name)
        except ImportError:  # an optional dependency is missing: its tests say so
            continue
        if any(t.examples for t in finder.find(module)):
            out.append(name)
    return out


MODULES = _modules_with_examples()


def test_some_modules_have_examples():
    assert "pywemix.fit" in MODULES and "pywemix.survey.data" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name):
    module = importlib.import_module(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fits warn (rows dropped, ...): not the point here
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False, report=True)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"
