"""Profiles: the typed settings of every experiment, one YAML file per profile in ``params/``.

A profile is a :class:`Profile`, a tree of frozen dataclasses whose defaults are the paper's
settings (Section 4.1) wherever the paper states them; ``params/<name>.yaml`` lists what a
profile changes. An unknown key, a value of the wrong type or an unknown choice stops with a
message naming the key (:mod:`azlib.settings`). ``--set key.sub=value`` overrides a value.

Two kinds of setting: those that decide a result (hashed into a run's key by
:mod:`azlib.records`) and *execution* settings (worker counts, ``jobs``, data roots, the number
of bad videos allowed), which say how to run and are recorded but never hashed.

:class:`RunSpec` is one run: the profile's settings resolved for one dataset, split, seed and
kind (pretraining or training), with X3D's input size and Kinetics' learning rate applied.

The names of the things a setting can choose (backbones, LNets, θ parameterisations, ...) are
defined here, once; the modules that build them check against these lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml

from azlib.datasets.splits import DATASETS
from azlib.datasets.synthetic import SynthSettings
from azlib.errors import ConfigError
from azlib.settings import added, execution, parse, result_dict, to_dict
from azlib.store import LNET_CHANNELS

REPO_ROOT = Path(__file__).resolve().parent.parent
PARAMS_DIR = REPO_ROOT / "params"
PROFILES = ("smoke", "cpu", "paper")

BACKBONES = ("r3d_18", "r2plus1d_18", "x3d_xs", "x3d_s", "x3d_m")
LNETS = ("tiny", "efficientnet_b0")
ZOOMS = ("adaptive", "none")            # adaptive zooming, or the baseline's fixed crop
THETA_MODES = ("scale", "scale_translation", "scale_shear", "all")   # Table 4
LNET_INPUTS = tuple(LNET_CHANNELS)      # Table 6 (+ the MV magnitude)
LNET_NORMS = ("sample",)                # optional per-sample standardisation of the LNet input
OPTIMIZERS = ("sgd", "adamw")
#: where θ comes from: the model (LNet / fixed crop), or the generator's true figure box
THETA_SOURCES = ("model", "oracle", "oracle_scale")
DEVICES = ("cpu", "cuda")
RUN_KINDS = ("train", "pretrain")


@dataclass(frozen=True)
class ExtractSettings:
    scale: int = 4                      # S: the LNet input is H/S x W/S
    accumulated: bool = True            # CoViAR accumulation inside each GoP

    def __post_init__(self):
        if self.scale < 1:
            raise ConfigError(f"extract.scale: must be an integer >= 1, got {self.scale}")


@dataclass(frozen=True)
class ClipSize:
    resize: tuple[int, int]
    crop: int


@dataclass(frozen=True)
class ClipSettings:
    frames: int = 16                    # K
    stride: int = 1
    resize: tuple[int, int] = (128, 171)   # H, W of the frame the sampler reads
    crop: int = 112                     # backbone input side
    test_clips: int = 10                # clips per test video, scores averaged
    x3d: ClipSize | None = None         # X3D's own input size, used for x3d_* backbones
    workers: int = execution(0)         # data-loading processes
    cache_mib: int = execution(0)       # decoded training videos kept across epochs, when workers = 0

    def __post_init__(self):
        for key in ("frames", "stride", "crop", "test_clips"):
            if getattr(self, key) < 1:
                raise ConfigError(f"clip.{key}: must be >= 1, got {getattr(self, key)}")
        if self.cache_mib < 0:
            raise ConfigError(f"clip.cache_mib: must be >= 0, got {self.cache_mib}")
        if self.crop > min(self.resize):
            raise ConfigError(f"clip.crop: {self.crop} is larger than the frame {list(self.resize)}")

    @property
    def span(self) -> int:
        """Frames one clip covers: a video needs at least this many."""
        return (self.frames - 1) * self.stride + 1


@dataclass(frozen=True)
class ModelSettings:
    """The keyword arguments of :func:`azlib.models.az.build_model` (see its docstring)."""

    backbone: Literal[BACKBONES] = "r2plus1d_18"
    width: int | None = None            # first-stage width of a slim backbone (None: full size)
    zoom: Literal[ZOOMS] = "adaptive"
    lnet: Literal[LNETS] = "efficientnet_b0"
    lnet_width: int | None = None
    lnet_input: Literal[LNET_INPUTS] = "residual"
    lnet_moments: bool = False
    lnet_pretrained: str | None = None
    lnet_norm: Literal[LNET_NORMS] | None = None
    theta_mode: Literal[THETA_MODES] = "scale"
    augment: bool = True                # θ augmentation (Table 5)
    s_min: float = 0.3
    init_scale: float | tuple[float, float] | Literal["crop"] = 1.0
    augment_shear: float = 0.1
    augment_translation: float = 0.1
    max_shear: float = 0.3
    crop_alpha: float | tuple[float, float] | None = None
    pretrained: str | None = None       # 'kinetics400', a state-dict path, or 'run:<key>'
    require_weights: bool = True

    def __post_init__(self):
        if not 0 < self.s_min < 1:
            raise ConfigError(f"model.s_min: {self.s_min} must lie in (0, 1)")
        if self.width is not None and self.width < 1:
            raise ConfigError(f"model.width: {self.width} must be a positive integer or null")


@dataclass(frozen=True)
class TrainSettings:
    optimizer: Literal[OPTIMIZERS] = "sgd"
    lr: float = 0.01
    lr_kinetics: float | None = 0.001   # lr of runs on Kinetics-Temporal / -Static
    momentum: float = 0.1               # as the paper states (0.9 is customary)
    weight_decay: float = 0.0
    lnet_lr_mult: float = 1.0           # LNet and θ head learn at lr x this
    batch_size: int = 256               # global: split across the processes
    epochs: int = 30
    warmup_epochs: float = 0.0          # linear lr warm-up
    plateau_patience: int = 2           # lr x0.1 after this many epochs without a lower loss
    amp_bf16: bool = False
    theta_source: Literal[THETA_SOURCES] = "model"

    def __post_init__(self):
        for key in ("lr", "batch_size", "epochs"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"train.{key}: expected a positive number, got {getattr(self, key)}")


@dataclass(frozen=True)
class PretrainSettings:
    """A pretraining run per backbone before every fine-tuning run (the cpu profile's stand-in for
    Kinetics-400): SynthActions-Pretrain, made from ``synth:`` with the keys given here changed."""

    enabled: bool = False
    seed: int = 0
    synth: dict[str, Any] = field(default_factory=dict)   # changes to synth: (its own seed!)
    clip: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExperimentSettings:
    tables: tuple[int | str, ...] = ("1", "2", "3", "4", "5", "6", "7")
    seeds: tuple[int, ...] = (0,)
    backbones: dict[str, Literal[BACKBONES]] = field(default_factory=dict)   # paper name -> ours
    ablation_backbone: Literal[BACKBONES] | None = None   # Tables 4-7 (None: R(2+1)D's)
    # per-row changes chosen on the validation set ("<table>/<row key>" -> {section: {key: value}};
    # `python -m azlib tune` scores the candidates and prints this mapping)
    row_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    # robustness (SynthActions): the oracle table again on other draws of the generator (these
    # synth seeds), trained with these training seeds (empty: ``seeds``)
    draws: tuple[int, ...] = ()
    draw_seeds: tuple[int, ...] = ()
    # the training seed `python -m azlib tune` makes choices with; with a validation set it must
    # not be a table seed, so no table reports the run a choice was made on
    tune_seed: int = 0
    jobs: int = execution(1)            # runs trained side by side, one process each
    reuse_stale: bool = execution(False)   # use records of other code (marked stale) instead of retraining
    data_roots: dict[str, str] = execution(default_factory=dict)  # a folder per dataset

    def __post_init__(self):
        object.__setattr__(self, "tables", tuple(str(t) for t in self.tables))
        if self.jobs < 1:
            raise ConfigError(f"experiments.jobs: {self.jobs} must be a positive integer")
        if not self.seeds:
            raise ConfigError("experiments.seeds: give at least one seed")
        if len(set(self.draws)) != len(self.draws):
            raise ConfigError(f"experiments.draws: {list(self.draws)} names a draw twice")


@dataclass(frozen=True)
class Profile:
    name: str
    device: Literal[DEVICES] = "cuda"
    dataset: Literal[DATASETS] = "hmdb51"
    splits: tuple[int | str, ...] = (1, 2, 3)
    seed: int = 0                       # the seed of a single `python -m azlib train`
    validation: float = added(0.0)      # share of the training groups held out (see RunSpec)
    synth: SynthSettings = field(default_factory=SynthSettings)
    pretrain: PretrainSettings = field(default_factory=PretrainSettings)
    extract: ExtractSettings = field(default_factory=ExtractSettings)
    clip: ClipSettings = field(default_factory=ClipSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    experiments: ExperimentSettings = field(default_factory=ExperimentSettings)
    data_root: str | None = execution(None)        # the dataset's folder (or one per dataset)
    allow_missing: int = execution(0)              # unusable videos a run may leave out
    dataset_classes: int | None = execution(None)  # class count to expect (None: the dataset's)

    def __post_init__(self):
        if self.pretrain.enabled:
            if int(self.pretrain.synth.get("seed", self.synth.seed)) == self.synth.seed:
                raise ConfigError("pretrain.synth.seed: must differ from synth.seed, or "
                                  "SynthActions-Pretrain would reuse the main set's actors")
            pretrain_synth(self)  # its changes are checked now, not at the first run
        if self.experiments.draws and self.dataset != "synthactions":
            raise ConfigError("experiments.draws: other draws are SynthActions generator seeds; "
                              f"dataset is {self.dataset!r}")
        if self.validation > 0 and self.experiments.tune_seed in self.experiments.seeds:
            raise ConfigError(f"experiments.tune_seed: {self.experiments.tune_seed} is also in experiments.seeds; "
                              "choices are made with a seed the tables do not report (set another)")
        if self.synth.seed in self.experiments.draws:
            raise ConfigError(f"experiments.draws: {self.synth.seed} is synth.seed, the main draw itself")


def draw_profile(profile: Profile, synth_seed: int, seeds=None) -> Profile:
    """``profile`` on another draw of SynthActions (generator seed ``synth_seed``), trained with
    ``seeds`` (default: ``experiments.draw_seeds``, else ``experiments.seeds``). Its pretraining
    is the same run: SynthActions-Pretrain has its own seed."""
    seeds = tuple(seeds or profile.experiments.draw_seeds or profile.experiments.seeds)
    return with_overrides(profile, {"synth": {"seed": synth_seed},
                                    "experiments": {"seeds": list(seeds), "draws": []}})


def pretrain_synth(profile: Profile) -> SynthSettings:
    """SynthActions-Pretrain: ``synth:`` with ``pretrain.synth:`` applied."""
    return parse(SynthSettings, {**to_dict(profile.synth), **profile.pretrain.synth}, "pretrain.synth")


# --- loading ----------------------------------------------------------------------------------

def deep_merge(base: Mapping, override: Mapping | None) -> dict:
    """A copy of ``base`` with ``override`` merged in, recursively for nested mappings."""
    merged = dict(base)
    for key, value in (override or {}).items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_sets(pairs) -> dict:
    """``['train.lr=0.1', 'model.zoom=none']`` -> nested dict (values parsed as YAML)."""
    nested: dict = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ConfigError(f"--set {pair!r}: expected key.sub=value")
        key, value = pair.split("=", 1)
        node = nested
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {pair!r}: {part} is set to a value and a section at once")
        try:
            node[parts[-1]] = yaml.safe_load(value)
        except yaml.YAMLError as error:
            raise ConfigError(f"--set {pair!r}: the value is not valid YAML ({error})") from None
    return nested


def profile_path(name: str) -> Path:
    path = PARAMS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"profile {name!r}: no file {path}; choose one of {', '.join(PROFILES)}")
    return path


def load_profile(name: str = "cpu", overrides: Mapping | None = None) -> Profile:
    """``params/<name>.yaml`` with ``overrides`` (a nested mapping, e.g. from :func:`parse_sets`)."""
    path = profile_path(name)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at top level")
    if "name" in raw:
        raise ConfigError(f"{path}: 'name' is the file's name; remove the key")
    return parse(Profile, {**deep_merge(raw, overrides), "name": name})


def with_overrides(profile: Profile, overrides: Mapping | None) -> Profile:
    """``profile`` with a nested mapping of changes applied (and checked)."""
    if not overrides:
        return profile
    return parse(Profile, deep_merge(to_dict(profile), overrides))


# --- one run ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunSpec:
    """One run: everything that decides its numbers, plus how to execute it."""

    kind: Literal[RUN_KINDS]
    dataset: Literal[DATASETS]
    split: int | str
    seed: int
    device: Literal[DEVICES]
    extract: ExtractSettings
    clip: ClipSettings
    model: ModelSettings
    train: TrainSettings
    synth: SynthSettings | None = None     # SynthActions: its generator settings are its identity
    data_id: str | None = None             # a real dataset: the digest of its checked content
    # Share of the training list's groups (SynthActions' actors, UCF101's groups, else videos)
    # held out as the validation set that every choice is scored on (datasets.splits.carve_validation).
    validation: float = added(0.0)
    data_root: str | None = execution(None)
    allow_missing: int = execution(0)
    dataset_classes: int | None = execution(None)

    def __post_init__(self):
        if self.train.theta_source != "model" and self.dataset != "synthactions":
            raise ConfigError(f"train.theta_source: {self.train.theta_source!r} needs true boxes, "
                              f"which only synthactions has (dataset is {self.dataset!r})")
        if (self.dataset == "synthactions") != (self.synth is not None):
            raise ConfigError("run: synth settings go with dataset synthactions, and only with it")
        if not 0.0 <= self.validation < 1.0:
            raise ConfigError(f"validation: {self.validation} must lie in [0, 1) (a share of the "
                              "training groups)")

    @property
    def synthetic(self) -> bool:
        return self.dataset == "synthactions"

    def decisive(self) -> dict:
        """The settings that decide this run's numbers, as JSON values: :func:`result_dict` less
        what the run never reads. A baseline (``model.zoom: none``) reads no LNet, θ or
        extraction setting (:func:`azlib.models.az.build_model` builds a fixed crop from the
        backbone settings and ``crop_alpha``; no store is read), so tuning the LNet leaves every
        baseline's key, and its record, in place."""
        out = result_dict(self)
        if self.model.zoom == "none":
            for name in BASELINE_UNREAD["model"]:
                out["model"].pop(name, None)
            for name in BASELINE_UNREAD["train"]:
                out["train"].pop(name, None)
            out.pop("extract", None)
        return out


