"""The scratch tokenizer: trained on a reduced corpus, it is the one the full text gives."""

from __future__ import annotations

import pytest

from tripost import tokenizer as scratch

TEXTS = [
    "Q: ((-3 + 12) * (45 - -6)) =\nA: 123 - 45 = 78, then 78 * -9 = -702. So the answer is -702.",
    "x--3 and 3- and 10-20 -0 007 - 5 \u00e9t\u00e9 \u2014 caf\u00e9 12\t34\n\n56",
    "Today is 01/02/2019. What is the date 10 days ago in MM/DD/YYYY? 12/23/2018",
    "apple banana cherry: 1 2 3 11 22 33 111 222 333 12 12 12 -12 -12",
] * 3


@pytest.mark.parametrize("vocab_size", [0, 50, 70, 90, 400])
def test_the_merge_corpus_trains_the_tokenizer_the_full_text_trains(vocab_size, monkeypatch):
    reduced = scratch.train_tokenizer(TEXTS, ["So the answer is"], vocab_size)
    monkeypatch.setattr(scratch, "merge_corpus", lambda texts: texts)
    full = scratch.train_tokenizer(TEXTS, ["So the answer is"], vocab_size)
    assert reduced.backend_tokenizer.to_str() == full.backend_tokenizer.to_str()
    merged = [token for token in reduced.get_vocab() if len(token) > 1 and token.lstrip("-").isdigit()]
    alphabet = len(set("".join(TEXTS))) + len(scratch.SPECIAL)
    assert (len(merged) > 0) == (vocab_size > alphabet)  # a size above the alphabet merges numbers
    for text in TEXTS:
        assert reduced.decode(reduced(text, add_special_tokens=False)["input_ids"]) == text


def test_the_merge_corpus_keeps_numbers_and_every_character():
    corpus = scratch.merge_corpus(["a-12 b3\nc--4 7-", "z 56"], words_per_chunk=2)
    alphabet = " ".join(sorted(set("a-12 b3\nc--4 7-z 56")))
    assert corpus == ["-12 --4", "7- 56", alphabet]  # single characters have no pair to count
