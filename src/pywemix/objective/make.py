"""Stage 2 as one function: the objective of a design for a family.

R equivalent: lme4's ``mkLmerDevfun`` / ``mkGlmerDevfun``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checks import check_bool, check_positive_int
from ..warnings import PerformanceWarning, warn
from .covariance import CovarianceStructure
from .gaussian import GaussianObjective
from .laplace import LaplaceObjective
from .partitioned import block_bounds, block_rows, partitioned_quadrature

__all__ = ["MixObjective", "make_objective", "check_grid_size"]

#: Largest second-derivative array (rows x nodes x P x P doubles) allowed, in bytes.
MAX_BYTES = 4e9


@dataclass(frozen=True)
class MixObjective:
    """
    The pseudo-log-likelihood of one design, ready for the optimiser.

    Made by :func:`make_objective` (stage 2). A frozen dataclass: its fields
    are its parameters and attributes.

    Parameters
    ----------
    design : ModelDesign
        The design (stage 1).
    structure : CovarianceStructure
        Layout of the random-effect covariance parameters.
    family : Family or None
        None for the Gaussian family (analytic, profiled likelihood).
    function : GaussianObjective, LaplaceObjective or QuadratureObjective
        What evaluates the criterion: ``profiled(theta, reml)`` (Gaussian) or
        ``evaluate(phi, adapt=, derivs=)`` (other families).
    reml : bool, default False
        Restricted likelihood (Gaussian only).
    n_quad : int or None, default None
        Quadrature points per random effect (None for the Gaussian family).
    """

    design: object
    structure: CovarianceStructure
    family: object
    function: object
    reml: bool = False
    n_quad: int | None = None

    @property
    def gaussian(self) -> bool:
        """Whether the criterion is the analytic Gaussian one."""
        return self.family is None


def make_objective(design, family=None, *, n_quad: int = 13, reml: bool = False) -> MixObjective:
    """
    Make the objective of ``design``: one dispatch point for every family.

    Stage 2 of a fit; R equivalents: ``lme4::mkLmerDevfun`` and
    ``mkGlmerDevfun``.

    Parameters
    ----------
    design : ModelDesign
        From :func:`pywemix.design.build_design`.
    family : Family or None
        None for the Gaussian family; else a
        :class:`~pywemix.objective.families.Family`.
    n_quad : int
        Adaptive Gauss-Hermite points per random effect (ignored for the
        Gaussian family); 1 is the Laplace approximation.
    reml : bool
        Restricted likelihood (Gaussian family only).

    Returns
    -------
    MixObjective
        The criterion and what it was made from.

    Raises
    ------
    ValueError
        REML for a non-Gaussian family, or a quadrature grid too large for
        memory.

    Notes
    -----
    Gaussian: the likelihood profiled over ``beta`` and ``sigma^2`` as a
    function of lme4's ``theta`` (:mod:`pywemix.objective.gaussian`). Other
    families: the Laplace approximation or nested adaptive quadrature over the
    parameter vector ``phi = (beta, aux, chol)``, ``aux`` the family's
    auxiliary parameters, unconstrained (:mod:`pywemix.objective.laplace`,
    :mod:`pywemix.objective.quadrature`). R
    equivalents: ``lme4::mkLmerDevfun``, ``lme4::mkGlmerDevfun``.
    """
    reml = check_bool(reml, "reml")
    structure = CovarianceStructure.from_design(design)
    if family is None:
        return MixObjective(
            design, structure, None, GaussianObjective(design, structure), reml=reml
        )
    if reml:
        raise ValueError("reml=True is only defined for the gaussian family")
    family = family.for_design(design)  # the ordinal family takes its categories
    n_quad = check_positive_int(n_quad, "n_quad")
    if n_quad == 1:
        check_grid_size(design, structure, n_quad)
        return MixObjective(
            design, structure, family, LaplaceObjective(design, structure, family), n_quad=n_quad
        )
    # large data: blocks of top-level groups in threads, each block's
    # temporaries bounded (pywemix.objective.partitioned)
    bounds = block_bounds(design, structure, n_quad)
    rows = [block_rows(design, lo, hi) for lo, hi in bounds]
    check_grid_size(design, structure, n_quad, n_rows=max(r1 - r0 for r0, r1 in rows))
    function = partitioned_quadrature(design, structure, family, n_quad, bounds=bounds)
    return MixObjective(design, structure, family, function, n_quad=n_quad)


def check_grid_size(design, structure, n_quad, n_rows=None) -> None:
    """Refuse quadrature grids too large for memory, warn about slow ones.

    Parameters
    ----------
    design : ModelDesign
        Only ``n_obs`` and the number of fixed effects are read (the Dask
        fit passes its largest partition's).
    structure : CovarianceStructure
    n_quad : int
        Quadrature points per random effect.
    n_rows : int, optional
        Rows evaluated at once (the largest block of top-level groups when
        the objective is partitioned); default all of ``design``'s.

    Raises
    ------
    ValueError
        When the second-derivative arrays would exceed ``MAX_BYTES``; a
        ``PerformanceWarning`` names a smaller ``n_quad`` when they exceed
        an eighth of it.

    Notes
    -----
    Every row is evaluated at the nodes of all the levels above it:
    ``prod_l n_quad ** q_l`` points, each with a ``P x P`` Hessian term.
    """
    per_row = int(np.prod([float(n_quad) ** q for q in structure.q]))
    n_rows = design.n_obs if n_rows is None else int(n_rows)
    cells = n_rows * per_row
    P = design.X.shape[1] + structure.n_theta
    if cells * P * P * 8 > MAX_BYTES:
        raise ValueError(
            f"n_quad={n_quad} with {structure.q} random effects per level means "
            f"{per_row} quadrature points for each of the {n_rows} rows, beyond "
            f"what memory allows; use fewer points (n_quad ** (effects) grows fast: "
            f"n_quad=5 or 7 is usually accurate with adaptive quadrature)"
        )
    if cells * P * P * 8 > MAX_BYTES / 8:
        points = [int(np.prod([float(k) ** q for q in structure.q])) for k in range(n_quad)]
        k = max(
            [k for k in range(1, n_quad) if n_rows * points[k] * P * P * 8 <= MAX_BYTES / 8] or [1]
        )
        warn(
            f"n_quad={n_quad} gives {per_row} quadrature points per row "
            f"({structure.q} random effects per level): the fit will be slow; "
            f"n_quad={k} ({points[k]} points per row) is fast enough here and usually "
            "accurate with adaptive quadrature",
            PerformanceWarning,
        )
