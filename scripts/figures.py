import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821 - the workflow's tripost package

import pandas as pd

from tripost import figures, tables
from tripost.snake import job

sm = snakemake  # noqa: F821 - provided by Snakemake
with job(sm):
    frame = pd.read_csv(sm.input.checkpoints)
    out = {name: Path(sm.output[name]).with_suffix("") for name in sm.params.captions}
    figures.accuracy_by_iteration(frame, sm.params.tasks, out["accuracy_by_iteration"])
    figures.seen_unseen(frame, tables.main_rows(frame, sm.params.iterations), sm.params.tasks, out["seen_unseen"])
    figures.ablation_curves(frame, sm.params.points, sm.params.ablation_iterations, out["ablation_curves"])
    figures.self_improvement_rate(frame, sm.params.tasks, out["self_improvement_rate"])
