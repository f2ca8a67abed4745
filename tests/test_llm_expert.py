"""The OpenAI-compatible expert, driven through the real ``openai`` client against a real
``transformers serve`` on loopback, behind a fault-injecting HTTP proxy that the tests use to make
the server fail and recover. Two served models: a tiny Llama with random weights (every answer
unparsable: the failure paths) and one trained here to answer the expert's prompts of fixed
trajectories as the scripted expert would (the success path: LLM edits reach the training data)."""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import os
import socket
import string
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tripost import io, stages
from tripost.expert import error_line_index, gold_continuation, plant_error
from tripost.formats import StepError, is_done_feedback, tabular_error_feedback
from tripost.job_settings import ExpertSettings, Prices, llm_settings
from tripost.llm import LLM, STOP, Ledger, LLMError
from tripost.llm_expert import FewShot, LLMExpert, clean_attempt, feedback_table, is_legit_update, parse_table
from tripost.tasks import get_task
from tripost.tasks.date_understanding import _extra_questions

from conftest import (
    ONE_PASS,
    REPO,
    data_settings,
    quick_config,
    scratch_model,
    snakemake,
    training_settings,
    write_config,
)

DU = get_task("date_understanding")
SECRET = "sk-test-never-written-0123456789"



# ---- pure parts ---------------------------------------------------------------------------------
def _records(n: int = 12) -> list[dict]:
    return _extra_questions({"extra_seed": 7, "n_extra_train": n}, [])


def test_few_shot_blocks_are_built_by_the_scripted_expert():
    records = _records()
    few = FewShot(DU, records, 3)
    assert len(few.rationale) == len(few.feedback) == len(few.update) == 3
    for example in few.feedback:
        assert "\nEarliest error step: (" in example and "\nError segment: " in example and example.endswith(" [END]")
    wrong, error = plant_error(DU, records[0])
    assert DU.first_error(records[0], wrong) == error and wrong != DU.solve(records[0])
    assert few.block("update").count("Updated Answer: Let's think step by step.") == 3


def test_table_parsing_and_the_rendered_feedback():
    attempt = ("(1) Tomorrow is 11/12/2019, so today is 11/12/2019.\n(2) The date tomorrow is 11/13/2019.\n"
               "(Final response) So the answer is (A).")
    table = ' (1)\nError segment: "today is 11/12/2019"\nError reason: Today is the day before, 11/11/2019.'
    error = parse_table(table, attempt)
    assert error == StepError("1", None, "today is 11/12/2019", "Today is the day before, 11/11/2019.")
    assert tabular_error_feedback(error, attempt) == ('In step (1) the part "today is 11/12/2019" is incorrect. '
                                               "This is because today is the day before, 11/11/2019.")
    second = parse_table(" (2)\nError segment: x\nError reason: wrong", attempt)
    assert tabular_error_feedback(second, attempt).startswith('Step (1) is correct. In step (2) the part "x"')
    final = parse_table(" (Final response)\nError segment: (A)\nError reason: it is (B)", attempt)
    assert tabular_error_feedback(final, attempt).startswith(
        "Step (1) to step (2) are correct. In step (Final response)")
    for bad in ("", " (1)\nError segment: x", " (7)\nError segment: x\nError reason: y",
                " none\nError segment: x\nError reason: y"):
        assert parse_table(bad, attempt) is None


def test_improvement_checks():
    old = "(1) a is 1.\n(2) b is 3.\n(Final response) So the answer is (A)."
    assert clean_attempt("(1) a is 1.\n(1) a is 1.\n(2) b is 2.\n(Final response) So the answer is (B).\nQ: next") == \
        "(1) a is 1.\n(2) b is 2.\n(Final response) So the answer is (B)."
    assert clean_attempt("(1) a is 1.\nsome chatter\n(Final response) So the answer is (B).") is None
    assert is_legit_update(old, "(1) a is 1.\n(2) b is 2.\n(Final response) So the answer is (B).", "2", "b is 3")
    assert not is_legit_update(old, old, "2", "b is 3")  # no change
    assert not is_legit_update(old, "(1) a is 5.\n(2) b is 2.\n(Final response) So the answer is (B).", "2", "b is 3")
    assert not is_legit_update(old, "(1) a is 1.\n(2) b is 3, so.\n(Final response) So the answer is (B).", "2",
                               "b is 3")
    assert not is_legit_update(old, "(1) a is 1.\n(2) b is 2.", "2", "b is 3")  # no final response


