"""Per-row tuning on the validation set: every row of a table gets the same small budget.

:func:`tune` trains each row of a table once per candidate setting (one seed), scores each run
on its **validation** videos (training groups held out by ``validation``, see
:func:`azlib.datasets.splits.carve_validation`) and chooses, per row, the candidate with the best
validation top-1 (the first listed on a tie). Test predictions are never read here: a choice
cannot depend on the test set. The scores go to ``<out>/tuning/table<id>.json``; the choices are
meant for the profile's ``experiments.row_settings`` (the one place the grid reads them from),
which :func:`row_settings_yaml` writes out.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import yaml

from azlib import records
from azlib.config import REPO_ROOT, Profile, parse_sets, with_overrides
from azlib.errors import ConfigError
from azlib.files import read_json, write_json
from azlib.grid import plan, table_spec
from azlib.runner import resolve, run_planned
from azlib.settings import flat_text, replace

#: what a choice is scored by (never the test set's top1)
SCORE = "validation_top1"


def candidates(pairs: list[str]) -> list[dict]:
    """``['train.lnet_lr_mult=1,3', 'model.s_min=0.2,0.3']`` -> every combination, as nested
    overrides, in the order given (the first value of each list first)."""
    keys, values = [], []
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--grid {pair!r}: expected key.sub=value1,value2,...")
        key, listed = pair.split("=", 1)
        keys.append(key.strip())
        values.append([v.strip() for v in listed.split(",") if v.strip()])
    return [parse_sets([f"{k}={v}" for k, v in zip(keys, combo)]) for combo in itertools.product(*values)]


def _untuned(profile: Profile) -> Profile:
    """``profile`` without its row settings: a candidate replaces them, it is not merged into them."""
    return replace(profile, "", experiments=replace(profile.experiments, "experiments", row_settings={}))


def tuning_runs(table_id, profile: Profile, choices: list[dict], seed: int, rows=None) -> list[tuple]:
    """(row key, candidate, planned run) of every row and candidate, ``seed`` only."""
    if profile.validation <= 0:
        raise ConfigError("validation: tuning scores candidates on held-out training groups; set "
                          "validation (e.g. --set validation=0.17) in the profile")
    table = table_spec(table_id)
    keys = [r.key for r in table.rows] if rows is None else [table.row(k).key for k in rows]
    base = _untuned(profile)
    out = []
    for choice in choices:
        for planned in plan(table.id, with_overrides(base, choice), seeds=[seed]):
            if planned.row.key in keys:
                out.append((planned.row.key, choice, planned))
    return out


def tune(table_id, profile: Profile, out_dir, choices: list[dict], seed: int = 0, rows=None,
         jobs: int = 1, progress: bool = True) -> dict:
    """Train what is missing of every candidate run, then score and choose (see the module doc)."""
    table = table_spec(table_id)
    found = tuning_runs(table.id, profile, choices, seed, rows)
    planned = resolve([p for _, _, p in found], out_dir, progress=progress)
    run_planned(planned, out_dir, jobs=jobs, progress=progress, desc=f"tuning table {table.id}")
    return score(table.id, [(row, choice, p) for (row, choice, _), p in zip(found, planned)], out_dir, seed)


def score(table_id: str, found: list[tuple], out_dir, seed: int) -> dict:
    """Per row, every candidate's validation top-1 and the chosen one; written to
    ``<out>/tuning/table<id>.json``."""
    result = {"table": table_id, "seed": seed, "score": SCORE, "rows": {}}
    for row, choice, planned in found:
        folder = records.run_dir(out_dir, planned.spec)
        metrics = read_json(folder / records.METRICS_FILE)
        if SCORE not in metrics:
            raise ConfigError(f"{folder}: the run has no validation score (trained without validation)")
        entry = result["rows"].setdefault(row, {"candidates": []})
        entry["candidates"].append({"settings": choice, SCORE: metrics[SCORE], "run": folder.name})
    for entry in result["rows"].values():
        best = max(entry["candidates"], key=lambda c: c[SCORE])  # max keeps the first of equals
        entry["chosen"] = best["settings"]
    write_json(Path(out_dir) / "tuning" / f"table{table_id}.json", result)
    return result


def row_settings_yaml(result: dict) -> str:
    """The choices as the profile's ``experiments.row_settings`` mapping (YAML)."""
    chosen = {f"{result['table']}/{row}": entry["chosen"] for row, entry in result["rows"].items()}
    return yaml.dump({"experiments": {"row_settings": chosen}}, Dumper=_PlainDumper, sort_keys=False,
                     default_flow_style=None)


class _PlainDumper(yaml.SafeDumper):
    """Writes a repeated choice out each time (no ``&id001`` anchors in a profile)."""

    def ignore_aliases(self, data):
        return True


def report(result: dict) -> str:
    lines = [f"table {result['table']}: validation top-1 % per candidate (seed {result['seed']}); "
             "* = chosen"]
    for row, entry in result["rows"].items():
        for c in entry["candidates"]:
            mark = "*" if c["settings"] == entry["chosen"] else " "
            lines.append(f" {mark} {row:20s} {flat_text(c['settings']) or '(profile)':45s} {c[SCORE]:6.1f}")
    return "\n".join(lines)


def find_scores(out_dir, profile_name: str = "cpu") -> Path:
    """The tuning scores of ``out_dir``, else the published ones (``make reproduce`` recomputes
    the grid, which trains each row's choice with the tables' seeds, not the tuning runs)."""
    own = Path(out_dir) / "tuning"
    return own if any(own.glob("table*.json")) else REPO_ROOT / "results" / profile_name / "tuning"


def scores_frame(folder) -> pd.DataFrame:
    """Every tuned row's candidates with their validation top-1 and the chosen one, from the
    ``table<id>.json`` files in ``folder`` (empty when there are none)."""
    rows = []
    for path in sorted(Path(folder).glob("table*.json")):
        result = read_json(path)
        for row, entry in result["rows"].items():
            for c in entry["candidates"]:
                rows.append({"table": result["table"], "row": row, "candidate": flat_text(c["settings"]) or "(profile)",
                             "validation top-1 %": round(c[SCORE], 1),
                             "chosen": "yes" if c["settings"] == entry["chosen"] else "",
                             "seed": result["seed"]})
    return pd.DataFrame(rows, columns=["table", "row", "candidate", "validation top-1 %", "chosen", "seed"])
