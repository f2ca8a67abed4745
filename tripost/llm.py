"""Any OpenAI-compatible LLM through the real ``openai`` client (OpenAI, Azure, vLLM, Ollama,
llama.cpp, ``transformers serve``).

Every response is kept in an on-disk cache keyed by (model, API, prompt, sampling parameters,
sample index), so a rerun or a resumed run makes no repeated call and rebuilds the same artifacts.
Calls are retried with exponential backoff on 408/409/429/5xx, timeouts and connection errors
(honouring ``Retry-After``); ``map`` runs at most ``concurrency`` calls at a time. A ``Ledger``
counts calls, cache hits, retries, tokens and cost for the artifact it is written next to. The API
key is read from the environment variable the config names, and is never written anywhere.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import openai

from tripost import io
from tripost.job_settings import LLMSettings, Prices

RETRIED_STATUS = {408, 409, 429} | set(range(500, 600))
STOP = "[END]"  # the few-shot blocks end every example with it (method §2.7)


class LLMError(RuntimeError):
    """A call that cannot succeed (bad request, auth, missing key) or ran out of retries."""


@dataclass
class Ledger:
    """What the calls behind one artifact cost. A response that this artifact paid for before its
    job was interrupted counts as paid again when the rerun reads it from the cache, so the rerun's
    ledger equals an uninterrupted run's."""

    model: str = ""
    calls: int = 0  # requests paid for by this artifact (answered by the server, now or before a rerun)
    cached: int = 0  # answered from the cache, paid for by another artifact or earlier in this one
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    owner: str = field(default="", repr=False, compare=False)  # the artifact it belongs to (its path)
    _charged: set[str] = field(default_factory=set, repr=False, compare=False)  # request keys paid here
    _costs: list[float] = field(default_factory=list, repr=False, compare=False)  # USD of each paid request
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def charge(self, key: str, response: dict[str, Any], prices: Prices) -> None:
        """Count one paid request (once per key: a repeat of a key is a cache hit)."""
        with self._lock:
            if key in self._charged:
                self.cached += 1
                return
            self._charged.add(key)
            self.calls += 1
            self.prompt_tokens += response["prompt_tokens"]
            self.completion_tokens += response["completion_tokens"]
            self._costs.append((response["prompt_tokens"] * prices.prompt
                                + response["completion_tokens"] * prices.completion) / 1e6)

    @property
    def cost_usd(self) -> float:
        """The exactly rounded sum of the paid requests' costs: the same whatever order the worker
        threads paid them in (a running float sum is not, and a rerun's ledger must equal the run's)."""
        with self._lock:
            return math.fsum(self._costs)

    def add(self, **amounts: float) -> None:
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def to_json(self) -> dict[str, Any]:
        counts = {f.name: getattr(self, f.name) for f in fields(self)
                  if not f.name.startswith("_") and f.name != "owner"}
        return {**counts, "cost_usd": self.cost_usd}

    def write(self, path: Path, **counts: Any) -> None:
        """The ledger, with the artifact's own ``counts`` (records kept, dropped...), as JSON."""
        io.write_text(path, json.dumps({**self.to_json(), **counts}, indent=1) + "\n")


class ResponseCache:
    """A SQLite table of responses by request key; safe to share between threads and processes."""

    def __init__(self, directory: str | Path):
        Path(directory).mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(Path(directory) / "responses.sqlite", check_same_thread=False, timeout=60)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, request TEXT, response TEXT)")
            columns = [row[1] for row in self._db.execute("PRAGMA table_info(responses)")]
            if "paid_by" not in columns:  # a cache made before the ledgers knew who paid
                self._db.execute("ALTER TABLE responses ADD COLUMN paid_by TEXT")
            self._db.commit()

    def get(self, key: str) -> tuple[dict[str, Any], str | None] | None:
        """(response, the artifact that paid for it), or None."""
        with self._lock:
            row = self._db.execute("SELECT response, paid_by FROM responses WHERE key = ?", (key,)).fetchone()
        return (json.loads(row[0]), row[1]) if row else None

    def put(self, key: str, request: dict[str, Any], response: dict[str, Any], paid_by: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO responses (key, request, response, paid_by) VALUES (?, ?, ?, ?)",
                             (key, json.dumps(request, sort_keys=True), json.dumps(response), paid_by))
            self._db.commit()


