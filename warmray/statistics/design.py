"""Design matrices for the GLMs, built straight from category codes (no formula parsing).

Building the matrix by hand lets the marginal-effect code rebuild it with finetuned set to 0 or 1
for the same rows, which is all a counterfactual prediction is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from warmray.schema import AMENDMENT_FAMILIES, AMENDMENT_TYPES, NO_CONTEXT, Col

_KNOWN_ORDER = ("none", NO_CONTEXT, *AMENDMENT_FAMILIES, *AMENDMENT_TYPES[1:], "belief")


def level_order(levels: list[str], reference: str = "") -> list[str]:
    """Levels in the study's reading order, the reference first, unknown levels last (sorted)."""
    rank = {v: i for i, v in enumerate(_KNOWN_ORDER)}
    ordered = sorted(levels, key=lambda v: (v != reference, rank.get(v, len(rank)), v))
    return ordered


@dataclass(frozen=True)
class Layout:
    """The columns of a design, in order: intercept, finetuned, finetuned x level, level, covariates.

    Then task, model and length. Covariates are main effects only (model 4's context group), their first
    level the reference.
    """

    tasks: tuple[str, ...]
    models: tuple[str, ...]
    factor: str | None
    levels: tuple[str, ...]  # reference first; empty without a factor
    length: bool
    covariates: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (column, levels, reference first)

    @classmethod
    def for_cells(
        cls,
        cells: pd.DataFrame,
        factor: str | None,
        reference: str,
        length: bool,
        covariates: tuple[str, ...] = (),
    ) -> Layout:
        """The layout for these cells; the first task and model (sorted) are the references."""
        levels = level_order(_present(cells, factor), reference) if factor else []
        extra = tuple((c, tuple(level_order(_present(cells, c)))) for c in covariates)
        return cls(
            tuple(_present(cells, Col.TASK)),
            tuple(_present(cells, Col.MODEL)),
            factor,
            tuple(levels),
            length,
            extra,
        )

    @property
    def names(self) -> list[str]:
        """Column names, statsmodels-style, for notes and debugging."""
        lev = [f"{self.factor}[T.{v}]" for v in self.levels[1:]]
        return [
            "Intercept",
            "finetuned",
            *[f"finetuned:{n}" for n in lev],
            *lev,
            *[f"{c}[T.{v}]" for c, levels in self.covariates for v in levels[1:]],
            *[f"task[T.{t}]" for t in self.tasks[1:]],
            *[f"model[T.{m}]" for m in self.models[1:]],
            *(["length_z"] if self.length else []),
        ]

    def matrix(self, cells: pd.DataFrame, ft: np.ndarray) -> np.ndarray:
        """The design for `cells` with finetuned set to `ft` (0/1 per row)."""
        ft = np.asarray(ft, dtype=np.float64)[:, None]
        parts = [np.ones_like(ft), ft]
        if self.factor:
            lev = _dummies(cells[self.factor], self.levels)
            parts += [ft * lev, lev]
        parts += [_dummies(cells[c], levels) for c, levels in self.covariates]
        parts += [_dummies(cells[Col.TASK], self.tasks), _dummies(cells[Col.MODEL], self.models)]
        if self.length:
            parts.append(cells["length_z"].to_numpy(dtype=np.float64)[:, None])
        return np.hstack(parts)


def _present(cells: pd.DataFrame, col: str) -> list[str]:
    return sorted(str(v) for v in pd.unique(cells[col].astype(str)))


def _dummies(values: pd.Series, levels: tuple[str, ...]) -> np.ndarray:
    """Treatment dummies (first level = reference) from the values' positions in `levels`."""
    codes = pd.Categorical(values.astype(str), categories=list(levels)).codes
    return (codes[:, None] == np.arange(1, len(levels))[None, :]).astype(np.float64)
