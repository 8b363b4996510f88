# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: -all
#     notebook_metadata_filter: kernelspec,jupytext,-jupytext.text_representation.jupytext_version
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
# # 03 · The diversity explorer: when do BatchEnsemble members disagree?
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/OWNER/REPO/HEAD?labpath=notebooks/03_diversity_explorer.ipynb)
#
# **What you will learn.** An ensemble only helps if its members differ. BatchEnsemble members
# share one weight `W` and differ only through their fast weights `r_i` and `s_i`, so how
# different they are is decided by how `r` and `s` are drawn. In this notebook you drag sliders
# and watch it happen: each member's effective weight `W ∘ (r_i s_iᵀ)`, each member's
# predictions on a toy task, and three diversity numbers (pairwise disagreement, mutual
# information and the cosine similarity of the effective weights), both at initialisation and
# after training. You will see that members with `std = 0` are identical and stay identical
# through training, that disagreement at initialisation exaggerates diversity while mutual
# information does not, that training hardly moves the members' similarity in weight space
# (the initialisation decides it), and that trained members spread out where there are no data.

# %% [markdown]
# ## Setup
#
# Everything the panel computes lives in `bel.diversity` (no plotting there) and the panel
# itself in `bel.widgets`. The first update for a new number of members or a new task compiles
# its code once (about a second); after that a slider move takes a few hundredths of a second.

# %%
import matplotlib.pyplot as plt
from IPython.display import Image, display

from bel.widgets import DiversityExplorer

plt.rcParams["figure.dpi"] = 80

# %% [markdown]
# ## The panel
#
# The network is a small MLP (2 inputs, two hidden layers of 16, one output per class), turned
# into a BatchEnsemble with `bel.batchensemble`: every `Linear` becomes a
# `BatchEnsembleLinear` with a shared `W` and one pair `r_i`, `s_i` per member. The controls:
#
# - **members**: the ensemble size `E` (1 to 8). Member `i`'s factors depend only on the seed and
#   on `i`, so adding a member leaves the others as they were.
# - **init**: `normal` draws `r ~ N(r_mean, r_std²)` and `s ~ N(s_mean, s_std²)` (the common
#   default is mean 1, std 0.5); `random_sign` draws every entry from {−1, +1} (the paper's
#   Appendix B) and ignores the means and stds.
# - **seed**; **use_base_weights**: whether the shared `W` comes from the base network or is
#   drawn afresh (it is shared by all members either way).
# - **heatmaps**: which layer's effective weights the top row shows; **steps** and **Train**:
#   full-batch training with Adam (`r` and `s` at half the learning rate); **show**: the
#   members at initialisation or after training.
# - **task**: a 2-D classification (two moons) or a 1-D regression with a gap in the data.
#
# The figure: top row, each member's effective weight `W ∘ (r_i s_iᵀ)` of one layer, all on one
# colour scale (it runs to ± the 99th percentile of the entries' size, so the largest 1%
# saturate); middle row, each member's predictions (the probability of class 1 over the
# plane); bottom row, the ensemble's mean prediction, where the members disagree (mutual
# information), and the diversity numbers at initialisation (light) and after training (dark).
# The numbers, from `bel.metrics`, are:
#
# - **pairwise disagreement**: the share of the plane where two members predict different
#   classes, averaged over all pairs of members;
# - **mutual information**: entropy of the mean prediction minus the mean of the members'
#   entropies, averaged over the plane; it is large only where members are confident *and*
#   disagree;
# - **cosine similarity of the effective weights** of the layer shown, averaged over pairs
#   (1: the members' weights point the same way).

# %%
explorer = DiversityExplorer()
display(explorer)

# %% [markdown]
# At the start (`E = 4`, `r` and `s` from `N(1, 0.5²)`) each heatmap is the shared `W` with
# whole rows (scaled by `r_i`) and whole columns (scaled by `s_i`) turned up or down, so every
# member has its own strong rows and columns; the members' maps are pale (every member is unsure,
# with probabilities near 0.5) and tilt different ways, and the mutual information panel is
# almost empty.
#
# **Try this** in the panel (running the notebook never moves a slider; the cells below set the
# controls of a second explorer from code, so that the saved notebook shows the same effects and
# the panel above stays yours):
#
# 1. Set `r_std` and `s_std` to 0. What happens to the heatmaps and to the disagreement?
# 2. Raise both stds step by step: which number reacts first, disagreement or mutual
#    information?
# 3. Switch `init` to `random_sign`. What happens to the cosine similarity?
# 4. Press **Train**, then switch **show** between the two states. Which numbers change with
#    training, and which stay where the initialisation put them?
# 5. Move the `members` slider: does the disagreement grow with the number of members?
# 6. Switch the task to the regression with a gap and train: where do the members spread out?

# %% [markdown]
# ## 1. Identical members: `std = 0`
#
# With both stds at 0, every `r_i` equals `r_mean` and every `s_i` equals `s_mean`, so every
# member has the same effective weight. The cells from here on drive a second explorer, `demo`,
# by assigning its controls' values, exactly as a slider would. `demo.report()` prints the
# numbers of its table; `demo.png` is the picture its panel would show.

