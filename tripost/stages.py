"""One function per workflow stage: explicit inputs in, files out. Rules call these via scripts/.

The model stages import torch and transformers inside the function, so that the light stages
(splits, expert, data building) start in a fraction of a second.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tripost import bigbench, expert, improvement_data, io
from tripost.job_settings import (
    CollectionSettings,
    DataSettings,
    DecodingSettings,
    ExpertSettings,
    LLMBaselineSettings,
    ModelSettings,
    RolloutSettings,
    TrainingSettings,
    WeightedTrainingSettings,
)
from tripost.tasks import bigbench_files, get_task, task_of_file
from tripost.tasks.base import Record, Task
from tripost.trajectory import Trajectory

if TYPE_CHECKING:
    from tripost.llm import Ledger

SPLITS = ("train", "val", "test", "extra_train")


# ---- data -----------------------------------------------------------------------------------
def fetch_bigbench(cache: Path) -> None:
    """Every task's BIG-Bench files into ``cache``."""
    bigbench.fetch_task_files(cache, bigbench_files())


def write_synthetic_task(relative: str, out: Path, n_examples: int, seed: int) -> None:
    io.write_json(out, task_of_file(relative).synthetic_source(relative, n_examples, seed))


def make_splits(task_name: str, cfg: dict[str, Any], sources: list[Path], outputs: dict[str, Path]) -> dict[str, int]:
    """The task's train / val / test / extra_train records, one JSONL each, from its BIG-Bench
    files (``sources``, in the order of ``task.bigbench_files``; none for a generated task).
    ``val`` is the task's validation questions and the last ``n_val_extra`` generated training
    questions, which the baseline then never trains on."""
    task = get_task(task_name)
    if len(sources) != len(task.bigbench_files):
        raise ValueError(f"{task_name}: {len(sources)} source files for its {len(task.bigbench_files)} BIG-Bench files")
    examples = {relative: bigbench.load_examples(path) for relative, path in zip(task.bigbench_files, sources)}
    splits = task.make_splits(cfg, examples)
    splits["test"] = cap_test_buckets(splits["test"], cfg.get("test_per_bucket") or {})
    # more validation questions for the recipe's choices: the last n_val_extra generated ones
    moved = len(splits["extra_train"]) - cfg.get("n_val_extra", 0)
    if moved < 0:
        raise ValueError(f"data.{task_name}.n_val_extra: {cfg['n_val_extra']} is more than the "
                         f"{len(splits['extra_train'])} generated training questions (n_extra_train)")
    splits["val"] = splits["val"] + splits["extra_train"][moved:]
    splits["extra_train"] = splits["extra_train"][:moved]
    io.by_id([r for split in SPLITS for r in splits[split]], f"the {task_name} splits")  # ids unique
    for split in SPLITS:
        io.write_jsonl(outputs[split], splits[split])
    return {split: len(splits[split]) for split in SPLITS}


def cap_test_buckets(test: list[Record], caps: dict[str, int | None]) -> list[Record]:
    """The first ``caps["seen"]`` / ``caps["unseen"]`` test questions of each seen / unseen
    bucket (a missing or null cap keeps them all), in file order."""
    kept: dict[str, int] = {}
    out = []
    for record in test:
        cap = caps.get("seen" if record["seen"] else "unseen")
        if cap is None or kept.get(record["bucket"], 0) < cap:
            kept[record["bucket"]] = kept.get(record["bucket"], 0) + 1
            out.append(record)
    return out


def make_expert(task_name: str, settings: ExpertSettings, train: list[Record], ledger: Ledger):
    """The configured expert of a task: the scripted one, or an LLM prompted with few-shot
    examples from ``train``."""
    task = get_task(task_name)
    if settings.kind == "scripted":
        return expert.ScriptedExpert(task)
    from tripost.llm import LLM
    from tripost.llm_expert import FewShot, LLMExpert

    llm = settings.openai
    return LLMExpert(task, LLM(llm, ledger), FewShot(task, train, llm.few_shot), llm)


