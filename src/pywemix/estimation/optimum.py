"""The optimiser's typed result: its record plus the estimates at the optimum.

R equivalent: lme4's ``optimizeLmer`` / ``optimizeGlmer`` output (the
``optinfo`` slot and the parameters left in the deviance function's
environment).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .search import OptimizationRecord

__all__ = ["Optimum"]


@dataclass(frozen=True)
class Optimum(OptimizationRecord):
    """
    What the optimiser did and the estimates it ended at.

    An :class:`~pywemix.estimation.search.OptimizationRecord` with the
    estimates added; made by :func:`~pywemix.estimation.optimize` (stage 3)
    or :meth:`from_record`. A frozen dataclass: its fields are its parameters
    and attributes.

    Parameters
    ----------
    x : ndarray
        Final parameters of the search.
    fun : float
        Final objective value (minimised).
    iterations : int
        Quasi-Newton iterations plus Newton polishing steps.
    evaluations : int
        Objective evaluations.
    grad_norm : float
        Largest absolute projected gradient at the end.
    converged : bool
        The search converged and its point passed the convergence certificate.
    message : str
        How the search ended.
    method : str
        The optimiser.
    at_boundary : tuple of int
        Indices of parameters that ended on their lower bound.
    beta : ndarray (p,)
        Fixed effects.
    sigma2 : float
        Residual variance (NaN for non-Gaussian families).
    covariances : tuple of ndarray
        Covariance matrix of each level's random effects (level 2 first).
    theta : ndarray
        The ``theta`` of lme4 (``lme4::getME(m, "theta")``): the lower-triangular
        Cholesky elements of each level's covariance relative to the
        residual variance, ``Sigma_l / sigma^2`` (lme4's order: its blocks
        as lme4 orders the random terms, each block's factor column by
        column; laid out as
        :meth:`~pywemix.objective.covariance.CovarianceStructure.packing`
        says). One definition for every family:
        binomial and Poisson models have ``sigma = 1``, so for them it is
        the Cholesky factor of ``Sigma_l`` itself.
    llf : float
        Maximised (restricted) pseudo-log-likelihood.
    criterion : {"ML", "REML"}
        The criterion maximised.
    modes : tuple of ndarray
        Conditional modes of the random effects, per level (J_l, q_l).
    mode_variances : tuple of ndarray
        Their conditional variances, per level (J_l, q_l).
    evaluation : Evaluation or None, default None
        Fixed-node derivatives at the optimum (non-Gaussian families): the
        information and per-group scores of the variance stage.
    family_params : ndarray (k,)
        The family's auxiliary parameters (negative binomial and gamma
        dispersion, ordinal thresholds); empty for the other families.
    """

    beta: np.ndarray
    sigma2: float
    covariances: tuple
    theta: np.ndarray
    llf: float
    criterion: str
    modes: tuple = field(repr=False)
    mode_variances: tuple = field(repr=False)
    evaluation: object = field(default=None, repr=False)
    family_params: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def params(self) -> np.ndarray:
        """The fixed effects, then the family parameters (``MixResult.params``)."""
        return np.r_[self.beta, self.family_params]

    @classmethod
    def from_record(cls, record: OptimizationRecord, **estimates) -> Optimum:
        """
        Add the estimates to an optimisation record.

        Parameters
        ----------
        record : OptimizationRecord
            What the optimiser did.
        **estimates
            The fields :class:`Optimum` adds (``beta``, ``sigma2``, ...).

        Returns
        -------
        Optimum
            ``record``'s fields with the estimates.
        """
        fields = {k: getattr(record, k) for k in OptimizationRecord.__dataclass_fields__}
        return cls(**fields, **estimates)
