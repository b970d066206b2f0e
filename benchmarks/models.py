"""Forward+backward time per clip of each backbone with and without adaptive zooming.

    .venv/bin/python benchmarks/models.py [--profiles paper cpu] [--repeats 3] [--device cpu]
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/models.py --profiles cpu --batch 16 --threads 1 [--amp-bf16]

"backbone": the backbone alone on an already cropped clip; "baseline": FixedCrop (a random crop
through the same sampler, the baseline's real training step); "zoom": AdaptiveZoom (LNet + θ head
+ sampler + backbone). "added %" = zoom over baseline. Sizes: the paper's (R3D / R(2+1)D
16x112² from 128x171, X3D-M 16x224² from 256x342, EfficientNet-B0 LNet on 16x64x86 residuals)
and the cpu profile's (params/cpu.yaml: clip and model sections; X3D-M as its grid uses it).
``--amp-bf16``: every arm under bf16 autocast. Goal: zooming adds <= 5 %.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from azlib.config import load_profile  # noqa: E402
from azlib.models.az import AdaptiveZoom, FixedCrop  # noqa: E402
from azlib.models.backbones import build_backbone  # noqa: E402
from azlib.models.cost import step_times, training_step  # noqa: E402
from azlib.models.lnet import build_lnet  # noqa: E402

warnings.simplefilter("ignore", FutureWarning)


def settings(profile: str) -> list[dict]:
    """One dict per backbone: sizes and widths of ``profile``."""
    if profile == "paper":
        common = dict(width=None, lnet="efficientnet_b0", lnet_width=None, lnet_size=(64, 86))
        return [dict(common, backbone="r3d_18", frames=16, frame=(128, 171), crop=112),
                dict(common, backbone="r2plus1d_18", frames=16, frame=(128, 171), crop=112),
                dict(common, backbone="x3d_m", frames=16, frame=(256, 342), crop=224)]
    cfg = load_profile(profile)
    clip, model, scale = cfg.clip, cfg.model, cfg.extract.scale
    frame = tuple(clip.resize)
    common = dict(width=model.width, lnet=model.lnet, lnet_width=model.lnet_width,
                  frames=clip.frames, frame=frame, crop=clip.crop,
                  lnet_size=(frame[0] // scale, frame[1] // scale))
    return [dict(common, backbone=name) for name in ("r3d_18", "r2plus1d_18", "x3d_m")]


def bench(s: dict, batch: int, repeats: int, device: str, amp_bf16: bool = False) -> dict:
    torch.manual_seed(0)
    backbone = build_backbone(s["backbone"], 51, s["width"]).to(device).train()
    lnet = build_lnet(s["lnet"], s["frames"], s["lnet_width"])
    model = AdaptiveZoom(backbone, lnet, "scale", augment=True, out_size=s["crop"]).to(device).train()
    baseline = FixedCrop(backbone, out_size=s["crop"]).to(device).train()
    rgb = torch.randn(batch, 3, s["frames"], *s["frame"], device=device)
    cropped = torch.randn(batch, 3, s["frames"], s["crop"], s["crop"], device=device)
    lnet_input = torch.rand(batch, s["frames"], *s["lnet_size"], device=device)
    labels = torch.zeros(batch, dtype=torch.long, device=device)

    times = step_times({"backbone": training_step(backbone, (cropped,), labels, amp_bf16),
                        "baseline": training_step(baseline, (rgb,), labels, amp_bf16),
                        "zoom": training_step(model, (rgb, lnet_input), labels, amp_bf16)},
                       repeats=repeats, warmup=1, device=device)
    b, p, z = (times[name] / batch for name in ("backbone", "baseline", "zoom"))
    return {"backbone": s["backbone"], "width": s["width"] or "full",
            "input": f"{s['frames']}x{s['crop']}x{s['crop']}", "lnet": s["lnet"],
            "backbone ms": 1000 * b, "baseline ms": 1000 * p, "zoom ms": 1000 * z,
            "added %": 100 * (z - p) / p}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", nargs="+", default=["paper", "cpu"], help="paper and/or a params/ profile")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2, help="CPU intra-op threads")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--amp-bf16", action="store_true", help="bf16 autocast, as train.amp_bf16")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device_name = torch.cuda.get_device_name() if args.device == "cuda" else f"cpu, {args.threads} threads"
    precision = "bf16 autocast" if args.amp_bf16 else "fp32"
    print(f"forward+backward per clip, batch {args.batch}, median of {args.repeats}, {device_name}, {precision}")
    print(f"{'profile':8} {'backbone':12} {'width':>5} {'input':>11} {'lnet':>16} "
          f"{'backbone ms':>11} {'baseline ms':>11} {'zoom ms':>9} {'added %':>8}")
    for profile in args.profiles:
        for s in settings(profile):
            r = bench(s, args.batch, args.repeats, args.device, args.amp_bf16)
            print(f"{profile:8} {r['backbone']:12} {str(r['width']):>5} {r['input']:>11} {r['lnet']:>16} "
                  f"{r['backbone ms']:11.1f} {r['baseline ms']:11.1f} {r['zoom ms']:9.1f} "
                  f"{r['added %']:8.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
