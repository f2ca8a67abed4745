"""Batched generation with the KV cache, prompts grouped by length.

A plain decoding loop over the model's own forward with a static KV cache (allocated once per
batch, so a step does not copy the whole cache as a growing cache does) that attends over its
filled part only (a step costs the tokens so far, not the whole buffer): for the small default
model the per-step overhead of ``model.generate`` costs more than the model itself, and large
batches amortise the per-step cost. Greedy, or sampling with temperature and top-p.

A row stops at EOS, at ``max_new_tokens``, at the end of a line that the caller's
``stop_after_line`` rejects (the reader would stop there anyway, so what it reads is the same),
or, when ``cfg.loop_window`` is set, once its last ``loop_window`` tokens are one cycle of at
most a quarter of that length repeated (``placebo placebo placebo ...``): a greedy loop that
would otherwise run to ``max_new_tokens`` without changing what is read but a longer tail.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext

import torch
import torch.nn.functional as F
from tqdm import tqdm
from transformers import DynamicCache
from transformers.cache_utils import Cache, StaticLayer

from tripost.job_settings import DecodingSettings
from tripost.model import use_bf16


def _autocast(model, bf16: bool):
    if not use_bf16(bf16, model.device):
        return nullcontext()
    return torch.autocast(device_type=model.device.type, dtype=torch.bfloat16)


def pick_tokens(logits: torch.Tensor, cfg: DecodingSettings, generator: torch.Generator | None) -> torch.Tensor:
    """Next token per row: argmax, or a sample from the temperature/top-p distribution."""
    if not cfg.do_sample:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float() / cfg.temperature, dim=-1)
    if cfg.top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        outside = sorted_probs.cumsum(-1) - sorted_probs > cfg.top_p
        sorted_probs[outside] = 0.0
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def in_loop(recent: torch.Tensor) -> torch.Tensor:
    """Rows of ``recent`` (rows x window tokens) that repeat one cycle of at most window / 4 tokens."""
    width = recent.size(1)
    looping = torch.zeros(recent.size(0), dtype=torch.bool)
    for period in range(1, width // 4 + 1):
        looping |= (recent[:, period:] == recent[:, :-period]).all(dim=1)
    return looping


class FilledStaticLayer(StaticLayer):
    """A static cache layer (one buffer, written in place) whose attention reads only the
    positions written so far. transformers' ``StaticLayer`` hands the whole buffer to attention,
    so a step's attention costs the longest prompt plus ``max_new_tokens`` however few tokens
    exist yet; the masked tail adds nothing to the result but its cost."""

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        keys, values = super().update(key_states, value_states, *args, **kwargs)
        filled = int(self.cumulative_length)
        return keys[:, :, :filled], values[:, :, :filled]

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return int(self.cumulative_length) + query_length, 0

    def keep_rows(self, keep: torch.Tensor) -> None:
        """Keep the rows ``keep`` only, copying their filled positions (the rest is never read)."""
        filled = int(self.cumulative_length)
        for name in ("keys", "values"):
            states = getattr(self, name)
            kept = states.new_empty((keep.numel(), *states.shape[1:]))
            kept[:, :, :filled] = states[keep, :, :filled]
            setattr(self, name, kept)
        self.batch_size = keep.numel()


def filled_static_cache(config, max_cache_len: int) -> Cache:
    """One ``FilledStaticLayer`` of ``max_cache_len`` positions per layer of the model."""
    return Cache(layers=[FilledStaticLayer(max_cache_len) for _ in range(config.num_hidden_layers)])


def _prefill(model, input_ids: torch.Tensor, attention: torch.Tensor, positions: torch.Tensor, cache,
             rows_per_chunk: int = 16):
    """Run the prompts into ``cache`` a few rows at a time; the logits at their last position.

    A padded batch's attention matrices grow with rows x width x cache length; chunks of rows
    keep them small (about twice as fast on CPU for 128 prompts of ~1000 tokens). A chunk runs
    without the left padding that all its rows share (batches are in order of length, so a chunk
    of short prompts skips most of the batch's width); its keys and values are padded back to the
    batch's width with zeros, at positions the attention mask hides.
    """
    logits, chunks = [], []
    width = input_ids.size(1)
    for start in range(0, input_ids.size(0), rows_per_chunk):
        rows = slice(start, start + rows_per_chunk)
        first = shared_padding(attention[rows])
        out = model(input_ids=input_ids[rows, first:], attention_mask=attention[rows, first:],
                    position_ids=positions[rows, first:], use_cache=True, logits_to_keep=1)
        logits.append(out.logits[:, -1])
        chunks.append([(_left_pad(layer.keys, width), _left_pad(layer.values, width))
                       for layer in out.past_key_values.layers])
    for index in range(len(chunks[0])):
        cache.update(torch.cat([chunk[index][0] for chunk in chunks]),
                     torch.cat([chunk[index][1] for chunk in chunks]), index)
    return cache, torch.cat(logits)


def shared_padding(attention: torch.Tensor) -> int:
    """How many leading columns of a left-padded ``attention`` mask are padding in every row."""
    return int(attention.any(dim=0).int().argmax())


def _left_pad(states: torch.Tensor, width: int) -> torch.Tensor:
    """Cache states (rows x heads x length x dim) with zeros before them, to ``width`` positions."""
    return F.pad(states, (0, 0, width - states.size(2), 0))


def _keep_rows(cache, keep: torch.Tensor) -> None:
    """Drop the cache's rows not in ``keep`` (static or growing cache alike)."""
    for layer in cache.layers:
        if isinstance(layer, FilledStaticLayer):
            layer.keep_rows(keep)
        else:
            layer.keys, layer.values = layer.keys[keep], layer.values[keep]


@torch.inference_mode()
def decode_batch(model, input_ids: torch.Tensor, attention: torch.Tensor, room: int, eos_id: int,
                 cfg: DecodingSettings, generator: torch.Generator | None,
                 line_ended: Callable[[int, list[int]], bool] | None = None,
                 newline_ids: torch.Tensor | None = None) -> list[list[int]]:
    """New token ids per row (EOS excluded), for a left-padded batch.

    ``line_ended(row, tokens)`` is asked after each token in ``newline_ids``; True ends the row.
    Finished rows leave the batch once they are a quarter of it, so that a step costs only the
    rows still running (a step's cost grows with the batch). With sampling, the random stream
    therefore depends on when rows finish; greedy decoding is unaffected. Inference mode, not
    ``no_grad``: no autograd bookkeeping at all, the same tokens, 1.08-1.11x the new tokens/s at
    batch 32 on CPU (docs/recipe.md, session 25).
    """
    positions = (attention.cumsum(-1) - 1).clamp(min=0)
    # bf16 autocast writes bf16 keys into an fp32 static cache, which fails: keep a growing cache then
    autocast = torch.is_autocast_enabled(input_ids.device.type)
    cache = (DynamicCache(config=model.config) if autocast
             else filled_static_cache(model.config, max_cache_len=input_ids.size(1) + room))
    past, logits = _prefill(model, input_ids, attention, positions, cache)
    last_position = positions[:, -1:]
    table = torch.full((input_ids.size(0), room), eos_id, dtype=torch.long)
    rows = torch.arange(input_ids.size(0))  # the batch row of each row still decoded
    finished = torch.zeros(rows.size(0), dtype=torch.bool)
    window = cfg.loop_window or 0
    for step in range(room):
        token = pick_tokens(logits, cfg, generator).cpu()
        running = ~finished
        table[rows[running], step] = token[running]
        finished |= token == eos_id
        if line_ended is not None:
            for at in torch.nonzero(torch.isin(token, newline_ids) & ~finished).flatten().tolist():
                row = int(rows[at])
                if line_ended(row, table[row, : step + 1].tolist()):
                    finished[at] = True
        if window and step + 1 >= window and (step + 1) % 8 == 0:
            finished |= in_loop(table[rows, step + 1 - window: step + 1])
        if bool(finished.all()) or step == room - 1:
            break
        attention = torch.cat([attention, torch.ones_like(attention[:, :1])], dim=1)
        last_position = last_position + 1
        if 4 * int(finished.sum()) >= finished.size(0):
            keep = torch.nonzero(~finished).flatten()
            rows, finished, token = rows[keep], finished[keep], token[keep]
            keep = keep.to(attention.device)
            _keep_rows(past, keep)
            attention, last_position = attention[keep], last_position[keep]
        out = model(input_ids=token[:, None].to(attention.device), attention_mask=attention,
                    position_ids=last_position, past_key_values=past, use_cache=True)
        past, logits = out.past_key_values, out.logits[:, -1]
    return [row[: row.index(eos_id)] if eos_id in row else row for row in table.tolist()]


@torch.inference_mode()
def generate(model, tokenizer, prompts: list[str], cfg: DecodingSettings, seed: int, desc: str = "generate",
             stop_after_line: Callable[[int, str], bool] | None = None) -> list[str]:
    """One continuation per prompt (special tokens removed); stops at EOS or ``max_new_tokens``.

    ``cfg``'s ``batch_size`` is rows, or ``"auto"`` (see ``batches_for``); it may be the
    ``evaluation`` block or a rollout's (the ``revise_on`` and ``max_calls`` they carry are the
    caller's).
    Prompts are batched by length so that a batch pads little; the output order is the input order.
    ``stop_after_line(i, text)``, if given, is asked whenever a line of prompt ``i``'s continuation
    ends (``text``: the continuation up to that line break); True ends the continuation.
    """
    model.eval()
    device = model.device
    limit = model.config.max_position_embeddings
    encoded = [tokenizer(p, add_special_tokens=True)["input_ids"] for p in prompts]
    outputs: list[str] = [""] * len(prompts)
    generator = torch.Generator(device=device).manual_seed(seed) if cfg.do_sample else None
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    batches = batches_for(model, [len(ids) for ids in encoded], cfg)
    newline_ids = _newline_ids(tokenizer) if stop_after_line else None
    for batch in tqdm(batches, desc=desc, mininterval=10):
        width = max(len(encoded[i]) for i in batch)
        room = min(cfg.max_new_tokens, limit - width)
        if room <= 0:
            continue  # the prompt alone fills the context: nothing can be generated
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):
            input_ids[row, width - len(encoded[i]):] = torch.tensor(encoded[i])
            attention[row, width - len(encoded[i]):] = 1
        line_ended = None
        if stop_after_line is not None:
            def line_ended(row: int, tokens: list[int], batch: list[int] = batch) -> bool:
                text = tokenizer.decode(tokens, skip_special_tokens=True)
                return stop_after_line(batch[row], text[: text.rfind("\n") + 1])
        with _autocast(model, cfg.bf16):
            new_tokens = decode_batch(model, input_ids.to(device), attention.to(device), room,
                                      tokenizer.eos_token_id, cfg, generator, line_ended, newline_ids)
        for i, tokens in zip(batch, new_tokens):
            outputs[i] = tokenizer.decode(tokens, skip_special_tokens=True)
    return outputs


