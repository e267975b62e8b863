"""What `warmray audit` is asked to audit: a TARGET string in, a model the pipeline can serve out.

A TARGET is one of
  builtin:NAME                   a model warmray builds offline (warmray.models)
  org/name                       a Hugging Face id
  PATH                           a local Hugging Face model folder
  BASE+ADAPTER                   a base (any of the above) with a local LoRA adapter folder on top
  http(s)://host/v1#MODEL        an OpenAI-compatible endpoint and the model name it serves
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from warmray.config import ModelConfig
from warmray.errors import UserError
from warmray.models import BUILTIN_PREFIX
from warmray.preflight import PreflightError, check_endpoint, model_problem

Kind = Literal["builtin", "hub", "folder", "endpoint"]
_URL = re.compile(r"^https?://", re.IGNORECASE)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

TARGET_HELP = (
    "builtin:smollm2-135m, a Hugging Face id (org/name), a local model folder, BASE+ADAPTER_FOLDER, "
    "or an OpenAI-compatible base URL with the model name after '#' (https://host/v1#model-name)"
)


class TargetError(UserError, ValueError):
    """A TARGET string that names nothing warmray can audit; the message says what would be valid."""


@dataclass(frozen=True)
class Target:
    """One parsed TARGET."""

    text: str  # as the user wrote it
    kind: Kind
    source: str  # builtin name, Hub id, folder, or the model name an endpoint serves
    adapter: str | None = None
    endpoint: str | None = None
    api_key_env: str = "OPENAI_API_KEY"

    @property
    def base_name(self) -> str:
        """A short folder-safe name for this target (before making names unique)."""
        if self.kind == "builtin":
            stem = self.source.removeprefix(BUILTIN_PREFIX)
        elif self.kind == "folder":
            stem = Path(self.source).expanduser().resolve().name
        else:
            stem = self.source.rsplit("/", 1)[-1]
        if self.adapter:
            stem += "-" + Path(self.adapter).expanduser().resolve().name
        return _UNSAFE.sub("-", stem).strip("-") or "target"

    def problem(self) -> str | None:
        """Why this target cannot be audited (warmray.preflight), or None when it answered or loaded."""
        if self.kind == "endpoint":
            return check_endpoint(self.endpoint or "", self.source, self.api_key_env)
        return model_problem(self.source, self.adapter)

    def model_config(self, name: str) -> ModelConfig:
        """The pipeline's model entry for this target."""
        return ModelConfig(
            name=name,
            source=self.source,
            adapter=self.adapter,
            endpoint=self.endpoint,
            api_key_env=self.api_key_env,
        )


def parse_target(text: str, api_key_env: str = "OPENAI_API_KEY") -> Target:
    """Parse one TARGET (see the module docstring).

    Raises:
        TargetError: the text is none of the accepted forms.
    """
    text = text.strip()
    if _URL.match(text):
        base, _, model = text.partition("#")
        if not model:
            raise TargetError(
                f"{text!r}: an endpoint target needs the model name after '#', e.g. {base}#my-model "
                f"(GET {base}/models lists what it serves)."
            )
        return Target(text, "endpoint", model, endpoint=base.rstrip("/"), api_key_env=api_key_env)
    if not Path(text).expanduser().exists() and "+" in text:
        base, _, adapter = text.rpartition("+")
        if not Path(adapter).expanduser().is_dir():
            raise TargetError(f"{text!r}: the adapter folder {adapter!r} after '+' does not exist.")
        found = parse_target(base, api_key_env)
        if found.kind == "endpoint":
            raise TargetError(f"{text!r}: an endpoint serves its own adapters; audit BASE_URL#adapter-name.")
        return Target(text, found.kind, found.source, adapter=adapter)
    if text.startswith(BUILTIN_PREFIX):
        return Target(text, "builtin", text)
    if Path(text).expanduser().is_dir():
        return Target(text, "folder", text)
    if re.match(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$", text) and not text.startswith((".", "/", "~")):
        return Target(text, "hub", text)
    raise TargetError(f"{text!r} is not a target warmray can audit. A TARGET is {TARGET_HELP}.")


def unique_names(targets: list[Target]) -> list[str]:
    """One distinct model name per target: its base name, numbered when two would collide."""
    names: list[str] = []
    for t in targets:
        name, n = t.base_name, 2
        while name in names:
            name, n = f"{t.base_name}-{n}", n + 1
        names.append(name)
    return names


def check_targets(targets: list[Target], names: list[str], judge: Target | None) -> None:
    """Check every target and the judge before any work; raise PreflightError listing all that fail."""
    problems = [f"  - {n} ({t.text}): {p}" for t, n in zip(targets, names, strict=True) if (p := t.problem())]
    if judge is not None and (p := judge.problem()):
        problems.append(f"  - judge ({judge.text}): {p}")
    if problems:
        raise PreflightError("\n".join(["cannot audit; nothing was run:", *problems]))
