"""The child process of warmray.plan.trace: one LoRA training step per job, on fake tensors and fake ranks.

    python -m warmray.plan._trace_run < jobs.json > peaks.json

Each job builds a model of the planned shape on the meta device, applies the workers' own LoRA and
wrapping (warmray.training.sharding.add_lora, wrap_fsdp), materialises it as fake tensors, and runs
warmray.training.loop.run_step twice under PyTorch's memory tracker, rank 0 of a fake process group
of the planned world size (`torch.distributed` "fake" backend: collectives return at once, no data).
Nothing holds weight memory. The process group is created and destroyed per job, in this process only,
so the planner's own process never holds torch.distributed state.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import torch
import torch.distributed as dist

# Parts of the peak named by the trackers; DDP's gradient buckets are added (see _ddp_buckets).
DDP_BUCKETS = "DDP buckets (added)"


def _model_config(shape: dict[str, Any], layers: int) -> Any:
    """A Llama config of the shape (Llama, Mistral and Qwen share its gated-MLP decoder layer)."""
    from transformers import LlamaConfig

    if shape["mlp_matrices"] != 3:
        raise ValueError(f"only gated-MLP decoders are traced; {shape['source']} has a 2-matrix MLP")
    return LlamaConfig(
        num_hidden_layers=layers,
        hidden_size=shape["hidden"],
        num_attention_heads=shape["heads"],
        num_key_value_heads=shape["kv_heads"],
        head_dim=shape["head_dim"],
        intermediate_size=shape["intermediate"],
        vocab_size=shape["vocab"],
        tie_word_embeddings=shape["tied_embeddings"],
    )


def _tracker(fsdp: bool, model: Any, optimizer: Any) -> Any:
    """PyTorch's memory tracker for the strategy, recording the peak of each segment of the step.

    A segment is a phase (forward, backward, optimizer) and a position in it: before the decoder
    layers, in them, after them. Within a segment the peak sits at the same place whatever the depth,
    so each segment's peak scales linearly in the layers (warmray.plan.trace extrapolates them one by
    one). Module-wise peaks, which the trackers update on every operator for every module (quadratic
    in the depth), are not kept. MemTracker's gradient hooks are put on trainable parameters only: it
    registers one on every parameter, which raises on the frozen base weights of a LoRA model.
    """
    from torch.distributed._tools.fsdp2_mem_tracker import FSDPMemTracker
    from torch.distributed._tools.mem_tracker import _TOTAL_KEY, MemTracker, _MemRefType

    class SegmentPeaks:
        segments: dict[str, tuple[int, dict[Any, int]]]
        _seen: set[str]
        _last: str

        def _segment(self) -> str:
            phase = "optimizer" if self._in_opt else "backward" if self._mod_tracker.is_bw else "forward"
            if phase != self._last:
                self._seen.discard(phase)
                self._last = phase
            if any(".layers." in name for name in self._mod_tracker.parents):
                self._seen.add(phase)
                return f"{phase}, layers"
            return f"{phase}, {'after' if phase in self._seen else 'before'} layers"

        def _update_peak_stats(self, peak_state: Any) -> None:
            segment = self._segment()
            for dev, snap in self._curr_mem_snap.items():
                total = snap[_TOTAL_KEY]
                if self._peak_mem.get(dev, 0) < total:
                    self._peak_mem[dev] = total
                    self._peak_mem_snap[dev] = dict(snap)
                if self.segments.get(segment, (-1,))[0] < total:
                    self.segments[segment] = (total, dict(snap))

    class FSDPTracker(SegmentPeaks, FSDPMemTracker):
        pass

    class DDPTracker(SegmentPeaks, MemTracker):
        def _track_module_params_and_buffers(
            self, module: torch.nn.Module, install_grad_hooks: bool = True
        ) -> tuple[int, int]:
            memory = super()._track_module_params_and_buffers(module, install_grad_hooks=False)
            for p in module.parameters() if install_grad_hooks else ():
                if p.requires_grad and self._param_to_grad_hook_handles.get(p, None) is None:

                    def hook(grad: torch.Tensor) -> None:
                        self._update_and_maybe_create_winfos(grad, _MemRefType.GRAD)

                    self._param_to_grad_hook_handles[p] = (
                        p.register_hook(hook),
                        p.register_post_accumulate_grad_hook(lambda q, h=hook: h(q.grad)),
                    )
            return memory

    tracker = FSDPTracker(model, optimizer) if fsdp else DDPTracker()
    if not fsdp:
        tracker.track_external(model, optimizer)
    tracker.segments, tracker._seen, tracker._last = {}, set(), ""
    return tracker


def _ddp_buckets(model: Any) -> int:
    """Bytes of DDP's gradient buckets: one copy of the trainable gradients (gradient_as_bucket_view off).

    DDP's constructor reads parameter data to check shapes across ranks, which fake tensors do not have,
    so the DDP trace runs the bare model and adds these.
    """
    return sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)


def _parts(snapshot: dict[Any, int]) -> dict[str, int]:
    """Bytes by the tracker's categories (its enum values as names), the total left out."""
    return {str(getattr(k, "value", k)): int(v) for k, v in snapshot.items() if k != "Total" and v}


def trace_one(job: dict[str, Any]) -> dict[str, Any]:
    """Bytes per rank by part at the peak of the step and at the peak of each of its segments.

    Peaks are over two steps (the second runs with the optimizer state of the first); see `_tracker`
    for the segments, which warmray.plan.trace scales per layer one by one.
    """
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.testing._internal.distributed.fake_pg import FakeStore

    from warmray.config import TrainConfig
    from warmray.training import add_lora, build_on_meta, make_optimizer, run_step, wrap_fsdp

    started = time.perf_counter()
    world, batch, length = job["world"], job["batch"], job["max_length"]
    cfg = TrainConfig(
        **job["train"], per_device_batch_size=batch, effective_batch_size=batch * world, num_workers=world
    )
    dist.init_process_group("fake", store=FakeStore(), rank=0, world_size=world)
    try:
        model = add_lora(build_on_meta(_model_config(job["shape"], job["layers"]), cfg), cfg)
        fsdp = job["strategy"] == "fsdp"
        if fsdp:
            wrap_fsdp(model, cfg)
        with FakeTensorMode(allow_non_fake_inputs=True):
            model.to_empty(device="cpu")  # what shard_model does on ranks other than 0
            optimizer = make_optimizer(model, cfg)
            ids = torch.randint(0, job["shape"]["vocab"], (batch, length))
            step = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}
            tracker = _tracker(fsdp, model, optimizer)
            with tracker:
                run_step(model, [step], optimizer, cfg.dtype, cfg.max_grad_norm)
                tracker.reset_mod_stats()  # the second step runs with the optimizer state of the first
                run_step(model, [step], optimizer, cfg.dtype, cfg.max_grad_norm)
            (overall,) = tracker.get_tracker_snapshot("peak").values()
            phases = {"step": _parts(overall)}
            phases.update({name: _parts(snap) for name, (_, snap) in tracker.segments.items()})
            if not fsdp and world > 1:
                for parts in phases.values():
                    parts[DDP_BUCKETS] = _ddp_buckets(model)
    finally:
        dist.destroy_process_group()
    return {"phases": phases, "seconds": time.perf_counter() - started, "cpu_seconds": time.process_time()}


def main() -> None:
    """Read a JSON list of jobs on stdin, write a JSON list of results on stdout."""
    jobs = json.load(sys.stdin)
    json.dump([trace_one(job) for job in jobs], sys.stdout)


if __name__ == "__main__":
    main()
