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
# # The paper's claims, checked on this run
#
# Each claim of the paper is turned into paired comparisons over the same test videos and
# training seeds (seed s of one row beside seed s of the other). The 95 % interval in points
# comes from a bootstrap that resamples training seeds, test actors and the videos within
# each actor, so it counts every source of variation the design has; the per-seed
# differences are shown beside it. A claim **holds** when every interval is above zero,
# **does not hold** when one is below zero, and is **inconclusive** otherwise. The smallest
# difference a comparison can detect (80 % power at the 5 % level) is about 2.8 bootstrap
# standard errors; it is shown per comparison, with the number of seeds an inconclusive
# comparison would need if only the seeds' share of the error shrank (a lower bound).

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
out_dir = None
data_root = None
device = None

# %% tags=["remove-cell"]
from IPython.display import Markdown, display

from azlib import claims, front, report, viz
from azlib.grid import DATASET_LABELS

cfg, out_dir = report.setup(profile, out_dir, data_root, device)

# %% [markdown]
# The cost claim (Section 4.2: zooming adds 0.006 GMac per clip, "negligible") is checked on
# chapter 08's tables: what zooming adds, in % of the backbone's MACs (fvcore, the paper's
# EfficientNet-B0 LNet and input sizes) and of its measured training-step time. It **holds**
# when every interval lies below the line this book takes for negligible, **does not hold**
# when one lies above it.

# %%
checked = claims.check_all(cfg, out_dir)
claims.save_claims(checked, out_dir)
display(Markdown(f"Records of profile `{profile}` on **{DATASET_LABELS.get(cfg.dataset, cfg.dataset)}** "
                 "(SynthActions is never HMDB51/UCF101/Kinetics). Accuracy differences in top-1 points; "
                 f"costs in % of the backbone's, negligible below {claims.NEGLIGIBLE_PERCENT:g} %. "
                 "*per seed*: the difference on each training seed; *detectable*: the smallest "
                 "difference the design detects (80 % power, 5 % level), and for an interval that "
                 "holds zero the seeds it would need at least."))
front.comparisons_frame(checked).style.hide(axis="index")

# %% [markdown]
# ## The claims at a glance
#
# Each comparison: ours (dot, 95 % interval) coloured by its claim's verdict, beside the
# paper's figure (open diamond); accuracy differences and costs on their own panels.

# %%
fig = viz.claims_forest(checked, negligible=claims.NEGLIGIBLE_PERCENT)
viz.show_figure(fig, out_dir, "09_claims_forest")

# %% [markdown]
# ## Verdicts

# %%
claims.verdicts(checked).style.hide(axis="index")

# %% [markdown]
# ## Another draw of actors
#
# The intervals above count seeds, test actors and videos of one draw of SynthActions. Would the
# central comparison survive another draw? The oracle table (centre crop, adaptive zoom, and
# the crops of the true figure box, trained) is trained again on other draws of the generator
# (`experiments.draws`, seeds drawn after the protocol was frozen, no choice made on them) with
# other training seeds (`experiments.draw_seeds`). `benchmarks/replicate.py --synth-seed N`
# runs the same on any draw.

# %%
if cfg.dataset == "synthactions" and cfg.experiments.draws:
    draws = report.robustness(cfg, out_dir)
    display(draws)
