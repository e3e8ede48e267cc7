"""Sphinx configuration of the pywemix documentation.

Build (warnings are errors; see CONTRIBUTING.md):

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Pages are Markdown (MyST), reStructuredText or notebooks (.ipynb, executed at
build time by MyST-NB): a new page needs no configuration, only an entry in
the toctree of its section's index. The API reference (docs/api/index.rst)
is generated from ``__all__`` of pywemix and its public subpackages by
``_ext/pywemix_api.py``; the validation report fits the committed reference
cases (tests/reference) at build time (``_ext/validation_report.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pywemix

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))
import docstring_report  # noqa: E402  (docs/_ext, on the path now)

project = "pywemix"
author = "the pywemix developers"
copyright = "the pywemix developers; GPL-2.0-or-later"
version = release = pywemix.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
    "sphinx_design",  # grids, cards and tabs (side-by-side code)
    "pywemix_api",  # writes api/index.rst from __all__
    "validation_report",  # the {validation-report} directive
]

root_doc = "index"
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "_intersphinx", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]

# -- HTML: the PyData theme ---------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"pywemix {release}"
html_static_path = ["_static"]
html_css_files = ["pywemix.css"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_sidebars = {"changelog": [], "validation": []}
html_show_sourcelink = False

# -- API reference: autosummary + autodoc + numpydoc ----------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"  # the numpydoc Parameters sections carry the types
autodoc_default_options = {"member-order": "bysource"}
numpydoc_show_class_members = False  # the class template lists members itself
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = True
numpydoc_xref_aliases = {
    "DataFrame": "pandas.DataFrame",
    "Series": "pandas.Series",
    "ndarray": "numpy.ndarray",
    "Generator": "numpy.random.Generator",
    "MixResult": "pywemix.MixResult",
}
numpydoc_xref_ignore = {
    "optional",
    "default",
    "of",
    "or",
    "and",
    "to",
    "a",
    "an",
    "the",
    "shape",
    "one",
    "same",
    "as",
    "for",
    "each",
    "with",
    "per",
    "any",
    "if",
    "in",
    "by",
    "list-like",
    "callable",
    "object",
}
# numpydoc's docstring validation (the checks of ``numpydoc lint``): every
# check but those docs/_ext/docstring_report.py ignores (IGNORED there: keep the
# two lists alike), so a docstring that breaks one fails the build (-W).
numpydoc_validation_checks: set[str] = {"all", "ES01", "SA01", "EX01"}
# Not validated here: ByResult's keys/items/values (collections.abc.Mapping's,
# with the standard library's docstrings and no Python source, which numpydoc
# 1.11 needs), and the property(lambda ...) members, on which numpydoc 1.11
# stops with StopIteration (docstring_report.py validates those itself); and
# class attributes documented by a ``#:`` comment, whose text autodoc ends with
# a newline, which numpydoc reads as GL02 (combines_fits; the families'
# has_intercept, aux_names and aux_title).
numpydoc_validation_exclude = {
    r"\.ByResult\.(items|keys|values)$",
    r"\.combines_fits$",
    r"\.families\.\w+\.(has_intercept|aux_names|aux_title)$",
    *docstring_report.lambda_property_patterns(),
}

# -- notebooks: executed at build time ------------------------------------------
nb_execution_mode = "cache"  # re-run a notebook only when its code changed
nb_execution_cache_path = str(DOCS / "_build" / ".jupyter_cache")
nb_execution_timeout = 300
nb_execution_raise_on_error = True  # an error in a notebook fails the build
nb_execution_show_tb = True
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# -- links to other projects' documentation ---------------------------------------
# Each inventory is read from docs/_intersphinx/<name>.inv when that file is
# there (offline builds, as on CI), else from the project's site. Refresh the
# local copies with ``python docs/_intersphinx/update.py`` on a machine online.
_INV = DOCS / "_intersphinx"
_SITES = {
    "python": "https://docs.python.org/3/",
    "numpy": "https://numpy.org/doc/stable/",
    "scipy": "https://docs.scipy.org/doc/scipy/",
    "pandas": "https://pandas.pydata.org/docs/",
    "statsmodels": "https://www.statsmodels.org/stable/",
}
intersphinx_mapping = {
    name: (url, (str(_INV / f"{name}.inv") if (_INV / f"{name}.inv").exists() else None))
    for name, url in _SITES.items()
}
intersphinx_timeout = 10
