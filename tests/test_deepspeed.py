"""The DeepSpeed configs that the GPU configuration names, run through the Hugging Face
integration on CPU (DeepSpeed's CPU accelerator): each trains, lowers the loss and saves a
checkpoint that loads back as a plain model. Each run is its own process (a process group is
process-wide state). The first run builds DeepSpeed's CPU ops (a minute or two, cached after)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tripost.model import load

pytest.importorskip("deepspeed")
if shutil.which("c++") is None:
    pytest.skip("DeepSpeed compiles its CPU ops on first use: no C++ compiler here", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

RUN = """
import json, sys
from pathlib import Path
from tripost.job_settings import ScratchModelSettings, TrainingSettings
from tripost.model import build_scratch_model
from tripost.tokenizer import train_tokenizer
from tripost.training import train
from test_deepspeed import TEXT, PROMPT, loss_on_text

out, ds_config = Path(sys.argv[1]), sys.argv[2]
tokenizer = train_tokenizer([TEXT], [], 0)
model = build_scratch_model(tokenizer, ScratchModelSettings(32, 64, 1, 2, 128), seed=0)
rows = [{"text": TEXT, "prompt_chars": len(PROMPT), "weight_start": TEXT.index("\\nFeedback:")}] * 16
before = loss_on_text(model, tokenizer)
cfg = TrainingSettings(epochs=8, lr=1e-2, lr_scheduler="constant", warmup_ratio=0.0, weight_decay=0.0,
                       max_grad_norm=1.0, batch_size=8, grad_accum=1, max_length=64, bf16=True, deepspeed=ds_config,
                       compile_min_tokens=None)
stats = train(model, tokenizer, rows, out, cfg, weight=1.5, seed=0)
print("RESULT " + json.dumps({"before": before, "stats": stats}))
"""

PROMPT = "Q: ab\nAnswer: Let's think step by step."
TEXT = PROMPT + "\n(1) xy\nFeedback: ok"


def loss_on_text(model, tokenizer) -> float:
    from tripost.training import Collator, encode_example, weighted_loss

    item = Collator(tokenizer.pad_token_id)(
        [encode_example(tokenizer, TEXT, len(PROMPT), TEXT.index("\nFeedback:"), 1.5)])
    with torch.no_grad():
        return weighted_loss(model(input_ids=item["input_ids"]).logits.float(), item["labels"], item["weights"]).item()


@pytest.mark.parametrize("name", ["ds_zero2.json", "ds_zero3.json"])
def test_deepspeed_config_trains_through_the_trainer_on_cpu(tmp_path, name):
    config = ROOT / "configs" / name
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), str(ROOT)])
    done = subprocess.run([sys.executable, "-c", RUN, str(tmp_path / "ckpt"), str(config)], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))[7:])
    assert result["stats"]["deepspeed"] == str(config)
    # the Trainer ran DeepSpeed's engine at the config's ZeRO stage
    assert result["stats"]["zero_stage"] == json.loads(config.read_text())["zero_optimization"]["stage"]
    assert result["stats"]["devices"] == "1 process(es) x 1 cpu"
    # the checkpoint, loaded in this process (no DeepSpeed), holds the trained, whole weights
    saved, tokenizer = load(tmp_path / "ckpt")
    assert loss_on_text(saved, tokenizer) < 0.5 * result["before"]
