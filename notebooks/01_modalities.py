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
# # The modalities: one video through the pipeline
#
# A SynthActions video (or, in the paper profile, a video of the chosen dataset) is decoded
# to RGB frames, and from its MPEG-4 Part 2 bitstream we take the motion vectors and rebuild
# the residuals, per frame and accumulated inside each GoP back to its I-frame (CoViAR). The
# LNet reads the residual magnitude, normalised per frame and downscaled by S.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
out_dir = None
data_root = None
device = None

# %% tags=["remove-input"]
from IPython.display import Markdown, display

from azlib import report, viz
from azlib.datasets.synthetic import contact_sheet
from azlib.extraction import lnet_inputs

cfg, out_dir = report.setup(profile, out_dir, data_root, device)
checked = report.dataset(cfg, out_dir)
index, root = checked.index(), checked.root
display(Markdown(f"Dataset: **{cfg.dataset}** ({len(index.classes)} classes, "
                 f"{len(index.train)} training and {len(index.test)} test videos in split "
                 f"{cfg.splits[0]}), profile **{profile}**."))

# %% [markdown]
# ## The dataset at a glance
#
# Middle frames of test videos, with the class name and (SynthActions only) the figure's
# true box in red: figures of very different sizes, near the centre of the frame.

# %%
if cfg.dataset == "synthactions":
    import matplotlib.pyplot as plt

    sheet = contact_sheet(root, index, per_class=1, columns=4)
    fig, ax = plt.subplots(figsize=(12, 12 * sheet.shape[0] / sheet.shape[1]))
    ax.imshow(sheet), ax.axis("off")
    viz.show_figure(fig, out_dir, "01_synthactions_contact_sheet")

# %% [markdown]
# ## Picture types along the video
#
# GoP 12, no B-frames: an I-frame every 12 frames, P-frames between them.

# %%
video = index.test[0].path
fields = lnet_inputs(video, scale=cfg.extract.scale)
fig = viz.picture_types_figure(fields["pict_type"], fields["gop_index"])
viz.show_figure(fig, out_dir, "01_picture_types")

# %% [markdown]
# ## Motion vectors, residuals and the LNet inputs
#
# Frames chosen across a GoP boundary: the accumulated vectors and residuals grow along the
# GoP and reset at the I-frame, where both are zero.

# %%
frames = [9, 10, 11, 12, 13, 16]
fig = viz.image_grid(*report.modality_maps(video, frames, scale=cfg.extract.scale))
viz.show_figure(fig, out_dir, "01_modalities")

# %% [markdown]
# The residual magnitude concentrates on the moving limbs, which is why the paper feeds it to
# the LNet: it says where the action is, at a fraction of the cost of optical flow. The
# motion vectors are blockier and noisier on a textured, drifting background.
