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
# Each claim of the paper is turned into paired comparisons over the same test videos
# (per-video top-1 correctness, averaged over seeds, 95 % bootstrap interval in points). A
# claim **holds** when every interval is above zero, **does not hold** when one is below
# zero, and is **inconclusive** otherwise.

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
                 f"costs in % of the backbone's, negligible below {claims.NEGLIGIBLE_PERCENT:g} %."))
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