AUTO_MAX_ROWS = 256  # `batch_size: auto`: at most this many rows, however much memory is free
AUTO_MEMORY_SHARE = 0.5  # ... and a KV cache of at most this share of the free memory


def kv_cache_bytes_per_token(config, dtype: torch.dtype) -> int:
    """Bytes of keys and values that one token holds in the cache, over all layers."""
    heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return 2 * config.num_hidden_layers * heads * head_dim * torch.finfo(dtype).bits // 8


def free_memory_bytes(device: torch.device) -> int:
    """Free memory of ``device``: the GPU's free memory, or the machine's available memory."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    import psutil

    return psutil.virtual_memory().available


def length_batches(lengths: list[int], max_rows: int, room: int, cache_tokens: int | None = None) -> list[list[int]]:
    """Prompt indices grouped into batches of similar length (so that a batch pads little): in
    order of length, at most ``max_rows`` rows a batch and, when ``cache_tokens`` is given, at most
    that many cache slots (rows x (longest prompt + ``room``)); a prompt always gets a batch."""
    batches: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        batch = batches[-1] if batches else None
        if batch is not None and len(batch) < max_rows and (
                cache_tokens is None or (len(batch) + 1) * (lengths[i] + room) <= cache_tokens):
            batch.append(i)
        else:
            batches.append([i])
    return batches


def batches_for(model, lengths: list[int], cfg: DecodingSettings) -> list[list[int]]:
    """``cfg.batch_size`` rows a batch, or with ``"auto"`` as many as the device's free memory
    holds the KV cache of (at most ``AUTO_MAX_ROWS``): sized to the GPU the job runs on."""
    if cfg.batch_size != "auto":
        return length_batches(lengths, cfg.batch_size, cfg.max_new_tokens)
    dtype = torch.bfloat16 if use_bf16(cfg.bf16, model.device) else model.dtype
    budget = AUTO_MEMORY_SHARE * free_memory_bytes(model.device)
    cache_tokens = int(budget // kv_cache_bytes_per_token(model.config, dtype))
    return length_batches(lengths, AUTO_MAX_ROWS, cfg.max_new_tokens, cache_tokens)


def _newline_ids(tokenizer) -> torch.Tensor:
    """Ids of the vocabulary's tokens that contain a line break."""
    pieces = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
    return torch.tensor([i for i, piece in enumerate(pieces) if "\n" in piece], dtype=torch.long)
