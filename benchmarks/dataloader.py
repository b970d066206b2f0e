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

from azlib.config import REPO_ROOT, load_profile  # noqa: E402
from azlib.datasets.clips import ClipDataset  # noqa: E402
from azlib.datasets.splits import load_index  # noqa: E402
from azlib.datasets.synthetic import generate, synth_config  # noqa: E402


def backbone(cfg: dict, num_classes: int) -> torch.nn.Module:
    try:
        from azlib.models.backbones import build_backbone
    except ImportError:  # models not written yet: a tiny 3D conv net of similar cost
        return torch.nn.Sequential(
            torch.nn.Conv3d(3, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool3d((1, 2, 2)),
            torch.nn.Conv3d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool3d(1),
            torch.nn.Flatten(), torch.nn.Linear(32, num_classes))
    return build_backbone(cfg["model"]["backbone"], num_classes, width=cfg["model"]["width"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--data", default=None, help="SynthActions folder (default results/<profile>/data/...)")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5, help="steps left out of the timing")
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers (default clip.workers, min 1)")
    parser.add_argument("--batch-size", type=int, default=None)
    args = parser.parse_args(argv)

    cfg = load_profile(args.profile)
    torch.manual_seed(cfg["seed"])
    synth = synth_config(cfg)
    try:
        from azlib.train import synth_root

        root = Path(args.data) if args.data else synth_root(REPO_ROOT / "results" / args.profile, synth)
    except ImportError:
        root = Path(args.data or REPO_ROOT / "results" / args.profile / "data" / "synthactions")
    began = time.perf_counter()
    generate(root, synth)
    print(f"data: {root} ({time.perf_counter() - began:.1f} s to generate or check)")
    index = load_index("synthactions", root, 1)

    batch = args.batch_size or int(cfg["train"]["batch_size"])
    workers = args.workers if args.workers is not None else max(1, int(cfg["clip"].get("workers") or 0))
    store, modality = None, None
    try:
        from azlib.store import LNetInputStore

        store = LNetInputStore(REPO_ROOT / "results" / args.profile / "cache" / "lnet",
                               scale=cfg["extract"]["scale"], accumulated=cfg["extract"]["accumulated"])
        modality = cfg["model"]["lnet_input"]
    except ImportError:
        print("azlib.store not available: timing RGB clips only")
    mean, std = (0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989)
    dataset = ClipDataset(index.train, cfg["clip"], store=store, modality=modality, train=True,
                          mean=mean, std=std, seed=cfg["seed"])
    needed = min(len(dataset), (args.steps + args.warmup) * batch)
    dataset = Subset(dataset, range(needed))
    if store is not None:  # steady state: LNet inputs already extracted
        from tqdm import tqdm

        for record in tqdm(index.train[:needed], desc="warming the LNet-input cache"):
            store.get(record.path)

    model = backbone(cfg, len(index.classes))
    optimiser = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    crop = int(cfg["clip"]["crop"])
    loader = DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers,
                        persistent_workers=workers > 0, drop_last=True,
                        generator=torch.Generator().manual_seed(cfg["seed"]))
    bf16 = bool(cfg["train"].get("amp_bf16", False))
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
    print(f"profile {args.profile}: batch {batch}, {workers} workers, clip {cfg['clip']['frames']}x"
          f"{cfg['clip']['resize']} -> crop {crop}, backbone {cfg['model']['backbone']} width {cfg['model']['width']}")
    print(f"{steps} steps: {1000 * total / steps:.0f} ms per step, {1000 * wait / steps:.0f} ms waiting for data")
    print(f"share of the step spent waiting for data: {100 * wait / total:.1f} % (goal <= 20 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
