"""The paper's experiment grid as data: tables of rows, each row a change to the profile.

A :class:`Row` has a stable ``key`` (what claims and comparisons name) and a display ``label``
(what tables show); renaming a label changes nothing else. :func:`plan` turns a table and a
profile into the runs it needs (:class:`PlannedRun`: one per row, dataset cell and seed, with
the pretraining run it fine-tunes from), without doing any work. A configuration several tables
share (e.g. R(2+1)D + AZ, scale-only θ, augmentation, residual input) is the same run in each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from azlib import paper
from azlib.config import Profile, RunSpec, deep_merge, pretrain_synth, run_spec, with_overrides
from azlib.errors import ConfigError
from azlib.records import run_reference
from azlib.settings import replace

# The paper's final adaptive model (Tables 1-3, 5-7): scale-only θ, θ augmentation, residuals.
AZ = {"zoom": "adaptive", "theta_mode": "scale", "augment": True, "lnet_input": "residual"}
BASELINE = {"zoom": "none"}
MAIN_MODELS = tuple(paper.BACKBONES)  # R3D, R(2+1)D, X3D


@dataclass(frozen=True)
class Row:
    key: str                     # stable name: claims and comparisons refer to it
    label: str                   # the row's name in our table (the paper's wording)
    overrides: dict              # merged into the profile (model / train / synth sections)
    paper_key: object = None     # the row in the paper's numbers for this table
    backbone: str | None = None  # a paper model name (R3D, ...); None: the ablation backbone
    compare_to: str | None = None  # key of the row this one is compared with


@dataclass(frozen=True)
class Table:
    id: str
    title: str
    rows: tuple[Row, ...]
    paper_datasets: tuple = ("hmdb51",)  # the paper's datasets (the columns of Tables 1-3)
    main: bool = False                   # Tables 1-3: every split of every dataset
    crops: bool = False                  # Table 7: inference-only crop variants of its models
    overrides: dict = field(default_factory=dict)
    synthetic_only: bool = False         # beyond the paper: needs SynthActions' true boxes etc.

    def row(self, key: str) -> Row:
        for row in self.rows:
            if row.key == key:
                return row
        raise KeyError(f"table {self.id} has no row {key!r}; its rows are "
                       f"{', '.join(r.key for r in self.rows)}")


def _main_rows() -> tuple:
    rows = []
    for name in MAIN_MODELS:
        rows.append(Row(name, name, {"model": BASELINE}, (name, False), backbone=name))
        rows.append(Row(f"{name}+AZ", f"{name} + AZ", {"model": AZ}, (name, True), backbone=name,
                        compare_to=name))
    return tuple(rows)


def _theta_rows() -> tuple:
    return tuple(Row(mode, paper.TABLE4_LABELS[mode], {"model": {**AZ, "theta_mode": mode, "augment": False}},
                     mode, compare_to=None if mode == "scale" else "scale")
                 for mode in paper.TABLE4_THETA)


TABLES = {
    "1": Table("1", "Adaptive zooming plugged into three backbones", _main_rows(), ("hmdb51",),
               main=True),
    "2": Table("2", "Adaptive zooming plugged into three backbones", _main_rows(), ("ucf101",),
               main=True),
    "3": Table("3", "Adaptive zooming plugged into three backbones", _main_rows(),
               ("kinetics_temporal", "kinetics_static"), main=True),
    "4": Table("4", "θ parameterisation (no augmentation)", _theta_rows()),
    "5": Table("5", "θ augmentation", (
        Row("no_augment", "No", {"model": {**AZ, "augment": False}}, False),
        Row("augment", "Yes", {"model": {**AZ, "augment": True}}, True, compare_to="no_augment"))),
    "6": Table("6", "LNet input", tuple(
        Row(m, paper.TABLE6_LABELS[m], {"model": {**AZ, "lnet_input": m}}, m,
            compare_to=None if m == "residual" else "residual")
        for m in paper.TABLE6_LNET_INPUT)),
    # The paper's Table 7: the baseline (trained with random crops) tested with other fixed crops,
    # against the adaptive model; the adaptive model with those crops swapped in is a variant.
    "7": Table("7", "Inference cropping: the baseline's fixed crops against the adaptive crop", (
        Row("baseline", "Baseline (trained with random crops)", {"model": BASELINE}),
        Row("adaptive", "Adaptive", {"model": AZ}, "adaptive")), crops=True),
    # Beyond the paper.
    "4u": Table("4u", "θ parameterisation with actors anywhere (synth.placement: uniform)",
                _theta_rows(), overrides={"synth": {"placement": "uniform"}}, synthetic_only=True),
    "oracle": Table("oracle", "Crops from the true figure box, trained end to end", (
        Row("centre", "Centre crop", {"model": BASELINE}),
        Row("adaptive", "Adaptive zoom", {"model": AZ}, compare_to="centre"),
        Row("oracle_box", "Oracle box, trained", {"model": BASELINE, "train": {"theta_source": "oracle"}},
            compare_to="centre"),
        Row("oracle_scale", "Oracle scale (centred), trained",
            {"model": BASELINE, "train": {"theta_source": "oracle_scale"}}, compare_to="centre"),
    ), synthetic_only=True),
    # When does translation pay? The oracles on actors anywhere: box − scale is its headroom.
    "oracle_u": Table("oracle_u", "Crops from the true figure box with actors anywhere (synth.placement: uniform)", (
        Row("centre", "Centre crop", {"model": BASELINE}),
        Row("oracle_scale", "Oracle scale (centred), trained",
            {"model": BASELINE, "train": {"theta_source": "oracle_scale"}}, compare_to="centre"),
        Row("oracle_box", "Oracle box, trained", {"model": BASELINE, "train": {"theta_source": "oracle"}},
            compare_to="oracle_scale"),
    ), overrides={"synth": {"placement": "uniform"}}, synthetic_only=True),
}
TABLE_IDS = tuple(TABLES)
#: Table 7's crop variants as our tables name them: on the baseline (the paper's rows) and
#: swapped into the adaptive model at test time (beyond the paper, like the oracle crops)
CROP_LABELS = dict(paper.TABLE7_LABELS)
SWAPPED_LABELS = {**{k: f"{v}, swapped into the adaptive model" for k, v in paper.TABLE7_LABELS.items()
                     if k != "adaptive"},
                  "oracle": "Oracle box, swapped in at test", "oracle_scale": "Oracle scale (centred), swapped in at test"}
DATASET_LABELS = {"synthactions": "SynthActions", "hmdb51": "HMDB51", "ucf101": "UCF101",
                  "kinetics_temporal": "Kinetics-32 Temporal", "kinetics_static": "Kinetics-32 Static"}
#: the robustness table (chapter 09, ``tables/robustness.csv``): its lines in order, each (row of
#: the oracle table, what is shown, label), then the share of the headroom and the seeds
DRAW_LINES = (("centre", "top1", "Centre crop, top-1 %"), ("adaptive", "top1", "Adaptive zoom, top-1 %"),
              ("oracle_scale", "top1", "Oracle scale (centred), trained, top-1 %"),
              ("oracle_box", "top1", "Oracle box, trained, top-1 %"),
              ("adaptive", "diff", "AZ − centre [95 %]"), ("adaptive", "per_seed", "AZ − centre per seed"),
              ("oracle_scale", "diff", "Oracle scale − centre [95 %]"),
              ("oracle_box", "diff", "Oracle box − centre [95 %]"))
DRAW_HEADROOM_LINE = "share of the scale-only headroom AZ captures"
DRAW_SEEDS_LINE = "synth seed; training seeds"


def draw_line(row_key: str, what: str) -> str:
    """The robustness table's label of one :data:`DRAW_LINES` line."""
    return next(label for key, shown, label in DRAW_LINES if (key, shown) == (row_key, what))


