"""Diagnostic plots: matplotlib Figures.

The plots of Pinheiro and Bates (2000, *Mixed-Effects Models in S and
S-PLUS*, sec. 4.3) and lme4's caterpillar plot of the conditional modes.
matplotlib is installed with pywemix and imported only here, only when a
plot is asked for.

Figures are :class:`ResultFigure` objects: ordinary ``matplotlib.figure.Figure``
that also render themselves as PNG through IPython's ``_repr_png_`` display
protocol. The library never switches matplotlib's backend and never imports
pyplot outside Jupyter: in scripts and tests a figure is built without
pyplot, so no figure is kept open and ``plt.show()`` draws nothing twice.

In a Jupyter kernel whose matplotlib backend is the inline one (what
ipykernel configures, through ``MPLBACKEND``, unless the user chose another)
the figure is made through ``pyplot.figure``, as pandas' and seaborn's plots
are, so that the inline backend's post-execute hook shows it even when the
cell ends with ``;`` (which suppresses the cell's value). When the figure is
also the cell's value, IPython displays it first and the figure leaves
pyplot's list as it is displayed, so the hook does not draw it again:
exactly one image either way.
"""

from __future__ import annotations

import io
import sys
import textwrap

import numpy as np
from scipy import stats

from .ranef import conditional_variances

try:
    from matplotlib.figure import Figure as _Figure
except ImportError:  # pragma: no cover - depends on the environment
    _Figure = None  # type: ignore[misc,assignment]  # matplotlib is optional

__all__ = ["plot", "plot_groups", "KINDS", "ResultFigure"]

_INLINE_BACKENDS = ("inline", "module://matplotlib_inline.backend_inline")
KINDS = ("resid_fitted", "qq_resid", "qq_ranef", "caterpillar", "coef")

if _Figure is not None:

    class ResultFigure(_Figure):
        """A matplotlib Figure that shows itself as an image in Jupyter.

        Exactly ``matplotlib.figure.Figure`` (save it with ``savefig``, add
        axes, ...) plus ``_repr_png_``, so that returning it as the last
        expression of a notebook cell displays the picture even when pyplot
        has never been imported, and ``_repr_mimebundle_``, which keeps a
        figure made through pyplot's inline backend from being shown twice
        (see the module's notes).
        """

        def _repr_png_(self) -> bytes:
            buf = io.BytesIO()
            self.savefig(buf, format="png", bbox_inches="tight")
            return buf.getvalue()

        def _repr_mimebundle_(self, include=None, exclude=None):
            """Called by IPython first whenever it displays the figure: a
            figure made through pyplot (inline backend) is closed in pyplot
            as it is shown, so that the inline backend's post-execute hook
            does not show it a second time. Returns None: IPython then
            renders it with its usual formatters (``_repr_png_``, or the
            inline backend's figure formatter)."""
            _release_from_pyplot(self)
            return None

else:  # pragma: no cover - depends on the environment
    ResultFigure = None  # type: ignore[misc,assignment]  # matplotlib is optional


def _release_from_pyplot(fig) -> None:
    """Close ``fig`` in pyplot if pyplot holds it (the figure object stays usable)."""
    plt = sys.modules.get("matplotlib.pyplot")
    manager = getattr(fig.canvas, "manager", None)
    if plt is not None and manager is not None and plt.fignum_exists(manager.num):
        plt.close(fig)


def _inline_backend_active() -> bool:
    """Whether this runs in IPython with matplotlib's inline backend selected
    (read without resolving or switching the backend)."""
    ipython = sys.modules.get("IPython")
    if ipython is None or ipython.get_ipython() is None:
        return False
    import matplotlib

    try:
        backend = matplotlib.get_backend(auto_select=False)
    except TypeError:  # matplotlib < 3.10: the raw setting, not resolved
        backend = dict.get(matplotlib.rcParams, "backend")
    return str(backend).lower() in _INLINE_BACKENDS


def _figure(nplots=1, width=5.0, height=4.0):
    if ResultFigure is None:  # pragma: no cover - depends on the environment
        raise ImportError("plots need matplotlib: pip install 'pywemix[plot]'")
    ncol = min(nplots, 3)
    nrow = int(np.ceil(nplots / ncol))
    size = (width * ncol, height * nrow)
    if _inline_backend_active():  # shown by the inline backend, even after ';'
        import matplotlib.pyplot as plt

        fig = plt.figure(FigureClass=ResultFigure, figsize=size, layout="constrained")
    else:
        fig = ResultFigure(figsize=size, layout="constrained")
    axes = [fig.add_subplot(nrow, ncol, k + 1) for k in range(nplots)]
    return fig, axes


def _qq(ax, values, title):
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    (theo, sample), (slope, intercept, _) = stats.probplot(values, dist="norm")
    ax.scatter(theo, sample, s=10, alpha=0.7)
    ax.plot(theo, intercept + slope * theo, color="C3", lw=1)
    ax.set_xlabel("standard normal quantiles")
    ax.set_ylabel("sample quantiles")
    ax.set_title(title)


def _effects(result):
    out = []
    modes = result.ranef()
    variances = conditional_variances(result)
    for (name, df), var in zip(modes.items(), variances):
        for j, col in enumerate(df.columns):
            sd = np.sqrt(var[:, j]) if var is not None else np.full(len(df), np.nan)
            out.append((name, col, df[col].to_numpy(), sd, df.index))
    return out


