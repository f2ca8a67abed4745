"""Weighted supervised fine-tuning with the ``transformers`` Trainer (method §5.7, fixed per §9.25).

Each example is ``{text, prompt_chars, weight_start}``: tokens inside the prompt (the first
``prompt_chars`` characters) get no loss; tokens from character ``weight_start`` (the first
``\\nFeedback:``) to the end, EOS included, get weight ``w``; EOS is appended; padding is
excluded from the loss. The loss is ``sum(ce * weight) / (number of target tokens)``: weights
are not normalised, as in the original.
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from transformers import Trainer, TrainingArguments

from tripost.io import permissions_by_umask
from tripost.job_settings import TrainingSettings
from tripost.model import job_device, use_bf16

IGNORE = -100


def mask_before_weighted(row: dict[str, Any]) -> dict[str, Any]:
    """The original's ``mask_before_att_start_text``: no loss before the weighted section, so an
    improvement example trains the feedback and the update but not M's own wrong attempt."""
    if row.get("weight_start") is None:
        return row
    return {**row, "prompt_chars": row["weight_start"]}


def encode_example(
    tokenizer, text: str, prompt_chars: int, weight_start: int | None, weight: float
) -> dict[str, list]:
    """Token ids, labels and per-token loss weights for one training text."""
    encoded = tokenize(tokenizer, [text])
    return label_tokens(encoded["input_ids"][0], encoded["offset_mapping"][0], len(text), tokenizer.bos_token_id,
                        tokenizer.eos_token_id, prompt_chars, weight_start, weight)


def tokenize(tokenizer, texts: list[str]):
    """Token ids (BOS included where the tokenizer adds one) and character offsets of ``texts``."""
    return tokenizer(texts, add_special_tokens=True, return_offsets_mapping=True,
                     return_attention_mask=False, return_token_type_ids=False)


def label_tokens(ids: list[int], offsets: list[tuple[int, int]], text_chars: int, bos_id: int | None,
                 eos_id: int, prompt_chars: int, weight_start: int | None, weight: float) -> dict[str, list]:
    """The tokens ``ids`` of a text of ``text_chars`` characters, at character ``offsets``, with EOS
    appended (at the text's end); each token's label (``IGNORE`` for BOS and for the tokens that end
    inside the first ``prompt_chars`` characters) and its loss weight (``weight`` for the labelled
    tokens that start at ``weight_start`` or later, else 1)."""
    ids = np.asarray(list(ids) + [eos_id], dtype=np.int64)
    spans = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    starts = np.append(spans[:, 0], text_chars)
    ends = np.append(spans[:, 1], text_chars)
    in_prompt = ends <= prompt_chars
    if bos_id is not None:
        in_prompt[:-1] |= ids[:-1] == bos_id
    labels = np.where(in_prompt, IGNORE, ids)
    weighted = ~in_prompt & (starts >= weight_start) if weight_start is not None else np.zeros_like(in_prompt)
    weights = np.where(weighted, weight, 1.0)
    return {"input_ids": ids.tolist(), "labels": labels.tolist(), "weights": weights.tolist()}


@dataclass
class Collator:
    """Right-pads a batch; padding gets label ``-100`` and weight 0.

    No attention mask: under causal attention a right-padded row's real positions attend only to
    the real positions before them, so the padding after them changes none of their outputs, and
    the padded positions carry no loss. Without a mask transformers builds no padding mask, and
    SDPA attention (a loaded checkpoint's: every TriPosT iteration) runs causal without reading
    one: 1.2-1.4x the tokens/s on word-sorting trajectories. Eager attention (the scratch model's
    baseline) builds its causal mask either way. The trained weights were the same bit for bit on
    the CPU measured (docs/recipe.md, session 22).
    """

    pad_id: int

    def __call__(self, batch: list[dict[str, list]]) -> dict[str, torch.Tensor]:
        width = max(len(b["input_ids"]) for b in batch)
        out = {"input_ids": [], "labels": [], "weights": []}
        for b in batch:
            pad = width - len(b["input_ids"])
            out["input_ids"].append(b["input_ids"] + [self.pad_id] * pad)
            out["labels"].append(b["labels"] + [IGNORE] * pad)
            out["weights"].append(b["weights"] + [0.0] * pad)
        return {"input_ids": torch.tensor(out["input_ids"]), "labels": torch.tensor(out["labels"]),
                "weights": torch.tensor(out["weights"], dtype=torch.float32)}


