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
# # Table 7: fixed crops against the adaptive crop
#
# One trained adaptive model (Res input, scale-only θ, augmentation), evaluated with its θ
# replaced at inference by fixed crops: a random crop covering 80–100 % of the frame, centre
# crops of side fraction α, and a centre crop at the mean scale of the adaptive boxes over
# the test set. On SynthActions we add crops from the generator's true figure box.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
out_dir = None
data_root = None
device = None

# %% tags=["remove-cell"]
from IPython.display import Markdown, display

from azlib import report

cfg, out_dir = report.setup(profile, out_dir, data_root, device)

# %%
frame = report.show_table("7", cfg, out_dir)

# %% [markdown]
# The centre crop at the mean adaptive ratio zooms in by the adaptive model's average amount
# on every clip: if the adaptive crop beats it, the gain comes from adapting the crop to each
# clip, not from a better global zoom.

# %%
display(Markdown(report.crop_outcome(frame)))
