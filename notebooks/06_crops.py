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
# As in the paper: the **baseline** (the backbone trained with random crops) is tested with
# other fixed crops — a random crop covering 80–100 % of the frame, square centre crops of
# side α of the frame's short side (the picture keeps its aspect), and a centre crop at the
# mean scale of the adaptive model's boxes over the test set — and compared with the
# **adaptive** model (Res input, scale-only θ, augmentation) and its own per-clip crop. Each
# Δ is that crop − the adaptive crop, per seed on the same test videos.

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
display(Markdown(report.own_crop_text(cfg)))

# %% [markdown]
# The centre crop at the mean adaptive ratio zooms in by the adaptive model's average amount
# on every clip: if the adaptive crop beats it, the gain comes from adapting the crop to each
# clip, not from a better global zoom.

# %%
display(Markdown(report.crop_outcome(frame)))

# %% [markdown]
# ## Beyond the paper: the crops swapped into the adaptive model
#
# The same fixed crops, and on SynthActions the crops from the generator's true figure box
# (*oracle box / oracle scale, swapped in at test*, not the oracle models *trained* on those
# crops in chapter 10), put in place of the adaptive model's own θ at test time. This measures
# how much the adaptive model depends on its own framing (a train/test mismatch), not what the
# paper's Table 7 compares.

# %%
swapped = report.show_swapped_crops(cfg, out_dir)
