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
# # The paper's numbers
#
# Tables 1–7 and the compute cost of *Video Action Recognition with Adaptive Zooming Using
# Motion Residuals*, as the paper reports them. They are typed once, in `azlib/paper.py`;
# every later chapter shows them beside the numbers this project measures.

# %% tags=["parameters", "remove-cell"]
profile = "cpu"
out_dir = None
data_root = None
device = None

# %% tags=["remove-cell"]
from IPython.display import Markdown, display

from azlib import paper

# %% [markdown]
# ## Table 1 — HMDB51, three splits (top-1 / top-5, %)

# %%
paper.table(1)

# %% [markdown]
# ## Table 2 — UCF101, three splits

# %%
paper.table(2)

# %% [markdown]
# ## Table 3 — Kinetics-32 (Temporal and Static subsets of Kinetics-400)

# %%
paper.table(3)

# %% [markdown]
# ## Table 4 — θ parameters (HMDB51 split 1, R(2+1)D)

# %%
paper.table(4)

# %% [markdown]
# ## Table 5 — θ augmentation (HMDB51 split 1, R(2+1)D, adaptive scale)

# %%
paper.table(5)

# %% [markdown]
# ## Table 6 — LNet input (HMDB51 split 1, R(2+1)D, adaptive scale with augmentation)

# %%
paper.table(6)

# %% [markdown]
# ## Table 7 — fixed crops against the adaptive crop (HMDB51 split 1, R(2+1)D)

# %%
paper.table(7)

# %% [markdown]
# ## Compute cost (Section 4.2), GMac per clip

# %%
paper.macs_table()

# %% [markdown]
# ## Where the paper does not add up
#
# Each point is checked or worked around in a later chapter.

# %%
display(Markdown("\n".join(f"- **{item['where']}.** {item['what']}"
                           for item in paper.INCONSISTENCIES)))
