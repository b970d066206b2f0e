"""Compare the runs of two results folders by their settings, whatever code or key format made them.

``azlib.reproduction`` matches runs by spec key, which records made before run records carried
provenance (``provenance.json``) do not have. This script matches each run of ``--new`` with the
run of ``--old`` whose ``config.json`` agrees on every setting both name (execution settings,
references to other runs' weights and the profile name left out) and says, per run, whether
every prediction array is equal (``identical``), only top-1 agrees, or they differ:

    python scripts/compare_records.py --old OLD/results/cpu --new build/cpu

Exit status 0 when every run of ``--new`` has one match and all are identical, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

# settings that say how a run executed or name another run, not what it computes
IGNORED = {"clip.workers", "synth.workers", "data_root", "model.pretrained", "profile",
           "allow_missing", "dataset_classes", "data_id", "device"}


def flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in d.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = tuple(value) if isinstance(value, list) else value
    return out


def runs(folder: Path) -> dict[Path, dict]:
    found = {}
    for config in sorted((folder / "runs").glob("*/config.json")):
        if (config.parent / "metrics.json").is_file():
            found[config.parent] = {k: v for k, v in flat(json.loads(config.read_text())).items()
                                    if k not in IGNORED}
    return found


def matches(new: dict, old: dict) -> bool:
    shared = new.keys() & old.keys()
    return all(new[k] == old[k] for k in shared)


def same_predictions(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.glob("predictions*.npz"))
    if not names or names != sorted(p.name for p in b.glob("predictions*.npz")):
        return False
    for name in names:
        x, y = np.load(a / name), np.load(b / name)
        if set(x.files) != set(y.files) or any(not np.array_equal(x[k], y[k]) for k in x.files):
            return False
    return True


def top1(folder: Path) -> float:
    return json.loads((folder / "metrics.json").read_text())["top1"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", type=Path, required=True)
    parser.add_argument("--new", type=Path, required=True)
    args = parser.parse_args(argv)
    old, new = runs(args.old), runs(args.new)
    counts = {"identical": 0, "same top-1": 0, "different": 0, "no match": 0, "ambiguous": 0}
    for folder, settings in new.items():
        candidates = [o for o, s in old.items() if matches(settings, s)]
        if len(candidates) != 1:
            verdict = "no match" if not candidates else "ambiguous"
            detail = ", ".join(c.name for c in candidates)
        else:
            (other,) = candidates
            verdict = ("identical" if same_predictions(folder, other)
                       else "same top-1" if top1(folder) == top1(other) else "different")
            detail = f"{other.name}: top-1 {top1(other):.2f} -> {top1(folder):.2f}"
        counts[verdict] += 1
        print(f"{folder.name}  {settings.get('kind')}  {settings.get('model.backbone')}  "
              f"seed {settings.get('seed')}  {verdict}  {detail}")
    print(f"{len(new)} runs in {args.new}, {len(old)} in {args.old}: "
          + ", ".join(f"{n} {k}" for k, n in counts.items()))
    return 0 if counts["identical"] == len(new) and new else 1


if __name__ == "__main__":
    sys.exit(main())
