"""Response families for the quadrature objective.

A family is one small object: inverse link, log density of the response and
its first two derivatives in the linear predictor, variance function, a
response check and a simulator. Adding a family means adding one such class
(and its tests). R equivalents: ``binomial(link=...)``, ``poisson()``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit, gammaln, log_expit, log_ndtr, ndtr

__all__ = ["Family", "Binomial", "Poisson", "get_family", "check_link"]

_LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)


class Family:
    """Base class. Subclasses define ``name``, ``links`` and the methods below."""

    name = "family"
    links = ()

    def __init__(self, link=None):
        link = link or self.links[0]
        if link not in self.links:
            raise ValueError(f"family {self.name!r} has no link {link!r}; its links are "
                             f"{', '.join(map(repr, self.links))}")
        self.link = link

    def __repr__(self):
        return f"{type(self).__name__}(link={self.link!r})"

    def loglik(self, y, eta):
        """Log density of each ``y`` given ``eta``."""
        raise NotImplementedError

    def derivs(self, y, eta):
        """(log density, first, second derivative in eta)."""
        raise NotImplementedError

    def mean(self, eta):
        """Inverse link."""
        raise NotImplementedError

    def variance(self, mu):
        raise NotImplementedError

    def response(self, s: pd.Series, name: str) -> np.ndarray:
        raise NotImplementedError

    def simulate(self, mu, rng):
        raise NotImplementedError


class Binomial(Family):
    """Binary response with logit, probit or complementary log-log link."""

    name = "binomial"
    links = ("logit", "probit", "cloglog")

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
            l1, l0 = log_expit(eta), log_expit(-eta)
            ll = y * l1 + (1 - y) * l0
            if order == 0:
                return ll, None, None
            mu = np.exp(l1)
            return ll, y - mu, -mu * (1 - mu)
        if self.link == "probit":
            lp, lq = log_ndtr(eta), log_ndtr(-eta)
            ll = y * lp + (1 - y) * lq
            if order == 0:
                return ll, None, None
            logphi = -0.5 * eta * eta - _LOG_SQRT_2PI
            r1, r0 = np.exp(logphi - lp), np.exp(logphi - lq)
            d1 = y * r1 - (1 - y) * r0
            d2 = -y * r1 * (eta + r1) - (1 - y) * r0 * (r0 - eta)
            return ll, d1, d2
        # complementary log-log: mu = 1 - exp(-exp(eta))
        t = np.exp(np.minimum(eta, 700.0))
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
        return ll, y * g - (1 - y) * t, y * dg - (1 - y) * t

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


class Poisson(Family):
    """Counts with the log link."""

    name = "poisson"
    links = ("log",)

    def mean(self, eta):
        return np.exp(np.minimum(eta, 700.0))

    def variance(self, mu):
        return mu

    def loglik(self, y, eta):
        return self.derivs(y, eta, order=0)[0]

    def derivs(self, y, eta, order=2):
        mu = np.exp(np.minimum(eta, 700.0))
        ll = y * eta - mu - gammaln(y + 1)
        if order == 0:
            return ll, None, None
        return ll, y - mu, -mu

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
