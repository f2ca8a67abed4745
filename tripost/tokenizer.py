"""The embedded default's tokenizer: characters, plus each fixed template phrase as one token.

Characters keep digits and letters individually visible to a small model (it must read the
n-th letter of a word and add digits); the long fixed phrases of the formats (the arithmetic
"order of operations" reminder, ``Answer: Let's think step by step.``, the feedback grammar)
become single tokens, so sequences stay short. Trained with the ``tokenizers`` library on the
pipeline's own training text and saved with ``save_pretrained``.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from tripost.formats import GRAMMAR_PHRASES

SPECIAL = {"pad_token": "<pad>", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
NUMBER = r"-?\d+"  # the only pre-tokens that merge; every other character is its own


class _NumbersOnly(dict):
    """``str.translate`` table: digits and ``-`` stay, every other character becomes a space."""

    def __missing__(self, code: int) -> str:
        return " "


NUMBERS_ONLY = _NumbersOnly({ord(c): c for c in "0123456789-"})


def merge_corpus(texts: Iterable[str], words_per_chunk: int = 100_000) -> list[str]:
    """What the BPE trainer needs of ``texts``, for the same tokenizer, in an eighth of their
    length: their digit and ``-`` runs of two characters or more (pre-tokenised again by
    ``NUMBER``, they give the numbers whose pair counts choose the merges; a single character has
    no pair), then every character once (the initial alphabet is sorted by code point: how often
    a character occurs does not matter)."""
    texts = list(texts)
    characters = set().union(*texts)
    runs = [run for run in "\n".join(texts).translate(NUMBERS_ONLY).split() if len(run) > 1]
    chunks = [" ".join(runs[i:i + words_per_chunk]) for i in range(0, len(runs), words_per_chunk)]
    return [*chunks, " ".join(sorted(characters))]


def train_tokenizer(texts: Iterable[str], phrases: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Characters, merges inside (signed) numbers up to ``vocab_size``, and ``phrases`` as tokens.

    Only digits merge: a number seen often enough becomes one token, every other character stays
    its own token. ``vocab_size`` at or below the alphabet size gives a pure character tokenizer.
    """
    tokenizer = Tokenizer(models.BPE(unk_token=SPECIAL["unk_token"]))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(NUMBER + r"|[\s\S]"), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(SPECIAL.values()), show_progress=False
    )
    tokenizer.train_from_iterator(merge_corpus(texts), trainer=trainer)
    # longest first (a phrase inside a longer one must not split it); ties by text, so that the ids
    # do not depend on the set's order (string hashing is randomised per process)
    all_phrases = sorted(set(GRAMMAR_PHRASES) | set(phrases), key=lambda p: (-len(p), p))
    tokenizer.add_tokens([AddedToken(p, normalized=False) for p in all_phrases])
    bos = SPECIAL["bos_token"]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", special_tokens=[(bos, tokenizer.token_to_id(bos))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, clean_up_tokenization_spaces=False, padding_side="left", **SPECIAL
    )
