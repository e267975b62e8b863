"""The training corpus: ShareGPT conversations, filtered, labelled, sampled evenly and split."""

from warmray.corpus.stage import run

__all__ = ["run"]
