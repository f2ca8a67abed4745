"""The conda environments: they parse, pin exact versions that agree with the pip lock, and every
rule that runs code names one of them. (Conda channels cannot be reached from the machines the
tests run on, so the environments are never built here: see the README.)"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from conftest import REPO

ENVS = sorted((REPO / "envs").glob("*.yaml"))


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


LOCK = {normalise(name): version for name, version in
        (line.split("==") for line in (REPO / "requirements.lock").read_text().splitlines()
         if line and not line.startswith("#"))}
LOCK["torch"] = "2.13.0"  # installed before the lock, from its own wheel (see the Makefile)


def pins(env: dict) -> dict[str, str]:
    out = {}
    for dependency in env["dependencies"]:
        if isinstance(dependency, dict):
            out |= {normalise(n): v for n, v in (item.split("==") for item in dependency["pip"])}
        elif dependency != "pip":
            name, version = dependency.split("=")
            out[normalise(name)] = version
    return out


def test_the_four_rule_groups_have_an_environment():
    assert {p.stem for p in ENVS} == {"data", "training", "eval", "plots"}


@pytest.mark.parametrize("path", ENVS, ids=lambda p: p.stem)
def test_every_package_is_pinned_to_the_locked_version(path):
    env = yaml.safe_load(path.read_text())
    assert env["channels"] == ["conda-forge", "nodefaults"]
    pinned = pins(env)
    assert pinned.pop("python") == "3.11"
    assert pinned, path
    for name, version in pinned.items():
        assert LOCK.get(name) == version, f"{path.name}: {name}={version}, the lock has {LOCK.get(name)}"


def test_every_rule_that_runs_code_names_an_existing_environment():
    rules = {}
    for path in sorted((REPO / "rules").glob("*.smk")):
        for block in re.split(r"\n(?=rule \w+:)", path.read_text()):
            match = re.match(r"rule (\w+):", block)
            if match and "script:" in block:
                env = re.search(r'conda:\s*\n\s*"\.\./envs/(\w+)\.yaml"', block)
                assert env, f"rule {match.group(1)} names no conda environment"
                rules[match.group(1)] = env.group(1)
    assert len(rules) >= 25 and set(rules.values()) == {p.stem for p in ENVS}
    # the model rules get torch, the expert and data rules do not need it
    torch_envs = {p.stem for p in ENVS if "torch" in pins(yaml.safe_load(p.read_text()))}
    for rule in ("baseline", "tripost_checkpoint", "evaluate", "rollouts", "lmsi", "answer_only", "lmsi_samples"):
        assert rules[rule] in torch_envs, rule
    assert rules["tables"] == rules["figures"] == "plots" and rules["feedback"] == "data"


def test_local_folders_stay_out_of_git_even_as_links(tmp_path):
    """A second checkout that links ``.venv``, ``.cache`` and ``results`` to the first one's must
    not commit the links: pulling them into the first would replace its folders with links."""
    if shutil.which("git") is None:
        pytest.skip("no git")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    shutil.copy(REPO / ".gitignore", tmp_path / ".gitignore")
    target = tmp_path / "elsewhere"
    target.mkdir()
    for name in (".venv", ".cache", "results"):
        (tmp_path / name).symlink_to(target)
    listed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=tmp_path,
                            capture_output=True, text=True, check=True).stdout.split()
    assert {".venv", ".cache", "results"}.isdisjoint(listed), listed
