"""Batched generation with the KV cache, prompts grouped by length."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch
from tqdm import tqdm


def _autocast(model, enabled: bool):
    if not enabled:
        return nullcontext()
    return torch.autocast(device_type=model.device.type, dtype=torch.bfloat16)


@torch.no_grad()
def generate(model, tokenizer, prompts: list[str], cfg: dict[str, Any], seed: int, desc: str = "generate") -> list[str]:
    """One continuation per prompt (special tokens removed); stops at EOS or ``max_new_tokens``.

    ``cfg``: ``batch_size``, ``max_new_tokens``, ``do_sample``, ``temperature``, ``top_p``, ``bf16``.
    Prompts are sorted by length so that a batch pads little; the output order is the input order.
    """
    tokenizer.padding_side = "left"
    model.eval()
    limit = model.config.max_position_embeddings
    encoded = [tokenizer(p, add_special_tokens=True)["input_ids"] for p in prompts]
    order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
    outputs: list[str] = [""] * len(prompts)
    torch.manual_seed(seed)
    batches = [order[i: i + cfg["batch_size"]] for i in range(0, len(order), cfg["batch_size"])]
    for batch in tqdm(batches, desc=desc, mininterval=10):
        width = max(len(encoded[i]) for i in batch)
        room = min(cfg["max_new_tokens"], limit - width)
        if room <= 0:
            continue  # the prompt alone fills the context: nothing can be generated
        input_ids = torch.full((len(batch), width), tokenizer.pad_token_id, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):
            input_ids[row, width - len(encoded[i]):] = torch.tensor(encoded[i])
            attention[row, width - len(encoded[i]):] = 1
        sampling = {"do_sample": True, "temperature": cfg["temperature"], "top_p": cfg["top_p"]} if cfg["do_sample"] else {"do_sample": False}
        with _autocast(model, cfg["bf16"]):
            generated = model.generate(
                input_ids=input_ids.to(model.device),
                attention_mask=attention.to(model.device),
                max_new_tokens=room,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
                use_cache=True,
                top_k=None,
                **sampling,
            )
        texts = tokenizer.batch_decode(generated[:, width:], skip_special_tokens=True)
        for i, text in zip(batch, texts):
            outputs[i] = text
    return outputs
