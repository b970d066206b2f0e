"""Profiles: one YAML per profile in params/, the single source of every knob a notebook reads."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
PARAMS_DIR = REPO_ROOT / "params"
PROFILES = ("smoke", "cpu", "paper")


class ConfigError(ValueError):
    """A bad configuration value; the message names the field and what to do."""


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any] | None) -> dict:
    """Return a copy of ``base`` with ``override`` merged in, recursively for nested mappings."""
    merged = copy.deepcopy(dict(base))
    for key, value in (override or {}).items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def profile_path(profile: str) -> Path:
    path = PARAMS_DIR / f"{profile}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"profile {profile!r}: no file {path}; choose one of {', '.join(PROFILES)}"
        )
    return path


def load_profile(profile: str = "cpu", overrides: Mapping[str, Any] | None = None) -> dict:
    """Load ``params/<profile>.yaml`` and merge ``overrides`` (nested dict) on top."""
    with open(profile_path(profile)) as f:
        cfg = yaml.safe_load(f)
    if not isinstance(cfg, dict):
        raise ConfigError(f"{profile_path(profile)}: expected a mapping at top level")
    return deep_merge(cfg, overrides)


def require_choice(value: Any, field: str, choices) -> Any:
    """Stop with a message naming the field when ``value`` is not one of ``choices``."""
    if value not in choices:
        raise ConfigError(
            f"{field}: unknown value {value!r}; expected one of {', '.join(map(str, choices))}"
        )
    return value
