# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
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
# · [the explorer alone, as a web app (Voila)](https://mybinder.org/v2/gh/OWNER/REPO/HEAD?urlpath=voila/render/apps/explorer.ipynb)
#
# An ensemble only helps if its members differ. BatchEnsemble members (Wen, Tran & Ba, ICLR 2020,
# [arXiv:2002.06715v2](https://arxiv.org/abs/2002.06715v2)) share one weight $W$ and differ only
# through their fast weights: member $i$ uses $W \circ (r_i s_i^\top)$. How different they are is
# therefore decided by how $r$ and $s$ are drawn, and by what training does to them.
#
# **What you will learn**
# - four ways to measure how different members are (pairwise disagreement, mutual information,
#   cosine similarity of the effective weights, spread), and how they differ from each other;
# - how the spread of $r$ and $s$ at initialisation turns into disagreement, seed by seed;
# - what training does to each measure, and where trained members spread out on a regression.
#
# **Prerequisites.** [`01_effective_weights`](01_effective_weights.ipynb) (the effective weight
# and the std-0 collapse) and [`02_batchensemble_vs_naive`](02_batchensemble_vs_naive.ipynb)
# (the scores, section 1). **Run time:** 11–20 s (measured by `make bench` in a
# fresh kernel on a shared 2-core CPU); building the panel compiles everything once (a progress bar
# shows it), after which no slider compiles anything.

# %%
# Colab or a fresh machine: install bel from its repository if it is missing (no-op here).
import importlib.util, subprocess, sys  # noqa: E401, I001
if importlib.util.find_spec("bel") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "bel @ git+https://github.com/OWNER/REPO"], check=True)

# %% [markdown]
# ## The measures of diversity
#
# The panel reports four numbers about the first $E$ of 8 members, all computed by `bel.metrics`
# and all defined once, with their formulas, in earlier notebooks:
#
# - **pairwise disagreement** and **mutual information** (MI):
#   [notebook 02, section 1](02_batchensemble_vs_naive.ipynb). Disagreement is the share of
#   inputs (here: of a grid around the data) on which two members pick different classes; MI is
#   the part of the ensemble's entropy that comes from its members contradicting each other, 0
#   when they all predict the same distribution and at most $\log 2 \approx 0.69$ nats for two
#   classes. The panel reports the mean MI over the grid.
# - **cosine similarity** of the members' effective weights $W \circ (r_i s_i^\top)$ in one
#   layer, averaged over pairs: [notebook 01, section 5](01_effective_weights.ipynb) (1: the
#   same direction, about 0: unrelated).
# - For the regression task, the **spread**: the standard deviation of the members' predictions
#   at an input ([notebook 02, section 9](02_batchensemble_vs_naive.ipynb)), averaged over the
#   inputs on the data or off it. The panel also shows how good the ensemble is: its accuracy
#   (classification) or the root-mean-square error of the ensemble mean (regression) on the
#   training data.

# %%
# %matplotlib inline
import numpy as np
from IPython.display import Image, Markdown, display

import bel
from bel.explorer import DiversityExplorer
from bel.explorer.model import Settings, build, evaluate, make_task, train
from bel.plots import style

style.use()

# %% [markdown]
# ## The panel
#
# The network is a small MLP (2 inputs, two hidden layers of 16, one output per class) turned
# into a BatchEnsemble by `bel.batchensemble` and trained by `bel.fit`. The controls:
#
# - **members**: the ensemble size $E$ (1 to 8). Member $i$'s factors depend only on the seed and
#   on $i$, so adding a member leaves the others as they were.
# - **init**: `normal` draws $r \sim \mathcal N(r_{mean}, r_{std}^2)$ and
#   $s \sim \mathcal N(s_{mean}, s_{std}^2)$; `random_sign` draws every entry from $\{-1, +1\}$
#   (the paper's Appendix B) and ignores the means and stds.
# - **seed**; **use_base_weights**: whether the shared $W$ comes from the base network or is
#   drawn afresh (all members share it either way); **heatmaps**: the layer shown on top.
# - **steps** and **Train**: full-batch training with Adam (`bel.fit`); **show**: the members at
#   initialisation or after training; **task**: two moons, or a 1-D regression with a gap.
#
# The picture: top, each member's effective weight on one colour scale ($\pm c$, $c$ the 99th
# percentile of the entries' size); middle, each member's prediction; bottom, the ensemble, the
# mutual information map (or the spread) and the four numbers, light at initialisation and dark
# after training, each on its own axis with its value beside its bar (▸ marks a value beyond the
# end of its axis).

# %%
explorer = DiversityExplorer()
display(explorer)

