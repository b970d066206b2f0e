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
# # Table 4: which θ parameters to learn
#
# The affine θ has six entries: two scales, two translations, two shears. Table 4 learns the
# scales alone, or with translation, with shear, or all of them (untargeted entries held at
# zero), on the ablation backbone (R(2+1)D in the paper), without θ augmentation.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
out_dir = None
data_root = None
device = None

# %% tags=["remove-cell"]
from IPython.display import Markdown, display

from azlib import calibration, report

cfg, out_dir = report.setup(profile, out_dir, data_root, device)

# %%
frame = report.show_table("4", cfg, out_dir)

# %% [markdown]
# The paper finds scale-only best: the actors of HMDB51 are mostly framed near the centre, so
# translation buys little and costs stability. SynthActions places its figures near the
# centre too (`synth.placement: centred`); the beyond-the-paper table below moves them
# anywhere in the frame, where translation should matter.

# %%
if cfg.dataset == "synthactions" and "4u" in cfg.experiments.tables:
    uniform = report.show_table("4u", cfg, out_dir,
                                heading="### Beyond the paper: actors anywhere in the frame")

# %% [markdown]
# ## When does translation pay?
#
# Two oracles trained on the true figure boxes of the same videos (actors anywhere): one
# zooms to the true scale but keeps the crop centred, the other also moves it onto the figure.
# Their difference is the most that learning translation can add on this data.

# %%
if cfg.dataset == "synthactions" and "oracle_u" in cfg.experiments.tables:
    oracles = report.show_table("oracle_u", cfg, out_dir, heading="### {title}")
    display(Markdown(report.translation_outcome(cfg, out_dir)))

# %% [markdown]
# How far do the learned crops of Table 4u move? Per run: the learned scale, the reach of the
# crop's centre that θ's bounds allow at that scale, the share of test figures whose centre lies
# beyond it, and the slope of the learned translation on the figure's true centre (1: the crop
# follows the figure; 0: it stays put). Coordinates are the frame's, from −1 to 1.

# %%
if cfg.dataset == "synthactions" and "4u" in cfg.experiments.tables:
    reach = calibration.translation_reach_table(cfg, out_dir)
    names = {"top1": "top-1 %", "beyond_reach": "figures out of reach %"}
    names |= {f"{what}_{axis}": f"{label} {axis}" for what, label in
              (("scale", "learned scale"), ("reach", "reach"), ("slope", "slope")) for axis in "xy"}
    display(reach.round(2).rename(columns=names).set_index(["row", "seed"]))
    display(Markdown(calibration.translation_reach_text(reach)))
