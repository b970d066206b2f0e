# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Calibration: a benchmark a CPU can learn, and on which zooming can matter
#
# Every number of the cpu-profile book comes from slim backbones trained on SynthActions on 2
# CPU cores. This chapter shows that the protocol of `params/cpu.yaml` measures something: the
# centre-crop baseline is well above chance and below the ceiling, a crop from the figure's true
# box (the *oracle*, beyond the paper) beats it, and adaptive zoom (the paper's method, no box
# supervision) is compared with both. It also records every configuration tried on the way,
# the failures included, with its measured cost.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
out_dir = None
data_root = None
device = None

# %% tags=["remove-cell"]
from pathlib import Path

from IPython.display import Markdown, display

from azlib import calibration, report, tuning, viz

cfg, out_dir = report.setup(profile, out_dir, data_root, device)

# %% [markdown]
# ## The oracle table: centre crop, adaptive zoom and the two oracle crops
#
# Same backbone (the ablation backbone, pretrained on SynthActions-Pretrain), same training;
# only where θ comes from differs: a fixed centre crop, the LNet, the true figure box (square,
# enlarged by 15 %; *oracle box, trained*), or the true figure size with the crop kept centred
# (*oracle scale, trained*: the ceiling of a scale-only θ, which is the paper's best
# parameterisation). Both oracle models train and test on their crops, unlike chapter 06's
# oracle crops swapped into the adaptive model at test time.

# %%
frame = report.show_table("oracle", cfg, out_dir, heading="### {title}")

# %%
runs = calibration.oracle_runs(cfg, out_dir)
summary = calibration.summary(runs)
display(summary.rename(index=viz.method_name).rename_axis(index=None, columns="method").round(3))
display(calibration.goals(summary).rename_axis(index=None, columns="goal").round(3))

# %% [markdown]
# `spread` is the largest minus the smallest top-1 over seeds; `scale_size_corr` is the
# correlation, over test videos, of the crop's scale (the geometric mean of its horizontal and
# vertical scales: a scale-only θ has two) with the true figure height, and `scale_x_…`,
# `scale_y_…` the same per axis. For the oracle rows it shows how closely the oracle's own
# crop follows the figure; for a fixed crop it is undefined.

# %% [markdown]
# The same goals for each backbone of Table 1 (its SynthActions runs, chapter 02): the
# centre-crop baseline in [50, 90] % with its seeds within 5 points, and adaptive zoom at least
# 5 points above it with the paired bootstrap interval (`gain_lo`, `gain_hi`) above zero.

# %%
display(calibration.main_table_goals(cfg, out_dir).rename_axis(index=None, columns="backbone").round(2))

# %% [markdown]
# ## Accuracy against figure size
#
# Test videos binned by the true figure height (fraction of the frame height), top-1 per bin,
# averaged over seeds. Small figures are where a centre crop fails and zooming can help.

# %%
by_size = calibration.accuracy_by_size({viz.method_name(name): calibration.predictions_of(records)
                                        for name, records in runs.items()})
videos = by_size.groupby("size", sort=False)["videos"].first()
shown = by_size.pivot(index="size", columns="method", values="top1")[list(dict.fromkeys(by_size["method"]))]
shown.insert(0, "test videos", videos)
display(shown.round(1).rename_axis(index=None, columns="figure height"))
fig = viz.accuracy_by_bin(by_size, "size", "top1", "method",
                          "true figure height (fraction of the frame height)", "top-1 (%)")
viz.show_figure(fig, out_dir, "10_accuracy_by_size")

# %% [markdown]
# ## Learned box against true box
#
# Per test video of the first seed's adaptive model: the learned scale (the side of the square
# of the box's area, as a fraction of the frame) against the true figure height (on the
# identity line a box would frame the figure's height), and a grid of test videos with the
# centre crop (vermillion), the adaptive box (green) and the true box (sky blue).