# %% [markdown]
# At the start ($E = 4$, $r$ and $s$ from $\mathcal N(1, 0.5^2)$) every heatmap is the shared $W$
# with whole rows (scaled by $r_i$) and columns (scaled by $s_i$) turned up or down. The member
# maps are pale: at initialisation every member is unsure, with probabilities near 0.5.
#
# **Try this** in the panel (running the notebook never moves a slider; the cells below use a
# second explorer and `bel` directly, so the panel above stays yours):
#
# 1. Raise `r_std` and `s_std` together: which number reacts first, disagreement or mutual
#    information?
# 2. Switch `init` to `random_sign`: what happens to the cosine similarity?
# 3. Press **Train**, then switch **show** between the two states: which numbers move?
# 4. Switch the task to the regression with a gap and train: where do the members spread out?

# %% [markdown]
# ## 1. Identical members, in function space
#
# Notebook 01 showed the collapse in weight space: with both stds at 0 every member gets the same
# $r$ and $s$, hence the same effective weight, and full-batch training gives identical members
# identical gradients. Here is the same collapse once in function space. A second explorer,
# `demo`, is driven by assigning its controls exactly as a slider would; `demo.report()` prints
# its numbers, `demo.png` is its picture.

# %%
demo = DiversityExplorer(r_std=0.0, s_std=0.0, steps=300)
demo.train()
print(demo.report())
display(Image(demo.png))

# %% [markdown]
# After 300 steps the four members are one member drawn four times: identical maps, disagreement
# and mutual information 0, cosine similarity 1, although every member now separates the moons.
# Everything below starts from members that differ.

# %% [markdown]
# ## 2. How much spread in $r$ and $s$ makes how much diversity?
#
# The same network at initialisation for a range of stds (the same value for $r$ and $s$), for
# five seeds (dots; the line is their mean). For reference, two horizontal lines: random-sign
# factors, and a *naive* ensemble of four independently drawn networks (`bel.naive_ensemble`),
# both averaged over the same seeds.

# %%
moons, seeds = make_task("moons"), range(5)
stds = [0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5]
keys = ("disagreement", "mutual_information", "cosine")
sweep = {key: np.zeros((len(seeds), len(stds))) for key in keys}
for a, seed in enumerate(seeds):
    for b, std in enumerate(stds):
        slots = build(moons, Settings(r_std=std, s_std=std, seed=seed))
        for key, value in evaluate(moons, slots).numbers(4).items():
            if key in sweep:
                sweep[key][a, b] = value

# %%
signs = [evaluate(moons, build(moons, Settings(init="random_sign", seed=s))).numbers(4)
         for s in seeds]  # fmt: skip
naive_d = []  # four independently drawn networks per seed
for seed in seeds:
    naive = bel.naive_ensemble(bel.mlp(2, 2, hidden=(16, 16), rngs=2 * seed), 4, rngs=2 * seed + 1)
    naive_d.append(float(bel.metrics.pairwise_disagreement(bel.predict(naive, moons.points))))

# %% tags=["hide-input"]
fig = style.figure(9, 3.6)
axes = fig.subplots(1, 3)
labels = {"disagreement": "pairwise disagreement", "mutual_information": "mutual information",
          "cosine": "cosine similarity, layer 2"}  # fmt: skip
blue, green = style.MODEL_COLORS["BatchEnsemble"], style.MODEL_COLORS["random signs"]
for ax, (key, values) in zip(axes, sweep.items(), strict=True):
    for i, row in enumerate(values):
        ax.scatter(stds, row, s=18, color=blue, edgecolor="white", zorder=3,
                   label="N(1, std²), one seed" if i == 0 else None)  # fmt: skip
    ax.plot(stds, values.mean(axis=0), color=blue, label="N(1, std²), mean over seeds")
    ax.axhline(np.mean([s[key] for s in signs]), color=green, ls="--", label="random signs, mean")
    ax.set(xlabel="r_std = s_std", title=labels[key])
axes[0].axhline(np.mean(naive_d), color=style.MODEL_COLORS["naive"], ls=":",
                label="naive ensemble, mean")  # fmt: skip
handles = dict(zip(*reversed(axes[0].get_legend_handles_labels()), strict=True))
fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncols=4)
display(fig)

# %%
mean_d, mean_cos = sweep["disagreement"].mean(axis=0), sweep["cosine"].mean(axis=0)
i_quarter = stds.index(0.25)
print(f"disagreement at std {stds[i_quarter]}: {mean_d[i_quarter]:.2f}; mutual information there: "
      f"{sweep['mutual_information'].mean(axis=0)[i_quarter]:.3f} nats")
