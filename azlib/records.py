"""Run records: how a run is named, where it lives, and what its folder holds.

A run (:class:`azlib.config.RunSpec`) has two names. Its **spec key** hashes the settings that
decide its numbers (execution settings left out, see :mod:`azlib.settings`); its **run key**
hashes the spec key with the fingerprint of the code that decides numbers
(:data:`azlib.provenance.RUN_CODE`). The run lives in ``<out>/runs/<run key>/``, so an edit to
that code gives every run a new folder and a record of other code is never picked up by
accident; the spec key finds such older records when they are wanted on purpose (marked stale).
A pretraining run is referred to as ``run:<spec key>`` in ``model.pretrained``, so the reference
does not depend on where results live or which code made them.

A run's folder::

    config.json       the RunSpec, execution settings included (written first)
    provenance.json   code, commit, versions, machine, times, excluded videos
    metrics.json      top-1/top-5 and counts (written last: its presence means the run finished)
    predictions.npz   per test video: scores, labels, mean θ, mean true box
    predictions_validation.npz   the same per validation video (runs with ``validation`` > 0)
    crops.json, predictions_<variant>.npz   Table 7's inference-crop variants
    log.jsonl         one line per epoch
    checkpoint.pt, checkpoint_backbone.pt   weights (never committed)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from azlib.config import RunSpec
from azlib.files import digest, load_npz, read_json
from azlib.provenance import RUN_CODE, fingerprint

CONFIG_FILE = "config.json"
PROVENANCE_FILE = "provenance.json"
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.npz"
VALIDATION_PREDICTIONS_FILE = "predictions_validation.npz"
CROPS_FILE = "crops.json"
LOG_FILE = "log.jsonl"
CHECKPOINT_FILE = "checkpoint.pt"
BACKBONE_WEIGHTS_FILE = "checkpoint_backbone.pt"  # pretraining output; 'checkpoint' keeps it out of git
RUN_REFERENCE = "run:"


def spec_key(spec: RunSpec) -> str:
    """12 hex digits naming the settings that decide the run's numbers (RunSpec.decisive)."""
    return digest(spec.decisive())


def key_for(spec_key_: str, code: str | None = None) -> str:
    """The run key of a spec key under the current code (or ``code``, a fingerprint)."""
    return digest({"spec": spec_key_, "code": code or fingerprint(RUN_CODE)})


def run_key(spec: RunSpec) -> str:
    return key_for(spec_key(spec))


def run_dir(out_dir: str | os.PathLike, spec: RunSpec) -> Path:
    return Path(out_dir) / "runs" / run_key(spec)


def run_reference(spec: RunSpec) -> str:
    """How a configuration names another run's weights (``model.pretrained``)."""
    return RUN_REFERENCE + spec_key(spec)


def resolve_weights(pretrained, out_dir):
    """``model.pretrained`` as a file: "run:<spec key>" is the backbone weights of that run,
    made by the current code, in ``out_dir``."""
    if isinstance(pretrained, str) and pretrained.startswith(RUN_REFERENCE):
        folder = Path(out_dir) / "runs" / key_for(pretrained[len(RUN_REFERENCE):])
        return str(folder / BACKBONE_WEIGHTS_FILE)
    return pretrained


def is_complete(folder: str | os.PathLike) -> bool:
    return (Path(folder) / METRICS_FILE).is_file()


@dataclass(frozen=True)
class RunRecord:
    """A finished run as its folder holds it."""

    folder: Path
    config: dict
    metrics: dict
    provenance: dict
    crops: dict | None

    @property
    def key(self) -> str:
        return self.folder.name

    @property
    def spec_key(self) -> str:
        return self.provenance.get("spec_key", "")

    def stale(self) -> bool:
        """Made by other code than the current (its numbers may differ from a re-run)."""
        return self.provenance.get("fingerprint") != fingerprint(RUN_CODE)


def load_run(folder: str | os.PathLike) -> RunRecord:
    folder = Path(folder)
    provenance = folder / PROVENANCE_FILE
    crops = folder / CROPS_FILE
    return RunRecord(folder, read_json(folder / CONFIG_FILE), read_json(folder / METRICS_FILE),
                     read_json(provenance) if provenance.is_file() else {},
                     read_json(crops) if crops.is_file() else None)


def records_of_spec(out_dir: str | os.PathLike, spec_key_: str) -> list[RunRecord]:
    """Every finished record of a spec key under ``out_dir``, whatever code made it, newest first."""
    runs = Path(out_dir) / "runs"
    found = []
    for provenance in runs.glob(f"*/{PROVENANCE_FILE}") if runs.is_dir() else []:
        if is_complete(provenance.parent) and read_json(provenance).get("spec_key") == spec_key_:
            found.append(load_run(provenance.parent))
    return sorted(found, key=lambda r: r.provenance.get("finished", ""), reverse=True)


def load_predictions(folder: str | os.PathLike, variant: str | None = None) -> dict:
    """Per-video predictions of a run on the test set (``variant``: a Table 7 crop, or None for
    the run's own; "validation": the run's own on the validation set)."""
    name = PREDICTIONS_FILE if variant is None else f"predictions_{variant}.npz"
    return load_npz(Path(folder) / name)
