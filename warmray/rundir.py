"""The run directory's layout, known in one place.

```
RUN_DIR/
  .lock                          held by the command working on this run directory
  .<stage>.partial/              a stage being written (committed by rename to <stage>/)
  logs/<stage>.log               Ray's and vLLM's output while the stage ran
  corpus/ rewrite/ train/ grid/ generate/ judge/ warmth/ capability/ analyze/   committed stages
```
Each table's file (or folder of Parquet files) inside its stage folder is in `TABLES`; a LoRA adapter of
the train stage is `train/<model>/<style>/epoch_<e>/`. Stages ask this module for paths, so none
re-derives another's layout.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from warmray.errors import UserError

MANIFEST = "manifest.json"

# (stage, table) -> (path inside the stage folder, schema name in warmray.schema)
TABLES: dict[tuple[str, str], tuple[str, str]] = {
    ("corpus", "conversations"): ("conversations.parquet", "conversations"),
    ("corpus", "val_prompts"): ("val_prompts.parquet", "val_prompts"),
    ("corpus", "rejects"): ("rejects.parquet", "rejects"),
    ("rewrite", "warm"): ("warm.parquet", "training_conversations"),
    ("rewrite", "cold"): ("cold.parquet", "training_conversations"),
    ("rewrite", "rewrites"): ("rewrites.parquet", "rewrites"),
    ("rewrite", "rejects"): ("rejects.parquet", "rejects"),
    ("train", "metrics"): ("metrics.parquet", "train_metrics"),
    ("grid", "prompts"): ("prompts.parquet", "prompts"),
    ("grid", "rejects"): ("rejects.parquet", "rejects"),
    ("generate", "responses"): ("responses", "responses"),
    ("judge", "verdicts"): ("verdicts", "verdicts"),
    ("judge", "reference_verdicts"): ("reference_verdicts", "verdicts"),
    ("judge", "agreement"): ("agreement.parquet", "judge_agreement"),
    ("judge", "failed_requests"): ("failed_requests", "rejects"),  # responses left without a verdict
    ("warmth", "scores"): ("scores.parquet", "warmth_scores"),
    ("warmth", "by_epoch"): ("by_epoch.parquet", "warmth_by_epoch"),
    ("warmth", "failed_requests"): ("failed_requests.parquet", "rejects"),  # answers never given, unscored
    ("capability", "scores"): ("scores.parquet", "capability_scores"),
    ("capability", "failed_requests"): ("failed_requests.parquet", "rejects"),  # items left unscored
}


class RunDirBusy(UserError, RuntimeError):
    """Another warmray command holds the run directory's lock."""


def table_path(stage_folder: Path, stage: str, table: str) -> Path:
    """Where a table lives inside a stage folder (committed or partial)."""
    return stage_folder / TABLES[(stage, table)][0]


def schema_of(stage: str, table: str) -> str:
    """The schema name (in warmray.schema) of a stage's table."""
    return TABLES[(stage, table)][1]


def epoch_label(epoch: float) -> str:
    """Folder name of a checkpoint: epoch_0.5, epoch_2."""
    return f"epoch_{epoch:g}"


def adapter_path(train_folder: Path, model: str, style: str, epoch: float) -> Path:
    """A LoRA adapter folder inside a train stage folder (committed or partial)."""
    return train_folder / model / style / epoch_label(epoch)


@dataclass(frozen=True)
class RunDir:
    """One run directory: where each stage's committed output, partial output and log live."""

    root: Path

    def stage(self, name: str) -> Path:
        """A stage's committed folder."""
        return self.root / name

    def partial(self, name: str) -> Path:
        """The folder a stage writes into before it commits."""
        return self.root / f".{name}.partial"

    def finished(self, name: str) -> bool:
        """True when the stage has committed its output."""
        return (self.stage(name) / MANIFEST).is_file()

    def table(self, stage: str, table: str) -> Path:
        """A committed table's path."""
        return table_path(self.stage(stage), stage, table)

    def adapter(self, model: str, style: str, epoch: float) -> Path:
        """A committed LoRA adapter folder."""
        return adapter_path(self.stage("train"), model, style, epoch)

    def log(self, stage: str) -> Path:
        """The log file of a stage's engines and Ray workers."""
        return self.root / "logs" / f"{stage}.log"

    @property
    def lock(self) -> Path:
        """The lock file a command holds while it works on this run directory."""
        return self.root / ".lock"

    @property
    def ray_train(self) -> Path:
        """Ray Train's storage for in-progress training runs (their checkpoints, for resuming)."""
        return self.root / ".ray_train"

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the run directory's lock for the block; RunDirBusy at once if another command holds it.

        An `fcntl` lock belongs to the open file: the kernel drops it when the holder exits or is killed,
        so a crashed run never leaves a stale lock behind.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "another process"
                raise RunDirBusy(
                    f"{self.root} is in use by another warmray command ({holder}); wait for it to finish, "
                    "or give this one another --run-dir."
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}: {' '.join(sys.argv)[:300]}\n".encode(), 0)
            yield
        finally:
            os.close(fd)  # closing the file releases the lock
