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
    """
    Base class of the response families.

    Subclasses define ``name``, ``links`` and the methods below.

    Parameters
    ----------
    link : str, optional
        One of the family's ``links``; None is the first (the default link).

    Raises
    ------
    ValueError
        If the family has no such link.
    """

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
        """
        Log density of each ``y`` given ``eta``.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`).
        eta : ndarray
            Linear predictors, one per response.

        Returns
        -------
        ndarray
            The log density of each response.
        """
        raise NotImplementedError

    def derivs(self, y, eta, order=2):
        """
        Log density and its derivatives in ``eta``.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`).
        eta : ndarray
            Linear predictors, one per response.
        order : {0, 2, 3}, default 2
            Highest derivative wanted (0: the log density only).

        Returns
        -------
        tuple of ndarray
            Log density and its first and second derivatives in ``eta`` (the
            third too with ``order=3``; None for derivatives not asked for).
        """
        raise NotImplementedError

    def laplace_weight(self, y, eta):
        """Curvature weight of the Laplace log-determinant and its derivative in eta.

        lme4's penalised iteratively reweighted least squares (Bates et al.
        2015, section 5) factors ``Lambda' Z' W Z Lambda + I`` with the GLM
        working weights ``W = mu'(eta)^2 / V(mu)`` (the expected information
        in eta). For a canonical link (logit, Poisson log) that is the observed
        information ``-d2``; for probit and cloglog it differs.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`).
        eta : ndarray
            Linear predictors, one per response.

        Returns
        -------
        tuple of ndarray
            ``(W, dW/deta)``, one value per response.
        """
        _, _, d2, d3 = self.derivs(y, eta, order=3)
        return -d2, -d3

    def mean(self, eta):
        """
        Inverse link: the mean of the response given ``eta``.

        Parameters
        ----------
        eta : ndarray
            Linear predictors, one per response.

        Returns
        -------
        ndarray
            The means.
        """
        raise NotImplementedError

    def variance(self, mu):
        """
        Variance function :math:`V(\\mu)` of the response.

        Parameters
        ----------
        mu : ndarray
            Means of the response.

        Returns
        -------
        ndarray
            :math:`V(\\mu)`, one value per mean.
        """
        raise NotImplementedError

    def response(self, s: pd.Series, name: str) -> np.ndarray:
        """
        Check and code the response column.

        Parameters
        ----------
        s : Series
            The response column.
        name : str
            Its name, for the error messages.

        Returns
        -------
        ndarray
            The response as floats, coded as the family needs it.

        Raises
        ------
        ValueError
            If the column holds values the family cannot model.
        """
        raise NotImplementedError

    def simulate(self, mu, rng):
        """
        Draw responses with means ``mu``.

        Parameters
        ----------
        mu : ndarray
            Means of the response.
        rng : numpy.random.Generator
            The random generator.

        Returns
        -------
        ndarray
            One draw per mean, as floats.
        """
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