def table_spec(table_id) -> Table:
    table_id = str(table_id)
    if table_id not in TABLES:
        raise ConfigError(f"--table: unknown table {table_id!r}; expected one of {', '.join(TABLE_IDS)}")
    return TABLES[table_id]


@dataclass(frozen=True)
class PlannedRun:
    table: str
    row: Row
    dataset: str
    split: object
    seed: int
    spec: RunSpec
    pretrain: RunSpec | None = None   # the pretraining run this one fine-tunes from


# --- planning ---------------------------------------------------------------------------------

def backbones(profile: Profile) -> dict[str, str]:
    """The profile's backbone for each of the paper's models (R3D, R(2+1)D, X3D)."""
    return {**paper.BACKBONES, **profile.experiments.backbones}


def ablation_backbone(profile: Profile) -> str:
    """The backbone of Tables 4-7 (the paper's R(2+1)D unless the profile names another)."""
    return profile.experiments.ablation_backbone or backbones(profile)["R(2+1)D"]


def dataset_root(profile: Profile, dataset: str):
    """Where a real dataset lives: ``experiments.data_roots[dataset]``, else ``data_root/<dataset>``
    (DATA_ROOT holding one folder per dataset), else ``data_root`` itself for the profile's own
    dataset (DATA_ROOT pointing straight at it)."""
    roots = profile.experiments.data_roots
    if dataset in roots:
        return roots[dataset]
    root = profile.data_root
    if not root or dataset == "synthactions":
        return root
    nested = Path(root) / dataset
    if dataset == profile.dataset and not nested.is_dir():
        return root
    return str(nested)