def _each(settings: ExpertSettings, function, items: list) -> list:
    """``function`` over ``items``: in order, ``concurrency`` at a time for an LLM expert."""
    if settings.kind == "scripted":
        return [function(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=settings.openai.connection.concurrency) as pool:
        return list(pool.map(function, items))


def make_rationales(task_name: str, inputs: list[Path], out: Path, settings: ExpertSettings,
                    ledger_path: Path) -> None:
    """Gold rationales of every training-side record (train, val, extra_train): the scripted
    solver's, or an LLM's that reach the labelled answer (the others are left out and counted).
    ``settings``: the rationales' expert (``expert.rationales``)."""
    from tripost.llm import Ledger

    task, ledger = get_task(task_name), Ledger(owner=str(ledger_path))
    records = [r for path in inputs for r in io.read_jsonl(path)]
    if settings.kind == "scripted":
        rows = [{"id": r["id"], "rationale": task.solve(r)} for r in records]
    else:
        writer = make_expert(task_name, settings, io.read_jsonl(inputs[0]), ledger)
        samples = settings.openai.rationale.samples

        def rationale(record: Record) -> str | None:
            return next((text for i in range(samples) if (text := writer.rationale(record, i)) is not None), None)

        texts = _each(settings, rationale, records)
        rows = [{"id": r["id"], "rationale": t} for r, t in zip(records, texts) if t is not None]
    print(f"rationales: {len(rows)} of {len(records)} questions kept", flush=True)
    ledger.write(ledger_path, questions=len(records), kept=len(rows))
    if not rows:
        raise ValueError(f"{out}: no rationale of the {len(records)} questions reaches its label "
                         f"({settings.openai.model}; calls and cost in {ledger_path}): nothing to train on")
    io.write_jsonl(out, rows)


def _gold(path: Path) -> dict[str, str]:
    return {key: row["rationale"] for key, row in io.by_id(io.read_jsonl(path), str(path)).items()}


def train_tokenizer(task_name: str, records: list[Path], rationales: Path, vocab_size: int, out_dir: Path) -> None:
    from tripost.tokenizer import train_tokenizer as build_tokenizer

    task = get_task(task_name)
    gold = _gold(rationales)
    texts = [task.rationale_text(r, gold[r["id"]]) for path in records for r in io.read_jsonl(path) if r["id"] in gold]
    with io.atomic_output(out_dir) as tmp:
        build_tokenizer(texts, task.phrases, vocab_size).save_pretrained(str(tmp))


# ---- models ---------------------------------------------------------------------------------
def train_baseline(
    task_name: str, records: list[Path], rationales: Path | None, tokenizer_dir: Path | None,
    model_settings: ModelSettings, training_settings: TrainingSettings, seed: int, out_dir: Path,
) -> None:
    """The "ft rationale" baseline: SFT on gold rationales (from scratch or from a HF model);
    without ``rationales``, the "ft answer-only" baseline: SFT on the gold answers alone."""
    from tripost import answer_only, training
    from tripost.model import build_scratch_model, load, parameter_count

    task = get_task(task_name)
    questions = [r for path in records for r in io.read_jsonl(path)]
    if rationales is None:
        rows = answer_only.rows(task, questions)
    else:
        rows = baseline_rows(task, questions, rationales)
    if model_settings.name_or_path:
        model, tokenizer = load(model_settings.name_or_path)
    else:
        tokenizer = load_tokenizer(tokenizer_dir)
        model = build_scratch_model(tokenizer, model_settings.scratch, seed)
    print(f"model: {parameter_count(model):,} parameters; {len(rows)} training texts", flush=True)
    with io.atomic_output(out_dir) as tmp:  # a killed job leaves no checkpoint that looks whole
        write_train_stats(tmp, training.train(model, tokenizer, rows, tmp, training_settings, weight=1.0, seed=seed))


def baseline_rows(task: Task, questions: list[Record], rationales: Path) -> list[dict]:
    """The "ft rationale" baseline's training texts: each question with its gold rationale."""
    return improvement_data.sft_rows(task, questions, _gold(rationales))


def write_train_stats(checkpoint: Path, stats: dict[str, Any]) -> None:
    """``train_stats.json`` of a checkpoint (the same in every run); the speed goes to the log."""
    print(json.dumps(stats["speed"]), flush=True)
    io.write_json(checkpoint / "train_stats.json", {key: value for key, value in stats.items() if key != "speed"})


def load_tokenizer(path: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


def train_lmsi(model_dir: Path, data: Path, training_settings: TrainingSettings, seed: int, out_dir: Path) -> None:
    """LMSI: SFT of the ft-rationale checkpoint on its selected samples (weight 1, method §7.3)."""
    settings = WeightedTrainingSettings(training_settings, self_improve_section_weight=1.0,
                                        mask_before_feedback=False, min_data_length=1)
    train_iteration(model_dir, data, settings, seed, out_dir)


def train_iteration(model_dir: Path, data: Path, settings: WeightedTrainingSettings, seed: int, out_dir: Path) -> None:
    """Weighted SFT of the previous checkpoint on one iteration's data (method §5.7)."""
    rows = io.read_jsonl(data)
    min_rows = settings.min_data_length
    if len(rows) < max(min_rows, 1):
        # Too little data: like the original, the loop stops improving; the checkpoint carries over.
        with io.atomic_output(out_dir) as tmp:
            shutil.copytree(model_dir, tmp)
            stats = {"skipped": True, "examples": len(rows), "min_data_length": min_rows}
            io.write_json(tmp / "train_stats.json", stats)
        print(f"only {len(rows)} examples (< {min_rows}): checkpoint carried over untrained", flush=True)
        return
    from tripost import training
    from tripost.model import load

    if settings.mask_before_feedback:
        rows = [training.mask_before_weighted(row) for row in rows]
    model, tokenizer = load(model_dir)
    with io.atomic_output(out_dir) as tmp:
        write_train_stats(tmp, training.train(model, tokenizer, rows, tmp, settings.training,
                                              weight=settings.self_improve_section_weight, seed=seed))


# ---- TriPosT iteration ----------------------------------------------------------------------
def _trajectory_json(record: Record, trajectory: Trajectory, pass_index: int) -> dict[str, Any]:
    return {"id": record["id"], "pass": pass_index, "attempts": trajectory.attempts,
            "feedbacks": trajectory.feedbacks, "malformed": trajectory.malformed}


def questions_by_id(paths: list[Path]) -> dict[str, Record]:
    """The records of ``paths`` (the splits a run collects on), keyed by their unique ids, in order."""
    return io.by_id((r for path in paths for r in io.read_jsonl(path)), ", ".join(map(str, paths)))


def rollout(task_name: str, model_dir: Path, questions: list[Path], collection: CollectionSettings,
            decoding: RolloutSettings, attempt_only_first: bool, seed: int, out: Path) -> dict[str, Any]:
    """M's trajectories on the iteration's window of ``questions``, ``passes`` times (seeds
    +40+i). Iteration 1 samples attempts only from the baseline when ``attempt_only_first``
    (method §5.3).
    """
    from tripost import inference
    from tripost.model import load_for_generation

    task, iteration = get_task(task_name), collection.iteration
    window = collection_window(list(questions_by_id(questions).values()), collection.collect_window, iteration)
    attempt_only = iteration == 1 and attempt_only_first
    model, tokenizer = load_for_generation(model_dir, decoding.bf16)
    rows = []
    for pass_index in range(collection.passes):
        trajectories = inference.self_improve(
            model, tokenizer, task, window, decoding, seed=iteration_seed(seed, iteration) + 40 + pass_index,
            attempt_only=attempt_only,
        )
        rows += [_trajectory_json(r, t, pass_index) for r, t in zip(window, trajectories)]
    io.write_jsonl(out, rows)
    return {"trajectories": len(rows), "malformed": sum(r["malformed"] for r in rows)}


def iteration_seed(seed: int, iteration: int) -> int:
    """The seed of one iteration's sampling and data building, derived from the run's seed."""
    return seed + 1000 * iteration


def collection_window(records: list[Record], window: int | None, iteration: int) -> list[Record]:
    """The questions of iteration ``iteration`` (1-based; method §5.2 with itr = iteration - 1)."""
    n = len(records)
    size = min(window or n, n)
    start = (((iteration - 1) * size) % n // size) * size
    return records[start: start + size]


def expected_trajectories(records: dict[str, Record], collection: CollectionSettings) -> list[tuple[str, int]]:
    """(id, pass) of every trajectory an iteration's rollouts hold: its window of ``records``,
    ``passes`` times."""
    window = collection_window(list(records.values()), collection.collect_window, collection.iteration)
    return [(record["id"], index) for index in range(collection.passes) for record in window]


def read_trajectories(path: Path, expected: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """The rows of a rollouts or feedback file, checked to be exactly the ``expected``
    trajectories: a file cut short, or made with other settings, is an error naming it."""
    rows = io.read_jsonl(path)
    got = [(row["id"], row["pass"]) for row in rows]
    if sorted(got) != sorted(expected):
        missing, unexpected = set(expected) - set(got), set(got) - set(expected)
        repeated = len(got) - len(set(got))
        raise ValueError(
            f"{path}: {len(rows)} trajectories where {len(expected)} were expected ({len(missing)} missing, "
            f"{len(unexpected)} not of this iteration's window, {repeated} repeated); the file was cut short or "
            f"made with other settings: delete it and rerun the rule that makes it")
    return rows


def feedback(task_name: str, rollouts: Path, records: dict[str, Record], max_words: int, settings: ExpertSettings,
             out: Path, ledger_path: Path, expected: list[tuple[str, int]]) -> None:
    """The expert's verdict on every trajectory (``expected``: their (id, pass), checked): kept
    as is, to edit (where, with what), dropped."""
    from tripost.llm import Ledger

    task, ledger = get_task(task_name), Ledger(owner=str(ledger_path))
    judge = make_expert(task_name, settings, list(records.values()), ledger)

    def locate(row: dict[str, Any]) -> dict[str, Any]:
        trajectory = Trajectory(row["attempts"], row["feedbacks"], row["malformed"])
        return {"id": row["id"], "pass": row["pass"],
                **expert.locate_edit(task, judge, records[row["id"]], trajectory, max_words)}

    rows = _each(settings, locate, read_trajectories(rollouts, expected))
    io.write_jsonl(out, rows)
    ledger.write(ledger_path, trajectories=len(rows))


def improvement(task_name: str, feedback_rows: Path, records: dict[str, Record], settings: ExpertSettings,
                out: Path, ledger_path: Path, expected: list[tuple[str, int]]) -> None:
    """The expert's improvement of every trajectory that needs one (``expected``: their (id,
    pass), checked)."""
    from tripost.llm import Ledger

    task, ledger = get_task(task_name), Ledger(owner=str(ledger_path))
    editor = make_expert(task_name, settings, list(records.values()), ledger)

    def improve(row: dict[str, Any]) -> dict[str, Any]:
        improved = expert.improve(task, editor, records[row["id"]], row, settings.max_rounds)
        return {"id": row["id"], "pass": row["pass"], **improved}

    rows = _each(settings, improve, read_trajectories(feedback_rows, expected))
    io.write_jsonl(out, rows)
    ledger.write(ledger_path, trajectories=len(rows))


def build_improvement_data(
    task_name: str, improvements: Path, questions: list[Path], rationales: Path, collection: CollectionSettings,
    settings: DataSettings, seed: int, out_data: Path, out_counts: Path,
) -> None:
    task, iteration = get_task(task_name), collection.iteration
    window = collection_window(list(questions_by_id(questions).values()), collection.collect_window, iteration)
    data, counts = improvement_data.build_iteration_data(
        task, window, _gold(rationales), io.read_jsonl(improvements), settings, iteration_seed(seed, iteration)
    )
    io.write_jsonl(out_data, data)
    io.write_json(out_counts, counts)


def control_data(task_name: str, main_data: Path, questions: list[Path], rationales: Path, out_data: Path,
                 out_counts: Path) -> None:
    """The control run's data: for each row of the main run's iteration data, its question's gold
    rationale as a plain SFT row (same questions, same number of rows and optimizer steps)."""
    task = get_task(task_name)
    records, gold = questions_by_id(questions), _gold(rationales)
    main_rows = io.read_jsonl(main_data)
    missing = sorted({row["id"] for row in main_rows if row["id"] not in records or row["id"] not in gold})
    if missing:
        raise ValueError(f"{main_data}: {len(missing)} ids with no question or gold rationale, e.g. {missing[0]!r}")
    rows = improvement_data.sft_rows(task, [records[row["id"]] for row in main_rows], gold)
    io.write_jsonl(out_data, rows)
    io.write_json(out_counts, {"total": len(rows), "questions": len({row["id"] for row in rows})})


# ---- baselines built from the ft-rationale checkpoint ----------------------------------------
def lmsi_samples(task_name: str, model_dir: Path, train: Path, decoding: DecodingSettings, n_samples: int,
                 temperature: float, seed: int, out: Path) -> None:
    """``n_samples`` sampled answers (attempt only) of the model to every training question."""
    from tripost import inference
    from tripost.model import load_for_generation

    task = get_task(task_name)
    records = io.read_jsonl(train)
    model, tokenizer = load_for_generation(model_dir, decoding.bf16)
    cfg = dataclasses.replace(decoding, do_sample=True, temperature=temperature)
    repeated = [r for _ in range(n_samples) for r in records]
    trajectories = inference.self_improve(model, tokenizer, task, repeated, cfg, seed=seed + 40, attempt_only=True)
    io.write_jsonl(out, [{"id": r["id"], "sample": i // len(records), "attempt": t.last_attempt}
                         for i, (r, t) in enumerate(zip(repeated, trajectories))])


def lmsi_data(task_name: str, samples: Path, train: Path, selection: str, answer_only_augmentation: bool,
              out_data: Path, out_counts: Path) -> None:
    from tripost import lmsi

    by_question: dict[str, list[str]] = {}
    for row in io.read_jsonl(samples):
        by_question.setdefault(row["id"], []).append(row["attempt"])
    records = list(io.by_id(io.read_jsonl(train), str(train)).values())
    rows, counts = lmsi.build(get_task(task_name), records, by_question, selection, answer_only_augmentation)
    print(json.dumps(counts), flush=True)
    io.write_jsonl(out_data, rows)
    io.write_json(out_counts, counts)


def si_demo_attempts(task_name: str, train: Path, settings: ExpertSettings, passes: int, attempt_temperature: float,
                     seed: int, out: Path, ledger_path: Path) -> None:
    """The expert's own attempts at every training question (``passes`` times), in the layout of
    M's rollouts: the "ft SI demo" trajectories then go through the same feedback, improvement
    and data building as TriPosT's (method §7.2). Each seed gets its own attempts."""
    from tripost.llm import Ledger

    records, ledger = io.read_jsonl(train), Ledger(owner=str(ledger_path))
    demonstrator = make_expert(task_name, settings, records, ledger)
    asks = [(record, index) for index in range(passes) for record in records]

    def attempt(ask: tuple[Record, int]) -> dict[str, Any]:
        record, index = ask
        text = demonstrator.demo_attempt(record, 1000 * seed + index, attempt_temperature)
        return {"id": record["id"], "pass": index, "attempts": [text] if text else [], "feedbacks": [],
                "malformed": 0 if text else 1}

    rows = _each(settings, attempt, asks)
    io.write_jsonl(out, rows)
    ledger.write(ledger_path, attempts=len(rows))


# ---- evaluation -----------------------------------------------------------------------------
def checkpoint_source(model_dir: Path) -> str:
    """A checkpoint folder named from its ``models/`` component on: the same in every run
    folder, so that two runs' summaries compare byte for byte."""
    parts = Path(model_dir).parts
    if "models" not in parts:
        return str(model_dir)
    return "/".join(parts[len(parts) - 1 - parts[::-1].index("models"):])


def _write_evaluation(frame, task, key, started: float, source: str, out_pickle: Path,
                      out_summary: Path) -> dict[str, Any]:
    """The per-question frame, carrying its ``key``, and its summary (no wall time or absolute
    path: those go to the job's log and benchmark file)."""
    from tripost.evaluation import summarise, with_key

    summary = summarise(frame, task) | {"checkpoint": source}
    with io.atomic_output(out_pickle) as tmp, open(tmp, "wb") as handle:
        pickle.dump(with_key(frame, key), handle)
    io.write_json(out_summary, summary)
    shown = {k: summary[k] for k in ("seen", "unseen", "total")} | {"seconds": time.time() - started}
    print(json.dumps(shown), flush=True)
    return summary


def evaluate(task_name: str, checkpoint: str, model_dir: Path, test: list[Record], decoding: DecodingSettings,
             seed: int, out_pickle: Path, out_summary: Path) -> dict[str, Any]:
    """Self-improvement inference of a checkpoint on the test split (the first attempt, kept in
    the same frame, is the checkpoint without self-improvement)."""
    from tripost import inference
    from tripost.evaluation import EvaluationKey, evaluation_frame
    from tripost.model import load_for_generation

    task = get_task(task_name)
    model, tokenizer = load_for_generation(model_dir, decoding.bf16)
    started = time.time()
    trajectories = inference.self_improve(model, tokenizer, task, test, decoding, seed=seed)
    frame = evaluation_frame(task, test, trajectories)
    key = EvaluationKey(task_name, seed, checkpoint)
    return _write_evaluation(frame, task, key, started, checkpoint_source(model_dir), out_pickle, out_summary)


def evaluate_answer_only(task_name: str, checkpoint: str, model_dir: Path, test: list[Record],
                         decoding: DecodingSettings, seed: int, out_pickle: Path, out_summary: Path) -> dict[str, Any]:
    """The answer-only checkpoint on the test split: ``Q: ...\nAnswer:``, one line of answer."""
    from tripost import answer_only
    from tripost.evaluation import EvaluationKey, answer_only_frame
    from tripost.generation import generate
    from tripost.model import load_for_generation

    task = get_task(task_name)
    model, tokenizer = load_for_generation(model_dir, decoding.bf16)
    started = time.time()
    prompts = [answer_only.prompt(task, r) for r in test]
    outputs = generate(model, tokenizer, prompts, decoding, seed, desc=f"{task_name} answer only",
                       stop_after_line=lambda i, text: True)
    frame = answer_only_frame(task, test, prompts, outputs)
    key = EvaluationKey(task_name, seed, checkpoint)
    return _write_evaluation(frame, task, key, started, checkpoint_source(model_dir), out_pickle, out_summary)


def evaluate_llm(task_name: str, method: str, test: list[Record], train: list[Record], settings: ExpertSettings,
                 baseline: LLMBaselineSettings, out_pickle: Path, out_summary: Path,
                 ledger_path: Path) -> dict[str, Any]:
    """The expert LLM on the test split: few-shot (``llm_few_shot``), or with self-improvement
    rounds (``llm_self_improve``)."""
    from tripost import llm_baselines
    from tripost.evaluation import EvaluationKey, evaluation_frame
    from tripost.llm import Ledger

    task, ledger = get_task(task_name), Ledger(owner=str(ledger_path))
    model = make_expert(task_name, settings, train, ledger)
    started = time.time()

    def answer(record: Record) -> Trajectory:
        if method == "llm_few_shot":
            return llm_baselines.few_shot(model, record)
        return llm_baselines.self_improve(task, model, record, baseline.max_rounds, baseline.oracle_stop)

    trajectories = _each(settings, answer, test)
    ledger.write(ledger_path, questions=len(test))
    oracle = ", oracle stop" if baseline.oracle_stop and method == "llm_self_improve" else ""
    source = f"{settings.openai.model} ({method}{oracle})"
    frame, key = evaluation_frame(task, test, trajectories), EvaluationKey(task_name, None, method)
    return _write_evaluation(frame, task, key, started, source, out_pickle, out_summary)
