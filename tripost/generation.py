"""Batched generation with the KV cache, prompts grouped by length.

A plain decoding loop over the model's own forward with a ``StaticCache`` (allocated once per
batch, so a step does not copy the whole cache as a growing cache does): for the small default
model the per-step overhead of ``model.generate`` costs more than the model itself, and large
batches amortise the per-step cost. Greedy, or sampling with temperature and top-p.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch
from tqdm import tqdm
from transformers import StaticCache


def _autocast(model, enabled: bool):
    if not enabled:
        return nullcontext()
    return torch.autocast(device_type=model.device.type, dtype=torch.bfloat16)


def pick_tokens(logits: torch.Tensor, cfg: dict[str, Any], generator: torch.Generator | None) -> torch.Tensor:
    """Next token per row: argmax, or a sample from the temperature/top-p distribution."""
    if not cfg["do_sample"]:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float() / cfg["temperature"], dim=-1)
    if cfg["top_p"] < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        outside = sorted_probs.cumsum(-1) - sorted_probs > cfg["top_p"]
        sorted_probs[outside] = 0.0
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def decode_batch(model, input_ids: torch.Tensor, attention: torch.Tensor, room: int, eos_id: int,
                 cfg: dict[str, Any], generator: torch.Generator | None) -> list[list[int]]:
    """New token ids per row (EOS excluded), for a left-padded batch."""
    positions = (attention.cumsum(-1) - 1).clamp(min=0)
    # bf16 autocast writes bf16 keys into an fp32 static cache, which fails: keep a growing cache then
    autocast = torch.is_autocast_enabled(input_ids.device.type)
    cache = None if autocast else StaticCache(config=model.config, max_cache_len=input_ids.size(1) + room)
    out = model(input_ids=input_ids, attention_mask=attention, position_ids=positions, past_key_values=cache,
                use_cache=True)
    past, logits = out.past_key_values, out.logits[:, -1]
    last_position = positions[:, -1:]
    finished = torch.zeros(input_ids.size(0), dtype=torch.bool, device=input_ids.device)
    steps = []
    for _ in range(room):
        token = pick_tokens(logits, cfg, generator)
        token = torch.where(finished, torch.full_like(token, eos_id), token)
        steps.append(token)
        finished |= token == eos_id
        if bool(finished.all()) or len(steps) == room:
            break
        attention = torch.cat([attention, torch.ones_like(attention[:, :1])], dim=1)
        last_position = last_position + 1
        out = model(input_ids=token[:, None], attention_mask=attention, position_ids=last_position,
                    past_key_values=past, use_cache=True)
        past, logits = out.past_key_values, out.logits[:, -1]
    table = torch.stack(steps, dim=1).tolist() if steps else [[] for _ in range(input_ids.size(0))]
    return [row[: row.index(eos_id)] if eos_id in row else row for row in table]


@torch.no_grad()
def generate(model, tokenizer, prompts: list[str], cfg: dict[str, Any], seed: int, desc: str = "generate") -> list[str]:
    """One continuation per prompt (special tokens removed); stops at EOS or ``max_new_tokens``.

    ``cfg``: ``batch_size``, ``max_new_tokens``, ``do_sample``, ``temperature``, ``top_p``, ``bf16``.
    Prompts are sorted by length so that a batch pads little; the output order is the input order.
    """
    model.eval()
    device = model.device
    limit = model.config.max_position_embeddings
    encoded = [tokenizer(p, add_special_tokens=True)["input_ids"] for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
    outputs: list[str] = [""] * len(prompts)
    generator = torch.Generator(device=device).manual_seed(seed) if cfg["do_sample"] else None
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    batches = [order[i: i + cfg["batch_size"]] for i in range(0, len(order), cfg["batch_size"])]
    for batch in tqdm(batches, desc=desc, mininterval=10):
        width = max(len(encoded[i]) for i in batch)
        room = min(cfg["max_new_tokens"], limit - width)
        if room <= 0:
            continue  # the prompt alone fills the context: nothing can be generated
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):
            input_ids[row, width - len(encoded[i]):] = torch.tensor(encoded[i])
            attention[row, width - len(encoded[i]):] = 1
        with _autocast(model, cfg["bf16"]):
            new_tokens = decode_batch(model, input_ids.to(device), attention.to(device), room,
                                      tokenizer.eos_token_id, cfg, generator)
        for i, tokens in zip(batch, new_tokens):
            outputs[i] = tokenizer.decode(tokens, skip_special_tokens=True)
    return outputs
