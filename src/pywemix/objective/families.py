"""Response families for the quadrature objective.

A family is one small object: inverse link, log density of the response and
its first two derivatives in the linear predictor, variance function, a
response check and a simulator. Adding a family means adding one such class
(and its tests). R equivalents: ``binomial(link=...)``, ``poisson()``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit, gammaln, log_ndtr, ndtr

from ..warnings import DataWarning, warn

__all__ = ["Family", "Binomial", "Poisson", "get_family", "check_link"]

_LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)


class Family:
    """Base class. Subclasses define ``name``, ``links`` and the methods below."""

    name = "family"
    links = ()
    canonical_links = ()

    def __init__(self, link=None):
        link = link or self.links[0]
        if link not in self.links:
            raise ValueError(f"family {self.name!r} has no link {link!r}; its links are "
                             f"{', '.join(map(repr, self.links))}")
        self.link = link

    def __repr__(self):
        return f"{type(self).__name__}(link={self.link!r})"

    @property
    def canonical(self) -> bool:
        """Whether the link is canonical (observed = expected information)."""
        return self.link in self.canonical_links

    def loglik(self, y, eta):
        """Log density of each ``y`` given ``eta``."""
        raise NotImplementedError

    def derivs(self, y, eta, order=2):
        """(log density, first, second derivative in eta); with ``order=3``
        also the third derivative."""
        raise NotImplementedError

    def laplace_weight(self, y, eta):
        """Curvature weight of the Laplace log-determinant and its derivative in eta.

        lme4's penalised iteratively reweighted least squares (Bates et al.
        2015, section 5) factors ``Lambda' Z' W Z Lambda + I`` with the GLM
        working weights ``W = mu'(eta)^2 / V(mu)`` (the expected information
        in eta). For a canonical link (logit, Poisson log) that is the observed
        information ``-d2``; for probit and cloglog it differs.

        Returns
        -------
        (W, dW/deta)
        """
        _, _, d2, d3 = self.derivs(y, eta, order=3)
        return -d2, -d3

    def mean(self, eta):
        """Inverse link."""
        raise NotImplementedError

    def variance(self, mu):
        raise NotImplementedError

    def response(self, s: pd.Series, name: str) -> np.ndarray:
        raise NotImplementedError

    def simulate(self, mu, rng):
        raise NotImplementedError


def _probit_derivs(y, eta, order):
    """Log density of 0/1 ``y`` under the probit link and its eta-derivatives.

    Notes
    -----
    With :math:`s = 2y - 1`, :math:`P(y) = \\Phi(s\\eta)`. With the inverse
    Mills ratio :math:`r = \\phi(\\eta) / \\Phi(s\\eta)`, computed as
    :math:`\\exp(\\log\\phi(\\eta) - \\log\\Phi(s\\eta))` so that it stays
    finite far in the tails,

    .. math::

        \\ell = \\log\\Phi(s\\eta),\\quad
        \\ell' = s r,\\quad
        \\ell'' = -r (s\\eta + r),\\quad
        \\ell''' = s r \\{(s\\eta + r)(s\\eta + 2r) - 1\\},

    from :math:`dr/d\\eta = -s r (s\\eta + r)` (the derivatives of the probit
    log-likelihood, e.g. Greene, *Econometric Analysis*, 7th ed., sec.
    17.3). ``y`` must be 0/1, which :meth:`Binomial.response` guarantees
    for every fitted response (and ``simulate`` for drawn ones): one
    ``log_ndtr`` per value instead of one per outcome.
    """
    s = 2.0 * np.asarray(y, dtype=float) - 1.0
    se = s * np.asarray(eta, dtype=float)
    ll = log_ndtr(se)
    if order == 0:
        return ll, None, None
    r = np.exp(-0.5 * se * se - _LOG_SQRT_2PI - ll)
    a = se + r
    d1, d2 = s * r, -r * a
    if order == 3:
        return ll, d1, d2, d1 * (a * (se + 2 * r) - 1)
    return ll, d1, d2


def _logit_derivs(y, eta, order):
    r"""Log density of 0/1 ``y`` under the logit link and its eta-derivatives.

    Notes
    -----
    One exponential, ``e = exp(-|eta|)``, and one ``log1p`` serve both
    outcomes: with :math:`s = 2y - 1`,

    .. math::

        \ell = -\log(1 + e) + \min(s\eta, 0),\quad
        \ell' = y - \mu,\quad \ell'' = -\mu(1 - \mu) = -e r^2,

    :math:`r = 1/(1 + e)`, :math:`\mu = r` for :math:`\eta \ge 0` and
    :math:`e r` below (no cancellation in either tail). The arrays are
    updated in place: these are the largest arrays of a quadrature
    evaluation (rows x nodes), and every pass over them counts. ``y`` must
    be 0/1, which :meth:`Binomial.response` guarantees.
    """
    eta = np.asarray(eta, dtype=float)
    shape = np.broadcast_shapes(np.shape(y), eta.shape)
    if shape != eta.shape:
        eta = np.broadcast_to(eta, shape)
    e = np.abs(eta)
    np.negative(e, out=e)
    np.exp(e, out=e)                           # e = exp(-|eta|)
    ll = np.log1p(e)
    np.negative(ll, out=ll)
    se = np.multiply(2.0 * np.asarray(y, dtype=float) - 1.0, eta)
    np.minimum(se, 0.0, out=se)
    ll += se
    if order == 0:
        return ll, None, None
    r = np.add(1.0, e, out=se)
    np.divide(1.0, r, out=r)                   # r = 1 / (1 + e)
    np.multiply(e, r, out=e)
    mu = np.where(eta >= 0, r, e)
    v = np.multiply(e, r, out=e)               # mu (1 - mu) without cancellation
    if order == 3:
        return ll, y - mu, -v, -v * (1 - 2 * mu)
    np.subtract(y, mu, out=mu)
    return ll, mu, np.negative(v, out=v)


class Binomial(Family):
    """Binary response with logit, probit or complementary log-log link.

    The response is 0/1, bool, or two-valued: a Categorical codes its second
    category 1; a text column its second value in sorted order, as R's
    ``factor()`` and ``glm(family = binomial)`` do (with a DataWarning
    naming the value coded 1).
    """

    name = "binomial"
    links = ("logit", "probit", "cloglog")
    canonical_links = ("logit",)

    def mean(self, eta):
        eta = np.asarray(eta, dtype=float)
        if self.link == "logit":
            return expit(eta)
        if self.link == "probit":
            return ndtr(eta)
        return -np.expm1(-np.exp(np.minimum(eta, 700.0)))

    def variance(self, mu):
        return mu * (1 - mu)

    def loglik(self, y, eta):
        return self.derivs(y, eta, order=0)[0]

    def derivs(self, y, eta, order=2):
        if self.link == "logit":
            return _logit_derivs(y, eta, order)
        if self.link == "probit":
            return _probit_derivs(y, eta, order)
        # complementary log-log: mu = 1 - exp(-exp(eta))
        t = np.exp(np.minimum(eta, 700.0))
        with np.errstate(over="ignore"):
            em1 = np.expm1(t)
        # log(1 - exp(-t)) = eta - t/2 + O(t^2) for small t: exact where t underflows
        log_mu = np.where(t < 1e-10, eta - 0.5 * t, np.log(-np.expm1(-np.maximum(t, 1e-10))))
        ll = y * log_mu - (1 - y) * t
        if order == 0:
            return ll, None, None
        with np.errstate(over="ignore", invalid="ignore"):
            g = np.where(t > 700, 0.0, t / em1)  # t e^-t / (1 - e^-t)
            r = np.exp(-t)  # em1 ** 2 would overflow beyond t ~ 355
            dg = t * r * (1 - r - t) / (-np.expm1(-t)) ** 2
        small = t < 1e-8
        g = np.where(small, 1.0 - t / 2, g)
        dg = np.where(small, -t / 2, dg)
        if order == 3:
            return ll, y * g - (1 - y) * t, y * dg - (1 - y) * t, y * _cloglog_d3(t) - (1 - y) * t
        return ll, y * g - (1 - y) * t, y * dg - (1 - y) * t

    def laplace_weight(self, y, eta):
        if self.link == "logit":
            return super().laplace_weight(y, eta)
        eta = np.asarray(eta, dtype=float)
        if self.link == "probit":
            lp, lq = log_ndtr(eta), log_ndtr(-eta)
            logphi = -0.5 * eta * eta - _LOG_SQRT_2PI
            r1, r0 = np.exp(logphi - lp), np.exp(logphi - lq)
            W = np.exp(2 * logphi - lp - lq)
            return W, W * (r0 - r1 - 2 * eta)
        t = np.exp(np.minimum(eta, 700.0))
        with np.errstate(over="ignore", invalid="ignore"):
            g = np.where(t > 700, 0.0, t / np.expm1(t))
        small = t < 1e-8
        g = np.where(small, 1.0 - t / 2, g)
        _, _, d2 = self.derivs(np.ones_like(t), eta)
        return t * g, t * (g + d2)

    def response(self, s: pd.Series, name: str) -> np.ndarray:
        if pd.api.types.is_bool_dtype(s.dtype):
            return s.to_numpy(dtype=float)
        if isinstance(s.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(s.dtype):
            cats = (list(s.cat.categories) if isinstance(s.dtype, pd.CategoricalDtype)
                    else sorted(pd.unique(s.dropna()).tolist(), key=str))
            if len(cats) != 2:
                raise ValueError(
                    f"binomial response {name!r} must have two levels (the second is "
                    f"coded 1, as in R); found {len(cats)}: {cats[:6]}")
            if not isinstance(s.dtype, pd.CategoricalDtype):
                warn(f"binomial response {name!r} is text: {cats[1]!r} is coded 1 and "
                     f"{cats[0]!r} 0 (the second value in sorted order, as R's factor()); "
                     "to choose, give a 0/1 column or a Categorical whose second "
                     "category is the one coded 1", DataWarning)
            return (s == cats[1]).to_numpy(dtype=float)
        y = s.to_numpy(dtype=float)
        bad = ~np.isin(y, (0.0, 1.0))
        if bad.any():
            vals = sorted(pd.unique(y[bad]).tolist())[:6]
            raise ValueError(
                f"binomial response {name!r} must be 0/1, bool or a two-level "
                f"categorical; found {int(bad.sum())} other values, e.g. {vals}")
        return y

    def simulate(self, mu, rng):
        return (rng.random(np.shape(mu)) < mu).astype(float)


def _cloglog_d3(t):
    """Third derivative in eta of log(1 - exp(-t)), t = exp(eta).

    With ``g(t) = t / (e^t - 1)`` the first derivative, the third is
    ``t g'(t) + t^2 g''(t)``, ``g' = (m - t e^t) / m^2``,
    ``g'' = e^t (t (e^t + 1) - 2 m) / m^3``, ``m = e^t - 1``; a series
    ``-t/2 + t^2/3`` for small t, 0 for large t.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        m = np.expm1(t)
        e = m + 1
        out = t * (m - t * e) / m ** 2 + t * t * e * (t * (m + 2) - 2 * m) / m ** 3
    out = np.where(t < 1e-4, -t / 2 + t * t / 3, out)
    return np.where(t > 300, 0.0, out)


class Poisson(Family):
    """Counts with the log link."""

    name = "poisson"
    links = ("log",)
    canonical_links = ("log",)

    def mean(self, eta):
        return np.exp(np.minimum(eta, 700.0))

    def variance(self, mu):
        return mu

    def loglik(self, y, eta):
        return self.derivs(y, eta, order=0)[0]

    def __init__(self, link=None):
        super().__init__(link)
        self._log_factorials = {}

    def __getstate__(self):
        return dict(self.__dict__, _log_factorials={})  # a cache, not state

    def derivs(self, y, eta, order=2):
        mu = np.minimum(eta, 700.0)
        np.exp(mu, out=mu)
        ll = y * eta
        ll -= mu
        ll -= self._log_factorial(y)
        if order == 0:
            return ll, None, None
        if order == 3:
            return ll, y - mu, -mu, -mu
        return ll, y - mu, np.negative(mu)

    def _log_factorial(self, y):
        """``log(y!)`` of a response array.

        The objective asks for the same rows over and over (every Newton step
        of the conditional modes, every quadrature node), so the values are
        kept for the last few arrays seen, by memory address, shape and
        strides; the array is kept with them, so its memory cannot be reused
        by another one while they are.
        """
        y = np.asarray(y, dtype=float)
        key = (y.__array_interface__["data"][0], y.shape, y.strides)
        hit = self._log_factorials.get(key)
        if hit is not None:
            return hit[1]
        value = gammaln(y + 1)
        if len(self._log_factorials) >= 64:
            self._log_factorials.clear()
        self._log_factorials[key] = (y, value)
        return value

    def response(self, s: pd.Series, name: str) -> np.ndarray:
        if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            raise TypeError(f"poisson response {name!r} must be numeric counts, got "
                            f"dtype {s.dtype}")
        y = s.to_numpy(dtype=float)
        bad = (y < 0) | (y != np.round(y)) | ~np.isfinite(y)
        if bad.any():
            vals = pd.unique(y[bad]).tolist()[:5]
            raise ValueError(
                f"poisson response {name!r} must hold non-negative integers; "
                f"{int(bad.sum())} values are not, e.g. {vals}")
        return y

    def simulate(self, mu, rng):
        return rng.poisson(mu).astype(float)


_FAMILIES = {"binomial": Binomial, "poisson": Poisson}


def get_family(family, link=None) -> Family:
    """A family object from its name (``"binomial"``, ``"poisson"``) or itself."""
    link = check_link(link)
    if isinstance(family, Family):
        if link is not None and link != family.link:
            return type(family)(link)
        return family
    if not isinstance(family, str):
        raise TypeError(f"family must be a name ('gaussian', "
                        f"{', '.join(map(repr, _FAMILIES))}) or a Family object, got "
                        f"{type(family).__name__}")
    key = family.strip().lower()
    if key not in _FAMILIES:
        raise ValueError(f"unknown family {family!r}; supported: 'gaussian', "
                         f"{', '.join(map(repr, _FAMILIES))}")
    return _FAMILIES[key](link)


def check_link(link):
    """``link`` as a lower-case name, or None; anything else is an error."""
    if link is None:
        return None
    if not isinstance(link, str):
        raise TypeError(f"link must be a name such as 'logit', got {type(link).__name__}")
    if not link.strip():
        raise ValueError("link is empty: give a link name or leave it out for the default")
    return link.strip().lower()
