"""Command line: ``python -m azlib <command> ...`` (see ``--help`` of each command).

Errors of input, settings or data (:class:`azlib.errors.AzlibError`) are printed to stderr as
``error: <what is wrong, where, and the fix>`` and exit with status 2; ``--debug`` (or
``AZLIB_DEBUG=1``) shows the traceback. Anything else is a bug and keeps its traceback. Output
folders are checked writable before any long work. A command's modules are imported only when it
runs (torch and PyAV are slow to import).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from azlib.errors import AzlibError, ConfigError

EXIT_BAD_INPUT = 2

# command name -> (help, function name below)
COMMANDS = {
    "reencode": "re-encode video(s) to MPEG-4 Part 2, GoP 12, no B-frames, keeping every frame",
    "check-data": "check a dataset's split files and every video before training",
    "extract": "extract motion vectors and residuals of one video to .npz",
    "extract-dataset": "fill the LNet-input store for a whole dataset",
    "synth": "generate the SynthActions dataset",
    "train": "train and evaluate one configuration",
    "experiments": "run (or reuse) the paper's experiment grid",
    "tune": "score candidate settings for each row of a table on the validation set",
}


def require_writable(folder) -> Path:
    """Create ``folder`` if needed and check a file can be written there (ConfigError if not)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".azlib-write-test-"):
            pass
    except OSError as error:
        raise ConfigError(f"{folder}: cannot write there ({error.strerror or error}); choose another "
                          "folder or fix its permissions") from None
    return folder


def _profile_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="cpu", help="params/<profile>.yaml (default cpu)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="override a profile value, e.g. --set model.backbone=r3d_18")
    parser.add_argument("--out", default=None, help="results folder (default results/<profile>)")
    parser.add_argument("--allow-missing", type=int, default=None, metavar="N",
                        help="train without up to N unusable videos (listed in every run record)")
    parser.add_argument("--no-progress", action="store_true")


def _load_profile(args):
    from azlib.config import deep_merge, load_profile, parse_sets

    overrides = parse_sets(args.sets)
    if getattr(args, "allow_missing", None) is not None:
        overrides = deep_merge(overrides, {"allow_missing": args.allow_missing})
    if getattr(args, "reuse_stale", False):
        overrides = deep_merge(overrides, {"experiments": {"reuse_stale": True}})
    return load_profile(args.profile, overrides)


def _out(args, profile) -> Path:
    return require_writable(args.out or Path("results") / profile.name)


def _print_summary(summary: dict, label: str) -> None:
    for video, note in sorted(summary.get("warnings", {}).items()):
        print(f"  WARNING {video}: {note}")
    for video, reason in sorted(summary.get("failed", {}).items()):
        print(f"  FAILED {video}: {reason}", file=sys.stderr)
    print(label, file=sys.stderr if summary.get("failed") else sys.stdout)


# --- commands ---------------------------------------------------------------------------------

def add_reencode(parser):
    from azlib.codec import GOP_SIZE, MPEG4_QSCALE, REENCODE_HEIGHT

    parser.add_argument("src", help="a video file, or a folder of videos (dataset-wide)")
    parser.add_argument("dst", help="output video (.avi/.mp4), or output folder")
    parser.add_argument("--height", type=int, default=REENCODE_HEIGHT,
                        help="output height, aspect ratio kept (0: keep the input height)")
    parser.add_argument("--width", type=int, default=0, help="output width (0: keep the aspect ratio)")
    parser.add_argument("--gop", type=int, default=GOP_SIZE)
    parser.add_argument("--qscale", type=int, default=MPEG4_QSCALE, help="1 (best) .. 31")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes (folder form)")
    parser.add_argument("--suffix", default=".avi", help="container of the outputs (folder form)")
    parser.add_argument("--allow-truncated", action="store_true",
                        help="write the decodable part of a damaged source (reported as truncated)")
    parser.add_argument("--no-progress", action="store_true")


def reencode(args) -> int:
    from azlib.codec import reencode as reencode_video
    from azlib.codec import reencode_dataset

    height, width = args.height or None, args.width or None
    if not Path(args.src).is_dir():
        require_writable(Path(args.dst).parent)
        result = reencode_video(args.src, args.dst, height=height, gop=args.gop, qscale=args.qscale,
                                width=width, allow_truncated=args.allow_truncated)
        kept = "" if result["truncated_at"] < 0 else " (truncated source: only the frames that decode)"
        print(f"wrote {args.dst}: {result['frames']} frames{kept}")
        return 0
    require_writable(args.dst)
    s = reencode_dataset(args.src, args.dst, height=height, gop=args.gop, qscale=args.qscale,
                         workers=args.workers, suffix=args.suffix, width=width,
                         allow_truncated=args.allow_truncated, progress=not args.no_progress)
    for src, frames in sorted(s["kept_truncated"].items()):
        print(f"  TRUNCATED, kept {frames} frames: {src}")
    for dst, sources in sorted(s["collisions"].items()):
        print(f"  COLLISION {dst}: {' and '.join(sources)} would both be written there; rename one "
              "of them (neither was written)", file=sys.stderr)
    for src, reason in sorted(s["truncated"].items()) + sorted(s["failed"].items()):
        print(f"  FAILED {reason if reason.startswith(src) else src + ': ' + reason}", file=sys.stderr)
    bad = len(s["truncated"]) + len(s["failed"]) + sum(len(v) for v in s["collisions"].values())
    line = (f"reencode {args.src} -> {args.dst}: {len(s['done'])} re-encoded, "
            f"{len(s['skipped'])} already done, {len(s['kept_truncated'])} truncated but kept, "
            f"{len(s['truncated'])} truncated (not written), {len(s['failed'])} failed, "
            f"{len(s['collisions'])} name collision(s)")
    print(line, file=sys.stderr if bad else sys.stdout)
    return EXIT_BAD_INPUT if bad else 0


