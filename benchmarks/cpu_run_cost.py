"""Cost of one cpu-profile run, part by part: data generation, LNet-input extraction,
pretraining, fine-tuning and evaluation, each measured on a small sample and scaled to the
profile's sizes, with its share of the whole and the projected time of the full grid.

    python benchmarks/cpu_run_cost.py [--profile cpu] [--backbone r2plus1d_18] [--threads 1] [--grid]

Data generation and pretraining are shared by many runs (one dataset, one pretraining per
backbone); the table gives both the cost of a run made from scratch and its amortised cost in
the grid (experiments.plan over ``experiments.tables`` and ``experiments.seeds``).
"""

from __future__ import annotations

import argparse
import math
import os
import sys

_threads = next((sys.argv[i + 1] for i, a in enumerate(sys.argv[:-1]) if a == "--threads"), "1")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, _threads)

import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from dataclasses import replace  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from azlib import grid, records  # noqa: E402
from azlib.codec import decode_rgb  # noqa: E402
from azlib.config import load_profile, run_spec  # noqa: E402
from azlib.datasets.synthetic import SynthSettings, generate, split_actors  # noqa: E402
from azlib.store import LNetInputStore  # noqa: E402
from azlib.training.run import make_model  # noqa: E402


def seconds_per_video(synth: SynthSettings, videos: int, folder: Path, resize) -> tuple[float, float, float]:
    """Generation, extraction and decoding seconds per video, on a sample of ``videos`` videos."""
    sample = replace(synth, actors=2, workers=1,
                     videos_per_actor_class=max(1, math.ceil(videos / (2 * synth.num_classes))))
    started = time.perf_counter()
    root = generate(folder / "data", sample, progress=False)
    paths = sorted((root / "videos").glob("*/*.avi"))
    generation = (time.perf_counter() - started) / len(paths)
    store = LNetInputStore(folder / "cache", scale=4, accumulated=True)
    started = time.perf_counter()
    for path in paths:
        store.get(path)
    extraction = (time.perf_counter() - started) / len(paths)
    started = time.perf_counter()
    for path in paths:  # what the data loader does per clip: decode, resize
        decode_rgb(path, size=resize)
    return generation, extraction, (time.perf_counter() - started) / len(paths)