# ---- a real server on loopback ----------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FaultProxy(http.server.ThreadingHTTPServer):
    """Forwards requests to the server; the next ``failures`` answers are faults instead (a
    ``None`` among them lets one request through): an HTTP status (with ``Retry-After: 0``),
    ``(status, retry_after)``, ``"timeout"`` (no answer for ``stall_s``), ``"reset"`` (the
    connection closed half-way through the body), ``"invalid_json"`` (status 200, a body that is
    not JSON), ``"drop"`` (the connection closed before any answer: a server that died)."""

    def __init__(self, upstream: int):
        self.upstream, self.forwarded, self.failures, self.headers_seen = upstream, 0, [], []
        self.stall_s = 3.0
        self.on_forward: Callable[[int], None] | None = None  # called with the count before each forward
        self.delivered: set[bytes] = set()  # request bodies whose answer reached the client
        self.asked_again = 0  # requests forwarded although the same one was answered before
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _ProxyHandler)


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        proxy: FaultProxy = self.server
        with proxy.lock:
            proxy.headers_seen.append(self.headers.get("authorization", ""))
            failure = proxy.failures.pop(0) if proxy.failures else None  # None in the list: forward
            if failure is None:
                proxy.forwarded += 1
                proxy.asked_again += body in proxy.delivered
                count = proxy.forwarded
        if failure is not None:
            self._fault(failure)
            return
        if proxy.on_forward is not None:
            proxy.on_forward(count)
        try:
            connection = http.client.HTTPConnection("127.0.0.1", proxy.upstream, timeout=300)
            connection.request("POST", self.path, body, {"content-type": "application/json"})
            response = connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):  # the server is down: so is the connection
            self._fault("drop")
            return
        self.send_response(response.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()
        with proxy.lock:
            proxy.delivered.add(body)

    def _fault(self, failure) -> None:
        proxy: FaultProxy = self.server
        if failure == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if failure == "timeout":
            time.sleep(proxy.stall_s)
            self.close_connection = True
            return
        if isinstance(failure, tuple):
            status, retry_after = failure
        else:
            status, retry_after = (200, None) if isinstance(failure, str) else (failure, 0)
        payload = (b'{"id": "x", "choices": [{"text": "cut' if failure == "reset" else b"<html>not json"
                   if failure == "invalid_json" else json.dumps({"error": {"message": f"injected {status}"}}).encode())
        self.send_response(status)
        if retry_after is not None:
            self.send_header("retry-after", str(retry_after))
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload) * (4 if failure == "reset" else 1)))
        self.end_headers()
        self.wfile.write(payload)
        if failure == "reset":  # fewer bytes than announced, then the connection goes
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)


class Served:
    """``transformers serve`` of one model directory on a loopback port that stays the same when a
    test kills the server and starts it again."""

    def __init__(self, model_dir: Path, root: Path):
        self.model_dir, self.root, self.port = model_dir, root, _free_port()
        (root / "hub").mkdir(exist_ok=True)
        self.log = open(root / "serve.log", "a")
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        env = {**os.environ, "HF_HUB_CACHE": str(self.root / "hub"), "HF_HUB_OFFLINE": "1",
               "TRANSFORMERS_VERBOSITY": "error"}
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "transformers"), "serve", str(self.model_dir), "--host", "127.0.0.1",
             "--port", str(self.port), "--device", "cpu", "--format", "quiet"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/health")
                if connection.getresponse().status == 200:
                    self.starts += 1
                    return
            except OSError:
                time.sleep(0.5)
        self.process.kill()
        pytest.fail(f"transformers serve did not start: {(self.root / 'serve.log').read_text()[-2000:]}")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


