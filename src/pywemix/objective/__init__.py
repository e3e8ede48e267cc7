"""Stage 2, objective: the weighted pseudo-log-likelihood of a design.

The Gaussian family's is analytic and profiled (:mod:`.gaussian`,
:mod:`.twolevel`); other families are integrated by adaptive Gauss-Hermite
quadrature (:mod:`.quadrature`) taking a small family object
(:mod:`.families`). Each objective exposes its value, gradient and
per-top-group contributions (lme4's ``mkLmerDevfun`` / ``mkGlmerDevfun``).
"""
