"""Arms: who answers a request (a model, a variant, its adapter, its system prompt, its checkpoint).

Every evaluation lists its arms with `list_arms` and turns them into engine requests with
`arm_requests`, so an arm is resolved one way everywhere and a model's shipped `adapter`, the trained
checkpoints and the warm system prompt mean the same in generate, capability and the warmth curve.
The sweep and the audit evaluate through generate's settings (a trial's or an audit's config is a
generate config), so they list generate's arms. The engine's LoRA rank comes from the arms' adapters
(`max_lora_rank`, each adapter's own `adapter_config.json`), never from `train.lora_r`, which only
says what training writes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from warmray.config import ExperimentConfig, ModelConfig
from warmray.prompt_files import read_prompt
from warmray.rundir import RunDir, epoch_label
from warmray.schema import BASE_VARIANT, FINE_TUNED_VARIANTS, NO_CHECKPOINT, SYSPROMPT_VARIANT, Col
from warmray.stage import StageContext, StageError

if TYPE_CHECKING:  # pandas loads where requests are built: `warmray --help` stays fast
    import pandas as pd

Evaluation = Literal["generate", "capability", "warmth"]
ADAPTER_CONFIG = "adapter_config.json"  # a PEFT adapter's own config; `r` is its rank
# The columns `arm_requests` adds to the prompts: who answers, and what the engine is sent.
ARM_COLUMNS = (Col.MODEL, Col.VARIANT, Col.CHECKPOINT, "system_prompt", "response_id", "adapter", "messages")


def eval_epoch(config: ExperimentConfig) -> float:
    """The training epoch whose checkpoint the evaluations serve as each fine-tuned variant."""
    return config.evaluate.epoch


def checkpoint_label(epoch: float | None) -> str:
    """The `checkpoint` value of every table: the trained adapter's folder name, or NO_CHECKPOINT.

    One spelling for every table: `epoch_2` when an adapter this run trained answered (the style is in
    the `variant` or `style` column beside it), NO_CHECKPOINT ("") when the model answered as configured.
    """
    return NO_CHECKPOINT if epoch is None else epoch_label(epoch)


def adapter_rank(adapter: Path) -> int:
    """A LoRA adapter's rank, as its own `adapter_config.json` states it (`r`)."""
    path = Path(adapter).expanduser() / ADAPTER_CONFIG
    try:
        return int(json.loads(path.read_text())["r"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise StageError(
            f"{path}: cannot read the adapter's LoRA rank (`r`) from it ({e}); a PEFT adapter folder holds "
            f"{ADAPTER_CONFIG} with its rank."
        ) from None


@dataclass(frozen=True)
class Arm:
    """One arm: what answers a request.

    `adapter` is a LoRA folder served on the model (a trained checkpoint, or the model's own shipped
    adapter), None for the bare model; `epoch` is set only for a checkpoint trained in this run.
    """

    model: str
    variant: str
    adapter: Path | None = None
    system_prompt: str | None = None
    epoch: float | None = None

    @property
    def checkpoint(self) -> str:
        """The `checkpoint` column's value for this arm's rows (`checkpoint_label`)."""
        return checkpoint_label(self.epoch)

    @property
    def style(self) -> str:
        """The training style of a trained checkpoint; "" for an arm this run did not train."""
        return self.variant if self.epoch is not None else ""

    @property
    def name(self) -> str:
        """The arm within its model, as response ids spell it: the variant, with its checkpoint if any."""
        return f"{self.variant}/{self.checkpoint}" if self.epoch is not None else self.variant

    @cached_property
    def lora_rank(self) -> int | None:
        """The adapter's LoRA rank from its own config (read once); None without an adapter."""
        return adapter_rank(self.adapter) if self.adapter else None


def list_arms(
    config: ExperimentConfig, evaluation: Evaluation, rundir: RunDir, model: ModelConfig | None = None
) -> list[Arm]:
    """The arms an evaluation serves, for one model (or every configured model), in order.

    generate and capability: their configured variants; `original` and `warm_sysprompt` are the model as
    configured (its own `adapter` when it has one), a fine-tuned style is the adapter trained at
    `eval_epoch`. warmth: the model as configured, then every trained style at every curve epoch
    (warmth.epochs, else train.checkpoint_epochs). Adapter folders are named, not read (the planner
    lists arms before training); only a warm_sysprompt arm reads its prompt file.
    """
    arms: list[Arm] = []
    for m in [model] if model else config.models:
        own = Path(m.adapter).expanduser().resolve() if m.adapter else None

        def trained(style: str, epoch: float, name: str = m.name) -> Arm:
            return Arm(name, style, rundir.adapter(name, style, epoch).resolve(), None, float(epoch))

        if evaluation == "warmth":
            epochs = config.warmth_epochs()
            arms.append(Arm(m.name, BASE_VARIANT, own))
            arms += [trained(style, e) for style in config.train.styles for e in epochs]
            continue
        variants = config.generate.variants if evaluation == "generate" else config.capability.variants
        for variant in variants:
            if variant in FINE_TUNED_VARIANTS:
                arms.append(trained(variant, eval_epoch(config)))
            elif variant == SYSPROMPT_VARIANT:
                arms.append(Arm(m.name, variant, own, read_prompt(config.warm_system_prompt)))
            else:
                arms.append(Arm(m.name, variant, own))
    return arms


def stage_arms(ctx: StageContext, evaluation: Evaluation, model: ModelConfig) -> list[Arm]:
    """`list_arms` for a running stage, with every adapter checked to be there (StageError if not)."""
    arms = list_arms(ctx.config, evaluation, ctx.rundir, model)
    if any(a.epoch is not None for a in arms):
        ctx.input_dir("train")  # the train stage must have finished (its error says how to run it)
    for arm in arms:
        if arm.adapter and not (arm.adapter / ADAPTER_CONFIG).is_file():
            raise StageError(
                f"{evaluation}: the arm {arm.model} {arm.name} needs the adapter {arm.adapter}, which is gone"
                + (
                    " although the train stage finished; train it again: `warmray train CONFIG --force` "
                    "(or restore the folder)."
                    if arm.epoch is not None
                    else f"; models[{arm.model}].adapter must name a LoRA adapter folder."
                )
            )
    return arms


def max_lora_rank(arms: Sequence[Arm]) -> int | None:
    """The LoRA rank an engine serving these arms must hold: their adapters' largest; None without any."""
    ranks = [a.lora_rank for a in arms if a.lora_rank is not None]
    return max(ranks) if ranks else None


def planned_lora_rank(config: ExperimentConfig, arms: Sequence[Arm]) -> int | None:
    """The LoRA rank an engine for these arms will hold, known before training (the resource planner's).

    A checkpoint this run has yet to train will have the rank training writes (train.lora_r); a shipped
    adapter states its own. None when no arm has an adapter.
    """
    ranks = [config.train.lora_r if a.epoch is not None else a.lora_rank for a in arms if a.adapter]
    return max(r for r in ranks if r is not None) if ranks else None


def arm_requests(arms: Sequence[Arm], prompts: pd.DataFrame, key: str = "prompt_id") -> pd.DataFrame:
    """Engine request rows: every prompt asked of every arm, in arm order (the one request builder).

    Each row keeps the prompt's columns and gains ARM_COLUMNS: `response_id` is `model|arm name|<key>`,
    `messages` the system prompt (if any) and the prompt as the user's turn, `adapter` the folder the
    engine serves the row with ("" for the bare model).
    """
    import pandas as pd

    parts = []
    for arm in arms:
        rows = prompts.copy()
        rows[Col.MODEL], rows[Col.VARIANT], rows[Col.CHECKPOINT] = arm.model, arm.variant, arm.checkpoint
        rows["system_prompt"] = arm.system_prompt or ""
        rows["response_id"] = f"{arm.model}|{arm.name}|" + rows[key].astype(str)
        rows["adapter"] = str(arm.adapter) if arm.adapter else ""
        head = [{"role": "system", "content": arm.system_prompt}] if arm.system_prompt else []
        rows["messages"] = [[*head, {"role": "user", "content": p}] for p in rows["prompt"]]
        parts.append(rows)
    if not parts:
        return pd.DataFrame(columns=[*prompts.columns, *ARM_COLUMNS])
    return pd.concat(parts, ignore_index=True)