def plot(result, kind: str = "resid_fitted"):
    """Draw a diagnostic plot of ``result``.

    Parameters
    ----------
    kind : {"resid_fitted", "qq_resid", "qq_ranef", "caterpillar", "coef"}
        Pearson residuals against fitted values; normal Q-Q plot of the
        Pearson residuals; normal Q-Q plots of the conditional modes, one
        panel per grouping factor and effect; conditional modes sorted, with
        95% intervals from their conditional standard deviations
        (``ranef(se=True)``); the fixed effects other than the intercept
        with 95% Wald intervals of the result's default covariance kind
        (``conf_int()``: cluster-robust, replication, or for plausible values
        the combined total, each value's own estimates as grey dots), the
        kind named on the axis.

    Returns
    -------
    ResultFigure
        A ``matplotlib.figure.Figure`` that also displays itself in Jupyter.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown plot kind {kind!r}; choose one of {', '.join(KINDS)}")
    if kind == "coef":
        return _coef(result)
    if kind == "resid_fitted":
        fig, (ax,) = _figure()
        ax.scatter(result.fittedvalues, result.residuals("pearson"), s=8, alpha=0.6)
        ax.axhline(0, color="C3", lw=1)
        ax.set_xlabel("fitted values")
        ax.set_ylabel("Pearson residuals")
        ax.set_title("Residuals against fitted values")
        return fig
    if kind == "qq_resid":
        fig, (ax,) = _figure()
        _qq(ax, result.residuals("pearson"), "Normal Q-Q plot of Pearson residuals")
        return fig
    effects = _effects(result)
    if kind == "qq_ranef":
        fig, axes = _figure(len(effects))
        for ax, (name, col, m, _, _) in zip(axes, effects):
            _qq(ax, m, f"{name}: {col}")
        return fig
    fig, axes = _figure(
        len(effects), width=5.0, height=max(3.0, 0.12 * max(len(e[2]) for e in effects))
    )
    for ax, (name, col, m, sd, labels) in zip(axes, effects):
        order = np.argsort(m)
        pos = np.arange(len(m))
        ax.errorbar(m[order], pos, xerr=1.96 * sd[order], fmt="o", ms=3, lw=0.8)
        ax.axvline(0, color="C3", lw=1)
        if len(m) <= 40:
            ax.set_yticks(pos, [str(v) for v in np.asarray(labels)[order]], fontsize=7)
        else:
            ax.set_yticks([])
        ax.set_xlabel("conditional mode (95% interval)")
        ax.set_title(f"{name}: {col}")
    return fig


def _coef(result):
    """Fixed effects (without the intercept) with 95% Wald intervals."""
    ci = result.conf_int()
    names = [n for n in result.params.index if n != "Intercept"] or list(ci.index)
    fig, (ax,) = _figure(width=5.0, height=max(2.5, 0.35 * len(names) + 1.2))
    pos = np.arange(len(names))[::-1]
    est = result.params[names].to_numpy()
    lo, hi = ci.loc[names].to_numpy().T
    for k, fit in enumerate(getattr(result, "fits", ())):
        ax.scatter(
            fit.params[names],
            pos,
            s=9,
            color="0.6",
            zorder=1,
            label="each plausible value" if k == 0 else None,
        )
    ax.errorbar(
        est,
        pos,
        xerr=[est - lo, hi - est],
        fmt="o",
        ms=4,
        lw=1,
        zorder=2,
        label="estimate (95% interval)",
    )
    ax.axvline(0, color="C3", lw=1)
    ax.set_yticks(pos, names, fontsize=8)
    ax.set_xlabel(
        f"fixed effect (95% Wald interval; standard errors: "
        f"{_wrap(ci.attrs.get('variance_description', ''))})",
        fontsize=8,
    )
    ax.set_title("Fixed effects")
    if hasattr(result, "fits"):
        ax.legend(fontsize=7, loc="best")
    return fig


def _wrap(text: str, width: int = 60) -> str:
    """``text`` broken into lines of about ``width`` characters (axis labels)."""
    return "\n".join(textwrap.wrap(text, width)) or text


def plot_groups(params, ci, column: str, description: str):
    """Every group's fixed effects with their intervals: one panel per term.

    Parameters
    ----------
    params : Series
        Estimates indexed by (group, term) (``ByResult.params``).
    ci : DataFrame
        Intervals indexed alike (``ByResult.conf_int()``).
    column : str
        The ``by`` column (the panels' y axis).
    description : str
        What the standard errors are (named on the axes).
    """
    terms = [t for t in dict.fromkeys(params.index.get_level_values(-1)) if t != "Intercept"]
    terms = terms or list(dict.fromkeys(params.index.get_level_values(-1)))
    groups = list(dict.fromkeys(params.index.get_level_values(0)))
    fig, axes = _figure(len(terms), width=4.5, height=max(2.5, 0.3 * len(groups) + 1.2))
    for ax, term in zip(axes, terms):
        rows = [(g, term) for g in groups if (g, term) in params.index]
        est = params.loc[rows].to_numpy()
        lo, hi = ci.loc[rows].to_numpy().T
        pos = np.arange(len(rows))[::-1]
        ax.errorbar(est, pos, xerr=[est - lo, hi - est], fmt="o", ms=4, lw=1)
        ax.axvline(0, color="C3", lw=1)
        ax.set_yticks(pos, [str(g) for g, _ in rows], fontsize=8)
        ax.set_ylabel(column)
        ax.set_title(term)
        ax.set_xlabel(f"95% Wald interval; standard errors: {_wrap(description, 45)}", fontsize=7)
    return fig
