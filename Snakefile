# TriPosT (Yu et al., NAACL 2024), rebuilt end to end: raw data -> tables and figures.
import sys

from snakemake.utils import min_version, validate

min_version("9.0")
sys.path.insert(0, workflow.basedir)

from tripost.settings import string_iteration_keys  # noqa: E402


configfile: "config.yaml"


string_iteration_keys(config)
validate(config, "schemas/config.schema.yaml")


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/baseline.smk"
include: "rules/tripost.smk"
include: "rules/evaluation.smk"
include: "rules/report.smk"


rule all:
    input:
        final_targets(),
    default_target: True