def add_check_data(parser):
    _profile_options(parser)
    parser.add_argument("--split", action="append", default=None,
                        help="split(s) to check (default: the profile's splits)")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes")


def check_data(args) -> int:
    from azlib.config import run_spec
    from azlib.training.run import check_data as check

    profile = _load_profile(args)
    out = _out(args, profile)
    for split in args.split or profile.splits:
        split = int(split) if str(split).isdigit() else split
        result = check(run_spec(profile, split=split), out, workers=args.workers,
                       progress=not args.no_progress)
        print(result.summary())
        for video in result.excluded():
            print(f"  EXCLUDED {video['path']}: {video['status']} ({video['reason']})")
    return 0


def add_extract(parser):
    parser.add_argument("video")
    parser.add_argument("-o", "--output", required=True, help="output .npz")
    parser.add_argument("--max-frames", type=int, default=None)


def extract(args) -> int:
    from azlib.extraction import extract as extract_fields
    from azlib.files import save_npz

    require_writable(Path(args.output).parent)
    fields = extract_fields(args.video, max_frames=args.max_frames)
    save_npz(args.output, fields)
    t, h, w = fields["intra"].shape
    kinds = bytes(fields["pict_type"]).decode()
    print(f"wrote {args.output}: {t} frames of {h}x{w}, {kinds.count('I')} I / {kinds.count('P')} P")
    return 0


def add_extract_dataset(parser):
    from azlib.store import default_cache_dir

    parser.add_argument("root", help="dataset root: every video below it is extracted")
    parser.add_argument("--cache", default=None, help=f"cache folder (default {default_cache_dir()})")
    parser.add_argument("--workers", type=int, default=2, help="parallel processes")
    parser.add_argument("--scale", type=int, default=4, help="S: the LNet input is H/S x W/S")
    parser.add_argument("--per-frame", action="store_true", help="per-frame fields instead of accumulated")
    parser.add_argument("--min-frames", type=int, default=1, help="videos with fewer frames fail")
    parser.add_argument("--no-progress", action="store_true")


def extract_dataset(args) -> int:
    from azlib.codec import find_videos
    from azlib.store import LNetInputStore

    store = LNetInputStore(args.cache, scale=args.scale, accumulated=not args.per_frame,
                           min_frames=args.min_frames)
    require_writable(store.cache_dir)
    videos = find_videos(args.root)
    summary = store.fill(videos, workers=args.workers, progress=not args.no_progress)
    frames = summary["frames"]
    speed = f" ({frames} frames, {frames / summary['seconds']:.0f} frames/s with {args.workers} worker(s))"
    _print_summary(summary, f"{len(videos)} videos under {args.root}: extracted "
                            f"{len(summary['extracted'])}{speed if frames else ''}, already cached "
                            f"{len(summary['cached'])}, failed {len(summary['failed'])} -> {store.cache_dir}")
    return EXIT_BAD_INPUT if summary["failed"] else 0


