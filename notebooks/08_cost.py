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
# # Compute cost
#
# Multiply-accumulates (MACs) per clip counted with fvcore, for the paper's full-size
# backbones at their nominal inputs and for this profile's models, and the measured time of a
# training step with and without zooming. The paper reports 8.33 / 40.71 / 4.97 GMac for
# R3D / R(2+1)D / X3D and +0.006 GMac for zooming.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
out_dir = None
data_root = None
device = None

# %% tags=["remove-cell"]
from IPython.display import Markdown, display

from azlib import grid, paper, report
from azlib.models.cost import macs_table

cfg, out_dir = report.setup(profile, out_dir, data_root, device)

# %% [markdown]
# ## The paper's backbones at their nominal inputs
#
# R3D-18 and R(2+1)D-18 at 16×112², X3D-M at 16×224², each behind an EfficientNet-B0 LNet
# reading a 16×64×86 residual stack (the paper's sizes).

# %%
paper_cost = macs_table(tuple(paper.BACKBONES.values()), lnet="efficientnet_b0")
paper_cost.insert(0, "model", list(paper.BACKBONES))
paper_cost["paper GMac"] = [paper.GMACS[m] for m in paper.BACKBONES]
paper_cost["paper zoom GMac"] = paper.AZ_EXTRA_GMACS
paper_cost.round(3)

# %% [markdown]
# torchvision's R3D-18 counts about 40.7 GMac at 16×112², the figure the paper gives
# R(2+1)D; the paper's 8.33 for R3D cannot be this model at this input (see the chapter on
# the paper's numbers). The zooming overhead is the LNet plus the sampler.

# %% [markdown]
# ## This profile's models

# %%
clip, scale = cfg.clip, cfg.extract.scale
profile_cost = macs_table(
    tuple(grid.backbones(cfg).values()), frames=clip.frames, crop=clip.crop,
    frame_size=tuple(clip.resize), lnet=cfg.model.lnet, lnet_width=cfg.model.lnet_width,
    lnet_size=(clip.resize[0] // scale, clip.resize[1] // scale),
    width=cfg.model.width, num_classes=10, theta_mode=cfg.model.theta_mode)
display(Markdown(f"Profile `{profile}`: {clip.frames} frames of {clip.resize[0]}×{clip.resize[1]}, "
                 f"backbone input {clip.crop}², width {cfg.model.width}."))
profile_cost.round(4)

# %% [markdown]
# ## Measured time per training step (forward + backward, one clip)

# %%
times = report.step_times(cfg, repeats=3 if profile == "smoke" else 10)
times.round(2)

# %% [markdown]
# Timings depend on the machine and its load (this profile runs on the CPU); the MAC counts
# do not. A zoom overhead of a few percent is the paper's point: the LNet reads a small,
# sparse input.
