"""Share of a training step spent waiting for data (goal: <= 20 % in the cpu profile).

    .venv/bin/python benchmarks/dataloader.py --profile cpu [--steps 40] [--workers 2]

Generates (or reuses) the profile's SynthActions under results/<profile>/data, trains the
profile's slim backbone on centre crops of the whole resized frames for a few steps, and times
``next(loader)`` against the whole step. LNet inputs are included when azlib.store exists
(its cache warmed first, as after ``python -m azlib extract-dataset``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Subset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from azlib.config import REPO_ROOT, load_profile, run_spec  # noqa: E402
from azlib.datasets.clips import ClipDataset  # noqa: E402
from azlib.models.backbones import backbone_stats, build_backbone  # noqa: E402
from azlib.training.run import check_data, lnet_store  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--out", default=None, help="results folder holding the data (default results/<profile>)")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5, help="steps left out of the timing")
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers (default clip.workers, min 1)")
    parser.add_argument("--batch-size", type=int, default=None)
    args = parser.parse_args(argv)

    cfg = load_profile(args.profile)
    spec = run_spec(cfg)
    torch.manual_seed(spec.seed)
    out = Path(args.out or REPO_ROOT / "results" / args.profile)
    began = time.perf_counter()
    checked = check_data(spec, out)
    print(f"data: {checked.summary()} ({time.perf_counter() - began:.1f} s to generate or check)")
    index = checked.index()

    batch = args.batch_size or spec.train.batch_size
    workers = args.workers if args.workers is not None else max(1, spec.clip.workers)
    store = lnet_store(spec, out)
    mean, std = backbone_stats(spec.model.backbone)
    clip = spec.clip
    dataset = ClipDataset(index.train, frames=clip.frames, stride=clip.stride, size=clip.resize,
                          store=store, modality=spec.model.lnet_input, train=True, mean=mean, std=std,
                          seed=spec.seed)
    needed = min(len(dataset), (args.steps + args.warmup) * batch)
    dataset = Subset(dataset, range(needed))
    store.fill([r.path for r in index.train[:needed]], workers=1)  # steady state: inputs extracted

    model = build_backbone(spec.model.backbone, len(index.classes), width=spec.model.width)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    crop = clip.crop
    loader = DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers,
                        persistent_workers=workers > 0, drop_last=True,
                        generator=torch.Generator().manual_seed(spec.seed))
    bf16 = spec.train.amp_bf16
    waits, totals = [], []
    while len(totals) < args.steps + args.warmup:
        iterator = iter(loader)
        while len(totals) < args.steps + args.warmup:
            start = time.perf_counter()
            try:
                item = next(iterator)
            except StopIteration:
                break
            fetched = time.perf_counter()
            rgb = item["rgb"]
            h, w = rgb.shape[-2:]
            top, left = (h - crop) // 2, (w - crop) // 2
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = model(rgb[..., top:top + crop, left:left + crop])
                loss = torch.nn.functional.cross_entropy(logits.float(), item["label"])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            waits.append(fetched - start)
            totals.append(time.perf_counter() - start)
    wait, total = sum(waits[args.warmup:]), sum(totals[args.warmup:])
    steps = len(totals) - args.warmup
    print(f"profile {args.profile}: batch {batch}, {workers} workers, clip {clip.frames}x"
          f"{list(clip.resize)} -> crop {crop}, backbone {spec.model.backbone} width {spec.model.width}")
    print(f"{steps} steps: {1000 * total / steps:.0f} ms per step, {1000 * wait / steps:.0f} ms waiting for data")
    print(f"share of the step spent waiting for data: {100 * wait / total:.1f} % (goal <= 20 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
