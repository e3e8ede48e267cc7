"""Response families for the Laplace and quadrature objectives.

A family is one small object: inverse link, log density of the response and
its derivatives in the linear predictor, variance function, a response check
and a simulator. Adding a family means adding one such class (and its
tests). R equivalents: ``binomial(link=...)``, ``poisson()``, glmmTMB's
``nbinom2()`` and ``Gamma()``, ``ordinal::clmm``'s cumulative links.

Families with auxiliary parameters (the negative binomial and gamma
dispersions, the ordinal thresholds) declare them (``aux_names``), map an
unconstrained vector to their values (:meth:`Family.natural`: log
dispersion; first threshold and log increments), give the derivatives of the
log density in them (:meth:`Family.aux_derivs`), and are bound to values by
:meth:`Family.with_aux`. The objectives carry the unconstrained vector in
``phi = (beta, aux, chol)``.

Notes
-----
A binomial response with trials (``cbind(successes, failures)``) is held as
an array with a last axis of two, (successes, trials): wherever a family
receives ``y`` with one more axis than ``eta``, that axis holds them, and
the log density is ``s log mu + (n - s) log(1 - mu) + log C(n, s)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import digamma, expit, gammaln, log_expit, log_ndtr, ndtr, ndtri, polygamma

from ..warnings import DataWarning, warn

__all__ = [
    "Family",
    "Binomial",
    "Poisson",
    "NegativeBinomial",
    "Gamma",
    "Ordinal",
    "get_family",
    "check_link",
    "has_trials",
]

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
    links: tuple[str, ...] = ()
    canonical_links: tuple[str, ...] = ()

    def __init__(self, link=None):
        link = link or self.links[0]
        if link not in self.links:
            raise ValueError(
                f"family {self.name!r} has no link {link!r}; its links are "
                f"{', '.join(map(repr, self.links))}"
            )
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

    # -- what the fits ask of every family (defaults: no auxiliary parameters) --
    #: Whether the fixed part keeps its intercept.
    #:
    #: The ordinal thresholds take its place, as in ``ordinal::clmm``.
    has_intercept = True
    #: Names of the auxiliary parameters (their values are :attr:`aux`).
    aux_names: tuple = ()
    #: What a report calls them.
    aux_title = "Family parameters"

    @property
    def n_aux(self) -> int:
        """Number of auxiliary parameters."""
        return len(self.aux_names)

    @property
    def aux(self) -> np.ndarray:
        """Values of the auxiliary parameters this object is bound to."""
        return np.zeros(0)

    @property
    def observed_curvature(self) -> bool:
        """
        Whether the Laplace curvature is the observed information ``-d2``.

        True for canonical links and for every family with auxiliary
        parameters (as TMB and ``ordinal::clmm`` take it); otherwise the
        curvature is lme4's GLM working weight (:meth:`laplace_weight`).
        """
        return self.canonical or self.n_aux > 0

    def for_response(self, values, name: str):
        """
        Bind the family to a response's categories.

        Parameters
        ----------
        values : Series
            The response column.
        name : str
            Its name, for the error messages.

        Returns
        -------
        family : Family
            The family for this response (the ordinal family bound to the
            response's categories; any other family: itself).
        categories : tuple or None
            The response's categories in their order (None but for the
            ordinal family).
        """
        return self, None

    def for_design(self, design) -> Family:
        """
        Return the family for a design.

        Parameters
        ----------
        design : ModelDesign
            The design built for the fit (:func:`pywemix.design.build_design`).

        Returns
        -------
        Family
            The family for ``design``: the ordinal family takes the design's
            response categories; any other family is returned as is.
        """
        return self

    def with_aux(self, values) -> Family:
        """
        Return the family with its auxiliary parameters at ``values``.

        Parameters
        ----------
        values : array_like
            Values of the auxiliary parameters, in the order of
            :attr:`aux_names` (on their natural scale, see :meth:`natural`).

        Returns
        -------
        Family
            A family object bound to ``values`` (a family without auxiliary
            parameters returns itself).
        """
        return self

    def natural(self, a):
        """
        Map the unconstrained vector of auxiliary parameters to their values.

        Parameters
        ----------
        a : array_like
            The unconstrained vector, length :attr:`n_aux`.

        Returns
        -------
        values : ndarray
            The auxiliary parameters, shape ``(k,)``.
        J : ndarray
            Their Jacobian, ``J[i, j] = d values_i / d a_j``, shape ``(k, k)``.
        D2 : ndarray
            ``D2[i]`` the Hessian of ``values_i`` in ``a``, shape ``(k, k, k)``.
        """
        k = self.n_aux
        return np.zeros(0), np.zeros((k, k)), np.zeros((k, k, k))

    def unconstrained(self, values) -> np.ndarray:
        """
        Map auxiliary-parameter values to the unconstrained vector.

        The inverse of :meth:`natural`.

        Parameters
        ----------
        values : array_like
            Values of the auxiliary parameters, in the order of :attr:`aux_names`.

        Returns
        -------
        ndarray
            The unconstrained vector, length :attr:`n_aux`.

        Raises
        ------
        ValueError
            If the values are out of range (a dispersion not positive,
            thresholds not increasing) or not :attr:`n_aux` of them.
        """
        return np.zeros(0)

    def aux_derivs(self, y, eta):
        """
        Differentiate the log density in the auxiliary parameters.

        The derivatives are in the parameters' values, not in the
        unconstrained vector (:meth:`natural` gives the chain rule).

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`).
        eta : ndarray
            Linear predictors, one per response.

        Returns
        -------
        l_a : ndarray
            The log density differentiated in the parameters, shape ``(..., k)``.
        d1_a : ndarray
            Its first derivative in ``eta`` differentiated in the
            parameters, shape ``(..., k)``.
        d2_a : ndarray
            Its second derivative in ``eta`` differentiated in the
            parameters, shape ``(..., k)``.
        l_aa : ndarray
            The parameters' Hessian of the log density, shape ``(..., k, k)``.

        Raises
        ------
        NotImplementedError
            For a family without auxiliary parameters.
        """
        raise NotImplementedError

    def aux_start(self, y, mu, w) -> np.ndarray:
        """
        Start the auxiliary parameters from a fit without them.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`).
        mu : ndarray
            Fitted means of a model without the auxiliary parameters.
        w : ndarray
            Row weights.

        Returns
        -------
        ndarray
            Starting values of the auxiliary parameters, length :attr:`n_aux`.
        """
        return np.zeros(0)

    def eta_start(self, y, w) -> float:
        """
        Start the linear predictor of the fixed part.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`).
        w : ndarray
            Row weights.

        Returns
        -------
        float
            A starting linear predictor: the link of the weighted mean
            response (0 in the base class).
        """
        return 0.0

    def observed(self, y) -> np.ndarray:
        """
        Put the response on the scale of :meth:`mean`.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`).

        Returns
        -------
        ndarray
            The responses on the scale of the means, one per row (a
            proportion for a binomial response with trials).
        """
        return y

    def response_weight(self, y) -> np.ndarray:
        """
        Give the prior weight of each response in its variance.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`).

        Returns
        -------
        ndarray
            One weight per row: the trials for a binomial response with
            trials, else 1 (R's ``weights(fit, "prior")``).
        """
        return np.ones(np.shape(y)[0])

    def sample(self, eta, rng, y=None) -> np.ndarray:
        """
        Draw responses at linear predictors ``eta``.

        R equivalent: ``simulate.merMod``.

        Parameters
        ----------
        eta : ndarray
            Linear predictors, shape (rows, draws).
        rng : numpy.random.Generator
            The random generator.
        y : ndarray, optional
            The observed responses (coded by :meth:`response`); used for
            their trials, for a binomial response with trials.

        Returns
        -------
        ndarray
            One draw per linear predictor, coded as :meth:`response` codes
            the responses.
        """
        return self.simulate(self.mean(eta), rng)

    def labels(self, y):
        """
        Return responses as the data give them.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`).

        Returns
        -------
        ndarray
            The responses as the data give them (the ordinal categories'
            labels; other families: ``y`` itself).
        """
        return y


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
    np.exp(e, out=e)  # e = exp(-|eta|)
    ll = np.log1p(e)
    np.negative(ll, out=ll)
    se = np.multiply(2.0 * np.asarray(y, dtype=float) - 1.0, eta)
    np.minimum(se, 0.0, out=se)
    ll += se
    if order == 0:
        return ll, None, None
    r = np.add(1.0, e, out=se)
    np.divide(1.0, r, out=r)  # r = 1 / (1 + e)
    np.multiply(e, r, out=e)
    mu = np.where(eta >= 0, r, e)
    v = np.multiply(e, r, out=e)  # mu (1 - mu) without cancellation
    d1 = np.subtract(y, mu, out=r)
    if order == 3:
        d3 = np.multiply(mu, 2.0, out=mu)
        np.subtract(d3, 1.0, out=d3)
        np.multiply(d3, v, out=d3)  # -v (1 - 2 mu)
        return ll, d1, np.negative(v, out=v), d3
    return ll, d1, np.negative(v, out=v)


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
            Responses (coded by :meth:`response`): 0/1, or (successes,
            trials) per row for a binomial response with trials.
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
        if has_trials(y, eta):
            return self._trials_derivs(y, eta, order)
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

    def _trials_derivs(self, y, eta, order):
        """Log density of (successes, trials) and its eta-derivatives: the 0/1
        ones weighted by the successes and failures, plus ``log C(n, s)``."""
        y = np.asarray(y, dtype=float)
        s, n = y[..., 0], y[..., 1]
        f = n - s
        one = self.derivs(np.ones(np.shape(eta)), eta, order)
        zero = self.derivs(np.zeros(np.shape(eta)), eta, order)
        out = [
            np.where(s > 0, s * a, 0.0) + np.where(f > 0, f * b, 0.0) if a is not None else None
            for a, b in zip(one, zero)
        ]
        out[0] = out[0] + gammaln(n + 1) - gammaln(s + 1) - gammaln(f + 1)
        return tuple(out)

    def laplace_weight(self, y, eta):
        """
        GLM working weight and its derivative in ``eta`` (see :meth:`Family.laplace_weight`).

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`): 0/1, or (successes,
            trials) per row for a binomial response with trials.
        eta : ndarray
            Linear predictors, one per response.

        Returns
        -------
        tuple of ndarray
            ``(W, dW/deta)``, one value per response.
        """
        if has_trials(y, eta):
            n = np.asarray(y, dtype=float)[..., 1]
            W, dW = self.laplace_weight(np.ones(np.shape(eta)), eta)
            return n * W, n * dW
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
        s : Series or DataFrame
            The response column, or the (successes, failures) columns of
            ``cbind(successes, failures)``.
        name : str
            Its name, for the error messages.

        Returns
        -------
        ndarray
            The response as 0.0/1.0, or (successes, trials) per row (n, 2).

        Raises
        ------
        ValueError
            If the column is not 0/1, bool or two-valued.
        """
        if isinstance(s, pd.DataFrame):
            return _trials_response(s, name)
        if pd.api.types.is_bool_dtype(s.dtype):
            return s.to_numpy(dtype=float)
        if isinstance(s.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(s.dtype):
            cats = (
                list(s.cat.categories)
                if isinstance(s.dtype, pd.CategoricalDtype)
                else sorted(pd.unique(s.dropna()).tolist(), key=str)
            )
            if len(cats) != 2:
                raise ValueError(
                    f"binomial response {name!r} must have two levels (the second is "
                    f"coded 1, as in R); found {len(cats)}: {cats[:6]}"
                )
            if not isinstance(s.dtype, pd.CategoricalDtype):
                warn(
                    f"binomial response {name!r} is text: {cats[1]!r} is coded 1 and "
                    f"{cats[0]!r} 0 (the second value in sorted order, as R's factor()); "
                    "to choose, give a 0/1 column or a Categorical whose second "
                    "category is the one coded 1",
                    DataWarning,
                )
            return (s == cats[1]).to_numpy(dtype=float)
        y = s.to_numpy(dtype=float)
        bad = ~np.isin(y, (0.0, 1.0))
        if bad.any():
            vals = sorted(pd.unique(y[bad]).tolist())[:6]
            raise ValueError(
                f"binomial response {name!r} must be 0/1, bool or a two-level "
                f"categorical; found {int(bad.sum())} other values, e.g. {vals}"
            )
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

    def observed(self, y):
        """
        Put the response on the scale of :meth:`mean`.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`): 0/1, or (successes,
            trials) per row for a binomial response with trials.

        Returns
        -------
        ndarray
            The 0/1 responses, or the proportions of successes.
        """
        y = np.asarray(y, dtype=float)
        if y.ndim == 2:
            with np.errstate(invalid="ignore", divide="ignore"):
                return y[:, 0] / y[:, 1]
        return y

    def response_weight(self, y):
        """
        Give the prior weight of each response: its trials.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`): 0/1, or (successes,
            trials) per row for a binomial response with trials.

        Returns
        -------
        ndarray
            The trials of each row, or 1 for a 0/1 response (R's
            ``weights(fit, "prior")`` of a ``cbind`` response).
        """
        y = np.asarray(y, dtype=float)
        return y[:, 1] if y.ndim == 2 else np.ones(len(y))

    def sample(self, eta, rng, y=None):
        """
        Draw 0/1 responses, or successes out of each row's trials.

        R equivalent: ``simulate.merMod``.

        Parameters
        ----------
        eta : ndarray
            Linear predictors, shape (rows, draws).
        rng : numpy.random.Generator
            The random generator.
        y : ndarray, optional
            The observed responses; when they hold (successes, trials) per
            row, the draws are binomial counts out of those trials.

        Returns
        -------
        ndarray
            One draw per linear predictor, as floats.
        """
        mu = self.mean(eta)
        if y is not None and np.ndim(y) == 2:
            trials = np.asarray(y, dtype=float)[:, 1].astype(np.int64)
            return rng.binomial(trials.reshape((-1,) + (1,) * (mu.ndim - 1)), mu).astype(float)
        return self.simulate(mu, rng)


def has_trials(y, eta) -> bool:
    """
    Tell whether ``y`` holds (successes, trials) on a last axis.

    Parameters
    ----------
    y : array_like
        Responses.
    eta : array_like
        Linear predictors, one per response.

    Returns
    -------
    bool
        Whether ``y`` has one more axis than ``eta`` (a binomial response
        with trials).
    """
    return np.ndim(y) == np.ndim(eta) + 1


def _trials_response(frame: pd.DataFrame, name: str) -> np.ndarray:
    """(successes, trials) from the columns (successes, failures) of ``cbind``."""
    values = []
    for col in frame.columns:
        c = frame[col]
        if not pd.api.types.is_numeric_dtype(c.dtype) or pd.api.types.is_bool_dtype(c.dtype):
            raise TypeError(
                f"binomial response {name!r}: {col!r} must be numeric counts, got dtype {c.dtype}"
            )
        v = c.to_numpy(dtype=float)
        r = np.round(v)
        bad = ~np.isfinite(v) | (v < 0) | (np.abs(v - r) > 1e-8 * np.maximum(1.0, np.abs(v)))
        if bad.any():
            raise ValueError(
                f"binomial response {name!r}: {col!r} must hold non-negative "
                f"whole numbers (successes and failures); {int(bad.sum())} "
                f"values are not, e.g. {pd.unique(v[bad]).tolist()[:5]}"
            )
        values.append(r)
    s, f = values
    if not np.any(s + f > 0):
        raise ValueError(f"binomial response {name!r} has no trials in any row")
    return np.column_stack([s, s + f])


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
        out = t * (m - t * e) / m**2 + t * t * e * (t * (m + 2) - 2 * m) / m**3
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

    def __init__(self, link=None):
        super().__init__(link)
        self._log_factorials = {}

    def __getstate__(self):
        return dict(self.__dict__, _log_factorials={})  # a cache, not state

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
            raise TypeError(
                f"poisson response {name!r} must be numeric counts, got dtype {s.dtype}"
            )
        y = s.to_numpy(dtype=float)
        bad = (y < 0) | (y != np.round(y)) | ~np.isfinite(y)
        if bad.any():
            vals = pd.unique(y[bad]).tolist()[:5]
            raise ValueError(
                f"poisson response {name!r} must hold non-negative integers; "
                f"{int(bad.sum())} values are not, e.g. {vals}"
            )
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


def _counts(s: pd.Series, family: str, name: str) -> np.ndarray:
    """Non-negative whole numbers of a count response (a clear error otherwise)."""
    if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        raise TypeError(f"{family} response {name!r} must be numeric counts, got dtype {s.dtype}")
    y = s.to_numpy(dtype=float)
    bad = (y < 0) | (y != np.round(y)) | ~np.isfinite(y)
    if bad.any():
        vals = pd.unique(y[bad]).tolist()[:5]
        raise ValueError(
            f"{family} response {name!r} must hold non-negative integers; "
            f"{int(bad.sum())} values are not, e.g. {vals}"
        )
    return y


def _weighted_mean(y, w) -> float:
    return float(np.sum(w * y) / np.sum(w))


class _Dispersion(Family):
    """A family with one positive dispersion parameter, unconstrained as its log."""

    aux_names = ("dispersion",)
    #: Dispersion of an unbound family object (replaced by the estimate).
    default = 1.0

    def __init__(self, link=None, dispersion=None):
        super().__init__(link)
        self.dispersion = float(self.default if dispersion is None else dispersion)

    def __repr__(self):
        return f"{type(self).__name__}(link={self.link!r}, dispersion={self.dispersion:.6g})"

    @property
    def aux(self):
        """The dispersion this object is bound to, as a length-1 array."""
        return np.array([self.dispersion])

    def with_aux(self, values):
        """
        Return the family with its dispersion at ``values``.

        Parameters
        ----------
        values : array_like
            The dispersion, one number.

        Returns
        -------
        Family
            A family object of the same type and link with that dispersion.
        """
        return type(self)(self.link, float(np.asarray(values, dtype=float).reshape(-1)[0]))

    def natural(self, a):
        """
        Map the log dispersion to the dispersion.

        Parameters
        ----------
        a : array_like
            The unconstrained vector: the log dispersion, one number.

        Returns
        -------
        values : ndarray
            The dispersion :math:`e^a`, shape ``(1,)``.
        J : ndarray
            Its derivative :math:`e^a`, shape ``(1, 1)``.
        D2 : ndarray
            Its second derivative :math:`e^a`, shape ``(1, 1, 1)``.
        """
        v = np.exp(np.asarray(a, dtype=float).reshape(1))
        return v, v.reshape(1, 1), v.reshape(1, 1, 1)

    def unconstrained(self, values):
        """
        Map the dispersion to its log.

        Parameters
        ----------
        values : array_like
            The dispersion, one positive number.

        Returns
        -------
        ndarray
            The log dispersion, shape ``(1,)``.

        Raises
        ------
        ValueError
            If ``values`` is not one positive finite number.
        """
        v = np.asarray(values, dtype=float).reshape(-1)
        if v.shape != (1,) or not (np.isfinite(v[0]) and v[0] > 0):
            raise ValueError(
                f"the {self.name} dispersion must be one positive number, got {values!r}"
            )
        return np.log(v)


class NegativeBinomial(_Dispersion):
    """
    Overdispersed counts, NB2 with a log link (glmmTMB's ``nbinom2``).

    ``Var(y) = mu + mu^2 / theta``; the ``dispersion`` parameter is
    ``theta`` (glmmTMB's ``sigma()`` for ``nbinom2``, MASS's ``theta``):
    small values mean much overdispersion, large ones approach the Poisson.
    R equivalent: ``glmmTMB(..., family = nbinom2)``, ``MASS::glmer.nb``.

    Parameters
    ----------
    link : {"log"}, optional
        The link (the only one).
    dispersion : float, optional
        ``theta``, the value the family is bound to (default 1; a fit
        replaces it by its estimate).

    Notes
    -----
    With ``s = eta - log theta`` and ``r = expit(s) = mu / (mu + theta)``,

    .. math::

        \\ell = \\log\\Gamma(y + \\theta) - \\log\\Gamma(\\theta) - \\log y!
                + y s - (y + \\theta) \\log(1 + e^s),

    ``d1 = y - (y + theta) r``, ``d2 = -(y + theta) r (1 - r)``,
    ``d3 = d2 (1 - 2 r)``; in ``theta``: ``l_theta = psi(y + theta) -
    psi(theta) - log(1 + e^s) - d1 / theta``, ``d1_theta = -r - d2 / theta``,
    ``d2_theta = -r (1 - r) - d3 / theta`` and ``l_theta,theta = psi'(y +
    theta) - psi'(theta) + 2 r / theta + (d1 + d2) / theta^2``
    (Hilbe 2011, *Negative Binomial Regression*, ch. 8).
    """

    name = "negative_binomial"
    links = ("log",)
    aux_title = "Dispersion (theta of Var(y) = mu + mu^2 / theta; glmmTMB's nbinom2 sigma)"

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
        Variance function :math:`\\mu + \\mu^2 / \\theta`.

        Parameters
        ----------
        mu : ndarray
            Means of the response.

        Returns
        -------
        ndarray
            The variances.
        """
        return mu + mu * mu / self.dispersion

    def loglik(self, y, eta):
        """
        NB2 log density of each ``y`` given ``eta``.

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

        Notes
        -----
        See the class docstring for the formula.
        """
        return self.derivs(y, eta, order=0)[0]

    def _pieces(self, y, eta):
        th = self.dispersion
        s = np.asarray(eta, dtype=float) - np.log(th)
        return th, s, expit(s), np.logaddexp(0.0, s)

    def derivs(self, y, eta, order=2):
        """
        NB2 log density and its derivatives in ``eta``.

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

        Notes
        -----
        With :math:`s = \\eta - \\log\\theta` and :math:`r = 1 / (1 + e^{-s})
        = \\mu / (\\mu + \\theta)`,

        .. math::

            \\ell = \\log\\Gamma(y + \\theta) - \\log\\Gamma(\\theta) - \\log y!
                    + y s - (y + \\theta) \\log(1 + e^s),\\quad
            \\ell' = y - (y + \\theta) r,\\quad
            \\ell'' = -(y + \\theta) r (1 - r),\\quad
            \\ell^{(3)} = \\ell'' (1 - 2r).
        """
        th, s, r, sp = self._pieces(y, eta)
        ll = gammaln(y + th) - gammaln(th) - gammaln(y + 1) + y * s - (y + th) * sp
        if order == 0:
            return ll, None, None
        d1 = y - (y + th) * r
        d2 = -(y + th) * r * expit(-s)
        if order == 3:
            return ll, d1, d2, d2 * (1 - 2 * r)
        return ll, d1, d2

    def aux_derivs(self, y, eta):
        """
        Differentiate the NB2 log density in the dispersion ``theta``.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`).
        eta : ndarray
            Linear predictors, one per response.

        Returns
        -------
        l_a : ndarray
            The log density differentiated in the dispersion, shape ``(..., 1)``.
        d1_a : ndarray
            Its first derivative in ``eta`` differentiated in the dispersion,
            shape ``(..., 1)``.
        d2_a : ndarray
            Its second derivative in ``eta`` differentiated in the dispersion,
            shape ``(..., 1)``.
        l_aa : ndarray
            The second derivative of the log density in the dispersion, shape
            ``(..., 1, 1)``.

        Notes
        -----
        With :math:`s`, :math:`r` and :math:`\\ell', \\ell'', \\ell^{(3)}` as in
        :meth:`derivs` and :math:`\\psi` the digamma function,

        .. math::

            \\ell_\\theta = \\psi(y + \\theta) - \\psi(\\theta) - \\log(1 + e^s)
                - \\ell' / \\theta,\\quad
            \\ell'_\\theta = -r - \\ell'' / \\theta,\\quad
            \\ell''_\\theta = -r (1 - r) - \\ell^{(3)} / \\theta,

            \\ell_{\\theta\\theta} = \\psi'(y + \\theta) - \\psi'(\\theta)
                + 2 r / \\theta + (\\ell' + \\ell'') / \\theta^2.
        """
        th, s, r, sp = self._pieces(y, eta)
        _, d1, d2, d3 = self.derivs(y, eta, order=3)
        la = digamma(y + th) - digamma(th) - sp - d1 / th
        l1a = -r - d2 / th
        l2a = -r * expit(-s) - d3 / th
        laa = polygamma(1, y + th) - polygamma(1, th) + 2 * r / th + (d1 + d2) / th**2
        return la[..., None], l1a[..., None], l2a[..., None], laa[..., None, None]

    def aux_start(self, y, mu, w):
        """
        Start ``theta`` by the method of moments from a Poisson-type fit.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`).
        mu : ndarray
            Fitted means of a model without the dispersion.
        w : ndarray
            Row weights.

        Returns
        -------
        ndarray
            ``theta = mean(mu^2) / mean((y - mu)^2 - mu)`` (weighted), clipped
            to [0.05, 100]; 100 without overdispersion. Shape ``(1,)``.
        """
        excess = _weighted_mean((y - mu) ** 2 - mu, w)
        theta = _weighted_mean(mu * mu, w) / excess if excess > 0 else 100.0
        return np.array([float(np.clip(theta, 0.05, 100.0))])

    def eta_start(self, y, w):
        """
        Start the linear predictor at the log of the weighted mean count.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`).
        w : ndarray
            Row weights.

        Returns
        -------
        float
            ``log(max(mean(y), 0.001))``.
        """
        return float(np.log(max(_weighted_mean(y, w), 1e-3)))

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
        return _counts(s, "negative_binomial", name)

    def simulate(self, mu, rng):
        """
        Draw NB2 counts with means ``mu`` and the bound ``theta``.

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
        th = self.dispersion
        return rng.negative_binomial(th, th / (th + mu)).astype(float)


