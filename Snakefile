# TriPosT (Yu et al., NAACL 2024), rebuilt end to end: raw data -> tables and figures.
import sys

from snakemake.utils import min_version

min_version("9.0")
sys.path.insert(0, workflow.basedir)

from tripost.settings import check_config  # noqa: E402


configfile: "config.yaml"


report: "report/workflow.rst"


# Every problem of the config, by key path, before any job (the per-task overrides merged in).
check_config(
    config,
    f"{workflow.basedir}/schemas/config.schema.yaml",
    workflow.overwrite_configfiles,
    workflow.config_settings.overwrite_config,
)


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/baseline.smk"
include: "rules/tripost.smk"
include: "rules/evaluation.smk"
include: "rules/report.smk"


# Every table, figure and page of the paper (docs/results.md is a copy of results/results.md).
rule paper:
    default_target: True
    input:
        paper_targets(),


# What `make run` builds: ft rationale and the TriPosT iterations of the first `core_seeds` seeds, one table.
rule core:
    input:
        core_targets(),


# Every checkpoint's test evaluation for the configured seeds, without the tables: the paper
# target one seed at a time (`snakemake evaluations --config 'seeds=[1]'`), then `snakemake paper`.
rule evaluations:
    input:
        eval_pickles(),


# The recipe's experiments on the validation split (docs/recipe.md).
rule recipe:
    input:
        [f"{R}/recipe/{task}_t{config['recipe']['iterations']}.md" for task in TASKS],
