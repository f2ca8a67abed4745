"""Building the small from-scratch Llama, or loading any Hugging Face causal LM."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

from tripost.job_settings import ScratchModelSettings


def build_scratch_model(tokenizer, arch: ScratchModelSettings, seed: int) -> LlamaForCausalLM:
    """A ``LlamaForCausalLM`` initialised from scratch, sized by ``model.scratch`` in the config."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=arch.hidden_size,
        intermediate_size=arch.intermediate_size,
        num_hidden_layers=arch.num_layers,
        num_attention_heads=arch.num_heads,
        num_key_value_heads=arch.num_heads,
        max_position_embeddings=arch.max_positions,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        # eager trains the whole baseline job at least as fast as SDPA on CPU: word sorting
        # compiled 0.98x, date understanding and logical deduction 0.80x and 0.83x for SDPA
        # (docs/recipe.md, session 23; SDPA was faster only in a probe of long rows)
        attn_implementation="eager",
    )
    return LlamaForCausalLM(config)


def load(path: str | Path, dtype: torch.dtype | None = None):
    """(model, tokenizer) from a ``save_pretrained`` folder or a hub-style path."""
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype or torch.float32)
    return model, tokenizer


def job_device() -> torch.device:
    """Where a job's model trains or generates: the job's first GPU when it has one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes in bf16 natively: a GPU that supports it, or a CPU on which
    oneDNN has bf16 kernels (AVX-512 or AMX). Elsewhere bf16 is emulated."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def use_bf16(requested: bool, device: torch.device) -> bool:
    """bf16 where it is requested and ``device`` computes it natively. Emulated bf16 is slower
    than fp32 (6-9x for the scratch model's training on a 2-core AVX2 CPU, docs/recipe.md), so
    ``bf16: true`` means fp32 there, and the job says so on stderr."""
    if requested and not native_bf16(device):
        _say_no_native_bf16(device.type)
        return False
    return requested


@functools.cache
def _say_no_native_bf16(device_type: str) -> None:
    print(f"bf16 requested, but this {device_type} has no native bf16: fp32 instead", file=sys.stderr)


def load_for_generation(path: str | Path, bf16: bool):
    """(model, tokenizer) on ``job_device()``. On a GPU with ``bf16`` the weights are bf16
    (half the memory of a 7B model); on the CPU they stay fp32 and ``bf16`` means autocast."""
    device = job_device()
    model, tokenizer = load(path, torch.bfloat16 if bf16 and device.type == "cuda" else torch.float32)
    return model.to(device), tokenizer


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