# %%
demo = DiversityExplorer()
controls = demo.controls
controls["r_std"].value = 0.0
controls["s_std"].value = 0.0
print(demo.report())
display(Image(demo.png))

# %% [markdown]
# The four heatmaps are one picture repeated and the four maps are the same colours: the
# disagreement and the mutual information are exactly 0 and the cosine similarity is 1. Four
# members that compute the same function are an ensemble of one.

# %% [markdown]
# ## 2. How much spread in `r` and `s` makes how much diversity?
#
# The same ensemble for a range of stds (the same value for `r` and `s`), measured at
# initialisation. Each assignment below updates the panel, exactly as a slider move would.

# %%
stds = [0.0, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5]
at_init = []
for std in stds:
    controls["r_std"].value = std
    controls["s_std"].value = std
    at_init.append(demo.numbers["init"])

fig, ax = plt.subplots(figsize=(6, 3.2))
for key, label in [("disagreement", "pairwise disagreement"),
                   ("mutual_information", "mutual information (nats)"),
                   ("cosine", "cosine similarity of W ∘ (r sᵀ)")]:  # fmt: skip
    ax.plot(stds, [numbers[key] for numbers in at_init], "o-", label=label)
ax.set(xlabel="r_std = s_std", ylabel="value at initialisation", ylim=(-0.05, 1.05))
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Disagreement climbs quickly from the smallest stds on and passes 0.2 by `std = 0.25`, while the
# mutual information stays close to 0 until the std approaches 1. At initialisation every member
# is unsure (its probabilities sit near 0.5), so a tiny difference between members flips which
# class wins: disagreement exaggerates how different freshly drawn members are, mutual
# information does not. The cosine similarity falls steadily from 1 as the std grows.

# %% [markdown]
# ## 3. Random signs
#
# The paper's Appendix B reports that random-sign factors (every entry ±1) are enough to make
# members diverse.

# %%
controls["init"].value = "random_sign"
print(demo.report())
display(Image(demo.png))

# %% [markdown]
# The heatmaps now look like four different matrices: flipping the signs of whole rows and
# columns of `W` makes the members' effective weights nearly unrelated, and the cosine
# similarity drops to about 0. Yet the members' maps are still pale and the mutual information is
# small: at initialisation no member is confident about anything.

# %% [markdown]
# ## 4. Does training create diversity, or destroy it?
#
# Now the members are trained (300 full-batch steps, the **Train** button) from three
# initialisations: the common default `N(1, 0.5²)`, identical members (`std = 0`) and random
# signs. The first training compiles its code, which takes a few seconds.

# %%
starts = {
    "N(1, 0.5²)": dict(init="normal", r_std=0.5, s_std=0.5),
    "std = 0": dict(init="normal", r_std=0.0, s_std=0.0),
    "random signs": dict(init="random_sign", r_std=0.5, s_std=0.5),
}
print(f"{'':14}{'disagreement':>22}{'mutual information':>22}{'cosine similarity':>22}")
print(f"{'':14}" + f"{'init → trained':>22}" * 3)
for name, values in starts.items():
    for key, value in values.items():
        controls[key].value = value
    demo.train()
    init, trained = demo.numbers["init"], demo.numbers["trained"]
    cells = [f"{init[k]:.3f} → {trained[k]:.3f}" for k in ("disagreement", "mutual_information",
                                                           "cosine")]  # fmt: skip
    print(f"{name:14}" + "".join(f"{cell:>22}" for cell in cells))

# %% [markdown]
# Three things to read from the table. Training makes the members agree on most of the plane
# (disagreement falls), but it makes them confident, so where they still disagree it counts: the
# mutual information *rises* for both initialisations that started diverse. The cosine similarity of
# the effective weights moves by a few hundredths at most: how alike the members are in weight space
# is decided at initialisation. And members that start identical stay identical, with all three
# numbers exactly where they were: with the same data and full-batch gradients nothing can break the
# tie.
#
# The last state trained is the random-sign one; here it is after training:

# %%
display(Image(demo.png))

# %% [markdown]
# Every trained member now separates the two moons (its map is saturated blue and red around the
# data), but each draws its boundary a little differently, most of all away from the data, and that
# is where the mutual information panel lights up. The dark bars (trained) sit below the light ones
# for disagreement and above them for mutual information.

# %% [markdown]
# ## 5. Regression: where do the members spread out?
#
# The same network with one output, trained with a squared error on a 1-D curve with a gap in
# its data (yellow) and nothing beyond −1 and 1 (grey in the spread panel). Here disagreement has
# no meaning; the panel measures the spread, the standard deviation of the members' predictions,
# on the data and away from them.

# %%
controls["task"].value = "gap"
controls["init"].value = "normal"
demo.train()
print(demo.report())
display(Image(demo.png))

