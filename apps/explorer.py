# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # BatchEnsemble diversity explorer
#
# 1. Raise `r_std` and `s_std` together: which reacts first, disagreement or mutual information?
# 2. Switch `init` to `random_sign`: what happens to the cosine similarity of the members' weights?
# 3. Press **Train**, then switch **show** between the two states; try the regression task too.

# %%
from IPython.display import display

from bel.explorer import DiversityExplorer

explorer = DiversityExplorer(progress=lambda done, total, text: None)  # no progress bar
display(explorer.widget)
