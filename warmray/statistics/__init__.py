"""The study's statistics: verdict tables in, GLMs, average marginal effects, paired tests and tables out.

Importing no stage: the analyze stage, `audit` and `sweep` all compute through this package.
"""

from warmray.statistics.design import level_order
from warmray.statistics.dropped import GAP_PP
from warmray.statistics.glm import EFFECT_COLUMNS, GlmSpec, fit_one
from warmray.statistics.paired import (
    STAT_DESCRIPTIONS,
    Stat,
    bh_fdr,
    cohens_g,
    mcnemar_exact,
    untestable_cells,
)
from warmray.statistics.released import (
    ReleasedLayoutError,
    answer_list,
    canonical_values,
    read_released,
    released_file_root,
    released_files,
    rename_columns,
    unmatched_references,
)
from warmray.statistics.results import FIGURES, WIDE_CI_PP, StudyResults
from warmray.statistics.study import compute
from warmray.statistics.synthetic import (
    SyntheticEffects,
    synthetic_capability,
    synthetic_verdicts,
    synthetic_warmth,
)
from warmray.statistics.tables import Z95, error_summary, format_summary, warmth_table, wilson_interval
from warmray.statistics.verdicts import AnalysisInputError, Prepared, load_verdict_files, prepare

__all__ = [
    "EFFECT_COLUMNS",
    "FIGURES",
    "GAP_PP",
    "STAT_DESCRIPTIONS",
    "WIDE_CI_PP",
    "Z95",
    "AnalysisInputError",
    "GlmSpec",
    "Prepared",
    "ReleasedLayoutError",
    "Stat",
    "StudyResults",
    "SyntheticEffects",
    "answer_list",
    "bh_fdr",
    "canonical_values",
    "cohens_g",
    "compute",
    "error_summary",
    "fit_one",
    "format_summary",
    "level_order",
    "load_verdict_files",
    "mcnemar_exact",
    "prepare",
    "read_released",
    "released_file_root",
    "released_files",
    "rename_columns",
    "synthetic_capability",
    "synthetic_verdicts",
    "synthetic_warmth",
    "unmatched_references",
    "untestable_cells",
    "warmth_table",
    "wilson_interval",
]