@contextlib.contextmanager
def served_behind_proxy(model_dir: Path, root: Path) -> Iterator[tuple[FaultProxy, Served]]:
    served = Served(model_dir, root)
    served.start()
    proxy = FaultProxy(served.port)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        yield proxy, served
    finally:
        proxy.shutdown()
        served.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A tiny Llama with random weights (all printable characters in its vocabulary), served behind
    the fault-injecting proxy; yields (proxy, model name)."""
    from tripost.model import build_scratch_model
    from tripost.tokenizer import train_tokenizer

    root = tmp_path_factory.mktemp("llm")
    model_dir = root / "tiny-llm"
    tokenizer = train_tokenizer([string.printable] * 4, [], 0)
    tokenizer.chat_template = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}assistant:"
    model = build_scratch_model(tokenizer, scratch_model(32, 1, 2, 8192), seed=0)
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    with served_behind_proxy(model_dir, root) as (proxy, _):
        yield proxy, str(model_dir)


def _settings(proxy: FaultProxy, model: str, cache: Path, **changes) -> dict:
    settings = {
        "model": model, "base_url": f"http://127.0.0.1:{proxy.server_address[1]}/v1", "api_key_env": "TRIPOST_TEST_KEY",
        "api": "completions", "system": None, "concurrency": 2, "max_retries": 4, "timeout_s": 120,
        "cache": str(cache), "price_per_million_tokens": {"prompt": 1.0, "completion": 2.0}, "few_shot": 2,
        "rationale": {"temperature": 0.0, "max_tokens": 24, "samples": 1},
        "feedback": {"temperature": 0.0, "max_tokens": 24}, "improvement": {"temperature": 0.0, "max_tokens": 24},
    }
    return {**settings, **changes}


def test_completions_are_cached_and_counted(server, tmp_path, monkeypatch):
    proxy, model = server
    monkeypatch.setenv("TRIPOST_TEST_KEY", SECRET)
    llm = LLM(llm_settings(_settings(proxy, model, tmp_path / "cache")))
    before = proxy.forwarded
    text = llm.complete("Q: Tomorrow is 11/12/2019.\nAnswer:", 0.0, 16)
    assert isinstance(text, str) and proxy.forwarded == before + 1
    assert llm.ledger.calls == 1 and llm.ledger.prompt_tokens > 0 and llm.ledger.completion_tokens > 0
    assert llm.ledger.cost_usd == pytest.approx((llm.ledger.prompt_tokens + 2 * llm.ledger.completion_tokens) / 1e6)
    again = LLM(llm_settings(_settings(proxy, model, tmp_path / "cache")))  # a new process would read the same file
    assert again.complete("Q: Tomorrow is 11/12/2019.\nAnswer:", 0.0, 16) == text
    assert proxy.forwarded == before + 1 and again.ledger.cached == 1 and again.ledger.calls == 0
    again.complete("Q: Tomorrow is 11/12/2019.\nAnswer:", 0.0, 16, sample=1)  # another sample is another request
    assert proxy.forwarded == before + 2


def test_a_rerun_after_an_interruption_counts_what_the_artifact_paid_for(server, tmp_path, monkeypatch):
    """Requests paid for by an artifact before its job was killed count as paid in the rerun's
    ledger, which then equals an uninterrupted run's; no request is sent twice; a repeated request
    within the artifact, and one paid for by another artifact, are cache hits."""
    proxy, model = server
    monkeypatch.setenv("TRIPOST_TEST_KEY", SECRET)
    prompts = [f"Q: Today is 0{day}/01/2020.\nAnswer:" for day in range(1, 6)]
    asked = prompts + prompts[:2]  # two repeats within the artifact

    def run(owner: str, cache: str, ask: list[str]) -> Ledger:
        llm = LLM(llm_settings(_settings(proxy, model, tmp_path / cache)), Ledger(owner=owner))
        for prompt in ask:
            llm.complete(prompt, 0.0, 8)
        return llm.ledger

    before = proxy.forwarded
    whole = run("a.ledger.json", "cache-whole", asked)
    assert proxy.forwarded == before + 5 and whole.calls == 5 and whole.cached == 2
    run("a.ledger.json", "cache-killed", asked[:3])  # the job killed after three answers
    resumed = run("a.ledger.json", "cache-killed", asked)
    assert proxy.forwarded == before + 10  # 5 + 3 + the 2 not asked before the kill
    assert resumed.to_json() == whole.to_json()
    other = run("b.ledger.json", "cache-killed", prompts[:2])  # another artifact reads them
    assert other.calls == 0 and other.cached == 2 and other.cost_usd == 0


def test_the_chat_api_and_its_system_message(server, tmp_path, monkeypatch):
    proxy, model = server
    monkeypatch.setenv("TRIPOST_TEST_KEY", SECRET)
    system = "You are a helpful teacher."
    llm = LLM(llm_settings(_settings(proxy, model, tmp_path / "cache", api="chat", system=system)))
    before = proxy.forwarded
    assert isinstance(llm.complete("Q: Tomorrow is 11/12/2019.", 0.0, 8), str)
    assert proxy.forwarded == before + 1 and llm.ledger.calls == 1 and llm.ledger.completion_tokens > 0
    other = LLM(llm_settings(_settings(proxy, model, tmp_path / "cache", api="chat", system="Another system message.")))
    other.complete("Q: Tomorrow is 11/12/2019.", 0.0, 8)  # the system message is part of the request key
    assert proxy.forwarded == before + 2 and other.ledger.cached == 0


def test_retries_on_429_and_5xx_then_gives_up_clearly(server, tmp_path, monkeypatch):
    proxy, model = server
    monkeypatch.setenv("TRIPOST_TEST_KEY", SECRET)
    waits: list[float] = []
    llm = LLM(llm_settings(_settings(proxy, model, tmp_path / "cache")), sleep=waits.append)
    proxy.failures = [429, 503, 500]
    assert isinstance(llm.complete("Q: retry me", 0.0, 8), str)
    assert llm.ledger.retries == 3 and waits == [0.0, 0.0, 0.0]  # the proxy's Retry-After: 0
    proxy.failures = [503] * 5
    with pytest.raises(LLMError, match="gave up after 5 tries"):
        llm.complete("Q: never answered", 0.0, 8)
    proxy.failures = [401]
    with pytest.raises(LLMError, match="HTTP 401") as failure:
        llm.complete("Q: unauthorised", 0.0, 8)
    assert SECRET not in str(failure.value)
    assert proxy.headers_seen[-1] == f"Bearer {SECRET}"  # the key went to the server, and only there
    monkeypatch.delenv("TRIPOST_TEST_KEY")
    with pytest.raises(LLMError, match="TRIPOST_TEST_KEY is not set"):
        LLM(llm_settings(_settings(proxy, model, tmp_path / "other"))).complete("Q: no key", 0.0, 8)


def test_timeouts_resets_bad_bodies_and_retry_after_are_retried(server, tmp_path, monkeypatch):
    """Faults beyond an HTTP status: a stalled answer (the client's timeout), a body cut by a
    reset connection, a 200 whose body is not JSON, a dropped connection, a non-zero Retry-After;
    each retried, the answer the same as a clean call's, the retries counted."""
    proxy, model = server
    monkeypatch.setenv("TRIPOST_TEST_KEY", SECRET)
    clean = LLM(llm_settings(_settings(proxy, model, tmp_path / "clean"))).complete("Q: faults\nAnswer:", 0.0, 8)
    waits: list[float] = []
    llm = LLM(llm_settings(_settings(proxy, model, tmp_path / "cache", timeout_s=1, max_retries=8)), sleep=waits.append)
    proxy.stall_s = 2.0
    proxy.failures = ["timeout", "reset", "invalid_json", "drop", (429, 1.5), (503, 7)]
    assert llm.complete("Q: faults\nAnswer:", 0.0, 8) == clean
    assert not proxy.failures and llm.ledger.retries == 6 and llm.ledger.calls == 1
    assert waits[-2:] == [1.5, 7.0]  # the server's Retry-After is obeyed
    assert all(0 < wait <= 60 for wait in waits[:4])  # backoff with jitter for the others


def _planted(records: list[dict]) -> dict[str, tuple[str, StepError]]:
    """M's wrong attempts (and their planted error) by id: every question but every fourth."""
    return {record["id"]: plant_error(DU, record) for i, record in enumerate(records) if i % 4}


def _rollouts(path: Path, records: list[dict]) -> None:
    """M's trajectories: a planted wrong attempt for most questions, the gold one for every fourth."""
    planted = _planted(records)
    rows = [{"id": record["id"], "pass": 0, "attempts": [planted[record["id"]][0] if record["id"] in planted
                                                         else DU.solve(record)], "feedbacks": [], "malformed": False}
            for record in records]
    io.write_jsonl(path, rows)


def _config_block() -> dict:
    """config.yaml's ``expert.openai`` block."""
    return yaml.safe_load((REPO / "config.yaml").read_text())["expert"]["openai"]


def _expert_cfg(settings: dict) -> ExpertSettings:
    return ExpertSettings(kind="openai", max_rounds=2, openai=llm_settings(settings))


def test_feedback_and_improvement_stages_survive_a_failing_server(server, tmp_path, monkeypatch):
    """The same records from a clean server and from one that keeps failing: identical outputs,
    every trajectory exactly once; a rerun answers everything from the cache."""
    proxy, model = server
    monkeypatch.setenv("TRIPOST_TEST_KEY", SECRET)
    records = _records(12)
    by_id = {r["id"]: r for r in records}
    _rollouts(tmp_path / "rollouts.jsonl", records)
    outputs = {}
    for run, failures in (("clean", []), ("flaky", [503, 429, None, 502, 500, None, 504] * 3)):
        cfg = _expert_cfg(_settings(proxy, model, tmp_path / f"cache-{run}", max_retries=20))
        proxy.failures = list(failures)
        stages.feedback("date_understanding", tmp_path / "rollouts.jsonl", by_id, 200, cfg,
                        tmp_path / f"{run}.feedback.jsonl", tmp_path / f"{run}.feedback.ledger.json",
                        expected=stages.expected_trajectories(by_id, ONE_PASS))
        stages.improvement("date_understanding", tmp_path / f"{run}.feedback.jsonl", by_id, cfg,
                           tmp_path / f"{run}.improvements.jsonl", tmp_path / f"{run}.improvements.ledger.json",
                           expected=stages.expected_trajectories(by_id, ONE_PASS))
        outputs[run] = [io.read_jsonl(tmp_path / f"{run}.{kind}.jsonl") for kind in ("feedback", "improvements")]
        assert not proxy.failures  # every injected failure was met and retried
    assert outputs["clean"] == outputs["flaky"]
    feedback_rows = outputs["clean"][0]
    assert [r["id"] for r in feedback_rows] == [r["id"] for r in records]  # none lost, none duplicated
    assert sum(r["outcome"] == "directly_correct" for r in feedback_rows) == 3  # the gold short-cut, no call
    clean = json.loads((tmp_path / "clean.feedback.ledger.json").read_text())
    flaky = json.loads((tmp_path / "flaky.feedback.ledger.json").read_text())
    assert clean["calls"] == 9 and clean["retries"] == 0 and flaky["calls"] == 9 and flaky["retries"] == 15
    # a rerun (a resumed job) makes no request and writes the same rows
    forwarded = proxy.forwarded
    cfg = _expert_cfg(_settings(proxy, model, tmp_path / "cache-clean"))
    stages.feedback("date_understanding", tmp_path / "rollouts.jsonl", by_id, 200, cfg,
                    tmp_path / "rerun.jsonl", tmp_path / "rerun.ledger.json",
                    expected=stages.expected_trajectories(by_id, ONE_PASS))
    assert proxy.forwarded == forwarded and io.read_jsonl(tmp_path / "rerun.jsonl") == feedback_rows
    assert json.loads((tmp_path / "rerun.ledger.json").read_text())["cached"] == 9
    for path in tmp_path.rglob("*"):  # the key is in no output, ledger or cache file
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_llm_improvement_is_asked_once_per_edit_and_checked(server, tmp_path, monkeypatch):
    """Edits located by the scripted verifier, improved by the LLM: one request per edit and round;
    the tiny model's text never passes the legit-update check, so every edit is dropped, counted."""
    proxy, model = server
    monkeypatch.setenv("TRIPOST_TEST_KEY", SECRET)
    records = _records(8)
    by_id = {r["id"]: r for r in records}
    _rollouts(tmp_path / "rollouts.jsonl", records)
    scripted = ExpertSettings(kind="scripted", max_rounds=2)
    stages.feedback("date_understanding", tmp_path / "rollouts.jsonl", by_id, 200, scripted,
                    tmp_path / "feedback.jsonl", tmp_path / "feedback.ledger.json",
                    expected=stages.expected_trajectories(by_id, ONE_PASS))
    to_edit = sum(r["outcome"] == "to_edit" for r in io.read_jsonl(tmp_path / "feedback.jsonl"))
    assert to_edit == 6
    stages.improvement("date_understanding", tmp_path / "feedback.jsonl", by_id,
                       _expert_cfg(_settings(proxy, model, tmp_path / "cache")),
                       tmp_path / "improvements.jsonl", tmp_path / "improvements.ledger.json",
                       expected=stages.expected_trajectories(by_id, ONE_PASS))
    outcomes = [r["outcome"] for r in io.read_jsonl(tmp_path / "improvements.jsonl")]
    assert outcomes.count("dropped:improvement_failed") == to_edit and outcomes.count("directly_correct") == 2
    assert json.loads((tmp_path / "improvements.ledger.json").read_text())["calls"] == to_edit


# ---- an LLM that answers right -------------------------------------------------------------------
FEW_SHOT = 2


def _teaching_pairs(records: list[dict]) -> list[tuple[str, str]]:
    """(prompt, completion) of the feedback and the improvement requests for each wrong attempt of
    ``_rollouts``, answered as the scripted expert would: the verifier's table, then the gold
    lines from the error step on (the prompts are the LLM expert's own)."""
    prompts = LLMExpert(DU, None, FewShot(DU, records, FEW_SHOT), llm_settings(_config_block()))
    pairs = []
    by_id = {record["id"]: record for record in records}
    for key, (wrong, error) in _planted(records).items():
        record, table = by_id[key], feedback_table(error)
        pairs.append((prompts.feedback_prompt(record, wrong), f"{table} {STOP}"))
        step = parse_table(table, wrong).step
        continuation = gold_continuation(DU, record, wrong, step).split("\n")[error_line_index(wrong, step):]
        feedback = tabular_error_feedback(parse_table(table, wrong), wrong)
        pairs.append((prompts.update_prompt(record, wrong, feedback, step), "\n".join(continuation) + f" {STOP}"))
    return pairs


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    """A tiny Llama trained here (the real Trainer, seconds) to answer the feedback and
    improvement prompts of ``_rollouts``'s wrong attempts correctly; its tokenizer holds each of
    those prompts as one token, so that it need not learn the long few-shot blocks. Served behind
    the proxy; yields (proxy, the served process, model name, the questions)."""
    from tripost.model import build_scratch_model
    from tripost.tokenizer import train_tokenizer
    from tripost.training import train

    root = tmp_path_factory.mktemp("teacher")
    records = _records(8)
    pairs = _teaching_pairs(records)
    tokenizer = train_tokenizer([string.printable] * 4 + [answer for _, answer in pairs], [p for p, _ in pairs], 0)
    model = build_scratch_model(tokenizer, scratch_model(64, 2, 2, 1024), seed=0)
    rows = [{"text": prompt + answer, "prompt_chars": len(prompt)} for prompt, answer in pairs]
    settings = training_settings(max_length=1024, epochs=60, batch_size=4, lr=3e-3, lr_scheduler="constant",
                                 weight_decay=0.0, warmup_ratio=0.0, bf16=False)
    train(model, tokenizer, rows, root / "teacher", settings, 1.0, seed=0)
    with served_behind_proxy(root / "teacher", root) as (proxy, served):
        yield proxy, served, str(root / "teacher"), records


def _llm_edits(proxy: FaultProxy, model: str, records: list[dict], out: Path) -> dict[str, object]:
    """Feedback, improvements and the iteration's training data for ``_rollouts`` of ``records``,
    the LLM as the expert; every artifact read back."""
    out.mkdir()
    by_id = {record["id"]: record for record in records}
    _rollouts(out / "rollouts.jsonl", records)
    io.write_jsonl(out / "train.jsonl", records)
    io.write_jsonl(out / "rationales.jsonl", [{"id": r["id"], "rationale": DU.solve(r)} for r in records])
    answer = {"temperature": 0.0, "max_tokens": 400}
    cfg = _expert_cfg(_settings(proxy, model, out / "cache", max_retries=10, few_shot=FEW_SHOT,
                                feedback=answer, improvement=answer))
    expected = stages.expected_trajectories(by_id, ONE_PASS)
    stages.feedback("date_understanding", out / "rollouts.jsonl", by_id, 200, cfg, out / "feedback.jsonl",
                    out / "feedback.ledger.json", expected=expected)
    stages.improvement("date_understanding", out / "feedback.jsonl", by_id, cfg, out / "improvements.jsonl",
                       out / "improvements.ledger.json", expected=expected)
    stages.build_improvement_data("date_understanding", out / "improvements.jsonl", [out / "train.jsonl"],
                                  out / "rationales.jsonl", ONE_PASS, data_settings(max_data_length=10000), 0,
                                  out / "data.jsonl", out / "counts.json")
    return {**{name: io.read_jsonl(out / f"{name}.jsonl") for name in ("feedback", "improvements", "data")},
            **{f"{name}.ledger": json.loads((out / f"{name}.ledger.json").read_text())
               for name in ("feedback", "improvements")}, "counts": json.loads((out / "counts.json").read_text())}


def test_llm_edits_reach_the_improvements_and_the_training_data(teacher, tmp_path, monkeypatch):
    """The trained model's feedback locates each planted error, its improvement is the scripted
    expert's, and both reach the iteration's training data, through the real client and server."""
    proxy, _, model, records = teacher
    monkeypatch.setenv("TRIPOST_TEST_KEY", SECRET)
    run = _llm_edits(proxy, model, records, tmp_path / "run")
    planted, by_id = _planted(records), {record["id"]: record for record in records}
    feedback = {row["id"]: row for row in run["feedback"]}
    improvements = {row["id"]: row for row in run["improvements"]}
    assert len(feedback) == len(improvements) == len(records) and len(planted) == 6
    for key, row in feedback.items():
        if key not in planted:
            assert row["outcome"] == improvements[key]["outcome"] == "directly_correct"
            continue
        wrong, error = planted[key]
        llm_feedback = tabular_error_feedback(error, wrong)
        assert row["outcome"] == "to_edit" and row["feedback"] == llm_feedback
        improved = gold_continuation(DU, by_id[key], wrong, error.step)
        assert improvements[key]["outcome"] == "edited" and improvements[key]["attempts"] == [wrong, improved]
        assert improvements[key]["feedbacks"][0] == llm_feedback and is_done_feedback(improvements[key]["feedbacks"][1])
        # the edit is in the training data: M's attempt, the LLM's feedback, the LLM's improvement
        assert sum(f"{wrong}\nFeedback: {llm_feedback}" in row["text"] and improved in row["text"]
                   for row in run["data"]) == 1, key
    assert run["counts"]["num_improvement"] == 6 and run["counts"]["outcomes"] == {"edited": 6, "directly_correct": 2}
    for stage in ("feedback", "improvements"):
        ledger = run[f"{stage}.ledger"]
        assert ledger["calls"] == 6 and ledger["cached"] == ledger["retries"] == 0 and ledger["completion_tokens"] > 0
    assert all(SECRET.encode() not in path.read_bytes() for path in tmp_path.rglob("*") if path.is_file())


def test_a_server_killed_and_restarted_mid_stage_changes_nothing(teacher, tmp_path, monkeypatch):
    """``transformers serve`` killed (SIGKILL) as the third request reaches it, with another in
    flight, and started again: the client retries until it is back; every artifact equals an
    uninterrupted run's, each request answered once, each paid for once."""
    proxy, served, model, records = teacher
    monkeypatch.setenv("TRIPOST_TEST_KEY", SECRET)
    reference = _llm_edits(proxy, model, records, tmp_path / "reference")
    restarts: list[threading.Thread] = []
    starts, forwarded = served.starts, proxy.forwarded

    def kill_at_the_third(count: int) -> None:
        if count - forwarded == 3 and not restarts:
            served.kill()
            restarts.append(threading.Thread(target=served.start))
            restarts[0].start()

    proxy.delivered.clear()
    proxy.asked_again = 0
    proxy.on_forward = kill_at_the_third
    try:
        killed = _llm_edits(proxy, model, records, tmp_path / "killed")
    finally:
        proxy.on_forward = None
        for thread in restarts:
            thread.join()
    assert served.starts == starts + 1 and proxy.forwarded - forwarded > 12  # the lost requests, asked again
    assert proxy.asked_again == 0  # no request whose answer arrived was sent twice
    retries = killed["feedback.ledger"].pop("retries") + killed["improvements.ledger"].pop("retries")
    assert retries >= 1
    for stage in ("feedback", "improvements"):
        assert reference[f"{stage}.ledger"].pop("retries") == 0
    assert killed == reference


def test_rationales_that_all_miss_their_label_are_an_error_naming_the_file(tmp_path, monkeypatch):
    class Misses:  # an LLM whose every rationale misses the label
        def rationale(self, record, sample):
            return None

    monkeypatch.setattr(stages, "make_expert", lambda *args, **kwargs: Misses())
    io.write_jsonl(tmp_path / "train.jsonl", _records(4))
    block = {**_config_block(), "model": "m", "rationale": {"temperature": 0.7, "max_tokens": 8, "samples": 2},
             "concurrency": 1}
    cfg = ExpertSettings(kind="openai", openai=llm_settings(block))
    with pytest.raises(ValueError, match=r"rationales\.jsonl: no rationale of the 4 questions reaches its label \(m; "):
        stages.make_rationales("date_understanding", [tmp_path / "train.jsonl"], tmp_path / "rationales.jsonl", cfg,
                               tmp_path / "ledger.json")
    assert not (tmp_path / "rationales.jsonl").exists()
    assert json.loads((tmp_path / "ledger.json").read_text())["kept"] == 0


def test_llm_rationales_keep_only_answers_that_reach_the_label(server, tmp_path, monkeypatch):
    proxy, model = server
    monkeypatch.setenv("TRIPOST_TEST_KEY", SECRET)
    records = _records(6)
    io.write_jsonl(tmp_path / "train.jsonl", records)
    io.write_jsonl(tmp_path / "empty.jsonl", [])
    cfg = _expert_cfg(_settings(proxy, model, tmp_path / "cache"))
    try:
        stages.make_rationales("date_understanding", [tmp_path / "train.jsonl", tmp_path / "empty.jsonl",
                                                      tmp_path / "empty.jsonl"], tmp_path / "rationales.jsonl", cfg,
                               tmp_path / "ledger.json")
        kept = io.read_jsonl(tmp_path / "rationales.jsonl")
    except ValueError as error:  # the random tiny model may reach no label at all: an error, not an empty file
        assert "no rationale of the 6 questions reaches its label" in str(error)
        assert not (tmp_path / "rationales.jsonl").exists()
        kept = []
    ledger = json.loads((tmp_path / "ledger.json").read_text())
    assert ledger["questions"] == 6 and ledger["calls"] == 6 and ledger["kept"] == len(kept)
    for row in kept:  # whatever the tiny model wrote, what is kept reaches the labelled answer
        record = next(r for r in records if r["id"] == row["id"])
        assert DU.is_correct(DU.parse_answer(row["rationale"]), record)


def test_ledger_json_has_every_count():
    ledger, prices = Ledger(model="m"), Prices(prompt=2e4, completion=1e5)
    ledger.charge("a", {"prompt_tokens": 7, "completion_tokens": 3}, prices)
    ledger.charge("b", {"prompt_tokens": 3, "completion_tokens": 1}, prices)
    ledger.charge("a", {"prompt_tokens": 7, "completion_tokens": 3}, prices)  # a repeat is a cache hit
    ledger.add(retries=1)
    assert ledger.to_json() == {"model": "m", "calls": 2, "cached": 1, "retries": 1, "prompt_tokens": 10,
                                "completion_tokens": 4, "cost_usd": 0.6}


def test_ledger_cost_does_not_depend_on_the_order_requests_were_paid_in():
    """Worker threads pay in any order; a rerun answered by the cache must report the same cost."""
    prices = Prices(prompt=0.15, completion=0.6)
    responses = [{"prompt_tokens": 1000 + 37 * i, "completion_tokens": 11 + i % 7} for i in range(24)]
    costs = set()
    for order in (responses, responses[::-1], responses[1::2] + responses[::2]):
        ledger = Ledger()
        for response in order:
            ledger.charge(json.dumps(response), response, prices)
        costs.add(ledger.to_json()["cost_usd"])
    running = [0.0, 0.0]  # the running sums that made the bug: they differ in the last bits
    for i, order in enumerate((responses, responses[::-1])):
        for r in order:
            running[i] += (r["prompt_tokens"] * 0.15 + r["completion_tokens"] * 0.6) / 1e6
    assert len(costs) == 1 and running[0] != running[1]


def llm_workflow_config(proxy: FaultProxy, model: str, results: Path, cache: Path) -> dict:
    """The micro config, date understanding only and one seed, feedback and improvements (and
    the LLM baselines) from the loopback server."""
    config = quick_config() | {"tasks": ["date_understanding"], "results": str(results), "seeds": [0]}
    config["tripost"]["iterations"] = 2
    config["baselines"]["methods"] = ["si_demo", "llm_few_shot", "llm_self_improve"]
    config["expert"].update(kind="openai", rationales="scripted")
    config["expert"]["openai"].update(_settings(proxy, model, cache))
    return config


@pytest.fixture(scope="module")
def llm_run(server, tmp_path_factory):
    """The LLM expert's workflow (llm_workflow_config), its paper target run once, uninterrupted:
    yields (results folder, config file, the time it started)."""
    proxy, model = server
    root = tmp_path_factory.mktemp("llm-run")
    path = write_config(root, "llm.yaml", llm_workflow_config(proxy, model, root / "results", root / "llm-cache"))
    started = time.time() - 1
    snakemake("--cores", "2", "--configfile", str(path), env={**os.environ, "TRIPOST_TEST_KEY": SECRET})
    yield root / "results", path, started


def test_the_workflow_runs_date_understanding_with_the_llm_expert(server, llm_run, tmp_path):
    """The whole DAG runs, every feedback and improvement job writes its ledger, the calls are
    made once (a rerun of the feedback jobs is answered by the cache), the key is nowhere."""
    proxy, _ = server
    results, path, started = llm_run
    env = {**os.environ, "TRIPOST_TEST_KEY": SECRET}
    ledgers = sorted(results.glob("tripost/date_understanding/seed0/tripost/iter*/*.ledger.json"))
    assert len(ledgers) == 4
    calls = sum(json.loads(p.read_text())["calls"] for p in ledgers)
    feedback_calls = sum(json.loads(p.read_text())["calls"] for p in ledgers if p.name.startswith("feedback"))
    assert feedback_calls > 0 and calls >= feedback_calls
    # the baselines of the LLM: its own demonstrations (ft SI demo) and its own answers on the test split
    demo = json.loads((results / "tripost/date_understanding/seed0/si_demo/iter1/rollouts.ledger.json").read_text())
    assert demo["calls"] + demo["cached"] == demo["attempts"] > 0
    table = (results / "tables" / "main.md").read_text()
    for method in ("LLM few-shot", "LLM + self-improve", "ft SI demo"):
        assert f"| {method} |" in table
    test_size = sum(1 for _ in open(results / "data/date_understanding/test.jsonl"))
    for method in ("llm_few_shot", "llm_self_improve"):
        summary = json.loads((results / f"eval/date_understanding/{method}.json").read_text())
        ledger = json.loads((results / f"eval/date_understanding/{method}.ledger.json").read_text())
        assert summary["n"] == test_size and ledger["calls"] + ledger["cached"] >= test_size
    first = results / "tripost/date_understanding/seed0/tripost/iter1/feedback.jsonl"
    before = json.loads(first.with_suffix(".ledger.json").read_text())
    rows, forwarded = first.read_text(), proxy.forwarded
    snakemake(str(first), "--cores", "1", "--configfile", str(path), "--force", env=env)  # the job again
    after = json.loads(first.with_suffix(".ledger.json").read_text())
    assert proxy.forwarded == forwarded and first.read_text() == rows
    paid = ("calls", "prompt_tokens", "completion_tokens", "cost_usd")  # what the artifact cost, once
    assert [after[k] for k in paid] == [before[k] for k in paid] and before["calls"] > 0
    assert (results / "tables" / "main.md").exists()
    report = tmp_path / "report.html"
    snakemake("paper", "--report", str(report), "--configfile", str(path), env=env)
    # the key is in no file the run left: results, the report, Snakemake's own logs of these runs
    snakemake_logs = [p for p in (REPO / ".snakemake" / "log").glob("*.log") if p.stat().st_mtime >= started]
    assert snakemake_logs and report.stat().st_size > 0
    for file in [*results.rglob("*"), report, *snakemake_logs]:
        if file.is_file():
            assert SECRET.encode() not in file.read_bytes(), file


def test_killed_mid_llm_feedback_the_rerun_pays_nothing_twice(server, llm_run, tmp_path, monkeypatch):
    """SIGKILL of the whole Snakemake process group while an LLM feedback job has been paid for
    part of its requests; the same command again finishes, pays no answer twice (but the requests
    in flight at the kill), and every artifact, ledgers included, is the uninterrupted run's (the
    run starts from that run's rollouts)."""
    from test_resume import assert_same_artifacts, kill_during, run_to_end

    proxy, model = server
    monkeypatch.setenv("TRIPOST_TEST_KEY", SECRET)
    killed = tmp_path / "killed"
    config = llm_workflow_config(proxy, model, killed, tmp_path / "killed-cache")  # a cache of its own
    config["tripost"]["iterations"] = 1
    configfile = write_config(tmp_path, "killed.yaml", config)
    # what comes before the feedback job, from the uninterrupted run (modification times kept):
    # Snakemake plans the feedback job and what follows it only
    upstream = ["data", "models/date_understanding/tokenizer", "models/date_understanding/seed0/baseline",
                "eval/date_understanding/seed0/baseline.pkl", "eval/date_understanding/seed0/baseline.json",
                "tripost/date_understanding/seed0/tripost/iter1/rollouts.jsonl"]
    for relative in upstream:
        (killed / relative).parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-a", str(llm_run[0] / relative), str(killed / relative)], check=True)
    feedback = killed / "tripost/date_understanding/seed0/tripost/iter1/feedback.jsonl"
    at_start: list[int] = []

    def some_answers_cached() -> bool:  # the feedback job has been paid for part of its requests
        at_start.append(proxy.forwarded) if not at_start else None
        return proxy.forwarded >= at_start[0] + 3

    with proxy.lock:  # the uninterrupted run asked the same requests (another cache): count this run's only
        proxy.delivered.clear()
    asked_again, before = proxy.asked_again, proxy.forwarded
    kill_during(configfile, killed / "logs/feedback/date_understanding_seed0_tripost_iter1.log", feedback,
                some_answers_cached)
    run_to_end(configfile)
    # answers received before the kill are not asked for again; at most the requests in flight at
    # the kill (the expert's concurrency: 2) are sent a second time
    assert proxy.asked_again - asked_again <= 2
    assert_same_artifacts(killed, llm_run[0])  # ledgers included: the same calls, tokens, cost
    paid = sum(json.loads(p.read_text())["calls"] for p in killed.rglob("*.ledger.json"))
    assert paid > 0 and paid <= proxy.forwarded - before <= paid + 2
    for file in killed.rglob("*"):
        if file.is_file():
            assert SECRET.encode() not in file.read_bytes(), file