# %% [markdown]
# After training, every member passes through the data and the band of ± 2 std is thin there,
# but the members go their own ways in the gap and beyond the ends: the spread off the data is
# many times the spread on the data. That growing spread is the ensemble saying "I do not know",
# exactly where it has seen nothing.

# %% [markdown]
# ## Exercises
#
# Each exercise cell runs as it is and its check says "not yet" until you fill it in; then the check
# says "correct" or explains what is off. The checks use your panel, `explorer`, shown once more
# below so that you can explore next to the exercises. The solutions are in `notebooks/solutions/`:
# to see one, type `%load solutions/03_ex1_dead_factors.py` (or `03_ex2_identical_training.py`,
# `03_ex3_gap_spread.py`) into a new cell and run it; it replaces the cell's content with the
# solution.

# %%
display(explorer)

# %% [markdown]
# (The same panel as at the top: both views show one explorer and follow every change.)
#
# **Exercise 1 (think about `W ∘ (r sᵀ)`).** With 4 members, `init = "normal"` and `s_std = 0.5`
# (so the `s_i` differ), find `r_mean` and `r_std` for which the members agree everywhere at
# initialisation (disagreement exactly 0) on the classification task.

# %%
exercise_1 = {"r_mean": None, "r_std": None}  # your values here

# %%
if None in exercise_1.values():
    print("not yet - hint: member i differs from member j only through r and s; "
          "what value of r makes s irrelevant?")  # fmt: skip
else:
    values = dict(task="moons", members=4, init="normal", s_mean=1.0, s_std=0.5, **exercise_1)
    for key, value in values.items():
        explorer.controls[key].value = value
    disagreement = explorer.numbers["init"]["disagreement"]
    assert disagreement == 0.0, (
        f"the members still disagree on {disagreement:.1%} of the plane: every member must get "
        f"the same r_i ∘ s_i pattern, or one that cancels the differences in s"
    )
    print("correct")
    if exercise_1["r_mean"] == 0 and exercise_1["r_std"] == 0:
        print("with r = 0 every effective weight W ∘ (r sᵀ) is 0, so every member outputs "
              "its bias (all zero at initialisation): they agree everywhere, whatever their s")

# %% [markdown]
# **Exercise 2 (predict, then check).** Four members start identical (`std = 0`). You train
# them on the regression task for 300 steps. Do they end up different from each other? Write
# your prediction as `True` (they become different) or `False` (they stay identical), then run
# the check, which trains them.

# %%
they_become_different = None  # your prediction: True or False

# %%
if they_become_different is None:
    print("not yet - hint: every member sees the same data and gets the same gradient")
else:
    values = dict(task="gap", members=4, init="normal", r_std=0.0, s_std=0.0, steps=300)
    for key, value in values.items():
        explorer.controls[key].value = value
    explorer.train()
    spread = explorer.numbers["trained"]["spread_off_data"]
    assert they_become_different == (spread > 0), (
        f"not quite: after training the spread off the data is {spread:.3g}. Identical members "
        "get identical gradients from full-batch training, so they stay identical: diversity "
        "has to be put in at initialisation (or by noise, e.g. different mini-batches)"
    )
    print(f"correct: the spread stays {spread:.3g}; nothing in full-batch training can break "
          "the tie between identical members")  # fmt: skip

# %% [markdown]
# **Exercise 3 (explore).** On the regression task with 4 members, find settings for which,
# after 300 training steps, the spread in the gap and beyond is at least 10 times the spread on
# the data (the members agree on the data and disagree where there are none).

# %%
exercise_3 = {"init": None, "r_std": 0.5, "s_std": 0.5, "seed": 0}  # set init, and more if needed

# %%
if exercise_3["init"] is None:
    print("not yet - hint: compare init='normal' and init='random_sign' (press Train for each)")
else:
    for key, value in dict(task="gap", members=4, steps=300, **exercise_3).items():
        explorer.controls[key].value = value
    explorer.train()
    on_data = explorer.numbers["trained"]["spread_data"]
    off_data = explorer.numbers["trained"]["spread_off_data"]
    ratio = off_data / max(on_data, 1e-12)
    assert ratio >= 10, (
        f"off the data / on the data = {off_data:.3f} / {on_data:.3f} = {ratio:.1f}, below 10: "
        "try another init (or seed, or larger stds)"
    )
    print(f"correct: the spread off the data is {ratio:.0f} times the spread on the data")

# %% [markdown]
# ## What you have seen
#
# - BatchEnsemble members differ only through `r_i` and `s_i`. With `std = 0` they are
#   identical, and full-batch training keeps them identical: the diversity has to come from the
#   initialisation.
# - At initialisation, pairwise disagreement is high even for small stds because every member is
#   unsure; mutual information, which needs confident members that disagree, stays low.
# - Training makes members agree on most inputs but confident, so mutual information grows where
#   they still differ; the cosine similarity of the effective weights barely changes. Random
#   signs give members that are nearly unrelated in weight space.
# - On a regression with a gap, trained members agree on the data and spread out in the gap and
#   beyond: the ensemble's uncertainty is largest where it has seen nothing.
