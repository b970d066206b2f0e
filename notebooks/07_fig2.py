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
# # Fig. 2: where the adaptive zoom looks
#
# For test videos of the adaptive R(2+1)D model: the middle frame of the clip and the mean
# residual magnitude over the video, with the centre crop in red and the adaptive box in
# green (and, on SynthActions, the figure's true box in blue).

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
out_dir = None
data_root = None
device = None

# %% tags=["remove-cell"]
from IPython.display import Markdown, display

from azlib import report

cfg, out_dir = report.setup(profile, out_dir, data_root, device)
from azlib import viz

# %%
items, predictions, run = report.fig2_data(cfg, out_dir, count=9)
fig = viz.boxes_figure(
    [it["frame"] for it in items], [it["residual_mean"] for it in items],
    [it["centre_box"] for it in items], [it["adaptive_box"] for it in items],
    [f"{it['class']} → {it['predicted']}" for it in items],
    true_boxes=[it["true_box"] for it in items] if items[0]["true_box"] is not None else None,
)
viz.show_figure(fig, out_dir, "07_fig2_boxes")

# %% [markdown]
# ## Learned scales
#
# The distribution of the learned horizontal and vertical scales over the test videos (1 is
# the whole frame), and, on SynthActions, against the true figure height.

# %%
scales = report.scale_vs_size(predictions, run)
display(scales.describe().round(3))
if "true_height" in scales:
    corr = scales["scale_y"].corr(scales["true_height"])
    fig = viz.scatter_with_identity(scales["true_height"].to_numpy(), scales["scale_y"].to_numpy(),
                                    "true figure height (fraction of frame)", "learned vertical scale",
                                    f"correlation {corr:+.2f}")
    viz.show_figure(fig, out_dir, "07_scale_vs_size")
    display(Markdown(f"Correlation of the learned vertical scale with the true figure height: "
                     f"**{corr:+.2f}** ({len(scales)} test videos, profile `{profile}`)."))