for std in (1.0, 1.5):
    per_seed = sweep["disagreement"][:, stds.index(std)]
    print(f"disagreement at std {std}, per seed: {', '.join(f'{d:.2f}' for d in per_seed)} "
          f"(cosine {mean_cos[stds.index(std)]:.2f})")
print(f"random signs: disagreement {np.mean([s['disagreement'] for s in signs]):.2f}, "
      f"cosine {np.mean([s['cosine'] for s in signs]):.2f}; naive ensemble: disagreement "
      f"{np.mean(naive_d):.2f} (per seed {', '.join(f'{d:.2f}' for d in naive_d)})")

# %% [markdown]
# Disagreement reacts first: it is well above 0 by std 0.25, while the mutual information is
# still near 0. At initialisation every member is unsure (probabilities near 0.5), so a small
# difference between members flips which class wins without making anyone confident:
# disagreement exaggerates how different freshly drawn members are, mutual information does not.
#
# For the larger stds, read the dots rather than the line. The cosine keeps falling towards the
# random-sign level near 0: the members' effective weights become nearly unrelated. Most seeds'
# disagreement rises with them, into the range of the two references, but the printed per-seed
# values show how widely the seeds scatter there, and a seed whose members happen to agree on
# most of the grid pulls the mean down. With five seeds the mean line is a rough summary of such a
# spread, not a curve to read a trend from.
#
# The naive reference is rough for the same reason: it varies a lot from seed to seed and can
# even be near 0 (see its per-seed values). At initialisation every bias is 0, so a ReLU network's
# outputs only scale along each ray from the origin and its class depends on the direction
# alone; four networks can happen to favour the same class in almost every direction of the grid.

# %% [markdown]
# ## 3. Random signs
#
# The paper's Appendix B reports that random-sign factors (every entry $\pm 1$) are enough to
# make members diverse.

# %%
for name, value in [("r_std", 0.5), ("s_std", 0.5), ("init", "random_sign")]:
    demo.controls[name].value = value
print(demo.report())
display(Image(demo.png))

# %% [markdown]
# The four heatmaps look like four different matrices: flipping the signs of whole rows and
# columns of $W$ leaves the members' effective weights nearly unrelated (cosine near 0). Yet the
# member maps are pale and the mutual information is small: at initialisation no member is
# confident about anything.

# %% [markdown]
# ## 4. What does training do to each measure?
#
# Now both initialisations are trained (300 full-batch steps, `bel.fit` through
# `bel.explorer.model.train`) for three seeds each, and every measure is compared before and after.
# (Every member sees the same rows in every step, `bel.fit`'s default; notebook
# [02, section 5](02_batchensemble_vs_naive.ipynb) says why and
# [07](07_what_batchensemble_buys.ipynb) compares it with the paper's split batches.)

# %%
runs = {}
for init in ("normal", "random_sign"):
    for seed in range(3):
        slots = build(moons, Settings(init=init, seed=seed))
        trained, _ = train(moons, slots, 4, 300)
        runs[init, seed] = (evaluate(moons, slots).numbers(4), evaluate(moons, trained).numbers(4))
fig = style.figure(9, 3.0)
for ax, key in zip(fig.subplots(1, 3), keys, strict=True):
    for (init, seed), (before, after) in runs.items():
        color = style.MODEL_COLORS["BatchEnsemble" if init == "normal" else "random signs"]
        ax.plot([0, 1], [before[key], after[key]], "o-", color=color, mec="white",
                label={"normal": "N(1, 0.5²)", "random_sign": "random signs"}[init]
                if seed == 0 else None)  # fmt: skip
    ax.set(xticks=[0, 1], xticklabels=["init", "trained"], title=labels[key], xlim=(-0.3, 1.3))
fig.legend(*fig.axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2)
display(fig)

# %%
change = {k: [after[k] - before[k] for before, after in runs.values()] for k in keys}
falls = sum(c < 0 for c in change["disagreement"])
rises = sum(c > 0 for c in change["mutual_information"])
inits = ("normal", "random_sign")
at_init = {i: np.mean([runs[i, s][0]["cosine"] for s in range(3)]) for i in inits}
moved = max(map(abs, change["cosine"]))


def count(n, of):
    return f"in every one of the {of} runs" if n == of else f"in {n} of the {of} runs"