def weighted_loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy, times the target token's weight, over the number of targets."""
    logits, labels, weights = logits[:, :-1].float(), labels[:, 1:], weights[:, 1:]
    ce = F.cross_entropy(
        logits.reshape(-1, logits.size(-1)), labels.reshape(-1), ignore_index=IGNORE, reduction="none"
    ).view_as(labels)
    counted = labels != IGNORE
    return (ce * weights * counted).sum() / counted.sum().clamp(min=1)


class WeightedLossTrainer(Trainer):
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels, weights = inputs.pop("labels"), inputs.pop("weights")
        outputs = model(**inputs)
        loss = weighted_loss(outputs.logits, labels, weights)
        return (loss, outputs) if return_outputs else loss


class ListDataset(torch.utils.data.Dataset):
    def __init__(self, items: list[dict[str, Any]]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.items[index]


def encode_dataset(tokenizer, rows: list[dict], weight: float, max_length: int,
                   chunk: int = 1024) -> tuple[list[dict], int]:
    """Encoded examples (``label_tokens``), and how many were dropped for exceeding ``max_length``
    tokens. The texts are tokenized ``chunk`` at a time (half the time of one at a time for the
    arithmetic baseline's 50k rows, and the same items)."""
    items, dropped = [], 0
    for first in range(0, len(rows), chunk):
        part = rows[first:first + chunk]
        encoded = tokenize(tokenizer, [row["text"] for row in part])
        for row, ids, offsets in zip(part, encoded["input_ids"], encoded["offset_mapping"], strict=True):
            item = label_tokens(ids, offsets, len(row["text"]), tokenizer.bos_token_id, tokenizer.eos_token_id,
                                row["prompt_chars"], row.get("weight_start"), weight)
            if len(item["input_ids"]) > max_length:
                dropped += 1
                continue
            items.append(item)
    return items, dropped


def deepspeed_process_env() -> None:
    """What DeepSpeed needs from the process environment. A process group even for one process: a
    job that Snakemake started directly (not ``torchrun`` or ``deepspeed``, which set ``RANK``)
    gets a one-process group on loopback, on a free port so that jobs side by side do not collide.
    And ``ninja``, which compiles DeepSpeed's ops on first use, on PATH: pip puts it beside the
    interpreter, which is not on PATH when the workflow runs as ``.venv/bin/snakemake``."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
    if "RANK" in os.environ:
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK="0", LOCAL_RANK="0", WORLD_SIZE="1")


def worth_compiling(cfg: TrainingSettings, tokens_per_epoch: int) -> bool:
    """Whether the job trains on enough tokens (``compile_min_tokens``) for ``torch.compile`` to pay."""
    return cfg.compile_min_tokens is not None and tokens_per_epoch * cfg.epochs >= cfg.compile_min_tokens


def can_compile(device: torch.device) -> bool:
    """Whether ``torch.compile`` can build kernels for ``device``: on the CPU, Inductor needs a C++
    compiler (``g++``, or ``$CXX``). Without one the job trains eager, and says so on stderr."""
    if device.type != "cpu":
        return True
    from torch._inductor import cpp_builder, exc

    try:
        cpp_builder.get_cpp_compiler()
    except exc.InvalidCxxCompiler:
        print("compile_min_tokens: no C++ compiler for torch.compile on this machine: training eager",
              file=sys.stderr)
        return False
    return True


def compile_blocks(model) -> None:
    """``torch.compile`` each of the model's repeated blocks (its decoder layers: the classes
    ``_no_split_modules`` names), in place, with dynamic shapes since every length-grouped batch
    has its own length. Regional: the embedding, the rotary table, the final norm and the head
    stay eager, and so does the autocast the Trainer wraps around the forward. The module keeps its
    parameter names, so it saves as it would uncompiled. (The whole model compiled trains 5%
    slower than this and scored lower on validation on both seeds tried, docs/recipe.md,
    sessions 16-17.)"""
    names = set(getattr(model, "_no_split_modules", None) or ())
    blocks = [module for module in model.modules() if type(module).__name__ in names]
    if not blocks:
        raise ValueError(f"{type(model).__name__} names no repeated block (_no_split_modules) to compile")
    for block in blocks:
        block.compile(dynamic=True)


def train(model, tokenizer, rows: list[dict], out_dir: Path, cfg: TrainingSettings, weight: float, seed: int) -> dict:
    """Fine-tune ``model`` on ``rows``; save model and tokenizer to ``out_dir``. Returns stats."""
    items, dropped = encode_dataset(tokenizer, rows, weight, cfg.max_length)
    if not items:
        raise ValueError("no training example fits in training.max_length tokens")
    if cfg.deepspeed:
        deepspeed_process_env()
    n_tokens = sum(len(i["input_ids"]) for i in items)
    compiled = worth_compiling(cfg, n_tokens) and can_compile(job_device())
    if compiled:
        compile_blocks(model)
    bf16 = use_bf16(cfg.bf16, job_device())
    args = TrainingArguments(
        output_dir=str(out_dir / "trainer"),
        num_train_epochs=cfg.epochs,
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.lr,
        lr_scheduler_type=cfg.lr_scheduler,
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm,
        bf16=bf16,
        use_cpu=not torch.cuda.is_available(),
        deepspeed=cfg.deepspeed or None,
        seed=seed,
        data_seed=seed,
        save_strategy="no",
        report_to="none",
        remove_unused_columns=False,
        train_sampling_strategy="group_by_length",
        dataloader_num_workers=0,
        disable_tqdm=False,
    )
    # the optimizer steps per epoch, over every process and GPU (known once the devices are set up)
    steps_per_epoch = math.ceil(len(items)
                                / (args.train_batch_size * args.gradient_accumulation_steps * args.world_size))
    args.warmup_steps = int(cfg.warmup_ratio * steps_per_epoch * cfg.epochs)
    args.logging_steps = max(1, steps_per_epoch // 5)
    trainer = WeightedLossTrainer(
        model=model, args=args, train_dataset=ListDataset(items), data_collator=Collator(tokenizer.pad_token_id)
    )
    result = trainer.train()
    # drop the mixed-precision forward wrapper, so the caller gets back a plain fp32 model
    trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False)
    trainer.save_model(str(out_dir))
    (out_dir / "training_args.bin").unlink(missing_ok=True)  # the Trainer's pickled arguments: paths of this run only
    shutil.rmtree(out_dir / "trainer", ignore_errors=True)  # its output_dir, empty: save_strategy is "no"
    tokenizer.save_pretrained(str(out_dir))
    permissions_by_umask(out_dir)
    seconds = result.metrics.get("train_runtime") or 0.0
    return {
        "devices": f"{args.world_size} process(es) x {max(args.n_gpu, 1)} {args.device.type}",
        "deepspeed": cfg.deepspeed or None,
        "precision": "bf16 autocast" if bf16 else "fp32",
        "compiled": compiled,
        "zero_stage": trainer.accelerator.deepspeed_plugin.zero_stage if trainer.is_deepspeed_enabled else None,
        "examples": len(items),
        "dropped_too_long": dropped,
        "tokens_per_epoch": n_tokens,
        "train_loss": result.training_loss,
        # how fast: of this run and machine only (stages.write_train_stats keeps it out of the checkpoint)
        "speed": {"train_seconds": seconds, "tokens_per_second": n_tokens * cfg.epochs / max(seconds, 1e-9),
                  "peak_gpu_memory_gib": (torch.cuda.max_memory_allocated() / 2**30
                                          if torch.cuda.is_available() else None)},
    }
