"""Plots shown in Jupyter, and plots of plausible-value results (issue 15).

One test runs a real Jupyter kernel (nbclient + ipykernel) on a notebook that
fits the bundled example and returns a plot as the last expression of a cell,
as a new user would.
"""

from __future__ import annotations

import os
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pywemix
from pywemix.cli import DEMO_FORMULA

matplotlib = pytest.importorskip("matplotlib")

PNG = b"\x89PNG\r\n\x1a\n"
PV_FORMULA = "math ~ escs + st04q01 + (1|schoolid)"
PV_COLUMNS = [f"pv{k}math" for k in range(1, 6)]


def _example():
    with resources.as_file(resources.files("pywemix") / "data" / "pisa_example.csv") as p:
        return pd.read_csv(p)


@pytest.fixture(scope="module")
def fits():
    data = _example()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pywemix.PywemixWarning)
        single = pywemix.mix(DEMO_FORMULA, data, ["pwt1", "pwt2"], cond_weights=True)
        pv = pywemix.mix(
            PV_FORMULA,
            data,
            ["pwt1", "pwt2"],
            cond_weights=True,
            plausible_values={"math": PV_COLUMNS},
        )
    return single, pv


def test_figures_render_themselves_as_png(fits):
    """IPython's display machinery finds a PNG for the figure on its own (no
    pyplot formatter registered), and the figure is still a plain Figure."""
    formatters = pytest.importorskip("IPython.core.formatters")
    from matplotlib.figure import Figure

    single, pv = fits
    for fig in (single.plot("caterpillar"), pv.plot()):
        assert isinstance(fig, Figure)
        data, _ = formatters.DisplayFormatter().format(fig)
        assert data["image/png"].startswith(PNG)


def test_plausible_values_plot(fits):
    single, pv = fits
    fig = pv.plot()  # the combined fixed effects
    (ax,) = fig.axes
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert set(names) == set(pv.params.index) - {"Intercept"}
    # the interval drawn for each term is the combined one
    (bars,) = [c for c in ax.collections if type(c).__name__ == "LineCollection"]
    ends = sorted(tuple(np.round(sorted(seg[:, 0]), 8)) for seg in bars.get_segments())
    ci = pv.conf_int().loc[names].to_numpy()
    assert ends == sorted(tuple(np.round(row, 8)) for row in ci)
    # one grey dot per plausible value and term
    dots = [c for c in ax.collections if type(c).__name__ == "PathCollection"]
    assert sum(len(c.get_offsets()) for c in dots) == len(pv.fits) * len(names)
    # diagnostics of one fit, named in the title
    fig2 = pv.plot("qq_resid", value=2)
    assert "plausible value 3 of 5 (pv3math)" in fig2.get_suptitle()
    np.testing.assert_allclose(
        np.sort(fig2.axes[0].collections[0].get_offsets()[:, 1]),
        np.sort(pv.fits[2].residuals("pearson").to_numpy()),
    )
    with pytest.raises(ValueError, match="between 0 and 4"):
        pv.plot("caterpillar", value=5)
    with pytest.raises(TypeError, match="value"):
        pv.plot("caterpillar", value="pv1math")
    with pytest.raises(ValueError, match="unknown plot kind"):
        pv.plot("histogram")
    assert single.plot("coef").axes[0].get_title() == "Fixed effects"


NOTEBOOK = """\
import sys
sys.path.insert(0, {src!r})
import warnings
from importlib import resources
import pandas as pd
import pywemix
with resources.as_file(resources.files("pywemix") / "data" / "pisa_example.csv") as p:
    data = pd.read_csv(p)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    res = pywemix.mix({formula!r}, data, ["pwt1", "pwt2"], cond_weights=True)
    pv = pywemix.mix({pv_formula!r}, data, ["pwt1", "pwt2"], cond_weights=True,
                     plausible_values={{"math": {pv_columns!r}}})
assert pywemix.__file__.startswith({src!r}), pywemix.__file__
print("pyplot imported:", "matplotlib.pyplot" in sys.modules)
"""


def _images(cell):
    return [o for o in cell.outputs if "image/png" in o.get("data", {})]


def test_plot_shows_as_image_in_a_fresh_jupyter_kernel():
    """Issue 15: ``res.plot(...)`` as the last expression of a cell shows a
    picture in a fresh kernel, exactly one, also once pyplot is imported; and
    with a trailing ``;`` (which suppresses the cell's value) the inline
    backend still shows exactly one, as for pandas' and matplotlib's plots.
    The library does not change matplotlib's backend."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    src = str(Path(pywemix.__file__).resolve().parents[1])
    cells = [
        NOTEBOOK.format(
            src=src, formula=DEMO_FORMULA, pv_formula=PV_FORMULA, pv_columns=PV_COLUMNS
        ),
        "import matplotlib\nbackend = matplotlib.get_backend(auto_select=False)\n"
        'res.plot("caterpillar");',
        'res.plot("caterpillar")',
        "pv.plot();",
        "pv.plot()",
        'fig = res.plot("qq_resid")\nfig.savefig(__import__("io").BytesIO())\nfig',
        'import matplotlib.pyplot as plt\nres.plot("qq_resid")',
        'res.plot("resid_fitted");',
        "print(matplotlib.get_backend(auto_select=False) == backend, len(plt.get_fignums()))",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # as Jupyter starts it
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute(env=env)
    setup = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert "pyplot imported: False" in setup
    for source, cell in zip(cells[1:-1], nb.cells[1:-1]):
        images = _images(cell)
        assert len(images) == 1, (source, cell.outputs)
        assert images[0]["data"]["image/png"]  # base64 PNG
        kinds = [o["output_type"] for o in cell.outputs]
        # the cell's value when it has one, else the inline backend's display
        assert kinds == (["display_data"] if source.endswith(";") else ["execute_result"])
    # the backend is the one the kernel chose, and no figure stays open in pyplot
    last = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert last.split() == ["True", "0"], nb.cells[-1].outputs
    assert not _images(nb.cells[-1])


def test_no_pyplot_outside_jupyter(fits):
    """Outside IPython a plot is built without pyplot: none is left open."""
    plt = pytest.importorskip("matplotlib.pyplot")
    single, _ = fits
    before = plt.get_fignums()
    fig = single.plot("qq_resid")
    assert plt.get_fignums() == before
    assert fig.canvas.manager is None