class Binomial(Family):
    """
    Binary response with logit, probit or complementary log-log link.

    The response is 0/1, bool, or two-valued: a Categorical codes its second
    category 1; a text column its second value in sorted order, as R's
    ``factor()`` and ``glm(family = binomial)`` do (with a DataWarning
    naming the value coded 1). R equivalent: ``binomial(link = ...)``.

    Parameters
    ----------
    link : {"logit", "probit", "cloglog"}, optional
        The link (default logit).

    Notes
    -----
    :math:`\\log f(y \\mid \\eta) = y \\log\\mu + (1 - y) \\log(1 - \\mu)`, with
    :math:`\\mu = 1 / (1 + e^{-\\eta})` (logit), :math:`\\Phi(\\eta)` (probit) or
    :math:`1 - \\exp(-e^\\eta)` (cloglog).
    """

    name = "binomial"
    links = ("logit", "probit", "cloglog")
    canonical_links = ("logit",)

    def mean(self, eta):
        """
        Inverse link: logistic, standard normal cdf or :math:`1 - e^{-e^\\eta}`.

        Parameters
        ----------
        eta : ndarray
            Linear predictors, one per response.

        Returns
        -------
        ndarray
            Probabilities of a 1.
        """
        eta = np.asarray(eta, dtype=float)
        if self.link == "logit":
            return expit(eta)
        if self.link == "probit":
            return ndtr(eta)
        return -np.expm1(-np.exp(np.minimum(eta, 700.0)))

    def variance(self, mu):
        """
        Variance function :math:`\\mu (1 - \\mu)`.

        Parameters
        ----------
        mu : ndarray
            Means of the response.

        Returns
        -------
        ndarray
            The variances.
        """
        return mu * (1 - mu)

    def loglik(self, y, eta):
        """
        Bernoulli log density of each ``y`` given ``eta``.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`).
        eta : ndarray
            Linear predictors, one per response.

        Returns
        -------
        ndarray
            The log density of each response.
        """
        return self.derivs(y, eta, order=0)[0]

    def derivs(self, y, eta, order=2):
        """
        Bernoulli log density and its derivatives in ``eta``.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`).
        eta : ndarray
            Linear predictors, one per response.
        order : {0, 2, 3}, default 2
            Highest derivative wanted (0: the log density only).

        Returns
        -------
        tuple of ndarray
            Log density and its first and second derivatives in ``eta`` (the
            third too with ``order=3``; None for derivatives not asked for).
        """
        if self.link == "logit":
            # one exponential: e = exp(-|eta|), log(1 + e) shared by both logs
            eta = np.asarray(eta, dtype=float)
            e = np.exp(-np.abs(eta))
            a = -np.log1p(e)
            l1, l0 = a + np.minimum(eta, 0.0), a - np.maximum(eta, 0.0)
            ll = y * l1 + (1 - y) * l0
            if order == 0:
                return ll, None, None
            r = 1.0 / (1.0 + e)
            mu = np.where(eta >= 0, r, e * r)
            v = e * r * r  # mu (1 - mu) without cancellation
            if order == 3:
                return ll, y - mu, -v, -v * (1 - 2 * mu)
            return ll, y - mu, -v
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
        """
        GLM working weight and its derivative in ``eta`` (see :meth:`Family.laplace_weight`).

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`).
        eta : ndarray
            Linear predictors, one per response.

        Returns
        -------
        tuple of ndarray
            ``(W, dW/deta)``, one value per response.
        """
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
        """
        Code the response 0/1 (see the class docstring).

        Parameters
        ----------
        s : Series
            The response column.
        name : str
            Its name, for the error messages.

        Returns
        -------
        ndarray
            The response as 0.0/1.0.

        Raises
        ------
        ValueError
            If the column is not 0/1, bool or two-valued.
        """
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
        """
        Draw 0/1 responses with probabilities ``mu``.

        Parameters
        ----------
        mu : ndarray
            Means of the response.
        rng : numpy.random.Generator
            The random generator.

        Returns
        -------
        ndarray
            One draw per mean, as floats.
        """
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
    """
    Counts with the log link.

    R equivalent: ``poisson()``.

    Parameters
    ----------
    link : {"log"}, optional
        The link (the only one).

    Notes
    -----
    :math:`\\log f(y \\mid \\eta) = y\\eta - e^\\eta - \\log y!`.
    """

    name = "poisson"
    links = ("log",)
    canonical_links = ("log",)

    def mean(self, eta):
        """
        Inverse link :math:`e^\\eta`.

        Parameters
        ----------
        eta : ndarray
            Linear predictors, one per response.

        Returns
        -------
        ndarray
            The means.
        """
        return np.exp(np.minimum(eta, 700.0))

    def variance(self, mu):
        """
        Variance function :math:`\\mu`.

        Parameters
        ----------
        mu : ndarray
            Means of the response.

        Returns
        -------
        ndarray
            The variances.
        """
        return mu

    def loglik(self, y, eta):
        """
        Poisson log density :math:`y\\eta - e^\\eta - \\log y!` of each ``y``.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`).
        eta : ndarray
            Linear predictors, one per response.

        Returns
        -------
        ndarray
            The log density of each response.
        """
        return self.derivs(y, eta, order=0)[0]

    def derivs(self, y, eta, order=2):
        """
        Poisson log density and its derivatives in ``eta``.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`).
        eta : ndarray
            Linear predictors, one per response.
        order : {0, 2, 3}, default 2
            Highest derivative wanted (0: the log density only).

        Returns
        -------
        tuple of ndarray
            Log density and its first and second derivatives in ``eta`` (the
            third too with ``order=3``; None for derivatives not asked for).
        """
        mu = np.exp(np.minimum(eta, 700.0))
        ll = y * eta - mu - gammaln(y + 1)
        if order == 0:
            return ll, None, None
        if order == 3:
            return ll, y - mu, -mu, -mu
        return ll, y - mu, -mu

    def response(self, s: pd.Series, name: str) -> np.ndarray:
        """
        Check that the response holds non-negative integers.

        Parameters
        ----------
        s : Series
            The response column.
        name : str
            Its name, for the error messages.

        Returns
        -------
        ndarray
            The counts as floats.

        Raises
        ------
        TypeError
            If the column is not numeric.
        ValueError
            If some values are negative, not whole or not finite.
        """
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
        """
        Draw Poisson counts with means ``mu``.

        Parameters
        ----------
        mu : ndarray
            Means of the response.
        rng : numpy.random.Generator
            The random generator.

        Returns
        -------
        ndarray
            One draw per mean, as floats.
        """
        return rng.poisson(mu).astype(float)


_FAMILIES = {"binomial": Binomial, "poisson": Poisson}


def get_family(family: str | Family, link: str | None = None) -> Family:
    """
    Return a family object from its name or itself.

    Parameters
    ----------
    family : str or Family
        ``"binomial"`` or ``"poisson"`` (any case), or a family object.
    link : str, optional
        The link; a family object with another link is copied with this one.

    Returns
    -------
    Family
        The family with its link.

    Raises
    ------
    TypeError
        If ``family`` is neither a name nor a family, or ``link`` not a name.
    ValueError
        For an unknown family or link.

    Examples
    --------
    >>> from pywemix.objective.families import get_family
    >>> get_family("binomial", "probit")
    Binomial(link='probit')
    """
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


def check_link(link: str | None) -> str | None:
    """
    Check a link name.

    Parameters
    ----------
    link : str or None
        A link name, any case.

    Returns
    -------
    str or None
        ``link`` as a lower-case name, or None.

    Raises
    ------
    TypeError
        If ``link`` is not a string.
    ValueError
        If it is empty.
    """
    if link is None:
        return None
    if not isinstance(link, str):
        raise TypeError(f"link must be a name such as 'logit', got {type(link).__name__}")
    if not link.strip():
        raise ValueError("link is empty: give a link name or leave it out for the default")
    return link.strip().lower()
