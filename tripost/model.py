"""Building the small from-scratch Llama, or loading any Hugging Face causal LM."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM


def build_scratch_model(tokenizer, arch: dict[str, Any], seed: int) -> LlamaForCausalLM:
    """A ``LlamaForCausalLM`` initialised from scratch, sized by ``model.scratch`` in the config."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=arch["hidden_size"],
        intermediate_size=arch["intermediate_size"],
        num_hidden_layers=arch["num_layers"],
        num_attention_heads=arch["num_heads"],
        num_key_value_heads=arch["num_heads"],
        max_position_embeddings=arch["max_positions"],
        rope_theta=arch.get("rope_theta", 10000.0),
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        attn_implementation="eager",  # faster than SDPA for this size on CPU (benchmarks/README)
    )
    return LlamaForCausalLM(config)


def load(path: str | Path, dtype: torch.dtype | None = None):
    """(model, tokenizer) from a ``save_pretrained`` folder or a hub-style path."""
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype or torch.float32)
    return model, tokenizer


def inference_device() -> torch.device:
    """Where generation runs: the job's first GPU when it has one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_for_generation(path: str | Path, bf16: bool):
    """(model, tokenizer) on ``inference_device()``. On a GPU with ``bf16`` the weights are bf16
    (half the memory of a 7B model); on the CPU they stay fp32 and ``bf16`` means autocast."""
    device = inference_device()
    model, tokenizer = load(path, torch.bfloat16 if bf16 and device.type == "cuda" else torch.float32)
    return model.to(device), tokenizer


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