def seconds_per_step(run, num_classes: int, train: bool, steps: int = 6) -> float:
    """Seconds per training step (forward, backward, update) or per evaluation batch."""
    torch.manual_seed(0)
    model = make_model(replace(run, model=replace(run.model, pretrained=None)), num_classes, ".")
    clip, batch = run.clip, run.train.batch_size
    frames, (height, width) = clip.frames, clip.resize
    rgb = torch.randn(batch, 3, frames, height, width)
    scale = run.extract.scale  # the LNet input is the video's frame / S
    lnet = torch.rand(batch, frames, run.synth.height // scale, run.synth.width // scale)
    label = torch.randint(0, num_classes, (batch,))
    optimizer = torch.optim.AdamW(model.parameters(), 1e-3)
    model.train(train)
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        if train:
            loss = F.cross_entropy(model(rgb, lnet)["logits"], label)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        else:
            with torch.no_grad():
                model(rgb, lnet)
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--backbone", default=None, help="default: the ablation backbone (R(2+1)D)")
    parser.add_argument("--zoom", default="adaptive", choices=("adaptive", "none"))
    parser.add_argument("--threads", default="1", help="torch threads (1: one core of two)")
    parser.add_argument("--sample-videos", type=int, default=24)
    parser.add_argument("--grid", action="store_true", help="also project the whole grid's time")
    args = parser.parse_args(argv)
    torch.set_num_threads(int(args.threads))

    cfg = load_profile(args.profile)
    backbone = args.backbone or grid.ablation_backbone(cfg)
    run = run_spec(cfg, {"model": {"backbone": backbone, "zoom": args.zoom}})
    synth = run.synth
    classes = synth.num_classes
    videos = classes * synth.actors * synth.videos_per_actor_class
    train_videos = classes * len(split_actors(synth, 1)) * synth.videos_per_actor_class
    test_videos = videos - train_videos
    pre = grid.pretrain_spec(run, cfg) if cfg.pretrain.enabled else None

    with tempfile.TemporaryDirectory() as tmp:
        gen_s, extract_s, decode_s = seconds_per_video(synth, args.sample_videos, Path(tmp),
                                                       tuple(run.clip.resize))
    train_step = seconds_per_step(run, classes, train=True)
    eval_batch = seconds_per_step(run, classes, train=False)
    batch = run.train.batch_size
    parts = {
        "data generation": gen_s * videos,
        "extraction (LNet input)": extract_s * videos if args.zoom == "adaptive" else 0.0,
        "fine-tuning": (train_step * math.ceil(train_videos / batch)
                        + decode_s * train_videos) * run.train.epochs,
        "evaluation": (eval_batch * math.ceil(test_videos * run.clip.test_clips / batch)
                       + decode_s * test_videos),
    }
    if pre is not None:
        ps = pre.synth
        pre_videos = ps.num_classes * ps.actors * ps.videos_per_actor_class
        pre_train = ps.num_classes * len(split_actors(ps, 1)) * ps.videos_per_actor_class
        pre_step = seconds_per_step(pre, ps.num_classes, True)
        pre_batch = pre.train.batch_size
        parts["data generation"] += gen_s * pre_videos
        parts["pretraining"] = ((pre_step * math.ceil(pre_train / pre_batch) + decode_s * pre_train)
                                * pre.train.epochs + decode_s * (pre_videos - pre_train)
                                + eval_batch * math.ceil((pre_videos - pre_train) * pre.clip.test_clips / pre_batch))
    total = sum(parts.values())
    print(f"profile {args.profile}, backbone {backbone}, zoom {args.zoom}, {args.threads} thread(s); "
          f"{videos} videos ({train_videos} train / {test_videos} test), K={run.clip.frames}, "
          f"{list(run.clip.resize)} -> {run.clip.crop}², batch {batch}, {run.train.epochs} epochs")
    print(f"measured: {gen_s * 1000:.1f} ms/video generation, {extract_s * 1000:.1f} ms/video extraction, "
          f"{train_step * 1000:.0f} ms/training step, {eval_batch * 1000:.0f} ms/evaluation batch")
    print(f"{'part':28s} {'seconds':>9s} {'share':>7s}")
    for name, seconds in parts.items():
        print(f"{name:28s} {seconds:9.1f} {100 * seconds / total:6.1f}%")
    print(f"{'one run from scratch':28s} {total:9.1f}")
    per_run = parts["fine-tuning"] + parts["evaluation"]
    print(f"{'one run in the grid':28s} {per_run:9.1f}   (data, extraction, pretraining shared)")
    if args.grid:
        project_grid(cfg, gen_s, extract_s, decode_s)
    return 0


def project_grid(cfg, gen_s: float, extract_s: float, decode_s: float) -> None:
    """The whole grid (experiments.tables x seeds, pretraining included) from per-step costs
    measured once per backbone and zoom."""
    planned = [p for t in cfg.experiments.tables for p in grid.plan(t, cfg)]
    runs = {records.run_key(p.spec): p.spec for p in planned}
    pretrains = {records.run_key(p.pretrain): p.pretrain for p in planned if p.pretrain}
    steps: dict = {}

    def cost(run) -> float:
        synth = run.synth
        key = (run.model.backbone, run.model.zoom, synth.num_classes)
        if key not in steps:
            steps[key] = (seconds_per_step(run, synth.num_classes, True),
                          seconds_per_step(run, synth.num_classes, False))
        train_step, eval_batch = steps[key]
        videos = synth.num_classes * synth.actors * synth.videos_per_actor_class
        train = synth.num_classes * len(split_actors(synth, 1)) * synth.videos_per_actor_class
        batch = run.train.batch_size
        return ((train_step * math.ceil(train / batch) + decode_s * train) * run.train.epochs
                + eval_batch * math.ceil((videos - train) * run.clip.test_clips / batch)
                + decode_s * (videos - train))

    datasets = {r.synth for r in list(runs.values()) + list(pretrains.values())}
    extracted = {r.synth for r in runs.values() if r.model.zoom != "none"}
    count = lambda s: s.num_classes * s.actors * s.videos_per_actor_class  # noqa: E731
    parts = {"data generation": gen_s * sum(count(s) for s in datasets),
             "extraction": extract_s * sum(count(s) for s in extracted),
             "pretraining": sum(cost(r) for r in pretrains.values()),
             "fine-tuning + evaluation": sum(cost(r) for r in runs.values())}
    total = sum(parts.values())
    print(f"\ngrid: tables {list(cfg.experiments.tables)}, seeds {list(cfg.experiments.seeds)}: "
          f"{len(runs)} runs, {len(pretrains)} pretraining runs, {len(datasets)} datasets")
    for name, seconds in parts.items():
        print(f"{name:28s} {seconds:9.1f} {100 * seconds / total:6.1f}%")
    print(f"{'projected grid':28s} {total:9.1f}   ({total / 3600:.2f} h)")


if __name__ == "__main__":
    raise SystemExit(main())
