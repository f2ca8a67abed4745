"""What a run built, as one SHA-256 per artifact: to show that a change of the code left the
results as they were. Data files, edited trajectories, training data, checkpoints, evaluation
pickles and summaries, tables; not what records how the run went (logs, benchmarks, runtimes,
the config record) nor figures (their files carry the plotting library's metadata).

    python -m tripost.fingerprint results/ > before.json        # a run before the change
    python -m tripost.fingerprint results/ --against before.json  # the same run after it
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

KEPT_SUFFIXES = {".jsonl", ".json", ".pkl", ".safetensors", ".csv", ".md"}
SKIPPED_FOLDERS = {"logs", "benchmarks", "figures", ".snakemake"}
SKIPPED_FILES = {"tables/runtimes.csv", "tables/runtimes.md", "config.yaml"}


def fingerprint(results: Path) -> dict[str, str]:
    """{path relative to ``results``: SHA-256} of every artifact that a rerun must reproduce."""
    out = {}
    for path in sorted(results.rglob("*")):
        relative = path.relative_to(results)
        if (not path.is_file() or path.suffix not in KEPT_SUFFIXES or relative.parts[0] in SKIPPED_FOLDERS
                or relative.as_posix() in SKIPPED_FILES):
            continue
        out[relative.as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def differences(before: dict[str, str], after: dict[str, str]) -> dict[str, list[str]]:
    """The artifacts that changed, and those only one side has."""
    return {"changed": sorted(k for k in before.keys() & after.keys() if before[k] != after[k]),
            "only_before": sorted(before.keys() - after.keys()), "only_after": sorted(after.keys() - before.keys())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="a run's results folder")
    parser.add_argument("--against", type=Path, help="a fingerprint (JSON) to compare with; exit 1 on any difference")
    args = parser.parse_args(argv)
    now = fingerprint(args.results)
    if args.against is None:
        json.dump(now, sys.stdout, indent=1)
        print()
        return 0
    diff = differences(json.loads(args.against.read_text()), now)
    same = len(now) - len(diff["changed"]) - len(diff["only_after"])
    print(f"{same} artifacts identical, {len(diff['changed'])} changed, {len(diff['only_before'])} only before, "
          f"{len(diff['only_after'])} only after")
    for kind, paths in diff.items():
        for path in paths:
            print(f"  {kind}: {path}")
    return 1 if any(diff.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
