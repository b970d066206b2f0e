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

from azlib import claims, report

cfg, out_dir = report.setup(profile, out_dir, data_root, device)

# %%
checked = claims.check_claims(cfg, out_dir)
checked["Δ top-1"] = [report._cell(r.diff, r.lo, r.hi) for r in checked.itertuples()]
display(Markdown(f"Records of profile `{profile}` on **{cfg.dataset}** "
                 "(SynthActions is never HMDB51/UCF101/Kinetics)."))
checked[["claim", "comparison", "Δ top-1", "verdict"]]

# %% [markdown]
# ## Verdicts

# %%
checked.groupby("claim", sort=False)["verdict"].first().to_frame()
