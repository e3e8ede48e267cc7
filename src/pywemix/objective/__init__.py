"""Stage 2, objective: the weighted pseudo-log-likelihood of a design.

The Gaussian family's is analytic and profiled (:mod:`.gaussian`,
:mod:`.twolevel`); other families are integrated by adaptive Gauss-Hermite
quadrature (:mod:`.quadrature`) taking a small family object
(:mod:`.families`). Each objective exposes its value, gradient and
per-top-group contributions; :func:`make_objective` (lme4's ``mkLmerDevfun`` /
``mkGlmerDevfun``) builds the one for a design and family.
"""

from .make import MixObjective, make_objective

__all__ = ["MixObjective", "make_objective"]
