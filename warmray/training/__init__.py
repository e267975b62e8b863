"""LoRA fine-tuning on one Ray Train worker: data, model placement (DDP or FSDP2), loop, checkpoints.

Importing no stage: the train stage runs `train_worker` on each worker; `plan` traces `run_step`.
"""

from warmray.training.checkpoints import RECORD_FILE, STATE_DIR
from warmray.training.loop import make_optimizer, run_step, train_step, train_worker
from warmray.training.sft_data import collate, load_examples, tokenize_conversation
from warmray.training.sharding import add_lora, build_on_meta, load_lora_model, wrap_ddp, wrap_fsdp

__all__ = [
    "RECORD_FILE",
    "STATE_DIR",
    "add_lora",
    "build_on_meta",
    "collate",
    "load_examples",
    "load_lora_model",
    "make_optimizer",
    "run_step",
    "tokenize_conversation",
    "train_step",
    "train_worker",
    "wrap_ddp",
    "wrap_fsdp",
]