class Gamma(_Dispersion):
    """
    Positive continuous responses with a log or inverse link.

    The dispersion is estimated (glmmTMB's ``Gamma``; R's ``Gamma()``).
    ``Var(y) = phi mu^2``; the ``dispersion`` parameter is ``phi``, one
    over the shape (glmmTMB's ``sigma()^2``, R's ``summary(glm)$dispersion``
    for its moment estimate, statsmodels' ``scale``).

    Parameters
    ----------
    link : {"log", "inverse"}, optional
        The link (default log; the inverse link is the canonical one).
    dispersion : float, optional
        ``phi``, the value the family is bound to (default 1; a fit
        replaces it by its estimate).

    Notes
    -----
    With shape ``nu = 1 / phi``,
    ``l = nu log nu - nu log mu + (nu - 1) log y - nu y / mu - log Gamma(nu)``.
    Log link (``z = y e^{-eta}``): ``d1 = nu (z - 1)``, ``d2 = -nu z``,
    ``d3 = nu z``; inverse link (``mu = 1 / eta``, defined for ``eta > 0``):
    ``d1 = nu (1 / eta - y)``, ``d2 = -nu / eta^2``, ``d3 = 2 nu / eta^3``.
    In ``nu``: ``l_nu = log nu + 1 - log mu + log y - y / mu - psi(nu)`` and
    ``l_nu,nu = 1 / nu - psi'(nu)``; in ``phi`` by the chain rule with
    ``d nu / d phi = -nu^2``, ``d^2 nu / d phi^2 = 2 nu^3``.
    """

    name = "gamma"
    links = ("log", "inverse")
    aux_title = "Dispersion (phi of Var(y) = phi mu^2, one over the shape)"
    canonical_links = ("inverse",)

    def mean(self, eta):
        """
        Inverse link :math:`e^\\eta` (log) or :math:`1 / \\eta` (inverse).

        Parameters
        ----------
        eta : ndarray
            Linear predictors, one per response.

        Returns
        -------
        ndarray
            The means (NaN where the inverse link has ``eta <= 0``).
        """
        eta = np.asarray(eta, dtype=float)
        if self.link == "log":
            return np.exp(np.minimum(eta, 700.0))
        with np.errstate(divide="ignore"):
            return np.where(eta > 0, 1.0 / eta, np.nan)

    def variance(self, mu):
        """
        Variance function :math:`\\phi \\mu^2`.

        Parameters
        ----------
        mu : ndarray
            Means of the response.

        Returns
        -------
        ndarray
            The variances.
        """
        return self.dispersion * mu * mu

    def loglik(self, y, eta):
        """
        Gamma log density of each ``y`` given ``eta``.

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

        Notes
        -----
        See :meth:`derivs` for the formula.
        """
        return self.derivs(y, eta, order=0)[0]

    def _in_nu(self, y, eta):
        """(log mu, y / mu, and d1, d2, d3 per unit of shape) at ``eta``."""
        eta = np.asarray(eta, dtype=float)
        if self.link == "log":
            z = y * np.exp(-np.maximum(eta, -700.0))
            return eta, z, z - 1, -z, z
        with np.errstate(divide="ignore", invalid="ignore"):
            ok = eta > 0
            e = np.where(ok, eta, np.nan)
            return -np.log(e), y * e, 1 / e - y, -1 / e**2, 2 / e**3

    def derivs(self, y, eta, order=2):
        """
        Gamma log density and its derivatives in ``eta``.

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

        Notes
        -----
        With shape :math:`\\nu = 1 / \\phi`,

        .. math::

            \\ell = \\nu\\log\\nu - \\nu\\log\\mu + (\\nu - 1)\\log y
                - \\nu y / \\mu - \\log\\Gamma(\\nu).

        Log link, with :math:`z = y e^{-\\eta}`: :math:`\\ell' = \\nu (z - 1)`,
        :math:`\\ell'' = -\\nu z`, :math:`\\ell^{(3)} = \\nu z`. Inverse link
        (:math:`\\mu = 1/\\eta`, defined for :math:`\\eta > 0`):
        :math:`\\ell' = \\nu (1/\\eta - y)`, :math:`\\ell'' = -\\nu / \\eta^2`,
        :math:`\\ell^{(3)} = 2\\nu / \\eta^3`.
        """
        nu = 1.0 / self.dispersion
        logmu, z, u1, u2, u3 = self._in_nu(y, eta)
        ll = nu * np.log(nu) - nu * logmu + (nu - 1) * np.log(y) - nu * z - gammaln(nu)
        if order == 0:
            return ll, None, None
        if order == 3:
            return ll, nu * u1, nu * u2, nu * u3
        return ll, nu * u1, nu * u2

    def aux_derivs(self, y, eta):
        """
        Differentiate the gamma log density in the dispersion ``phi``.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`).
        eta : ndarray
            Linear predictors, one per response.

        Returns
        -------
        l_a : ndarray
            The log density differentiated in the dispersion, shape ``(..., 1)``.
        d1_a : ndarray
            Its first derivative in ``eta`` differentiated in the dispersion,
            shape ``(..., 1)``.
        d2_a : ndarray
            Its second derivative in ``eta`` differentiated in the dispersion,
            shape ``(..., 1)``.
        l_aa : ndarray
            The second derivative of the log density in the dispersion, shape
            ``(..., 1, 1)``.

        Notes
        -----
        In the shape :math:`\\nu = 1/\\phi`, with :math:`\\psi` the digamma
        function,

        .. math::

            \\ell_\\nu = \\log\\nu + 1 - \\log\\mu + \\log y - y/\\mu - \\psi(\\nu),
            \\quad \\ell_{\\nu\\nu} = 1/\\nu - \\psi'(\\nu),

        and in :math:`\\phi` by the chain rule with
        :math:`d\\nu/d\\phi = -\\nu^2`, :math:`d^2\\nu/d\\phi^2 = 2\\nu^3`:
        :math:`\\ell_\\phi = -\\nu^2 \\ell_\\nu`,
        :math:`\\ell_{\\phi\\phi} = \\nu^4 \\ell_{\\nu\\nu} + 2\\nu^3 \\ell_\\nu`; the
        eta-derivatives are linear in :math:`\\nu`, so
        :math:`\\ell'_\\phi = -\\nu \\ell'` and :math:`\\ell''_\\phi = -\\nu \\ell''`.
        """
        nu = 1.0 / self.dispersion
        logmu, z, u1, u2, _ = self._in_nu(y, eta)
        l_nu = np.log(nu) + 1 - logmu + np.log(y) - z - digamma(nu)
        l_nunu = 1 / nu - polygamma(1, nu)
        n2 = -nu * nu
        la, l1a, l2a = n2 * l_nu, n2 * u1, n2 * u2
        laa = nu**4 * l_nunu + 2 * nu**3 * l_nu
        return la[..., None], l1a[..., None], l2a[..., None], laa[..., None, None]

    def aux_start(self, y, mu, w):
        """
        Start ``phi`` by the method of moments.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`).
        mu : ndarray
            Fitted means of a model without the dispersion.
        w : ndarray
            Row weights.

        Returns
        -------
        ndarray
            ``phi = mean(((y - mu) / mu)^2)`` (weighted), clipped to
            [0.001, 100]. Shape ``(1,)``.
        """
        phi = _weighted_mean(((y - mu) / mu) ** 2, w)
        return np.array([float(np.clip(phi, 1e-3, 100.0))])

    def eta_start(self, y, w):
        """
        Start the linear predictor at the link of the weighted mean response.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`).
        w : ndarray
            Row weights.

        Returns
        -------
        float
            ``log(mean(y))`` (log link) or ``1 / mean(y)`` (inverse link).
        """
        m = _weighted_mean(y, w)
        return float(np.log(m)) if self.link == "log" else 1.0 / m

    def response(self, s: pd.Series, name: str) -> np.ndarray:
        """
        Check that the response holds positive numbers.

        Parameters
        ----------
        s : Series
            The response column.
        name : str
            Its name, for the error messages.

        Returns
        -------
        ndarray
            The response as floats.

        Raises
        ------
        TypeError
            If the column is not numeric.
        ValueError
            If some values are not positive or not finite.
        """
        if not pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            raise TypeError(f"gamma response {name!r} must be numeric, got dtype {s.dtype}")
        y = s.to_numpy(dtype=float)
        bad = ~(np.isfinite(y) & (y > 0))
        if bad.any():
            raise ValueError(
                f"gamma response {name!r} must be positive; {int(bad.sum())} "
                f"values are not, e.g. {pd.unique(y[bad]).tolist()[:5]}"
            )
        return y

    def simulate(self, mu, rng):
        """
        Draw gamma responses with means ``mu`` and the bound ``phi``.

        Parameters
        ----------
        mu : ndarray
            Means of the response.
        rng : numpy.random.Generator
            The random generator.

        Returns
        -------
        ndarray
            One draw per mean (shape ``1 / phi``, scale ``mu phi``).
        """
        nu = 1.0 / self.dispersion
        return rng.gamma(nu, mu / nu)


