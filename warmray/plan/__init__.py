"""`warmray plan CONFIG`: resources, row counts, tokens, memory fit and GPU-hours, without running anything.

    warmray plan configs/paper.yaml                          against the config's plan section (8 x H100)
    warmray plan configs/paper.yaml --cluster cluster/gpu-cluster-gcp.yaml
    warmray plan configs/paper-open.yaml --gpus-per-node 8 --nodes 2 --gpu A100-80GB --json
    warmray plan configs/paper.yaml --set models.3.tensor_parallel_size=16   (refused: 8 GPUs per node)

No Ray or vLLM import and no download: planning is arithmetic on the config (warmray.plan.build), and the
memory of each GPU training worker is also traced by running its LoRA step on fake tensors and fake ranks
in a child process that imports torch (warmray.plan.trace; `--trace off` skips it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from warmray.config import ExperimentConfig, add_overrides_argument, load_config
from warmray.plan.build import Plan, Work, build_plan
from warmray.plan.hardware import Cluster, cluster_from_launcher, gpu_named
from warmray.plan.render import as_json, table

__all__ = ["Plan", "Work", "add_arguments", "build_plan", "cluster_for", "command"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `warmray plan` arguments."""
    parser.add_argument("config", help="experiment YAML (see configs/)")
    parser.add_argument(
        "--cluster", type=Path, metavar="FILE", help="a Ray cluster launcher YAML to plan against"
    )
    parser.add_argument(
        "--gpus-per-node", type=int, metavar="N", help="GPUs per node (default: plan.gpus_per_node)"
    )
    parser.add_argument("--nodes", type=int, metavar="M", help="GPU nodes (default: plan.nodes)")
    parser.add_argument("--gpu", metavar="TYPE", help="GPU type, e.g. H100-80GB (default: plan.gpu)")
    parser.add_argument(
        "--gpu-memory-gib", type=float, metavar="G", help="memory per GPU, overriding the type's"
    )
    parser.add_argument("--run-dir", type=Path, help="a run directory whose corpus gives real token counts")
    add_overrides_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.add_argument(
        "--trace",
        choices=["scaled", "full", "off"],
        default="scaled",
        help="trace each GPU training worker's memory with torch on fake tensors and fake ranks, in a "
        "child process: scaled (default) traces the model cut to a few layers at full width and scales "
        "per layer; full traces every layer (minutes for 70B); off: the formula only (no torch)",
    )


def cluster_for(cfg: ExperimentConfig, args: argparse.Namespace) -> Cluster:
    """The cluster to plan against: a launcher file, else the config's plan section, with flag overrides."""
    if args.cluster:
        base = cluster_from_launcher(args.cluster, args.gpu)
    else:
        base = Cluster(
            gpu_named(cfg.plan.gpu), cfg.plan.gpus_per_node, cfg.plan.nodes, "the config's plan section"
        )
    gpu = gpu_named(args.gpu or base.gpu.name, args.gpu_memory_gib or cfg.plan.gpu_memory_gib)
    flags = [f for f in ("gpus_per_node", "nodes", "gpu", "gpu_memory_gib") if getattr(args, f)]
    source = base.source + (f", with --{', --'.join(f.replace('_', '-') for f in flags)}" if flags else "")
    return Cluster(gpu, args.gpus_per_node or base.gpus_per_node, args.nodes or base.nodes, source)


def command(args: argparse.Namespace) -> int:
    """Print the plan of args.config; raises warmray.config.ConfigError when it cannot fit."""
    cfg = load_config(args.config, args.overrides)
    run_dir = args.run_dir or Path(cfg.run_dir)
    plan = build_plan(cfg, cluster_for(cfg, args), run_dir, trace=args.trace)
    print(json.dumps(as_json(plan), indent=2) if args.json else table(plan))
    return 0
