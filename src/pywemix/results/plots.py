"""Diagnostic plots (lecture notes, "Residuals"): matplotlib Figures.

matplotlib is an optional dependency (``pip install pywemix[plot]``),
imported only here and only when a plot is asked for. Figures are built with
``matplotlib.figure.Figure`` directly, so the library never touches pyplot's
global state or switches backends; Jupyter shows them inline.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["plot", "KINDS"]

KINDS = ("resid_fitted", "qq_resid", "qq_ranef", "caterpillar")


def _figure(nplots=1, width=5.0, height=4.0):
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("plots need matplotlib: pip install 'pywemix[plot]'") from None
    ncol = min(nplots, 3)
    nrow = int(np.ceil(nplots / ncol))
    fig = Figure(figsize=(width * ncol, height * nrow), layout="constrained")
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
    from .ranef import conditional_variances
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
    kind : {"resid_fitted", "qq_resid", "qq_ranef", "caterpillar"}
        Pearson residuals against fitted values; normal Q-Q plot of the
        Pearson residuals; normal Q-Q plots of the conditional modes, one
        panel per grouping factor and effect; conditional modes sorted, with
        95% intervals from their conditional standard deviations.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if kind not in KINDS:
        raise ValueError(f"unknown plot kind {kind!r}; choose one of {', '.join(KINDS)}")
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
    fig, axes = _figure(len(effects), width=5.0, height=max(3.0, 0.12 * max(
        len(e[2]) for e in effects)))
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