def _logistic_parts(x):
    """(log F(x), log F(-x), log f(x), f'/f, f''/f) of the logistic distribution."""
    lF, lS = log_expit(x), log_expit(-x)
    F = np.exp(lF)
    return lF, lS, lF + lS, 1 - 2 * F, 1 - 6 * F * np.exp(lS)


def _normal_parts(x):
    """(log F(x), log F(-x), log f(x), f'/f, f''/f) of the standard normal."""
    xs = np.where(np.isfinite(x), x, 0.0)
    return log_ndtr(x), log_ndtr(-x), -0.5 * x * x - _LOG_SQRT_2PI, -xs, xs * xs - 1


def _log_diff(lb, la):
    """``log(e^lb - e^la)`` for ``la <= lb`` (``log(1 - e^(la - lb)) + lb``)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return lb + np.log(-np.expm1(la - lb))


class Ordinal(Family):
    """
    Ordered categories with a cumulative link (``ordinal::clmm``).

    ``P(Y <= j | eta) = F(theta_j - eta)``, ``j = 1, ..., K - 1``, with
    ``F`` the logistic (``link="logit"``) or normal (``"probit"``)
    distribution function and thresholds ``theta_1 < ... < theta_{K-1}``.
    The fixed part has no intercept (the thresholds take its place, as in
    clmm); the thresholds are named ``"1|2"``, ``"2|3"``, ... after the
    categories, as clmm names them, and are unconstrained as the first
    threshold and the logs of the increments. The response is an ordered
    (or any) categorical, in the order of its categories, or whole numbers,
    in increasing order; it is coded 0, ..., K - 1. R equivalent:
    ``ordinal::clmm(..., link = "logit")``.

    Parameters
    ----------
    link : {"logit", "probit"}, optional
        The cumulative link (default logit).
    categories : sequence, optional
        The response's categories in their order (None: not yet bound to a
        response; :meth:`for_response` binds it).
    thresholds : array_like, optional
        The ``K - 1`` increasing thresholds the family is bound to (default:
        evenly spaced in [-1, 1]; a fit replaces them by its estimates).

    Notes
    -----
    For a row in category ``k``, ``a = theta_k - eta`` and
    ``b = theta_{k+1} - eta`` (``theta_0 = -inf``, ``theta_K = inf``),
    ``p = F(b) - F(a)``, ``q_a = f(a) / p``, ``q_b = f(b) / p`` and
    ``r_i = f^(i) / f``:

    .. math::

        \\ell = \\log p,\\quad d_1 = q_a - q_b,\\quad
        d_2 = P_2 - d_1^2,\\quad d_3 = P_3 - 3 d_1 P_2 + 2 d_1^3,

    ``P_2 = q_b r_1(b) - q_a r_1(a)``, ``P_3 = q_a r_2(a) - q_b r_2(b)``; in the
    thresholds, ``l_b = q_b``, ``l_a = -q_a``,
    ``d1_b = -q_b (r_1(b) + d_1)``, ``d1_a = q_a (r_1(a) + d_1)``,
    ``d2_x = dP_2/dx - 2 d_1 d1_x`` with ``dP_2/db = q_b (r_2(b) - P_2)`` and
    ``dP_2/da = q_a (P_2 - r_2(a))``, ``l_bb = q_b r_1(b) - q_b^2``,
    ``l_aa = -q_a r_1(a) - q_a^2``, ``l_ab = q_a q_b`` (Christensen 2019,
    *Cumulative link models for ordinal regression with the R package
    ordinal*, sect. 2 and appendix). ``p`` is computed in the tail that
    avoids cancellation.
    """

    name = "ordinal"
    links = ("logit", "probit")
    aux_title = "Threshold coefficients"
    has_intercept = False

    def __init__(self, link=None, categories=None, thresholds=None):
        super().__init__(link)
        self.categories = None if categories is None else tuple(categories)
        k = 0 if self.categories is None else len(self.categories) - 1
        if thresholds is None:
            thresholds = np.linspace(-1.0, 1.0, k) if k > 1 else np.zeros(k)
        self.thresholds = np.asarray(thresholds, dtype=float).reshape(-1)
        self._parts_of = _logistic_parts if self.link == "logit" else _normal_parts

    def __repr__(self):
        return (
            f"Ordinal(link={self.link!r}"
            + ("" if self.categories is None else f", categories={list(self.categories)}")
            + ")"
        )

    @property
    def aux_names(self):  # type: ignore[override]  # from the categories
        """The thresholds' names, ``"1|2"``, ``"2|3"``, ... (as clmm names them)."""
        c = self.categories or ()
        return tuple(f"{a}|{b}" for a, b in zip(c[:-1], c[1:]))

    @property
    def aux(self):
        """The thresholds this object is bound to (a copy)."""
        return self.thresholds.copy()

    def for_response(self, values, name):
        """
        Bind the family to a response's categories.

        Parameters
        ----------
        values : Series
            The response column.
        name : str
            Its name, for the error messages.

        Returns
        -------
        family : Ordinal
            The ordinal family with the response's categories.
        categories : tuple
            The categories in their order (see :meth:`categories_of`).

        Raises
        ------
        TypeError
            If the response is text that is not a categorical.
        ValueError
            If it has fewer than two categories, or numbers that are not whole.
        """
        levels = self.categories_of(values, name)
        return Ordinal(self.link, levels), levels

    def for_design(self, design):
        """
        Return the family with the design's response categories.

        Parameters
        ----------
        design : ModelDesign
            The design built for the fit (:func:`pywemix.design.build_design`).

        Returns
        -------
        Ordinal
            This family if its categories are the design's (or the design has
            none), else an ordinal family with the design's categories.
        """
        levels = getattr(design, "response_levels", None)
        if levels is None or tuple(levels) == self.categories:
            return self
        return Ordinal(self.link, levels)

    def with_aux(self, values):
        """
        Return the family with its thresholds at ``values``.

        Parameters
        ----------
        values : array_like
            The ``K - 1`` thresholds.

        Returns
        -------
        Ordinal
            An ordinal family with the same link and categories.
        """
        return Ordinal(self.link, self.categories, values)

    def natural(self, a):
        """
        Map the first threshold and log increments to the thresholds.

        Parameters
        ----------
        a : array_like
            The unconstrained vector: the first threshold and the logs of the
            increments, length ``K - 1``.

        Returns
        -------
        values : ndarray
            The thresholds, shape ``(k,)``.
        J : ndarray
            Their Jacobian, ``J[i, j] = d values_i / d a_j``, shape ``(k, k)``.
        D2 : ndarray
            ``D2[i]`` the Hessian of ``values_i`` in ``a``, shape ``(k, k, k)``.

        Notes
        -----
        :math:`\\theta_1 = a_1` and :math:`\\theta_i = a_1 + \\sum_{j=2}^{i}
        e^{a_j}`: :math:`\\partial\\theta_i / \\partial a_1 = 1`,
        :math:`\\partial\\theta_i / \\partial a_j = e^{a_j}` and
        :math:`\\partial^2\\theta_i / \\partial a_j^2 = e^{a_j}` for
        :math:`2 \\le j \\le i`, every other entry 0.
        """
        a = np.asarray(a, dtype=float)
        k = len(a)
        inc = np.exp(a[1:])
        values = a[0] + np.r_[0.0, np.cumsum(inc)]
        J = np.zeros((k, k))
        J[:, 0] = 1.0
        D2 = np.zeros((k, k, k))
        for i in range(1, k):
            J[i, 1 : i + 1] = inc[:i]
            D2[i, np.arange(1, i + 1), np.arange(1, i + 1)] = inc[:i]
        return values, J, D2

    def unconstrained(self, values):
        """
        Map thresholds to the first threshold and the logs of the increments.

        Parameters
        ----------
        values : array_like
            The ``K - 1`` thresholds.

        Returns
        -------
        ndarray
            The unconstrained vector (the inverse of :meth:`natural`).

        Raises
        ------
        ValueError
            If there are not ``K - 1`` finite, strictly increasing thresholds.
        """
        v = np.asarray(values, dtype=float).reshape(-1)
        if len(v) != self.n_aux or not np.all(np.isfinite(v)) or np.any(np.diff(v) <= 0):
            raise ValueError(
                f"the ordinal thresholds must be {self.n_aux} increasing numbers "
                f"({', '.join(self.aux_names)}), got {list(v)}"
            )
        return np.r_[v[:1], np.log(np.diff(v))]

    def _parts(self, y, eta):
        """Per row: category codes, (q_a, q_b), the f'/f and f''/f at a and b, log p."""
        eta = np.asarray(eta, dtype=float)
        k = np.asarray(y).astype(np.int64)
        ext = np.r_[-np.inf, self.thresholds, np.inf]
        a, b = ext[k] - eta, ext[k + 1] - eta
        lFa, lSa, lfa, r1a, r2a = self._parts_of(a)
        lFb, lSb, lfb, r1b, r2b = self._parts_of(b)
        lp = np.where(a > 0, _log_diff(lSa, lSb), _log_diff(lFb, lFa))
        with np.errstate(invalid="ignore"):
            qa, qb = np.exp(lfa - lp), np.exp(lfb - lp)
        return k, qa, qb, r1a, r1b, r2a, r2b, lp

    def loglik(self, y, eta):
        """
        Log probability of each row's category given ``eta``.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`): category codes 0, ..., K - 1.
        eta : ndarray
            Linear predictors, one per response.

        Returns
        -------
        ndarray
            :math:`\\log\\{F(\\theta_{k+1} - \\eta) - F(\\theta_k - \\eta)\\}`
            for each row in category ``k``.
        """
        return self._parts(y, eta)[-1]

    def derivs(self, y, eta, order=2):
        """
        Cumulative-link log probability and its derivatives in ``eta``.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`): category codes 0, ..., K - 1.
        eta : ndarray
            Linear predictors, one per response.
        order : {0, 2, 3}, default 2
            Highest derivative wanted (0: the log density only).

        Returns
        -------
        tuple of ndarray
            Log probability and its first and second derivatives in ``eta``
            (the third too with ``order=3``; None for derivatives not asked for).

        Notes
        -----
        With :math:`a = \\theta_k - \\eta`, :math:`b = \\theta_{k+1} - \\eta`,
        :math:`p = F(b) - F(a)`, :math:`q_a = f(a)/p`, :math:`q_b = f(b)/p`
        and :math:`r_i = f^{(i)}/f`,

        .. math::

            \\ell = \\log p,\\quad \\ell' = q_a - q_b,\\quad
            \\ell'' = P_2 - \\ell'^2,\\quad
            \\ell^{(3)} = P_3 - 3\\ell' P_2 + 2\\ell'^3,

        :math:`P_2 = q_b r_1(b) - q_a r_1(a)`,
        :math:`P_3 = q_a r_2(a) - q_b r_2(b)` (Christensen 2019; see the
        class docstring).
        """
        _, qa, qb, r1a, r1b, r2a, r2b, ll = self._parts(y, eta)
        if order == 0:
            return ll, None, None
        d1 = qa - qb
        P2 = qb * r1b - qa * r1a
        d2 = P2 - d1 * d1
        if order == 3:
            P3 = qa * r2a - qb * r2b
            return ll, d1, d2, P3 - 3 * d1 * P2 + 2 * d1**3
        return ll, d1, d2

    def aux_derivs(self, y, eta):
        """
        Differentiate the log probability in the thresholds.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`): category codes 0, ..., K - 1.
        eta : ndarray
            Linear predictors, one per response.

        Returns
        -------
        l_a : ndarray
            The log probability differentiated in the thresholds, shape
            ``(..., K - 1)``.
        d1_a : ndarray
            Its first derivative in ``eta`` differentiated in the thresholds,
            shape ``(..., K - 1)``.
        d2_a : ndarray
            Its second derivative in ``eta`` differentiated in the
            thresholds, shape ``(..., K - 1)``.
        l_aa : ndarray
            The thresholds' Hessian of the log probability, shape
            ``(..., K - 1, K - 1)``.

        Notes
        -----
        A row in category ``k`` depends on two thresholds only, the upper
        :math:`\\theta_{k+1}` (through ``b``) and the lower :math:`\\theta_k`
        (through ``a``); with the notation of :meth:`derivs`,

        .. math::

            \\ell_b = q_b,\\quad \\ell_a = -q_a,\\quad
            \\ell'_b = -q_b (r_1(b) + \\ell'),\\quad
            \\ell'_a = q_a (r_1(a) + \\ell'),

            \\ell''_x = \\partial P_2 / \\partial x - 2\\ell'\\ell'_x,\\quad
            \\partial P_2 / \\partial b = q_b (r_2(b) - P_2),\\quad
            \\partial P_2 / \\partial a = q_a (P_2 - r_2(a)),

            \\ell_{bb} = q_b r_1(b) - q_b^2,\\quad
            \\ell_{aa} = -q_a r_1(a) - q_a^2,\\quad \\ell_{ab} = q_a q_b.
        """
        k, qa, qb, r1a, r1b, r2a, r2b, _ = self._parts(y, eta)
        slots = np.arange(self.n_aux)
        U = (k[..., None] == slots).astype(float)  # theta_{k+1}: the upper one
        Lo = (k[..., None] - 1 == slots).astype(float)  # theta_k: the lower one
        d1 = qa - qb
        P2 = qb * r1b - qa * r1a
        d1b, d1a = -qb * (r1b + d1), qa * (r1a + d1)
        d2b = qb * (r2b - P2) - 2 * d1 * d1b
        d2a = qa * (P2 - r2a) - 2 * d1 * d1a

        def slot(vb, va):
            return vb[..., None] * U + va[..., None] * Lo

        UU, LL = U[..., :, None] * U[..., None, :], Lo[..., :, None] * Lo[..., None, :]
        UL = U[..., :, None] * Lo[..., None, :]
        laa = (
            (qb * r1b - qb * qb)[..., None, None] * UU
            + (-qa * r1a - qa * qa)[..., None, None] * LL
            + (qa * qb)[..., None, None] * (UL + np.swapaxes(UL, -1, -2))
        )
        return slot(qb, -qa), slot(d1b, d1a), slot(d2b, d2a), laa

    def cumulative(self, eta):
        """
        Cumulative probabilities ``P(Y <= j)`` for ``j = 1, ..., K - 1``.

        Parameters
        ----------
        eta : ndarray
            Linear predictors.

        Returns
        -------
        ndarray
            :math:`F(\\theta_j - \\eta)`, shape ``eta.shape + (K - 1,)``.
        """
        lF = self._parts_of(self.thresholds - np.asarray(eta, dtype=float)[..., None])[0]
        return np.exp(lF)

    def probabilities(self, eta):
        """
        Probability of each category.

        R equivalent: ``predict(clmm_fit, type = "prob")`` at given ``eta``.

        Parameters
        ----------
        eta : ndarray
            Linear predictors.

        Returns
        -------
        ndarray
            Shape ``eta.shape + (K,)``; each row sums to 1.
        """
        cum = self.cumulative(eta)
        shape = cum.shape[:-1] + (1,)
        return np.diff(np.concatenate([np.zeros(shape), cum, np.ones(shape)], axis=-1), axis=-1)

    def mean(self, eta):
        """
        Expected category number given ``eta``.

        The categories count as their positions 1, ..., K, as R's
        ``as.integer()`` of the response.

        Parameters
        ----------
        eta : ndarray
            Linear predictors.

        Returns
        -------
        ndarray
            :math:`K - \\sum_{j=1}^{K-1} F(\\theta_j - \\eta)`, one per
            linear predictor.
        """
        return (self.n_aux + 1) - np.sum(self.cumulative(eta), axis=-1)

    def variance(self, mu):
        """
        Refuse: an ordinal response has no variance function.

        Parameters
        ----------
        mu : ndarray
            Means of the response.

        Raises
        ------
        ValueError
            Always: Pearson residuals are not defined for ordinal models.
        """
        raise ValueError(
            "the variance of an ordinal response is not a function of its "
            "mean: Pearson residuals are not defined for ordinal models "
            "(use predict(type='prob'))"
        )

    def observed(self, y):
        """
        Put the response on the scale of :meth:`mean`: category positions.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`): category codes 0, ..., K - 1.

        Returns
        -------
        ndarray
            The category positions 1, ..., K.
        """
        return np.asarray(y, dtype=float) + 1

    def labels(self, y):
        """
        Return the categories' labels of coded responses.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`): category codes 0, ..., K - 1.

        Returns
        -------
        ndarray
            The labels, as objects.
        """
        return np.asarray(self.categories, dtype=object)[np.asarray(y).astype(np.int64)]

    def aux_start(self, y, mu, w):
        """
        Start the thresholds at the link of the weighted cumulative proportions.

        Parameters
        ----------
        y : ndarray
            Responses (coded by :meth:`response`): category codes 0, ..., K - 1.
        mu : ndarray
            Fitted means of a model without the thresholds (not used).
        w : ndarray
            Row weights.

        Returns
        -------
        ndarray
            :math:`F^{-1}` of the weighted proportions at or below each
            category (clipped to [1e-4, 1 - 1e-4], nudged to increase
            strictly), length ``K - 1``.
        """
        k = self.n_aux
        counts = np.bincount(np.asarray(y, dtype=np.int64), weights=w, minlength=k + 1)
        cum = np.clip(np.cumsum(counts)[:-1] / np.sum(counts), 1e-4, 1 - 1e-4)
        values = np.log(cum / (1 - cum)) if self.link == "logit" else ndtri(cum)
        return values + 1e-3 * np.arange(k)  # strictly increasing

    def sample(self, eta, rng, y=None):
        """
        Draw categories at linear predictors ``eta``.

        R equivalent: ``simulate.merMod``.

        Parameters
        ----------
        eta : ndarray
            Linear predictors, shape (rows, draws).
        rng : numpy.random.Generator
            The random generator.
        y : ndarray, optional
            The observed responses (not used).

        Returns
        -------
        ndarray
            Category codes 0, ..., K - 1, as floats.
        """
        u = rng.random(np.shape(eta))
        return np.sum(u[..., None] > self.cumulative(eta), axis=-1).astype(float)

    def categories_of(self, s: pd.Series, name: str) -> tuple:
        """
        Return the categories of a response in their order.

        Categories without rows are left out, with a DataWarning.

        Parameters
        ----------
        s : Series
            The response column: a categorical (in the order of its
            categories), bool, or whole numbers (in increasing order).
        name : str
            Its name, for the error messages.

        Returns
        -------
        tuple
            The categories in their order.

        Raises
        ------
        TypeError
            If the column is text that is not a categorical (its order is
            not known).
        ValueError
            If it holds numbers that are not whole, or fewer than two
            categories.
        """
        if isinstance(s.dtype, pd.CategoricalDtype):
            used = set(pd.unique(s.dropna()))
            cats = [c for c in s.cat.categories if c in used]
            empty = [c for c in s.cat.categories if c not in used]
            if empty:
                warn(
                    f"ordinal response {name!r}: categories {empty[:6]} have no rows and are "
                    "left out (their thresholds would not be identified)",
                    DataWarning,
                )
        elif pd.api.types.is_bool_dtype(s.dtype):
            cats = sorted(pd.unique(s.dropna()).tolist())
        elif pd.api.types.is_numeric_dtype(s.dtype):
            v = s.to_numpy(dtype=float)
            bad = ~np.isfinite(v) | (v != np.round(v))
            if bad.any():
                raise ValueError(
                    f"ordinal response {name!r} must be an ordered categorical "
                    f"or whole numbers; {int(bad.sum())} values are not, e.g. "
                    f"{pd.unique(v[bad]).tolist()[:5]}"
                )
            cats = [int(c) if c == int(c) else c for c in sorted(pd.unique(v).tolist())]
        else:
            raise TypeError(
                f"ordinal response {name!r} is text (dtype {s.dtype}): its order "
                "is not known; make it an ordered pandas Categorical "
                "(pd.Categorical(values, categories=[...], ordered=True)) or "
                "code it as whole numbers"
            )
        if len(cats) < 2:
            raise ValueError(
                f"ordinal response {name!r} has {len(cats)} category in the rows "
                "used: there is nothing to model"
            )
        return tuple(cats)

    def response(self, s: pd.Series, name: str) -> np.ndarray:
        """
        Code the response as category codes 0, ..., K - 1.

        Parameters
        ----------
        s : Series
            The response column.
        name : str
            Its name, for the error messages.

        Returns
        -------
        ndarray
            The category codes, as floats.

        Raises
        ------
        TypeError
            If the categories must be found and the column is plain text.
        ValueError
            If the column holds values outside the family's categories.
        """
        cats = self.categories
        if cats is None:
            cats = self.categories_of(s, name)
        values = s.astype(object) if isinstance(s.dtype, pd.CategoricalDtype) else s
        if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
            values.dtype
        ):
            values = values.astype(float)
            keys = pd.Index([float(c) for c in cats])
        else:
            keys = pd.Index(list(cats), dtype=object)
        codes = keys.get_indexer(pd.Index(values))
        if np.any(codes < 0):
            bad = pd.unique(np.asarray(s)[codes < 0]).tolist()[:5]
            raise ValueError(
                f"ordinal response {name!r} has values outside its categories {list(cats)}: {bad}"
            )
        return codes.astype(float)


_FAMILIES = {
    "binomial": Binomial,
    "poisson": Poisson,
    "negative_binomial": NegativeBinomial,
    "gamma": Gamma,
    "ordinal": Ordinal,
}


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
        raise TypeError(
            f"family must be a name ('gaussian', "
            f"{', '.join(map(repr, _FAMILIES))}) or a Family object, got "
            f"{type(family).__name__}"
        )
    key = family.strip().lower()
    if key not in _FAMILIES:
        raise ValueError(
            f"unknown family {family!r}; supported: 'gaussian', {', '.join(map(repr, _FAMILIES))}"
        )
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
