"""Seeds, RNG state and checkpoints: a resumed run continues exactly where it stopped.

A checkpoint holds the model, optimizer and scheduler states, every RNG state, the epoch log and
the fingerprint of the code that wrote it; one written by other code is refused, never resumed.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from azlib.errors import DataError
from azlib.files import atomic_path
from azlib.provenance import RUN_CODE, fingerprint


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path, state: dict) -> None:
    """``torch.save`` through a temporary name: a crash never leaves half a checkpoint."""
    with atomic_path(path) as tmp:
        torch.save({**state, "fingerprint": fingerprint(RUN_CODE)}, tmp)


def load_checkpoint(path, map_location="cpu") -> dict:
    """A checkpoint written by the current code (DataError otherwise, or when it is damaged)."""
    if not Path(path).is_file():
        raise DataError(f"{path}: no checkpoint (the trained weights); delete {Path(path).parent} "
                        "to train the run again")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as error:
        raise DataError(f"{path}: damaged checkpoint ({type(error).__name__}: {error}); delete it "
                        "to train the run from its start") from None
    if state.get("fingerprint") != fingerprint(RUN_CODE):
        raise DataError(f"{path}: written by other code (fingerprint {state.get('fingerprint')}, "
                        f"now {fingerprint(RUN_CODE)}); delete {Path(path).parent} to retrain the run")
    return state


def save_weights(path, state_dict: dict) -> None:
    """A bare state dict (a pretraining run's backbone, loaded by ``model.pretrained``), atomically."""
    with atomic_path(path) as tmp:
        torch.save(state_dict, tmp)