def pretrain_spec(spec: RunSpec, profile: Profile) -> RunSpec:
    """The pretraining run for ``spec``'s backbone: SynthActions-Pretrain, centre-crop baseline,
    the profile's training with ``pretrain.train`` (and ``clip``, ``model``) changes."""
    section = profile.pretrain
    overrides = {"train": {**section.train, "theta_source": "model"}, "clip": section.clip,
                 "model": {**section.model, **BASELINE, "pretrained": None,
                           "backbone": spec.model.backbone, "width": spec.model.width}}
    return run_spec(profile, overrides, dataset="synthactions", split=1, seed=section.seed,
                    kind="pretrain", synth=pretrain_synth(profile), data_root=None)


def row_settings(profile: Profile, table: Table, row: Row) -> dict:
    """The changes ``experiments.row_settings`` makes to one row (chosen on validation data)."""
    return profile.experiments.row_settings.get(f"{table.id}/{row.key}", {})


def check_row_settings(profile: Profile) -> None:
    """Every ``experiments.row_settings`` key names a table and one of its rows."""
    for name in profile.experiments.row_settings:
        table_id, _, row_key = name.partition("/")
        try:
            table_spec(table_id).row(row_key)
        except (ConfigError, KeyError) as error:
            raise ConfigError(f"experiments.row_settings: {name!r} is not '<table>/<row key>' of the grid "
                              f"({error})") from None


def plan(table_id, profile: Profile, seeds=None) -> list[PlannedRun]:
    """Every run of one table under ``profile`` (no work is done)."""
    table = table_spec(table_id)
    check_row_settings(profile)
    synthetic = profile.dataset == "synthactions"
    if table.synthetic_only and not synthetic:
        raise ConfigError(f"table {table.id}: needs dataset synthactions (profile has {profile.dataset!r})")
    seeds = list(seeds if seeds is not None else profile.experiments.seeds)
    splits = list(profile.splits)
    if synthetic:  # SynthActions stands in for every paper dataset (labelled as such)
        cells = [("synthactions", s) for s in (splits if table.main else splits[:1])]
    elif table.main:
        cells = [(d, s) for d in table.paper_datasets
                 for s in (splits if not d.startswith("kinetics") else [1])]
    else:
        cells = [("hmdb51", 1)]
    names = backbones(profile)
    planned = []
    for row in table.rows:
        backbone = names[row.backbone] if row.backbone else ablation_backbone(profile)
        overrides = deep_merge(deep_merge(table.overrides, row.overrides), row_settings(profile, table, row))
        changed = with_overrides(profile, deep_merge(overrides, {"model": {"backbone": backbone}}))
        for dataset, split in cells:
            for seed in seeds:
                spec = run_spec(changed, dataset=dataset, split=split, seed=seed,
                                data_root=dataset_root(profile, dataset))
                pre = None
                if profile.pretrain.enabled and spec.model.pretrained is None:
                    pre = pretrain_spec(spec, profile)
                    spec = replace(spec, "run", model=replace(spec.model, "model",
                                                              pretrained=run_reference(pre)))
                planned.append(PlannedRun(table.id, row, dataset, split, seed, spec, pre))
    return planned
