"""GPUs and clusters the planner plans against: datasheet figures, and the shape of a launcher config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from warmray.config import ConfigError


@dataclass(frozen=True)
class Gpu:
    """One GPU model: usable memory and the peaks throughput is derived from."""

    name: str
    memory_gib: float  # what the driver reports as total (nvidia-smi memory.total)
    bf16_tflops: float  # dense, no sparsity
    bandwidth_gbs: float  # HBM / GDDR peak, GB/s
    source: str


_DS = "NVIDIA datasheet"
GPUS: dict[str, Gpu] = {
    g.name: g
    for g in (
        Gpu("H100-80GB", 79.6, 989.0, 3350.0, _DS + " H100 SXM5 (1,979 TFLOPS bf16 with sparsity)"),
        Gpu("H200-141GB", 140.4, 989.0, 4800.0, _DS + " H200 SXM"),
        Gpu("A100-80GB", 80.0, 312.0, 2039.0, _DS + " A100 80GB SXM"),
        Gpu("A100-40GB", 40.0, 312.0, 1555.0, _DS + " A100 40GB SXM"),
        Gpu("L40S-48GB", 45.0, 362.0, 864.0, _DS + " L40S (733 TFLOPS bf16 with sparsity)"),
        Gpu("L4-24GB", 22.5, 121.0, 300.0, _DS + " L4 (242 TFLOPS bf16 with sparsity)"),
    )
}

# Launcher instance / machine types -> (GPU, GPUs per node). AWS: InstanceType; GCP: machineType.
INSTANCE_GPUS: dict[str, tuple[str, int]] = {
    "p5.48xlarge": ("H100-80GB", 8),
    "p5e.48xlarge": ("H200-141GB", 8),
    "p5en.48xlarge": ("H200-141GB", 8),
    "p4d.24xlarge": ("A100-40GB", 8),
    "p4de.24xlarge": ("A100-80GB", 8),
    "g6e.2xlarge": ("L40S-48GB", 1),
    "g6e.12xlarge": ("L40S-48GB", 4),
    "g6e.48xlarge": ("L40S-48GB", 8),
    "a3-highgpu-8g": ("H100-80GB", 8),
    "a3-megagpu-8g": ("H100-80GB", 8),
    "a3-ultragpu-8g": ("H200-141GB", 8),
    "a2-ultragpu-8g": ("A100-80GB", 8),
    "a2-highgpu-8g": ("A100-40GB", 8),
    "a2-ultragpu-1g": ("A100-80GB", 1),
    "a2-highgpu-1g": ("A100-40GB", 1),
    "g2-standard-8": ("L4-24GB", 1),
}


@dataclass(frozen=True)
class Cluster:
    """The GPU nodes a plan must fit: `nodes` nodes of `gpus_per_node` GPUs of one kind."""

    gpu: Gpu
    gpus_per_node: int
    nodes: int
    source: str

    @property
    def memory_gib(self) -> float:
        """Memory of one GPU."""
        return self.gpu.memory_gib

    @property
    def total_gpus(self) -> int:
        """GPUs in the whole cluster."""
        return self.gpus_per_node * self.nodes


def gpu_named(name: str, memory_gib: float | None = None) -> Gpu:
    """A known GPU by name (case-insensitive), optionally with its memory overridden."""
    found = {k.lower(): g for k, g in GPUS.items()}.get(name.lower())
    if found is None:
        raise ConfigError(f"unknown GPU {name!r}; known: {', '.join(GPUS)} (plan.gpu or --gpu).")
    if memory_gib is None:
        return found
    return Gpu(found.name, memory_gib, found.bf16_tflops, found.bandwidth_gbs, found.source)


def _node_gpus(node_type: dict[str, Any]) -> tuple[str, int] | None:
    config = node_type.get("node_config") or {}
    kind = config.get("InstanceType") or config.get("machineType")
    if kind in INSTANCE_GPUS:
        return INSTANCE_GPUS[kind]
    gpus = int((node_type.get("resources") or {}).get("GPU", 0))
    return None if gpus == 0 else ("", gpus)


def cluster_from_launcher(path: Path, gpu_override: str | None = None) -> Cluster:
    """The largest GPU node type of a Ray cluster launcher YAML, as many nodes as its max_workers allows."""
    data = yaml.safe_load(path.read_text())
    types = data.get("available_node_types") if isinstance(data, dict) else None
    if not types:
        raise ConfigError(f"{path}: not a Ray cluster launcher config (no available_node_types).")
    best: tuple[int, str, str, int] | None = None
    for name, node_type in types.items():
        found = _node_gpus(node_type)
        workers = int(node_type.get("max_workers", 0))
        if found and workers > 0 and (best is None or found[1] > best[0]):
            best = (found[1], found[0], name, workers)
    if best is None:
        raise ConfigError(f"{path}: no node type with GPUs and max_workers > 0.")
    gpus, gpu_name, type_name, workers = best
    gpu_name = gpu_override or gpu_name
    if not gpu_name:
        raise ConfigError(f"{path}: node type {type_name!r} has GPUs of an unknown kind; pass --gpu.")
    return Cluster(gpu_named(gpu_name), gpus, workers, f"{path}: node type {type_name} x {workers}")
