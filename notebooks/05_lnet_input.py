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
# # Table 6: what the LNet reads
#
# The same adaptive model (scale-only θ, augmentation) with three LNet inputs: accumulated
# residual magnitudes (Res), accumulated motion vectors (MV, two channels per frame), and
# grey RGB frames (RGB), each normalised per frame and downscaled by S.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
out_dir = None
data_root = None
device = None

# %% tags=["remove-cell"]
from azlib import report

cfg, out_dir = report.setup(profile, out_dir, data_root, device)

# %%
frame = report.show_table("6", cfg, out_dir)

# %% [markdown]
# Residuals mark where things change after motion compensation: moving limbs, not the
# drifting background that motion vectors also report, nor the texture a grey frame is full of.
