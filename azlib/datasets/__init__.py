"""Datasets: SynthActions generator, readers of HMDB51 / UCF101 / Kinetics-32, clip pipeline.

Imports are lazy so that generator workers and the CLI do not pay for torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "VideoRecord": "splits", "DatasetIndex": "splits", "load_index": "splits", "DATASETS": "splits",
    "generate": "synthetic", "load_boxes": "synthetic", "ensure_dataset": "synthetic",
    "synth_config": "synthetic", "CLASSES": "synthetic",
    "clip_starts": "clips", "ClipDataset": "clips",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
