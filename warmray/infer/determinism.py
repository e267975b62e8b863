"""Whether two runs of one config give the same answers, stage by stage, and why not where they cannot.

warmray makes what it can repeatable: greedy decoding where a stage's sampling says temperature 0, a
seed per request derived from the run's seed and the row's stable id (warmray.infer.request_seed) where
the engine takes one, rows answered and collected in their stable order, and vLLM's batch-invariant mode
where `engine.batch_invariant` asks for it. What remains is named here, and the stage's manifest records
it (`nondeterministic`), so that a report's differences from a rerun are expected and measurable
(`warmray compare`).
"""

from __future__ import annotations

from warmray.config import EngineConfig, ExperimentConfig, SamplingConfig
from warmray.grading import grader_for

# The tables a stage's engine writes, and the stages whose tables follow from them.
DOWNSTREAM = {
    "rewrite": "rewrite's rewrites and training tables, hence the adapters, responses, verdicts and effects",
    "grid": "the grid's belief answers, hence every later table",
    "generate": "generate's responses, hence the verdicts and effects",
    "judge": "the judge's verdicts, hence the effects",
    "warmth": "warmth's scores",
    "capability": "capability's scores",
}


def honours_request_seed(engine: EngineConfig) -> bool:
    """Whether the engine takes a seed per request: every kind warmray runs.

    A CPU engine does as warmray.infer.engine_kwargs sets it up (without chunked prefill). An endpoint is
    sent the OpenAI API's `seed`: vLLM's server honours it; a hosted API may only try.
    """
    return bool(engine.endpoint) or engine.device in ("gpu", "cpu")


def engine_nondeterminism(engine: EngineConfig, sampling: SamplingConfig) -> str:
    """Why one engine's answers may differ between two runs; "" when they should not (pure)."""
    reasons = []
    if sampling.temperature > 0 and sampling.seed is None:
        reasons.append(f"it samples at temperature {sampling.temperature:g} with sampling.seed null")
    elif sampling.temperature > 0 and not honours_request_seed(engine):
        reasons.append(
            f"it samples at temperature {sampling.temperature:g} on an engine that takes no seed per "
            "request: each draw depends on the order and batches in which requests reach the engine"
        )
    if engine.device == "gpu" and not engine.endpoint and not engine.batch_invariant:
        reasons.append(
            "a GPU engine's numerics change with batch composition (engine.batch_invariant is off), "
            "which can flip a near-tied token"
        )
    return "; ".join(reasons)


def _stage_engines(config: ExperimentConfig, stage: str) -> list[tuple[EngineConfig, SamplingConfig]]:
    if stage == "grid":
        grid = config.grid
        return [(grid.wrong_answer_engine, grid.wrong_answer_sampling)] if grid.wrong_answer_model else []
    if stage == "judge":
        judge = config.judge
        return [(judge.engine, judge.sampling)] if grader_for(judge.grader).needs_engine else []
    if stage in ("rewrite", "generate", "warmth", "capability"):
        section = getattr(config, stage)
        return [(section.engine, section.sampling)]
    return []


def stage_nondeterminism(config: ExperimentConfig, stage: str) -> str:
    """What may differ in a stage's output between two runs of `config`, and why; "" when nothing should.

    Read from the stage's engine settings (a model served by its own endpoint is not looked at).
    """
    reasons = {engine_nondeterminism(e, s) for e, s in _stage_engines(config, stage)} - {""}
    if not reasons:
        return ""
    return f"{DOWNSTREAM[stage]} may differ between two runs: " + "; ".join(sorted(reasons))
