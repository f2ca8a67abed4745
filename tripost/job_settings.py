"""What each job reads, typed: one frozen dataclass per settings block, each field with its help.

The values come from ``config.yaml`` (the one commented place for defaults, checked by the
schema) as ``plan.resolve`` merges its override layers. A rule passes a block to its job as
plain data (``as_params``: Snakemake compares params by their repr, and reruns a job when they
change); the job's script rebuilds it (``from_params``), so stage functions take these objects.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


def _help(text: str) -> dict[str, str]:
    return {"help": text}


# ---- training -------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainingSettings:
    """One fine-tuning job (``baseline.training``, ``tripost.training``, a baseline's override)."""

    epochs: float = field(metadata=_help("passes over the training texts"))
    lr: float = field(metadata=_help("peak learning rate (AdamW)"))
    lr_scheduler: str = field(metadata=_help("transformers scheduler name: linear, cosine, constant, ..."))
    warmup_ratio: float = field(metadata=_help("share of the optimizer steps spent warming up"))
    weight_decay: float = field(metadata=_help("AdamW weight decay"))
    max_grad_norm: float = field(metadata=_help("gradient clipping norm"))
    batch_size: int = field(metadata=_help("texts per device batch"))
    grad_accum: int = field(metadata=_help("batches accumulated per optimizer step"))
    max_length: int = field(metadata=_help("longer texts (in tokens, EOS included) are dropped and counted"))
    bf16: bool = field(metadata=_help("bf16 autocast where the device computes bf16 natively"))
    deepspeed: str | None = field(metadata=_help("path of a DeepSpeed JSON config (GPU runs); null: none"))
    compile_min_tokens: int | None = field(metadata=_help(
        "torch.compile each decoder layer when the job trains on at least this many tokens (epochs x "
        "tokens per epoch), where the compile time pays; null: never"))


@dataclass(frozen=True)
class WeightedTrainingSettings:
    """One TriPosT iteration's training (method §5.7): weighted SFT from the previous checkpoint."""

    training: TrainingSettings = field(metadata=_help("the optimizer's settings"))
    self_improve_section_weight: float = field(metadata=_help("w: loss weight from the first feedback on"))
    mask_before_feedback: bool = field(metadata=_help("no loss on M's own attempt before the first feedback"))
    min_data_length: int = field(metadata=_help("fewer examples: no training, the checkpoint carries over"))


# ---- the model ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScratchModelSettings:
    """The shape of a Llama model trained from scratch (``model.scratch``)."""

    hidden_size: int = field(metadata=_help("width of the residual stream"))
    intermediate_size: int = field(metadata=_help("width of the MLP"))
    num_layers: int = field(metadata=_help("transformer blocks"))
    num_heads: int = field(metadata=_help("attention heads (hidden_size is a multiple)"))
    max_positions: int = field(metadata=_help("longest sequence in tokens"))


@dataclass(frozen=True)
class ModelSettings:
    """M: a pretrained model, or a scratch one on the task's own tokenizer."""

    name_or_path: str | None = field(metadata=_help(
        "a local model folder or hub name (a short name: its converted folder); null: the scratch model"))
    scratch: ScratchModelSettings = field(metadata=_help("the scratch model's shape"))


# ---- decoding -------------------------------------------------------------------------------
@dataclass(frozen=True)
class DecodingSettings:
    """Self-improvement inference (``evaluation``; a rollout adds ``passes``)."""

    max_calls: int = field(metadata=_help("generation calls per question: attempt, feedback, update, ..."))
    batch_size: int | str = field(metadata=_help("rows a batch, or auto: as many as the device's memory holds"))
    max_new_tokens: int = field(metadata=_help("tokens a call may write"))
    loop_window: int | None = field(metadata=_help("end a row whose last tokens repeat one short cycle"))
    do_sample: bool = field(metadata=_help("sample (else greedy)"))
    temperature: float = field(metadata=_help("sampling temperature"))
    top_p: float = field(metadata=_help("nucleus sampling mass (1: off)"))
    bf16: bool = field(metadata=_help("bf16 autocast where native"))
    revise_on: str = field(metadata=_help("which feedback asks for an updated answer: any | named_error"))


@dataclass(frozen=True)
class RolloutSettings(DecodingSettings):
    """M's rollouts on the training questions (``tripost.rollout``)."""

    passes: int = field(metadata=_help("passes over the iteration's questions (seeds 40+i)"))


# ---- one TriPosT iteration ------------------------------------------------------------------
@dataclass(frozen=True)
class CollectionSettings:
    """Which trajectories an iteration's rollouts hold (the jobs that read them check it)."""

    collect_window: int | None = field(metadata=_help("questions an iteration (null: all of collect_from)"))
    passes: int = field(metadata=_help("passes over the window"))
    iteration: int = field(metadata=_help("t, 1-based: picks the window"))


@dataclass(frozen=True)
class DataSettings:
    """How an iteration's edited trajectories become training data (method §5.6)."""

    improve_data_ratio: float = field(metadata=_help("p: improvement : non-improvement examples (<= 0: off)"))
    max_data_length: int = field(metadata=_help("soft cap on collected examples"))
    min_data_length: int = field(metadata=_help("fewer examples: the iteration does not train"))


@dataclass(frozen=True)
class IterationSettings:
    """The ``tripost`` block of one task, run and iteration, every override applied."""

    iterations: int = field(metadata=_help("TriPosT iterations of the main run"))
    collect_window: int | None = field(metadata=_help("questions an iteration (null: all of collect_from)"))
    collect_from: tuple[str, ...] = field(metadata=_help("the splits collected on, in order"))
    attempt_only_first: bool = field(metadata=_help("iteration 1 samples attempts only (method §5.3)"))
    rollout: RolloutSettings = field(metadata=_help("M's sampling on the training questions"))
    max_attempt_words: int = field(metadata=_help("longer attempts are dropped by the expert"))
    improve_data_ratio: float = field(metadata=_help("p: improvement : non-improvement examples"))
    self_improve_section_weight: float = field(metadata=_help("w: loss weight from the first feedback on"))
    mask_before_feedback: bool = field(metadata=_help("no loss on M's own attempt"))
    max_data_length: int = field(metadata=_help("soft cap on collected examples"))
    min_data_length: int = field(metadata=_help("fewer examples: no training"))
    training: TrainingSettings = field(metadata=_help("the iteration's optimizer"))

    def collection(self, iteration: int) -> CollectionSettings:
        return CollectionSettings(self.collect_window, self.rollout.passes, iteration)

    def data(self) -> DataSettings:
        return DataSettings(self.improve_data_ratio, self.max_data_length, self.min_data_length)

    def weighted_training(self) -> WeightedTrainingSettings:
        return WeightedTrainingSettings(self.training, self.self_improve_section_weight, self.mask_before_feedback,
                                        self.min_data_length)


# ---- the baselines built from the ft-rationale checkpoint, and the LLM's ----------------------
@dataclass(frozen=True)
class LMSISettings:
    """LMSI (method §7.3): sampled answers, the majority's kept, SFT on them."""

    samples: int = field(metadata=_help("sampled answers per training question"))
    temperature: float = field(metadata=_help("their sampling temperature"))
    selection: str = field(metadata=_help("majority | gold: which samples are kept"))
    answer_only_augmentation: bool = field(metadata=_help("also the answer alone per kept sample"))
    training: TrainingSettings = field(metadata=_help("its SFT (null in the config: tripost.training)"))
    rollout: RolloutSettings = field(metadata=_help("its sampling: the task's tripost.rollout (no iteration's)"))


@dataclass(frozen=True)
class SIDemoSettings:
    """The ft SI demo baseline (method §7.2): the expert's own attempts, edited, one iteration."""

    passes: int = field(metadata=_help("passes over the training split"))
    improve_data_ratio: float = field(metadata=_help("p of its data"))
    self_improve_section_weight: float = field(metadata=_help("w of its training"))
    max_data_length: int = field(metadata=_help("soft cap on its examples"))
    attempt_temperature: float = field(metadata=_help("an LLM expert's attempts' temperature"))


@dataclass(frozen=True)
class LLMBaselineSettings:
    """The prompted LLM with self-improvement rounds (method §7.5)."""

    max_rounds: int = field(metadata=_help("feedback + improvement rounds"))
    oracle_stop: bool = field(metadata=_help("stop as soon as the answer is right"))


# ---- the expert -----------------------------------------------------------------------------
@dataclass(frozen=True)
class RequestSettings:
    """One kind of request to the LLM (``expert.openai.rationale`` / ``feedback`` / ``improvement``)."""

    temperature: float = field(metadata=_help("sampling temperature"))
    max_tokens: int = field(metadata=_help("tokens the answer may take"))
    samples: int = field(default=1, metadata=_help("rationales only: tries per question"))


@dataclass(frozen=True)
class Prices:
    """USD per million tokens, for the ledger next to each artifact."""

    prompt: float = field(metadata=_help("per million prompt tokens"))
    completion: float = field(metadata=_help("per million completion tokens"))


@dataclass(frozen=True)
class LLMConnection:
    """How to reach the LLM: read by the job from the config, never a rule's params (no reruns)."""

    base_url: str | None = field(metadata=_help("null: https://api.openai.com/v1"))
    api_key_env: str | None = field(metadata=_help("the environment variable holding the key (null: none)"))
    concurrency: int = field(metadata=_help("requests in flight at once"))
    max_retries: int = field(metadata=_help("on 408/409/429/5xx, timeouts, connection errors"))
    timeout_s: float = field(metadata=_help("seconds a request may take"))
    cache: str = field(metadata=_help("folder of the response cache"))


@dataclass(frozen=True)
class LLMSettings:
    """An LLM expert (``expert.openai``): what it answers, and (in a job) how to reach it."""

    model: str = field(metadata=_help("the model the endpoint serves"))
    api: str = field(metadata=_help("completions | chat"))
    system: str | None = field(metadata=_help("chat only: a system message"))
    price_per_million_tokens: Prices = field(metadata=_help("for the ledgers"))
    few_shot: int = field(metadata=_help("few-shot examples per prompt"))
    rationale: RequestSettings | None = field(default=None, metadata=_help("rationales and attempts"))
    feedback: RequestSettings | None = field(default=None, metadata=_help("feedback on a trajectory"))
    improvement: RequestSettings | None = field(default=None, metadata=_help("an improvement after feedback"))
    connection: LLMConnection | None = field(default=None, metadata=_help("set by the job (job_expert)"))


@dataclass(frozen=True)
class ExpertSettings:
    """The expert of one stage: scripted, or an LLM."""

    kind: str = field(metadata=_help("scripted | openai"))
    max_rounds: int | None = field(default=None, metadata=_help("improvement rounds per edited trajectory"))
    openai: LLMSettings | None = field(default=None, metadata=_help("the LLM, when kind is openai"))


def llm_settings(block: Mapping[str, Any]) -> LLMSettings:
    """An ``expert.openai`` block as the config spells it (its connection keys beside the rest)."""
    connection = {f.name: block[f.name] for f in dataclasses.fields(LLMConnection) if f.name in block}
    rest = {key: value for key, value in block.items() if key not in connection}
    return from_params(LLMSettings, {**rest, "connection": connection}, "expert.openai.")


# ---- rebuilding from params -----------------------------------------------------------------
def _dataclass_in(hint: Any) -> type | None:
    """The dataclass of a field's type (``X`` or ``X | None``), if any."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    return next((option for option in options if dataclasses.is_dataclass(option)), None)


def from_params(cls: type[T], params: Mapping[str, Any], path: str = "") -> T:
    """``cls`` from plain data (a rule's params, a config block); an unknown or missing key is
    an error naming its key path."""
    if not isinstance(params, Mapping):
        raise TypeError(f"{path or cls.__name__}: expected a mapping, got {params!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(params) - set(known))
    missing = [name for name, f in known.items() if name not in params
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if unknown or missing:
        problems = [f"{path}{key}: unknown key" for key in unknown] + [f"{path}{key}: missing" for key in missing]
        raise ValueError(f"{cls.__name__}: " + "; ".join(problems))
    values = {}
    for name, value in params.items():
        nested = _dataclass_in(hints[name])
        if nested is not None and value is not None:
            value = from_params(nested, value, f"{path}{name}.")
        elif isinstance(value, list):
            value = tuple(value)
        values[name] = value
    return cls(**values)


def as_params(settings: Any) -> Any:
    """A settings object (or a scalar of one) as plain data, keys sorted, tuples as lists: what
    a rule's params hold."""
    return _plain(dataclasses.asdict(settings) if dataclasses.is_dataclass(settings) else settings)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(value[key]) for key in sorted(value)}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