def request_key(request: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


class LLM:
    """One configured endpoint and model (the ``expert.openai`` block of the config)."""

    def __init__(self, settings: LLMSettings, ledger: Ledger | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.settings = settings
        self.ledger = ledger or Ledger()
        if settings.connection is None:
            raise ValueError(f"{settings.model}: no connection settings (settings.job_expert adds them)")
        self.connection = settings.connection
        self.ledger.model = settings.model
        self.cache = ResponseCache(self.connection.cache)
        self._sleep = sleep
        self._client: openai.OpenAI | None = None
        self._key_locks: dict[str, threading.Lock] = {}
        self._key_locks_lock = threading.Lock()

    def _api_key(self) -> str:
        name = self.connection.api_key_env
        if not name:
            return "unused"  # a local server without authentication
        key = os.environ.get(name)
        if not key:
            raise LLMError(f"expert.openai.api_key_env: the environment variable {name} is not set")
        return key

    @property
    def client(self) -> openai.OpenAI:
        if self._client is None:  # made on first use: a fully cached run needs no key and no server
            self._client = openai.OpenAI(api_key=self._api_key(), base_url=self.connection.base_url,
                                         timeout=self.connection.timeout_s, max_retries=0)
        return self._client

    def complete(self, prompt: str, temperature: float, max_tokens: int, sample: int = 0) -> str:
        """The completion of ``prompt`` up to ``[END]`` (the cache keeps the server's text as it
        came); ``sample`` tells apart repeated samples."""
        request = {"model": self.settings.model, "api": self.settings.api, "prompt": prompt,
                   "temperature": temperature, "max_tokens": max_tokens, "stop": [STOP], "sample": sample}
        if self.settings.api == "chat":
            request["system"] = self.settings.system or ""
        key = request_key(request)
        with self._key_locks_lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # threads asking the same request wait for the first one's answer
            cached = self.cache.get(key)
            if cached is not None:
                response, paid_by = cached
                if self.ledger.owner and paid_by == self.ledger.owner:
                    self.ledger.charge(key, response, self.settings.price_per_million_tokens)
                else:
                    self.ledger.add(cached=1)
                return before_stop(response["text"])
            response = self._call_with_retries(request)
            self.cache.put(key, request, response, self.ledger.owner)
            self.ledger.charge(key, response, self.settings.price_per_million_tokens)
        return before_stop(response["text"])

    def _call_with_retries(self, request: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(self.connection.max_retries + 1):
            try:
                return self._read(self._call(request))
            except (openai.APIConnectionError, openai.APITimeoutError) as error:  # timeouts are connection errors
                wait, reason = None, type(error).__name__
            except (json.JSONDecodeError, openai.APIResponseValidationError, AttributeError, IndexError,
                    TypeError) as error:  # a body cut, garbled or empty
                wait, reason = None, f"unreadable response ({type(error).__name__})"
            except openai.APIStatusError as error:
                if error.status_code not in RETRIED_STATUS:
                    raise LLMError(f"{self.settings.model}: HTTP {error.status_code}: {error.message}") from None
                wait, reason = _retry_after(error.response), f"HTTP {error.status_code}"
            if attempt == self.connection.max_retries:
                raise LLMError(f"{self.settings.model}: gave up after {attempt + 1} tries ({reason})")
            self.ledger.add(retries=1)
            self._sleep(wait if wait is not None else min(60.0, 2.0 ** attempt) * (0.5 + random.random() / 2))
        raise AssertionError("unreachable")

    def _read(self, response) -> dict[str, Any]:
        """The text and token counts of a completion (an error if it has no choice)."""
        usage = response.usage
        choice = response.choices[0]
        text = choice.message.content if self.settings.api == "chat" else choice.text
        return {"text": text or "", "prompt_tokens": usage.prompt_tokens if usage else 0,
                "completion_tokens": usage.completion_tokens if usage else 0}

    def _call(self, request: dict[str, Any]):
        common = {"model": request["model"], "temperature": request["temperature"],
                  "max_tokens": request["max_tokens"], "stop": request["stop"]}
        if request["api"] == "chat":
            messages = ([{"role": "system", "content": request["system"]}] if request["system"] else [])
            messages.append({"role": "user", "content": request["prompt"]})
            return self.client.chat.completions.create(messages=messages, **common)
        return self.client.completions.create(prompt=request["prompt"], **common)


def before_stop(text: str) -> str:
    """``text`` up to the stop string: OpenAI leaves the stop string out of a completion, but some
    compatible servers (``transformers serve``) return it and what their last step decoded."""
    return text.split(STOP, 1)[0]


def _retry_after(response) -> float | None:
    try:
        return float(response.headers.get("retry-after"))
    except (TypeError, ValueError, AttributeError):
        return None