#: settings a baseline (``model.zoom: none``) never reads, left out of its key (RunSpec.decisive)
BASELINE_UNREAD = {
    "model": ("lnet", "lnet_width", "lnet_input", "lnet_moments", "lnet_pretrained", "lnet_norm",
              "theta_mode", "augment", "s_min", "init_scale", "augment_shear",
              "augment_translation", "max_shear"),
    "train": ("lnet_lr_mult",),
}


def run_spec(profile: Profile, overrides: Mapping | None = None, *, dataset: str | None = None,
             split=None, seed: int | None = None, kind: str = "train",
             synth: SynthSettings | None = None, data_root: str | None = None) -> RunSpec:
    """The run ``profile`` (with ``overrides``) describes for ``dataset``/``split``/``seed``.

    X3D backbones take ``clip.x3d``'s input size; runs on Kinetics-Temporal/-Static take
    ``train.lr_kinetics``. ``synth`` replaces the profile's generator settings (pretraining).
    """
    profile = with_overrides(profile, overrides)
    dataset = dataset or profile.dataset
    clip = to_dict(profile.clip)
    if profile.clip.x3d is not None and profile.model.backbone.startswith("x3d"):
        clip.update(to_dict(profile.clip.x3d))
    clip["x3d"] = None
    train = to_dict(profile.train)
    if train["lr_kinetics"] is not None and dataset.startswith("kinetics"):
        train["lr"] = train["lr_kinetics"]
    train["lr_kinetics"] = None
    synthetic = dataset == "synthactions"
    return parse(RunSpec, {
        "kind": kind, "dataset": dataset,
        "split": split if split is not None else profile.splits[0],
        "seed": profile.seed if seed is None else seed, "device": profile.device,
        "extract": to_dict(profile.extract), "clip": clip, "model": to_dict(profile.model),
        "train": train,
        "synth": to_dict(synth or profile.synth) if synthetic else None,
        "validation": profile.validation if kind == "train" else 0.0,
        "data_root": data_root if data_root is not None else profile.data_root,
        "allow_missing": profile.allow_missing, "dataset_classes": profile.dataset_classes,
    }, "run")
