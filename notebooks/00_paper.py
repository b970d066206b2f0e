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
# Some of these numbers contradict each other or the models they name (a top-5 of 99.33, an
# R3D cost that is R(2+1)D's, a zooming cost far below its LNet's); the
# {doc}`inconsistencies page <../inconsistencies>` lists each one and what this project does
# about it (the list lives in `azlib/paper.py`, beside the numbers).
