"""A WeMix-like report of a fit, as text and as HTML for Jupyter.

R equivalent: ``summary.WeMixResults``.
"""
from __future__ import annotations

import html

import numpy as np
import pandas as pd

__all__ = ["Summary"]


class Summary:
    """Report of a :class:`~pywemix.results.result.MixResult`.

    ``str(summary)`` gives the text report; in Jupyter it renders as HTML
    tables. The tables are also available as DataFrames: ``header`` (a list of
    (label, value) pairs), ``variance``, ``groups`` and ``fixed``.
    """

    def __init__(self, result):
        self.result = result
        r = result
        self.title = _title(r)
        self.header = _header(r)
        vc = r.var_components
        vc["std_dev"] = np.sqrt(np.where((vc["var2"].isna()) & (vc["variance"] >= 0),
                                         vc["variance"], np.nan))
        self.variance = vc
        self.groups = r.groups
        se_label = "robust" if r.n_clusters else "model"
        self.fixed = pd.DataFrame({"Estimate": r.params, "Std. Error": r.bse,
                                   "t value": r.tvalues})
        self.se_note = (f"Standard errors are cluster-robust ({se_label} sandwich over "
                        f"{r.n_clusters} top-level groups).")
        lnl = "not defined (plausible values)" if r.llf is None else f"{r.llf:.2f}"
        icc = r.icc
        icc_text = f"{icc:.4f}" if np.isfinite(icc) else \
            f"not defined for the {r.family} family"
        self.footer = [("lnl", lnl), ("Intraclass correlation (ICC)", icc_text)]
        n_pv = getattr(r, "n_plausible", None)
        if n_pv:
            self.header.insert(1, ("Plausible values", f"{n_pv} ({', '.join(r.columns)}); "
                                   "estimates averaged, variance = sampling + imputation"))
        self.notes = list(r.warnings)
        self.notes.extend(_pseudo_notes(r))

    # -- text ---------------------------------------------------------------
    def as_text(self) -> str:
        lines = [self.title, "=" * len(self.title)]
        w = max(len(k) for k, _ in self.header)
        lines += [f"{k:<{w}}  {v}" for k, v in self.header]
        lines += ["", "Variance terms:"]
        lines += _indent(_var_text(self.variance))
        lines += ["", "Groups:"]
        g = self.groups.rename(columns={"n_units": "n", "mean_weight": "mean weight",
                                        "sum_weight": "sum of weights"})
        lines += _indent(g.to_string(index=False))
        lines += ["", "Fixed effects:"]
        lines += _indent(self.fixed.to_string(float_format=lambda v: f"{v:.6g}"))
        lines += ["", self.se_note, ""]
        lines += [f"{k}: {v}" for k, v in self.footer]
        if self.notes:
            lines += ["", "Notes:"] + [f"  - {n}" for n in self.notes]
        return "\n".join(lines)

    def __str__(self):
        return self.as_text()

    def __repr__(self):
        return self.as_text()

    # -- html ---------------------------------------------------------------
    def _repr_html_(self) -> str:
        esc = html.escape
        parts = [f"<div class='pywemix-summary'><h4>{esc(self.title)}</h4>",
                 "<table><tbody>"]
        parts += [f"<tr><th style='text-align:left'>{esc(k)}</th>"
                  f"<td style='text-align:left'>{esc(str(v))}</td></tr>"
                  for k, v in self.header]
        parts.append("</tbody></table>")
        parts.append("<h5>Variance terms</h5>")
        parts.append(_blank_labels(self.variance).to_html(index=False, na_rep="",
                                                           float_format="{:.6g}".format))
        parts.append("<h5>Groups</h5>")
        parts.append(self.groups.to_html(index=False, float_format="{:.6g}".format))
        parts.append("<h5>Fixed effects</h5>")
        parts.append(self.fixed.to_html(float_format="{:.6g}".format))
        parts.append(f"<p>{esc(self.se_note)}</p><p>")
        parts.append("<br>".join(f"<b>{esc(k)}</b>: {esc(v)}" for k, v in self.footer))
        parts.append("</p>")
        if self.notes:
            parts.append("<p><b>Notes</b></p><ul>")
            parts += [f"<li>{esc(n)}</li>" for n in self.notes]
            parts.append("</ul>")
        parts.append("</div>")
        return "".join(parts)


def _title(r) -> str:
    kind = "linear" if r.family == "gaussian" else f"{r.family} ({r.link})"
    return f"Weighted {kind} mixed model (pywemix)"


def _header(r) -> list:
    wt = ", ".join(f"{w if w else '(none)'} (level {i + 1})"
                   for i, w in enumerate(r.weight_spec))
    crit = r.criterion
    if r.weighted:
        crit += " (pseudo-likelihood)"
    rows = [("Formula", r.formula), ("Family", r.family), ("Link", r.link),
            ("Criterion", crit),
            ("Weights", (f"{wt}; {'conditional' if r.cond_weights else 'unconditional'}"
                         if any(r.weight_spec) else "none (unit weights at every level)")),
            ("Observations", r.nobs)]
    if r.family != "gaussian":
        rows.append(("Quadrature points", f"{r.n_quad} per random effect"
                     + (" (Laplace)" if r.n_quad == 1 else " (adaptive Gauss-Hermite)")))
    for k, v in (r.extra or {}).items():
        rows.append((k, v))
    opt = r.optimization
    if opt is not None and not hasattr(r, "fits"):
        rows.append(("Converged", f"{'yes' if r.converged else 'NO'} ({opt.iterations} "
                     f"iterations, gradient norm {opt.grad_norm:.2g})"))
    return rows


def _pseudo_notes(r) -> list:
    if not r.weighted:
        return []
    return ["Weighted fit: the log-likelihood is a pseudo-likelihood; likelihood-ratio "
            "tests and AIC/BIC are not valid. Use Wald tests (result.wald_test).",
            "Model-based standard errors (kind='model') treat the weights as frequency "
            "weights and are too small; the standard errors shown are cluster-robust."]


def _blank_labels(vc: pd.DataFrame) -> pd.DataFrame:
    """The variance table with empty (not ``None``) effect labels where there are none."""
    t = vc.copy()
    for c in ("var1", "var2"):
        t[c] = t[c].astype(object).where(t[c].notna(), "")
    return t


def _var_text(vc: pd.DataFrame) -> str:
    t = _blank_labels(vc)
    t = t.rename(columns={"std_error": "Std. Error", "std_dev": "Std. Dev.",
                          "variance": "Variance"})
    return t.to_string(index=False, float_format=lambda v: f"{v:.6g}", na_rep="")


def _indent(text: str) -> list:
    return ["  " + line for line in text.splitlines()]
