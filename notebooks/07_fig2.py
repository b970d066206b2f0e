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
# residual magnitude over the video, with the centre crop (vermillion) and the adaptive box
# (green), as in the paper's Fig. 2, and on SynthActions the figure's true box (sky blue).
# Each pair is titled with the video's true class and the model's prediction.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
out_dir = None
data_root = None
device = None

# %% tags=["remove-cell"]
import numpy as np
from IPython.display import Markdown, display

from azlib import calibration, report, viz

cfg, out_dir = report.setup(profile, out_dir, data_root, device)

# %%
items, predictions, run = report.fig2_data(cfg, out_dir, count=9)
fig = viz.boxes_figure(
    [it["frame"] for it in items], [it["residual_mean"] for it in items],
    [it["centre_box"] for it in items], [it["adaptive_box"] for it in items],
    [f"true: {it['class']}, predicted: {it['predicted']}" for it in items],
    true_boxes=[it["true_box"] for it in items] if items[0]["true_box"] is not None else None,
)
viz.show_figure(fig, out_dir, "07_fig2_boxes")

# %% [markdown]
# ## Learned scales
#
# The learned scale of each test video (the side of the square of the box's area, as a
# fraction of the frame: 1 is the whole frame) and, on SynthActions, against the true figure
# height. The correlation is the one chapter 10 reports (`calibration.scale_size_correlation`).

# %%
scale = calibration.learned_scale(predictions)
q1, median, q3 = (float(v) for v in np.percentile(scale, [25, 50, 75]))
text = (f"Learned scale over {len(scale)} test videos (profile `{profile}`): median **{median:.2f}**, "
        f"middle half {q1:.2f}–{q3:.2f} of the frame.")
if run.synthetic:
    corr = calibration.scale_size_correlation(predictions)
    fig = viz.scatter_with_identity(calibration.figure_height(predictions), scale,
                                    "true figure height (fraction of the frame height)",
                                    "learned scale (fraction of the frame)", f"correlation {corr:+.2f}")
    viz.show_figure(fig, out_dir, "07_scale_vs_size")
    text += f" Correlation of the learned scale with the true figure height: **{corr:+.2f}**."
display(Markdown(text))