def add_synth(parser):
    parser.add_argument("--profile", default="cpu", help="params/<profile>.yaml (smoke | cpu | paper)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("-o", "--out", required=True, help="output directory")
    parser.add_argument("--pretrain", action="store_true",
                        help="make SynthActions-Pretrain (the profile's pretrain: section)")
    parser.add_argument("--no-progress", action="store_true")


def synth(args) -> int:
    import time

    from azlib.config import pretrain_synth
    from azlib.datasets.synthetic import generate

    profile = _load_profile(args)
    settings = pretrain_synth(profile) if args.pretrain else profile.synth
    require_writable(args.out)
    began = time.perf_counter()
    root = generate(args.out, settings, progress=not args.no_progress)
    count = sum(1 for p in (root / "videos").rglob("*.avi") if not p.name.startswith("."))
    print(f"{root}: {count} videos, {settings.num_classes} classes, {time.perf_counter() - began:.1f} s")
    return 0


def add_train(parser):
    _profile_options(parser)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--split", default=None)
    parser.add_argument("--crops", action="store_true",
                        help="also evaluate the Table 7 crop variants (adaptive models)")
    parser.add_argument("--reuse-stale", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dry-run", action="store_true", help="check the settings and data, train nothing")


def train(args) -> int:
    from azlib import records, runner
    from azlib.training.distributed import is_main_process, shutdown

    profile = _load_profile(args)
    out = _out(args, profile)
    split = int(args.split) if args.split is not None and str(args.split).isdigit() else args.split
    spec, pre = runner.single_run(profile, seed=args.seed, split=split, out_dir=out,
                                  progress=not args.no_progress)
    if args.dry_run:
        print(f"would train {records.run_dir(out, spec)}" + (f" after pretraining "
              f"{records.run_dir(out, pre)}" if pre else ""))
        return 0
    if pre is not None:
        runner.run_specs([pre], out, progress=not args.no_progress, desc="pretraining")
    runner.run_specs([spec], out, crops=args.crops, progress=not args.no_progress, desc="train")
    if is_main_process():
        metrics = records.load_run(records.run_dir(out, spec)).metrics
        print(json.dumps({k: metrics[k] for k in ("key", "dataset", "seed", "top1", "top5",
                                                   "wall_time_s")}, indent=1))
        print(f"record: {records.run_dir(out, spec)}")
    shutdown()
    return 0


def add_experiments(parser):
    from azlib.grid import TABLE_IDS

    _profile_options(parser)
    parser.add_argument("--table", action="append", default=None,
                        help=f"table(s) to run: {', '.join(TABLE_IDS)} (default: experiments.tables)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--dry-run", action="store_true", help="only say what would run")
    parser.add_argument("--jobs", type=int, default=None,
                        help="runs trained side by side, one process each (default experiments.jobs); "
                             "with OMP_NUM_THREADS=1, one per core")
    parser.add_argument("--reuse-stale", action="store_true",
                        help="use records made by other code (marked stale in every table) instead "
                             "of retraining them")


def experiments(args) -> int:
    from azlib import grid, runner, tables
    from azlib.training.distributed import is_main_process, shutdown

    profile = _load_profile(args)
    out = _out(args, profile)
    table_ids = args.table or list(profile.experiments.tables)
    for t in table_ids:  # unknown table ids and bad settings stop before any work
        grid.plan(t, profile, args.seeds)
    for t in table_ids:
        summary = runner.run_table(t, profile, out, seeds=args.seeds, progress=not args.no_progress,
                                   dry_run=args.dry_run, jobs=args.jobs)
        if not args.dry_run and is_main_process():
            print(f"table {t}: {summary['complete']} runs complete ({summary['trained_here']} trained "
                  f"by this process), measured training time {summary['wall_time_s']:.1f} s (this "
                  f"call {summary['invocation_time_s']:.1f} s)")
            frame = tables.table(t, profile, out, seeds=args.seeds)
            tables.save_table(frame, out)
            print(f"Table {t}: {frame.attrs['title']} -- ours on {frame.attrs['dataset']} "
                  f"(profile {frame.attrs['profile']}); paper on {frame.attrs['paper_dataset']}")
            print(frame.drop(columns=["key"]).round(2).to_string())
    shutdown()
    return 0


def add_tune(parser):
    _profile_options(parser)
    parser.add_argument("--table", required=True, help="the table whose rows are tuned (e.g. 4, 4u, 6)")
    parser.add_argument("--rows", nargs="+", default=None, help="row keys (default: every row)")
    parser.add_argument("--grid", action="append", required=True, metavar="KEY=V1,V2",
                        help="candidate values of one setting; several --grid give every combination")
    parser.add_argument("--seed", type=int, default=None, help="training seed (default: experiments.tune_seed)")
    parser.add_argument("--jobs", type=int, default=None, help="runs side by side (default experiments.jobs)")


def tune(args) -> int:
    from azlib import tuning

    profile = _load_profile(args)
    out = _out(args, profile)
    choices = tuning.candidates(args.grid)
    seed = profile.experiments.tune_seed if args.seed is None else args.seed
    result = tuning.tune(args.table, profile, out, choices, seed=seed, rows=args.rows,
                         jobs=args.jobs or profile.experiments.jobs, progress=not args.no_progress)
    print(tuning.report(result))
    scores = out / "tuning" / f"table{result['table']}.json"
    print(f"\nscores: {scores}; the choices, for "
          f"params/{profile.name}.yaml:\n{tuning.row_settings_yaml(result)}")
    return 0


# --- dispatch ---------------------------------------------------------------------------------

def _function(name: str) -> str:
    return name.replace("-", "_")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m azlib", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show tracebacks of input errors")
    sub = parser.add_subparsers(dest="command", required=True)
    module = sys.modules[__name__]
    for name, help_text in COMMANDS.items():
        command = sub.add_parser(name, help=help_text)
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                             help="show tracebacks of input errors")
        getattr(module, "add_" + _function(name))(command)
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    debug = getattr(args, "debug", False) or os.environ.get("AZLIB_DEBUG") == "1"
    try:
        return int(getattr(module, _function(args.command))(args) or 0)
    except AzlibError as error:
        if debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
