"""The study's statistics: verdict tables in, GLMs, average marginal effects, paired tests and tables out.

Importing no stage: the analyze stage, `audit` and `sweep` all compute through this package.
"""

from warmray.statistics.design import level_order
from warmray.statistics.dropped import GAP_PP
from warmray.statistics.glm import EFFECT_COLUMNS, GlmSpec, fit_all, fit_one
from warmray.statistics.paired import (
    bh_fdr,
    cohens_g,
    mcnemar_exact,
    paired_cells,
    template_cells,
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
from warmray.statistics.tables import (
    Z95,
    belief_source_table,
    capability_table,
    error_summary,
    format_summary,
    warmth_table,
    wilson_interval,
)
from warmray.statistics.verdicts import AnalysisInputError, Prepared, load_verdict_files, prepare

__all__ = [
    "EFFECT_COLUMNS",
    "FIGURES",
    "GAP_PP",
    "WIDE_CI_PP",
    "Z95",
    "AnalysisInputError",
    "GlmSpec",
    "Prepared",
    "ReleasedLayoutError",
    "StudyResults",
    "answer_list",
    "bh_fdr",
    "canonical_values",
    "belief_source_table",
    "capability_table",
    "cohens_g",
    "compute",
    "error_summary",
    "fit_all",
    "fit_one",
    "format_summary",
    "level_order",
    "load_verdict_files",
    "mcnemar_exact",
    "paired_cells",
    "prepare",
    "read_released",
    "released_file_root",
    "released_files",
    "rename_columns",
    "template_cells",
    "unmatched_references",
    "untestable_cells",
    "warmth_table",
    "wilson_interval",
]