# %% tags=["remove-input"]
display(Markdown(
    f"Training makes the members agree on more of the plane (disagreement falls "
    f"{count(falls, len(runs))}) but makes them confident, so where they still disagree it "
    f"counts: the mutual information rises {count(rises, len(runs))}. The cosine similarity "
    f"moves in training by at most {moved:.2f}, against a gap of "
    f"{at_init['normal'] - at_init['random_sign']:.2f} between the two initialisations at the "
    f"start ({at_init['normal']:.2f} for N(1, 0.5²), {at_init['random_sign']:.2f} for random "
    "signs): how alike the members are in weight space is set mostly at initialisation."))

# %% [markdown]
# The last panel state is random signs at initialisation; after training it looks like this:

# %%
demo.train()
display(Image(demo.png))

# %% [markdown]
# Every trained member separates the two moons (its map is saturated around the data), but each
# draws its boundary a little differently, most of all away from the data, and that is where the
# mutual information map lights up.

# %% [markdown]
# ## 5. Regression: where do the members spread out?
#
# The same network with one output, trained with a squared error on a curve with a gap in its
# data (yellow) and nothing beyond $-1$ and $1$ (grey). Here the measure is the spread $\sigma(x)$,
# on the data and off it.

# %%
demo.controls["init"].value = "normal"
demo.controls["task"].value = "gap"
demo.train()
print(demo.report())
display(Image(demo.png))

# %%
trained = demo.numbers["trained"]
off, on = trained["spread_off_data"], trained["spread_data"]
print(f"after training the spread off the data is {off / on:.0f} times the spread on the data "
      f"({off:.3f} vs {on:.3f})")

# %% [markdown]
# After training, every member passes through the data and the ±2 std band is thin there, and
# the members go their own ways in the gap and beyond the ends, where the spread is larger (the
# printed ratio, for this one seed). Larger than on the data is not yet *large enough*: whether
# BatchEnsemble's spread off the data is as large as an ensemble of independent networks' is a
# comparison, made over seeds in [notebook 02, section 9](02_batchensemble_vs_naive.ipynb), and
# notebook [`07_what_batchensemble_buys`](07_what_batchensemble_buys.ipynb) puts that toy result
# beside real data and the field's benchmarks.

# %% [markdown]
# ## Exercises
#
# Each exercise cell runs as it is and its check says "not yet" until you fill it in; then it
# says "correct" or explains what is off. The checks compute with `bel` directly: they never touch
# your panel, and you can run them as often as you like. The solutions are in
# `notebooks/solutions/`: `%load solutions/03_ex1_agree_yet_differ.py` (or
# `03_ex2_training_direction.py`, `03_ex3_larger_ratio.py`) in a new cell shows one.
#
# **Exercise 1 (disagreement is not the whole story).** On the moons with 4 members and
# `init="normal"`, find settings for which the members agree *everywhere* at initialisation
# (disagreement exactly 0) although their effective weights clearly differ (cosine similarity of
# layer 2 below 0.9), without switching the network off: no mean equal to 0, and every member's
# probability of class 1 must move at least 0.01 away from 0.5 somewhere. Then explain why.

# %%
exercise_1 = {"r_mean": None, "r_std": None, "s_mean": None, "s_std": None, "seed": None}

# %%
if None in exercise_1.values():
    print("not yet - hint: try making only one of r and s random, and look at the member maps")
else:
    ev = evaluate(moons, build(moons, Settings(members=4, **exercise_1)))
    numbers, outputs = ev.numbers(4), ev.outputs[:4]
    off = np.flatnonzero(np.abs(outputs - 0.5).max(axis=1) < 0.01).tolist()  # switched off
    problems = [message for failed, message in [
        (0 in (exercise_1["r_mean"], exercise_1["s_mean"]), "no mean may be 0"),
        (len(off) > 0, f"members {off} output 0.5 everywhere: they are switched off"),
        (numbers["cosine"] >= 0.9, f"cosine {numbers['cosine']:.3f}: the weights hardly differ"),
        (numbers["disagreement"] > 0, f"they still disagree on {numbers['disagreement']:.1%}"),
    ] if failed]  # fmt: skip
    print(f"not yet: {problems[0]}" if problems else
          f"correct: cosine {numbers['cosine']:.2f}, disagreement 0; share of the plane each "
          f"member calls class 1: {(outputs > 0.5).mean(axis=1).round(2).tolist()}")

# %% [markdown]
# **Exercise 2 (predict, then check).** Four members start close together: `init="normal"` with
# `r_std = s_std = 0.25`. You train them on the moons for 300 steps. Will their mutual
# information (mean over the grid) go `"up"` or `"down"`? Write your prediction, then run the
# check: it trains three seeds and compares.

# %%
mutual_information_goes = None  # your prediction: "up" or "down"

# %%
if mutual_information_goes not in ("up", "down"):
    print('not yet: write "up" or "down" (hint: what does training do to confidence?)')