# %%
if runs["adaptive"]:
    adaptive = calibration.predictions_of(runs["adaptive"][:1])[0]
    corr = calibration.scale_size_correlation(adaptive)
    fig = viz.scatter_with_identity(calibration.figure_height(adaptive), calibration.learned_scale(adaptive),
                                    "true figure height (fraction of the frame height)",
                                    "learned scale (fraction of the frame)", f"correlation {corr:+.2f}")
    viz.show_figure(fig, out_dir, "10_learned_vs_true_height")
    items, _, _ = report.fig2_data(cfg, out_dir, count=6, table_id="oracle", row_key="adaptive")
    fig = viz.boxes_figure(
        [it["frame"] for it in items], [it["residual_mean"] for it in items],
        [it["centre_box"] for it in items], [it["adaptive_box"] for it in items],
        [f"true: {it['class']}, predicted: {it['predicted']}" for it in items],
        true_boxes=[it["true_box"] for it in items])
    viz.show_figure(fig, out_dir, "10_learned_boxes")
    display(Markdown(f"Correlation of the learned scale with the true figure height, first seed: "
                     f"**{corr:+.2f}** ({len(calibration.figure_height(adaptive))} test videos); "
                     "the table above gives the mean over seeds."))

# %% [markdown]
# ## Learning curves
#
# Training loss and training accuracy per epoch (on the one random clip per video each epoch
# draws, not on the test set), the pretraining run on SynthActions-Pretrain included.

# %%
pretraining = calibration.pretraining_runs(cfg, out_dir)
logs = {f"Pretraining {i + 1}": calibration.learning_curve(r.folder) for i, r in enumerate(pretraining)}
methods = {label: "pretraining" for label in logs}
for name, records in runs.items():
    for r in records[:1]:
        label = f"{viz.method_name(name)} (first seed)"
        logs[label], methods[label] = calibration.learning_curve(r.folder), name
fig = viz.learning_curves(logs, methods=methods)
viz.show_figure(fig, out_dir, "10_learning_curves")

# %% [markdown]
# ## The chosen profile values and their measured cost
#
# Every value lives in `params/<profile>.yaml` (commented there with the reason); the cost is
# the measured wall time of each finished run of this table (data preparation, training and
# evaluation), on this machine.

# %%
display(calibration.profile_values(cfg).style.hide(axis="index"))
cost = calibration.run_times(pretraining + [r for records in runs.values() for r in records])
display(cost.round(1).style.hide(axis="index"))
display(Markdown(f"Mean wall time per fine-tuning run: **{cost.loc[cost['kind'] != 'pretrain', 'wall_s'].mean():.0f} s**; "
                 f"pretraining: **{cost.loc[cost['kind'] == 'pretrain', 'wall_s'].mean():.0f} s** "
                 f"(profile `{profile}`)."))

# %% [markdown]
# ## What was tried
#
# Every configuration tried while calibrating the cpu profile, in order, failures included
# (`results/cpu/calibration/attempts.jsonl`, which also holds each attempt's scale–size
# correlation and seconds per run): what changed, top-1 of the centre crop, adaptive zoom and
# the scale-only oracle where measured, and the verdict.

# %%
attempts_file = calibration.find_attempts(out_dir)
if attempts_file.is_file():
    display(calibration.attempts_summary(calibration.load_attempts(attempts_file)))
else:
    display(Markdown(f"No attempts record at `{attempts_file}`."))

# %% [markdown]
# ## Choices on validation actors
#
# Each zooming row's LNet learning rate was chosen per row from the same short list, one
# training seed, scored on the validation actors only (held out of training, disjoint from
# the test actors); the grid then trained every row with its choice (`experiments.row_settings`
# in the profile, shown beside each row of the tables).

# %%
scores_folder = tuning.find_scores(out_dir, cfg.name)
scores = tuning.scores_frame(scores_folder)
if scores.empty:
    display(Markdown("No tuning scores recorded for this profile."))
else:
    whose = "this build's" if scores_folder == Path(out_dir) / "tuning" else "the published"
    display(Markdown(f"Validation top-1 of every candidate ({whose} `tuning/` records)."))
    display(scores.style.hide(axis="index"))

# %% [markdown]
# ## The protocol log
#
# Each version of the cpu protocol (and each re-run of its grid): what changed, what the choice
# was scored on, whether test numbers had been seen before it, and whether its grid was
# published (`results/cpu/calibration/protocol.jsonl`). Versions 1-3 were scored on the test
# actors of an earlier draw; version 5 draws SynthActions anew and makes its choices on
# validation actors.

# %%
display(calibration.load_protocol(calibration.find_protocol(out_dir)))
