"""The training corpus: ShareGPT conversations, filtered, labelled, sampled evenly and split."""

from warmray.stages.corpus.tables import run

__all__ = ["run"]
