"""The main comparison and the oracle table on another draw of SynthActions.

    python benchmarks/replicate.py --synth-seed 7101                       # cpu profile, its draw_seeds
    python benchmarks/replicate.py --synth-seed 7101 --seeds 10 11 12 --set synth.actors=24
    python benchmarks/replicate.py --synth-seed 7101 --adaptive-set train.lnet_lr_mult=1.0

Trains (or reuses, under ``--out``) the oracle table's runs on SynthActions drawn with generator
seed ``--synth-seed``: the ablation backbone (R(2+1)D) with a centre crop, with adaptive zooming,
and with the oracle crops (the true box; its scale only, centred), then prints per row the top-1
over seeds and, against the centre crop, the difference with its seed x actor x video bootstrap
interval and per-seed differences, and the share of the scale-only oracle's headroom that
adaptive zooming captures. ``--adaptive-set`` changes only the adaptive row (the other rows
keep their runs). The numbers go to ``<out>/replicate.json`` too.

On a draw whose actors no choice was made on, this is the replication the book's robustness
section reports; on a draw used for choosing a setting, its held-out actors are validation data.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from azlib import records, runner, tables  # noqa: E402
from azlib.config import REPO_ROOT, draw_profile, load_profile, parse_sets, with_overrides  # noqa: E402
from azlib.grid import plan, pretrain_spec  # noqa: E402
from azlib.settings import replace  # noqa: E402

TABLE = "oracle"


def profiles(name: str, synth_seed: int, sets: list[str], adaptive_sets: list[str], seeds=None):
    """(profile of every row, profile of the adaptive row): the draw's seed, its training seeds
    (default the profile's draw_seeds) and the overrides."""
    profile = draw_profile(load_profile(name, parse_sets(sets)), synth_seed, seeds)
    return profile, with_overrides(profile, parse_sets(adaptive_sets))


def planned_runs(profile, adaptive, out: Path) -> list:
    """The table's runs: the adaptive row from ``adaptive``, every other row from ``profile``,
    all fine-tuning from ``profile``'s pretraining."""
    planned = [p for p in runner.resolve(plan(TABLE, profile), out) if p.row.key != "adaptive"]
    planned += [_base_pretraining(p, profile) for p in runner.resolve(plan(TABLE, adaptive), out)
                if p.row.key == "adaptive"]
    return planned


def _base_pretraining(planned, profile):
    """The adaptive row fine-tunes from the same pretraining run as the other rows: changes
    meant for the adaptive row never re-key (and so retrain) the pretraining."""
    if planned.pretrain is None:
        return planned
    pre = pretrain_spec(planned.spec, profile)
    model = replace(planned.spec.model, "model", pretrained=records.run_reference(pre))
    return dataclasses.replace(planned, spec=replace(planned.spec, "run", model=model), pretrain=pre)


def summarise(planned: list, out: Path, profile) -> dict:
    """:func:`azlib.tables.draw_summary` of the planned runs (the adaptive row possibly changed)."""
    runs = {key: [] for key in tables.DRAW_ROWS}
    for p in planned:
        found = runner.find_record(p.spec, out).record
        if found is not None:
            runs[p.row.key].append(found)
    return tables.draw_summary(profile, out, runs=runs)


def report(result: dict) -> str:
    lines = [f"SynthActions draw {result['synth_seed']} ({result['profile']} profile), seeds "
             f"{' '.join(map(str, result['seeds']))}: top-1 %, difference to the centre crop "
             "[seed x actor x video 95 % interval] (per seed)"]
    for key, row in result["rows"].items():
        per_seed = " / ".join(f"{v:.1f}" for v in row["top1_per_seed"].values())
        text = f"  {key:13s} {row['top1']:5.1f} ({per_seed})"
        if "diff" in row:
            text += (f"   {row['diff']:+5.1f} [{row['lo']:+.1f}, {row['hi']:+.1f}] "
                     f"({' / '.join(f'{d:+.1f}' for d in row['per_seed'])})")
        lines.append(text)
    if "headroom_share" in result:
        lines.append(f"  adaptive zoom captures {100 * result['headroom_share']:.0f} % of the scale-only headroom")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synth-seed", type=int, required=True, help="SynthActions generator seed of the draw")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="training seeds (default experiments.draw_seeds, else experiments.seeds)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="override a profile value for every row")
    parser.add_argument("--adaptive-set", dest="adaptive_sets", action="append", default=[], metavar="KEY=VALUE",
                        help="override a profile value for the adaptive row only")
    parser.add_argument("--out", type=Path, default=None,
                        help="results folder (default build/replicate/<profile>-<synth seed>)")
    parser.add_argument("--jobs", type=int, default=None, help="runs side by side (default experiments.jobs)")
    parser.add_argument("--report-only", action="store_true", help="train nothing; report what is there")
    args = parser.parse_args(argv)

    profile, adaptive = profiles(args.profile, args.synth_seed, args.sets, args.adaptive_sets, args.seeds)
    out = args.out or REPO_ROOT / "build" / "replicate" / f"{profile.name}-{args.synth_seed}"
    planned = planned_runs(profile, adaptive, out)
    if not args.report_only:
        runner.run_planned(planned, out, jobs=args.jobs or profile.experiments.jobs,
                           desc=f"draw {args.synth_seed}")
    result = summarise(planned, out, profile)
    result["sets"], result["adaptive_sets"] = args.sets, args.adaptive_sets
    out.mkdir(parents=True, exist_ok=True)
    (out / "replicate.json").write_text(json.dumps(result, indent=1) + "\n")
    print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
