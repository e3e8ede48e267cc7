"""pywemix: survey-weighted multilevel (mixed-effects) models.

Weights at every level of a nested model, as the R package WeMix, with
cluster-robust standard errors. The main entry point is :func:`mix`.
"""

from . import datasets
from .compare import compare
from .design.scaling import scale_weights
from .fit import mix
from .io import read_data
from .lrt import anova, bootstrap_lrt
from .objective import families
from .results.result import MixResult
from .survey import (
    ByResult,
    PlausibleValuesResult,
    PooledResult,
    ReplicateResult,
    Replicates,
    jackknife_weights,
    pool,
)
from .survey.data import SurveyData, read_survey, survey_data
from .warnings import (
    BoundaryWarning,
    ConvergenceWarning,
    DataWarning,
    FewGroupsWarning,
    PerformanceWarning,
    PseudoLikelihoodWarning,
    PywemixWarning,
    SurveyWarning,
    WeightWarning,
)

__version__ = "0.1.0"

__all__ = [
    "mix",
    "MixResult",
    "PlausibleValuesResult",
    "Replicates",
    "ReplicateResult",
    "jackknife_weights",
    "pool",
    "PooledResult",
    "ByResult",
    "anova",
    "bootstrap_lrt",
    "compare",
    "read_data",
    "read_survey",
    "SurveyData",
    "survey_data",
    "scale_weights",
    "families",
    "PywemixWarning",
    "DataWarning",
    "ConvergenceWarning",
    "BoundaryWarning",
    "FewGroupsWarning",
    "PseudoLikelihoodWarning",
    "WeightWarning",
    "PerformanceWarning",
    "SurveyWarning",
    "datasets",
    "__version__",
]