else:
    moved = []
    for seed in range(3):
        slots = build(moons, Settings(r_std=0.25, s_std=0.25, seed=seed))
        before = evaluate(moons, slots).numbers(4)["mutual_information"]
        after = evaluate(moons, train(moons, slots, 4, 300)[0]).numbers(4)["mutual_information"]
        moved.append("up" if after > before else "down")
    verdict = "correct" if moved.count(mutual_information_goes) >= 2 else "not quite"
    print(f"{verdict}: over seeds 0, 1, 2 the mutual information went {', '.join(moved)}")

# %% [markdown]
# **Exercise 3 (compare over seeds).** On the regression task with 4 members, which
# initialisation spreads the trained members more *off* the data relative to *on* it:
# `"normal"` ($r, s \sim \mathcal N(1, 0.5^2)$) or `"random_sign"`? One seed can be a fluke, so the
# check trains both on seeds 0 to 4 (300 steps each, some seconds) and accepts the answer that
# has the larger ratio (spread off the data / spread on it) in most of those seeds. Think
# about what section 2 showed about the two initialisations before you run it.

# %%
larger_ratio = None  # "normal" or "random_sign"

# %%
if larger_ratio not in ("normal", "random_sign"):
    print('not yet: set larger_ratio to "normal" or "random_sign"')
else:
    gap, ratios = make_task("gap"), {}
    for init in ("normal", "random_sign"):
        for seed in range(5):
            trained, _ = train(gap, build(gap, Settings(members=4, init=init, seed=seed)), 4, 300)
            numbers = evaluate(gap, trained).numbers(4)
            ratios[init, seed] = numbers["spread_off_data"] / max(numbers["spread_data"], 1e-12)
    other = "normal" if larger_ratio == "random_sign" else "random_sign"
    wins = sum(ratios[larger_ratio, s] > ratios[other, s] for s in range(5))
    table = ", ".join(f"seed {s}: {ratios['normal', s]:.0f} vs {ratios['random_sign', s]:.0f}"
                      for s in range(5))  # fmt: skip
    print(f"off / on the data, normal vs random_sign: {table}")
    print(f"correct: {larger_ratio} has the larger ratio in {wins} of 5 seeds" if wins >= 3 else
          f"not yet: {larger_ratio} has the larger ratio in only {wins} of 5 seeds")

# %% [markdown]
# ## Summary
#
# - BatchEnsemble members differ only through $r_i$ and $s_i$. Pairwise disagreement, mutual
#   information, the cosine similarity of the effective weights and the spread measure that
#   difference in different ways, and they do not always agree with each other.
# - At initialisation, disagreement rises quickly with the std of $r$ and $s$ because every member
#   is unsure; mutual information stays near 0 for small stds. For large stds the members' weights
#   are nearly unrelated and the seeds scatter widely: read the dots, not the mean.
# - Training makes members agree on more of the plane and become confident, so mutual information
#   grows where they still differ (section 4 counts the runs). The cosine similarity moves in
#   training, but much less than the difference between initialisations: how diverse
#   BatchEnsemble's members are is decided mostly by how $r$ and $s$ are drawn.
# - On a regression with a gap, trained members agree on the data and spread out in the gap and
#   beyond; whether they spread as much as independent networks is notebook 02's comparison.
# - Notebook [`07_what_batchensemble_buys`](07_what_batchensemble_buys.ipynb) brings these toy
#   measurements together with notebooks 02 and 06 and the field's results.
#
# ## References
#
# - Y. Wen, D. Tran, J. Ba. *BatchEnsemble: an Alternative Approach to Efficient Ensemble and
#   Lifelong Learning.* ICLR 2020. [arXiv:2002.06715v2](https://arxiv.org/abs/2002.06715v2): the
#   effective weight (Section 3.1, Equation 1), random-sign initialisation (Appendix B).
# - B. Lakshminarayanan, A. Pritzel, C. Blundell. *Simple and Scalable Predictive Uncertainty
#   Estimation using Deep Ensembles.* NeurIPS 2017.
#   [arXiv:1612.01474](https://arxiv.org/abs/1612.01474): ensembles whose uncertainty grows away
#   from the data.
# - S. Depeweg et al. *Decomposition of Uncertainty in Bayesian Deep Learning for Efficient and
#   Risk-sensitive Learning.* ICML 2018. [arXiv:1710.07283](https://arxiv.org/abs/1710.07283):
#   total uncertainty = expected entropy + mutual information.
#
# **Next:** [`04_sharding_members`](04_sharding_members.ipynb) spreads the members over several
# devices with JAX's sharding and measures what that costs.
