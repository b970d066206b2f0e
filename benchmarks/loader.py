"""Clips per second the paper profile's data loader sustains, per worker, at the paper's sizes.

    python benchmarks/loader.py                      # 0 (in-process), 1 and 2 workers
    python benchmarks/loader.py --workers 1 2 4 --gpu-clips-per-s 180

What one training clip costs the loader under ``params/paper.yaml``: decode the video (PyAV),
resize to 128x171, K = 16 frames at stride 1, and read the LNet input (residuals) from a filled
LNet-input store, exactly as ``azlib.datasets.clips.ClipDataset`` does for a training run. The
videos are SynthActions rendered at 320x240, 3-4 s at 25 fps (HMDB51/UCF101-like sizes; no real
dataset is needed). Prints clips/s for each worker count and how many workers feed a GPU that
consumes ``--gpu-clips-per-s`` (R(2+1)D at batch 32 on an H200 consumed ~180 clips/s in fp32).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from azlib.config import load_profile, run_spec  # noqa: E402
from azlib.datasets.clips import ClipDataset  # noqa: E402
from azlib.datasets.splits import load_index  # noqa: E402
from azlib.datasets.synthetic import SynthSettings, generate  # noqa: E402
from azlib.models.backbones import backbone_stats  # noqa: E402
from azlib.store import LNetInputStore  # noqa: E402


def clips_per_second(dataset, workers: int, batch: int, batches: int) -> float:
    """Clips/s of a shuffled DataLoader over ``dataset``, after one warm-up batch per worker."""
    loader = DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers,
                        generator=torch.Generator().manual_seed(0), drop_last=True,
                        persistent_workers=workers > 0)
    iterator = iter(loader)
    for _ in range(max(1, workers)):  # workers started, first batches in flight
        next(iterator)
    start, clips = time.perf_counter(), 0
    for _ in range(batches):
        try:
            clips += len(next(iterator)["label"])
        except StopIteration:
            iterator = iter(loader)
            clips += len(next(iterator)["label"])
    return clips / (time.perf_counter() - start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--videos-per-class", type=int, default=2, help="SynthActions videos per class and actor")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--batches", type=int, default=12, help="timed batches per worker count")
    parser.add_argument("--gpu-clips-per-s", type=float, default=180.0)
    parser.add_argument("--data", type=Path, default=None, help="folder for the videos and store (default: temporary)")
    args = parser.parse_args(argv)

    spec = run_spec(load_profile("paper"), dataset="hmdb51")
    clip = spec.clip
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.data or Path(tmp)
        synth = SynthSettings(seed=11, actors=2, videos_per_actor_class=args.videos_per_class,
                              train_fraction=0.5, seconds=(3.0, 4.0))
        root = generate(folder / "synth", synth, progress=False)
        index = load_index("synthactions", root, 1)
        videos = index.train + index.test
        store = LNetInputStore(folder / "store", scale=spec.extract.scale,
                               accumulated=spec.extract.accumulated, min_frames=clip.span)
        began = time.perf_counter()
        filled = store.fill([r.path for r in videos], workers=2, progress=False)
        print(f"{len(videos)} videos of {synth.width}x{synth.height}; store filled in "
              f"{time.perf_counter() - began:.1f} s ({filled['frames']} frames)")
        mean, std = backbone_stats(spec.model.backbone)
        dataset = ClipDataset(videos, frames=clip.frames, stride=clip.stride, size=clip.resize, train=True,
                              store=store, modality=spec.model.lnet_input, mean=mean, std=std, seed=0)
        print(f"paper profile loader: K={clip.frames} stride {clip.stride}, frames resized to "
              f"{clip.resize[0]}x{clip.resize[1]}, LNet input {spec.model.lnet_input} (1/{spec.extract.scale}), "
              f"batch {args.batch}; cores: {len(os.sched_getaffinity(0))}")
        rates = {}
        for workers in args.workers:
            rates[workers] = clips_per_second(dataset, workers, args.batch, args.batches)
            per_worker = rates[workers] / max(1, workers)
            print(f"  {workers} worker(s){' (in the main process)' if workers == 0 else ''}: "
                  f"{rates[workers]:7.1f} clips/s, {per_worker:6.1f} per worker")
    single = rates.get(1) or rates[max(rates)] / max(1, max(rates))
    print(f"a GPU consuming {args.gpu_clips_per_s:g} clips/s needs about "
          f"{math.ceil(args.gpu_clips_per_s / single)} loader workers (one core each) at "
          f"{single:.1f} clips/s per worker")
    return 0


if __name__ == "__main__":
    sys.exit(main())
