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
# # 02 · BatchEnsemble against a naive ensemble
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/OWNER/REPO/HEAD?labpath=notebooks/02_batchensemble_vs_naive.ipynb)
#
# BatchEnsemble (Wen, Tran & Ba, ICLR 2020, [arXiv:2002.06715v2](https://arxiv.org/abs/2002.06715v2))
# promises much of what an ensemble of independent networks gives, for a fraction of the memory.
# Here you test that promise on two small problems: the same network is trained as one **single**
# model, as a **BatchEnsemble** of $E = 4$ members and as a **naive ensemble** of 4 independent
# copies, over several random seeds.
#
# **What you will learn**
# - what the usual ensemble scores measure (accuracy, NLL, Brier, ECE, disagreement, mutual
#   information), with their formulas;
# - how to measure parameters and time, and to read time as a ratio to the single model;
# - which rows each member sees in training (two protocols), and which one these notebooks use;
# - how to tell a real difference from seed noise, seed by seed (`bel.compare.seed_gap`);
# - how to read a reliability diagram;
# - where each ensemble's members disagree: on the data or away from it, measured by the distance
#   to the nearest training point.
#
# **Prerequisites.** Notebook [`01_effective_weights`](01_effective_weights.ipynb) (member $i$ uses
# $W \circ (r_i s_i^\top)$); softmax and cross-entropy. **Run time:** 15–28 s (measured by `make
# bench` in a fresh kernel on a shared 2-core CPU); most of it compiling: each model structure
# compiles once.

# %%
# Colab or a fresh machine: install bel from its repository if it is missing (no-op here).
import importlib.util, subprocess, sys  # noqa: E401, I001
if importlib.util.find_spec("bel") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "bel @ git+https://github.com/OWNER/REPO"], check=True)

# %% [markdown]
# ## Setup
#
# One set of constants for the whole notebook: every model has two hidden layers of `HIDDEN`
# units, every ensemble $E$ members, and every model the same training budget (`STEPS` full-batch
# Adam steps at `LEARNING_RATE`). Each experiment is repeated for every seed in `SEEDS`.

# %%
# %matplotlib inline
import numpy as np
from flax import nnx
from IPython.display import Markdown, display

import bel
import bel.plots.predictions as plots
from bel import compare, metrics
from bel.plots import grouped_seed_dots, style
from bel.plots.calibration import reliability_diagram

style.use()
E, HIDDEN = 4, (32, 32)
STEPS, LEARNING_RATE = 300, 1e-2
SEEDS = (0, 1, 2, 3, 4)

# %% [markdown]
# ## 1. What we measure
#
# Member $i$ turns an input $x$ into class probabilities
# $p_i(c \mid x) = \mathrm{softmax}(z_i(x))_c$. The ensemble predicts the **mean of the members'
# probabilities**, $\bar p(c \mid x) = \frac{1}{E} \sum_{i=1}^{E} p_i(c \mid x)$, and its class is
# $\hat y(x) = \arg\max_c \bar p(c \mid x)$. On $N$ held-out points $(x_n, y_n)$:
#
# | score | formula | better |
# |---|---|---|
# | accuracy | $\frac{1}{N} \sum_n [\hat y(x_n) = y_n]$ | higher |
# | member accuracy | the same for each member's own $\arg\max_c p_i$, averaged | higher |
# | NLL | $-\frac{1}{N} \sum_n \log \bar p(y_n \mid x_n)$ | lower |
# | Brier | $\frac{1}{N} \sum_n \sum_c \big(\bar p(c \mid x_n) - [c = y_n]\big)^2$ | lower |
# | ECE | $\sum_{b=1}^{15} \frac{n_b}{N} \lvert \mathrm{acc}_b - \mathrm{conf}_b \rvert$ | lower |
# | disagreement | $\frac{1}{E(E-1) N} \sum_{i \ne j} \sum_n [\hat y_i(x_n) \ne \hat y_j(x_n)]$ | |
# | mutual information | $\mathrm{MI}(x) = H[\bar p] - \frac{1}{E} \sum_i H[p_i]$, at each $x$ | |
#
# NLL and Brier reward probabilities that are both right and confident. For ECE the points are put
# into 15 equal-width bins by their confidence $\max_c \bar p(c \mid x)$; bin $b$ holds $n_b$
# points, $\mathrm{conf}_b$ is their mean confidence and $\mathrm{acc}_b$ their accuracy, so ECE is
# the average gap between "how sure" and "how often right" (a reliability diagram, section 6, draws
# those bins). Disagreement is the fraction of inputs on which two members pick different classes,
# averaged over pairs. Mutual information, with the entropy $H[p] = -\sum_c p_c \log p_c$, is zero
# when all members predict the same distribution and grows as they contradict each other: the
# ensemble's own measure of "I don't know, because my members disagree". Diversity scores have no
# "better": members should agree where the data settle the answer and disagree where they do not.
# Notebook [`03_diversity_explorer`](03_diversity_explorer.ipynb) studies these scores in depth.
#
# ## 2. The classification task: two noisy moons
#
# Two interleaving half-moons with so much noise that the classes overlap: even a perfect model
# makes mistakes, so there is something to *calibrate*. 200 training points, 2500 test points
# drawn with another seed.

# %%
x_train, y_train = bel.data.two_moons(200, noise=0.3, seed=0)
x_test, y_test = bel.data.two_moons(2500, noise=0.3, seed=1)
print("train", x_train.shape, "test", x_test.shape, "classes", np.unique(y_train))

# %% [markdown]
# ## 3. Three models from one architecture
#
# All three start from the same `bel.mlp(2, 2, hidden=HIDDEN)`. `bel.batchensemble` returns a new
# model in which every `nnx.Linear` is a `BatchEnsembleLinear`: one shared $W$ per layer, plus a
# fast pair $r_i, s_i$ and a bias per member. `bel.naive_ensemble` returns a new model with $E$
# independent kernels and biases per layer: four separate networks that run in one vectorised
# call. The base network itself is the single model. Both ensembles know their member count, so
# `bel.fit` and `bel.predict` need nothing more.


# %%
def make_models(seed, n_in=2, n_out=2, **batchensemble_options):
    """The three contenders, all built from the seed-`seed` MLP."""
    base = bel.mlp(n_in, n_out, hidden=HIDDEN, rngs=seed)
    return {
        "single": base,
        "BatchEnsemble": bel.batchensemble(base, E, rngs=seed + 100, **batchensemble_options),
        "naive": bel.naive_ensemble(base, E, rngs=seed + 100),
    }


models = make_models(SEEDS[0])
be_layer, naive_layer = models["BatchEnsemble"].layers[2], models["naive"].layers[2]
print(f"BatchEnsemble hidden layer: W {be_layer.kernel.shape}, r {be_layer.r.shape}, "
      f"s {be_layer.s.shape}, bias {be_layer.bias.shape}")
print(f"naive hidden layer: kernels {naive_layer.kernel.shape}, biases {naive_layer.bias.shape}")

# %% [markdown]
# ## 4. Size, measured from the state
#
# `compare.parameter_count` adds up the arrays in `nnx.state(model)`; `compare.state_bytes` adds
# up their bytes; the filter `bel.FastWeight` selects only the fast weights $r$ and $s$.

# %%
sizes = compare.sizes(models)
print(compare.format_table(sizes, formats={"KiB": ".1f"}))
params = {name: size["params"] for name, size in sizes.items()}
be_params = params["BatchEnsemble"]
print(f"\nBatchEnsemble / naive: {be_params / params['naive']:.2f} (1/E = {1 / E:.2f}), a "
      f"{params['naive'] / be_params:.1f}X reduction;  BatchEnsemble / single: "
      f"{be_params / params['single']:.2f}")

# %% [markdown]
# The naive ensemble stores exactly $E$ times the single model. BatchEnsemble stores less than
# half of the naive ensemble, but clearly more than one single model: with 32 hidden units, the
# per-member extras (an $r$, an $s$ and a bias in every layer, $E(\mathrm{in} + 2\,\mathrm{out})$
# per layer) are not small next to the shared $W$ ($\mathrm{in} \cdot \mathrm{out}$). The paper's
# numbers are for large networks: its Section 3.2 reports that a BatchEnsemble of four ResNet-32s
# stores about 10% more parameters than one network while a naive ensemble stores four whole
# networks, and its abstract that "memory reduction is 3X at an ensemble of size 4". Exercise 2
# finds the width at which this small network gets close.
#
# ## 5. Training every seed with the same budget
#
# `bel.fit` trains full-batch with Adam inside one compiled loop: every member sees the same batch
# and the loss is the mean of the members' losses; BatchEnsemble's $r$ and $s$ learn at half the
# rate of $W$ (the uncertainty-baselines recipe, built into `bel.fit`). The loop is compiled once
# per model structure and data shape, so the seeds after the first cost only their steps.
#
# **Which rows each member sees.** There are two protocols. In the paper (§3.1 of
# [arXiv:2002.06715v2](https://arxiv.org/abs/2002.06715v2), "Vectorization") each mini-batch is
# split into one sub-batch per member, so the members see different rows at every step. The
# BatchEnsemble baselines of [uncertainty-baselines](https://github.com/google/uncertainty-baselines)
# instead tile the *same* rows for every member, and Dustin Tran, one of the paper's authors,
# wrote that this "typically worked a tad better" (uncertainty-baselines issue #188). `bel.fit`
# follows that recipe, and so does every notebook in this series: every member sees the same rows.
# Here, with full-batch training, the members then differ only through their initialisation.
# Notebook [`07_what_batchensemble_buys`](07_what_batchensemble_buys.ipynb) measures both
# protocols side by side.
#
# For each seed and model we keep the logits on the test points and on a grid around the data,
# which section 8 needs; the grid has as many points as the test set, so both reuse one compiled
# forward pass.

# %%
wide_points, wide_grid = bel.data.grid((-3.0, 3.0, -3.0, 3.0), 50)  # 2500 points, like x_test
test_logits, grid_logits = [], []
for seed in SEEDS:
    seed_models = models if seed == SEEDS[0] else make_models(seed)
    for model in seed_models.values():
        bel.fit(model, x_train, y_train, steps=STEPS, learning_rate=LEARNING_RATE)
    test_logits.append({name: bel.predict(m, x_test) for name, m in seed_models.items()})
    grid_logits.append({name: bel.predict(m, wide_points) for name, m in seed_models.items()})
print(f"trained {len(SEEDS)} seeds x {len(models)} models")

# %% [markdown]
# ## 6. Quality on held-out data, seed by seed
#
# Every dot below is one seed; the black bar beside the dots is their mean ± one standard
# deviation. A difference between two models means something only where their dots separate.

# %%
runs = {name: [compare.classification_summary(t[name], y_test) for t in test_logits]
        for name in models}
SCORES = {"accuracy": "accuracy ↑", "member_accuracy": "member accuracy ↑", "nll": "NLL ↓",
          "brier": "Brier ↓", "ece": "ECE ↓", "disagreement": "disagreement",
          "mutual_information": "mutual information"}
plots.plot_over_seeds(runs, list(SCORES), labels=SCORES, ncols=4)

# %% [markdown]
# Read each panel for where the dots separate. The cells below turn the same per-seed numbers
# into verdicts: seed $i$ of one model against seed $i$ of the other, "better" only where the
# mean gap is larger than the gaps' spread over the seeds (a paired test, `bel.compare.seed_gap`),
# otherwise "no measurable difference".


# %%
def per_seed(name, score):
    return [r[score] for r in runs[name]]


def mean_of(name, score):
    return np.mean(per_seed(name, score))


HIGHER_IS_BETTER = {"accuracy": True, "member_accuracy": True, "nll": False, "brier": False,
                    "ece": False}  # fmt: skip


def verdict(a, b, score):
    """seed_gap's verdict on one score, seed i of model a against seed i of model b."""
    return compare.seed_verdict(per_seed(a, score), per_seed(b, score), (a, b),
                                higher_is_better=HIGHER_IS_BETTER[score])  # fmt: skip


# %% tags=["remove-input"]
display(Markdown("**What the dots show**, seed by seed (`bel.compare.seed_gap`: \"better\" only "
                 "where the mean gap is larger than its spread over the seeds):\n\n" + "\n".join(
    f"- {SCORES[score]}: {verdict('BatchEnsemble', 'naive', score)}; "
    f"{verdict('BatchEnsemble', 'single', score)}." for score in HIGHER_IS_BETTER)))

# %% [markdown]
# Read each line against its panel: where the dots of two models overlap, the verdict is "no
# measurable difference", whatever the order of the means. Notice the member accuracy in
# particular: it compares each BatchEnsemble member, on its own, with a whole single network.
# When a member is weaker than a single network, part of BatchEnsemble's disagreement (section
# 8) is members making different mistakes on the data.
#
# ### Calibration: the reliability diagram
#
# ECE compresses calibration into one number; the reliability diagram shows where it comes from.
# Each dot is one of ECE's 15 confidence bins (test points of all seeds pooled), placed at the
# bin's mean confidence and its accuracy; its area is proportional to the number of points in it.
# On the dashed diagonal a model is exactly as right as it is sure; below it, over-confident.

# %%
pooled = {name: np.concatenate([t[name] for t in test_logits], axis=1) for name in models}
labels = np.tile(y_test, len(SEEDS))  # [E, seeds·N, C] logits, one label per pooled point
curves = {name: metrics.reliability_curve(z, labels) for name, z in pooled.items()}
fig = reliability_diagram(curves)
fig.axes[0].set(xlim=(0.48, 1.01), ylim=(0.45, 1.01))  # two classes: confidence >= 0.5
display(fig)

# %%
for name, z in pooled.items():
    p = np.asarray(metrics.ensemble_probs(z))
    confidence, correct = p.max(-1), p.argmax(-1) == labels
    sure = confidence > 0.95
    print(f"{name:14s} {sure.mean():.0%} of the points have confidence > 0.95: mean confidence "
          f"{confidence[sure].mean():.3f}, accuracy {correct[sure].mean():.3f};  below 0.7: mean "
          f"confidence {confidence[~sure & (confidence < 0.7)].mean():.3f}, "
          f"accuracy {correct[~sure & (confidence < 0.7)].mean():.3f}")

# %% [markdown]
# The three curves lie almost on top of each other. All three models are over-confident where
# they are surest, in the biggest dots at the top right, which hold most of the points: accuracy
# falls short of the confidence there by about the same amount for each (the printed lines). The
# small dots at low confidence, near the overlap of the moons, hold few points each and wander
# around the diagonal (a bin with fewer than 10 points would be drawn grey, with its count).
# Whether the models' ECEs differ measurably is in the ECE line of the verdicts above.
#
# ## 7. Time, as ratios to the single model
#
# Two timings per model: one forward pass of all members on the 2500 test points, and one
# training step as `bel.fit` runs it (the mean over 100 steps). On a shared machine a single
# timing is noise: another program can slow one model's run and not the next one's. So the three
# models are timed in turn, round after round (each round in another order), after a warm-up
# round that pays for compilation, and each round divides each model's time by the single
# model's time in that round. The dotted line at $E$ is what running $E$ single models one after
# another would cost.

# %%
ROUNDS = 7
rounds = {name: {"forward": [], "train step": []} for name in models}
for r in range(ROUNDS + 1):  # round 0 is the warm-up (it compiles), not kept
    order = list(models)[r % 3 :] + list(models)[: r % 3]  # every model first in turn
    for name in order:
        seconds = {
            "forward": compare.forward_seconds(models[name], x_test, warmup=0, repeats=5),
            "train step": compare.train_step_seconds(models[name], x_train, y_train, steps=100,
                warmup=0, repeats=1, learning_rate=LEARNING_RATE)}  # fmt: skip
        for kind, t in seconds.items():
            rounds[name][kind] += [t] if r > 0 else []
rounds = {n: {k: np.array(t) for k, t in kinds.items()} for n, kinds in rounds.items()}
ratios = {n: {k: t / rounds["single"][k] for k, t in kinds.items()} for n, kinds in rounds.items()}

# %%
fig = style.figure(6.5, 2.8)
ax = fig.subplots()
grouped_seed_dots({kind: {n: ratios[n][kind] for n in ["BatchEnsemble", "naive"]}
                   for kind in ["forward", "train step"]}, ax=ax, reference=1.0,
                  reference_label="single model", ylabel="time / single model's\n(a dot per round)",
                  legend=False)  # fmt: skip
ax.axhline(E, color="0.4", lw=0.8, ls=":", label=f"{E} single models in a row")
ax.legend(loc="upper left", fontsize=style.MIN_FONT_SIZE)
display(fig)

# %%
def speed(kind):
    """BatchEnsemble against naive, round by round (a paired test on the log times)."""
    be, nv = rounds["BatchEnsemble"][kind], rounds["naive"][kind]
    gap = compare.seed_gap(np.log(be), np.log(nv), higher_is_better=False)
    verdict = {"better": "BatchEnsemble is faster", "worse": "BatchEnsemble is slower",
               "no measurable difference": "no measurable difference"}[gap.verdict]
    return (f"BatchEnsemble / naive = {np.median(be / nv):.2f} (rounds from "
            f"{(be / nv).min():.2f} to {(be / nv).max():.2f}): {verdict}, BatchEnsemble faster "
            f"in {gap.wins} of {gap.seeds} rounds")


speeds = {kind: speed(kind) for kind in ["forward", "train step"]}
display(Markdown(f"**On this machine, {ROUNDS} rounds:**\n"
                 + "\n".join(f"- **{kind}:** {text}." for kind, text in speeds.items())))

# %% [markdown]
# How to read these ratios. Both ensembles do the same number of multiply-adds: each BatchEnsemble
# member still pushes its own copy of the batch through a full-size layer. So whatever gap the cell
# above reports between the two ensembles comes from how the work is laid out, not from less
# arithmetic: BatchEnsemble runs one large matrix product with elementwise scaling around it, the
# naive ensemble one batched product over four small kernels, and a CPU library may run one of the
# two layouts faster; fixed per-call overheads, which dominate such a tiny network, and noise add to
# it (the rounds' spread shows how far). The paper's test-time speed-up is measured against
# the alternative of computing the members one after another: its Section 3.1 ("Ensembling during
# testing") tiles the batch so that one forward pass serves all members, which "eliminates the need
# to calculate the output of each ensemble member sequentially", and its Figure 1 plots test time
# and memory relative to a single model. Against a naive ensemble that is *already* vectorised, as
# here, there is no arithmetic to save; what BatchEnsemble saves for certain is memory.
#
# ## 8. Where do the members disagree: on the data or away from it?
#
# An ensemble should "know when it doesn't know": its members should agree where training data
# pin the answer down and disagree away from them. To say where "the data" are, use the distance
# to the nearest training point, $d(x) = \min_n \lVert x - x_n \rVert_2$
# (`metrics.nearest_distance`). A fresh point from the data distribution lies within $\tau$ of a
# training point 95% of the time, with $\tau$ measured on the test points; "on the data" is
# $d(x) \le \tau$, "away" is $d(x) > 5\tau$. (A bounding box of the data would not do: its corners
# are empty.)

# %%
ensembles = ["BatchEnsemble", "naive"]
distance = np.asarray(metrics.nearest_distance(wide_points, x_train))
tau = float(np.quantile(metrics.nearest_distance(x_test, x_train), 0.95))
on_data, away = distance <= tau, distance > 5 * tau
mutual_info = [{n: np.asarray(metrics.mutual_information(g[n])) for n in ensembles}
               for g in grid_logits]
for name in ensembles:
    for run, mi in zip(runs[name], mutual_info, strict=True):
        run["MI on data"], run["MI away"] = mi[name][on_data].mean(), mi[name][away].mean()
print(f"tau = {tau:.3f}: {on_data.sum()} grid points on the data, {away.sum()} away")

# %% [markdown]
# The maps show the mutual information of seed 0's ensembles (the single model's is zero by
# construction: it has no second opinion); the dashed white line encloses the points within
# $\tau$ of the data. The right panel averages it by distance, one thin line per seed and a thick
# line for the mean over seeds.

# %%
edges = np.linspace(0, distance.max(), 13)  # 12 distance bins; mean MI in each, per seed
centres, which = (edges[:-1] + edges[1:]) / 2, np.digitize(distance, edges[1:-1])
by_distance = {n: np.array([[mi[n][which == b].mean() for b in range(12)] for mi in mutual_info])
               for n in ensembles}

axes = style.figure(9, 3.0).subplots(1, 3, width_ratios=[1, 1, 1.25])
fig = plots.plot_uncertainty_maps({n: mutual_info[0][n] for n in ensembles}, wide_grid, x_train,
                            y_train, label="mutual information", region=on_data, axes=axes[:2])
for name, curves in by_distance.items():
    axes[2].plot(centres, curves.T, color=plots.model_color(name), lw=0.6)
    axes[2].plot(centres, curves.mean(0), color=plots.model_color(name), lw=2.2, label=name)
axes[2].axvline(tau, color="black", ls="--", lw=0.8, label=f"τ = {tau:.2f}")
axes[2].set(xlabel="distance to nearest training point", ylabel="mean MI", title="MI by distance")
axes[2].legend()
display(fig)

# %%
plots.plot_over_seeds({n: runs[n] for n in ensembles}, ["disagreement", "MI on data", "MI away"],
                      labels={"disagreement": "disagreement (test points)"}, ncols=3)

# %%
be_on, nv_on = mean_of("BatchEnsemble", "MI on data"), mean_of("naive", "MI on data")
be_away, nv_away = mean_of("BatchEnsemble", "MI away"), mean_of("naive", "MI away")
mi_on, mi_away = (
    compare.seed_verdict(per_seed("BatchEnsemble", key), per_seed("naive", key),
                         ("BatchEnsemble", "naive"), better="higher")
    for key in ("MI on data", "MI away")
)  # fmt: skip

# %% tags=["remove-input"]
display(Markdown(
    f"**Mutual information on the data:** {mi_on}. **Away from the data:** {mi_away}. From on "
    f"to away, BatchEnsemble's mean MI grows {be_away / be_on:.1f}×, the naive ensemble's "
    f"{nv_away / nv_on:.1f}×."))

# %% [markdown]
# An ensemble should disagree little where the data settle the answer and much where they do
# not; the two lines above say how each ensemble does on each side. The right panel of the
# figure shows how MI changes with distance: the thick lines are the means over seeds, the thin
# ones single seeds. The maps show where the disagreement away from the data sits: in *wedges*
# where the members' decision boundaries fan out. ReLU networks extrapolate along straight lines,
# so where all members extrapolate the same way they agree, confidently, far from any data. Every
# BatchEnsemble member is the same $W$ with its rows and columns rescaled, and extrapolates much
# like the others.
#
# Weight space says the same. The mean pairwise cosine similarity of the members' effective
# weights, layer by layer (`metrics.mean_pairwise_cosine`; 1 means the same direction):


# %%
def layer_cosines(model):
    """Mean pairwise cosine of the members' effective weights, one number per linear layer."""
    layers = [layer for layer in model.layers if hasattr(layer, "effective_weights")]
    return [round(float(metrics.mean_pairwise_cosine(k.effective_weights())), 2) for k in layers]


for name in ensembles:
    print(f"{name:14s} weight cosine per layer, seed 0: {layer_cosines(models[name])}")

# %% [markdown]
# Independent networks are close to orthogonal; BatchEnsemble members are strongly aligned,
# because they share $W$. (With no spread in the initial $r, s$ they would be identical and stay
# so: notebook 01, section 5, shows that collapse.)
#
# ### What each member sees: decision maps
#
# Each panel shows one model's probability of class 1 (blue for class 0, through white, to orange
# for class 1; the scale is at the bottom left) on a grid around the data, with the decision
# boundary in black: the single model at the top left, then, row by row, two of the four members
# and the mean of each ensemble (seed 0).

# %% tags=["hide-input"]
points, grid = bel.data.grid((-2.0, 2.0, -1.6, 1.6), 50)
SHOWN = (0, 1)  # two of the E members, then the ensemble mean
mosaic = [["single"] + [f"BatchEnsemble {i}" for i in (*SHOWN, "mean")],
          ["scale"] + [f"naive {i}" for i in (*SHOWN, "mean")]]
fig = style.figure(9, 4.4)
panels = fig.subplot_mosaic(mosaic)
for name, model in models.items():
    probs = metrics.member_probs(bel.predict(model, points))
    keys = ["single"] if name == "single" else [f"{name} {i}" for i in (*SHOWN, "mean")]
    plots.plot_decision_maps(probs, grid, x_train, y_train, axes=[panels[k] for k in keys],
                             members=SHOWN)  # the mean panel averages all E members
    panels[keys[0]].set_ylabel(name)
panels["scale"].axis("off")  # this slot holds the colour scale of every panel
fig.colorbar(panels["single"].images[0], cax=panels["scale"].inset_axes([0.05, 0.55, 0.9, 0.1]),
             orientation="horizontal", label="p(class 1)")
display(fig)

# %% [markdown]
# Along the band where the two moons overlap, all the boundaries, the single model's and every
# member's, run roughly the same way: that is where the data pin them down. They differ in how
# they leave the data: where the members' boundaries run off in different directions, the
# ensemble mean turns pale (unsure), while the single model on the left is sure almost
# everywhere.
#
# ## 9. Regression with a gap
#
# Now a 1-D regression, $y = \sin(3x) + x/2 + \varepsilon$ on $[-1, 1]$ with no training data in
# the gap $(-0.5, 0.5)$, trained with squared error for every seed. A good ensemble agrees on the
# data and spreads out in the gap and beyond $[-1, 1]$. The spread at $x$ is the standard
# deviation of the members' predictions there.
#
# One shortcut: a naive ensemble *is* $E$ independently trained single networks (each member's
# term of the loss depends only on its own weights, and Adam's steps do not change with the $1/E$
# in front, up to its tiny $\epsilon$), so the single model here is member 0 of the naive
# ensemble. That saves compiling one more network.

# %%
GAP = (-0.5, 0.5)
x_reg, y_reg = bel.data.gap_regression(64, gap=GAP, seed=0)
x_reg_test, y_reg_test = bel.data.gap_regression(300, gap=GAP, seed=1)
x_plot = np.linspace(-1.5, 1.5, 300, dtype=np.float32)[:, None]  # as many points as the test set
reg_preds, reg_test_preds = [], []
for seed in SEEDS:
    pair = {n: m for n, m in make_models(seed, 1, 1).items() if n != "single"}
    for model in pair.values():
        bel.fit(model, x_reg, y_reg, loss="mse", steps=STEPS, learning_rate=LEARNING_RATE)
    for out, x in ((reg_preds, x_plot), (reg_test_preds, x_reg_test)):
        preds = {n: np.asarray(bel.predict(m, x)) for n, m in pair.items()}
        out.append({"single": preds["naive"][:1], **preds})

# %% tags=["hide-input"]
fig = style.figure(9, 2.8)
axes = fig.subplots(1, 3, sharey=True)
for ax, (name, preds) in zip(axes, reg_preds[0].items(), strict=True):
    plots.plot_regression_members(x_plot, preds, x_reg, y_reg, gap=GAP, ax=ax, title=name,
                                  color=plots.model_color(name))
fig.legend(*axes[1].get_legend_handles_labels(), loc="outside right center")
display(fig)

# %% [markdown]
# The single model draws one confident curve through the gap, with no hint that it is guessing
# there. In both ensembles the members lie on top of each other where there are data and fan out
# in the gap and beyond $[-1, 1]$ (seed 0 shown). The dots below measure how much, over all
# seeds: the error of the ensemble mean on held-out points (outside the gap, like the training
# data) and the members' spread on the data ($d(x) \le \tau$), in the gap and beyond $[-1, 1]$
# (both farther than $\tau$).

# %%
reg_distance = np.asarray(metrics.nearest_distance(x_plot, x_reg))
reg_tau = float(np.quantile(metrics.nearest_distance(x_reg_test, x_reg), 0.95))
x1 = x_plot[:, 0]
regions = {"spread on data": reg_distance <= reg_tau,
           "spread in gap": (x1 > GAP[0]) & (x1 < GAP[1]) & (reg_distance > reg_tau),
           "spread beyond": (np.abs(x1) > 1) & (reg_distance > reg_tau)}
reg_runs = {name: [] for name in reg_preds[0]}
for preds, test_preds in zip(reg_preds, reg_test_preds, strict=True):
    for name in reg_runs:
        spread = preds[name][..., 0].std(axis=0)
        row = {region: spread[mask].mean() for region, mask in regions.items()}
        row["test RMSE"] = compare.regression_summary(test_preds[name], y_reg_test)["rmse"]
        reg_runs[name].append(row)
plots.plot_over_seeds(reg_runs, ["test RMSE", *regions], ncols=4)

# %%
def reg_verdict(key, better="higher", higher_is_better=True):
    a, b = ([r[key] for r in reg_runs[n]] for n in ("BatchEnsemble", "naive"))
    return compare.seed_verdict(a, b, ("BatchEnsemble", "naive"), better=better,
                                higher_is_better=higher_is_better)  # fmt: skip


rmse = {n: [r["test RMSE"] for r in rs] for n, rs in reg_runs.items()}


# %% tags=["remove-input"]
display(Markdown("\n".join([
    f"- Spread on the data: {reg_verdict('spread on data')}.",
    f"- Spread in the gap: {reg_verdict('spread in gap')}.",
    f"- Spread beyond [−1, 1]: {reg_verdict('spread beyond')}.",
    "- Test RMSE: " + "; ".join(
        compare.seed_verdict(rmse["BatchEnsemble"], rmse[other], ("BatchEnsemble", other),
                             higher_is_better=False) for other in ("single", "naive")) + ".",
])))  # fmt: skip

# %% [markdown]
# Compare these lines with the classification of section 8: the regression asks the same
# question, on the data or away from it, with the spread in place of the mutual information.
# Inside the narrow gap there are data on both sides; beyond $[-1, 1]$ there are data on one
# side only, and that is where straight-line extrapolation lets the members run apart, or not.
#
# ## 10. Conclusions
#
# Each conclusion below is computed from the per-seed numbers above; the verdicts are
# `bel.compare.seed_gap`'s.

# %% tags=["remove-input"]
spread_beyond = reg_verdict("spread beyond")
display(Markdown("\n".join([
    f"- **Where the members disagree.** Mutual information on the data: {mi_on}; away from it: "
    f"{mi_away}. Regression spread beyond the data: {spread_beyond}.",
    f"- **Quality.** NLL: {verdict('BatchEnsemble', 'naive', 'nll')}; "
    f"{verdict('BatchEnsemble', 'single', 'nll')}. Accuracy: "
    f"{verdict('BatchEnsemble', 'naive', 'accuracy')}; "
    f"{verdict('BatchEnsemble', 'single', 'accuracy')}. ECE: "
    f"{verdict('BatchEnsemble', 'naive', 'ece')}; {verdict('BatchEnsemble', 'single', 'ece')}.",
    f"- **Memory** (the same in every seed). BatchEnsemble stores "
    f"{be_params / params['naive']:.0%} of the naive ensemble's parameters, "
    f"{be_params / params['single']:.1f}× a single model.",
    f"- **Time** (this machine, {ROUNDS} rounds). Forward: {speeds['forward']}. Training step: "
    f"{speeds['train step']}.",
])))

# %% [markdown]
# How to read them:
#
# - **Where the members disagree** is what ensembles are usually bought for: "knowing when you
#   don't know". An ensemble does that well when its members agree on the data and disagree away
#   from it; the first line says how far each ensemble does, on this toy plane.
# - **Quality** differences between the three models are small next to their seed-to-seed
#   spread on most scores; the verdicts say which ones are not.
# - **Memory** is BatchEnsemble's one seed-independent win: far fewer parameters than the naive
#   ensemble, though not the paper's near-single-model cost at this small width (exercise 2).
# - **Time:** both ensembles do the same arithmetic, so any gap between them in section 7 comes
#   from layout and overheads on this machine. The paper's speed-up is against members run one
#   after another (Section 3.1, Figure 1), not against a vectorised naive ensemble.
#
# **How this fits with the other notebooks.** Everything here is one setting: a 2-D toy plane, a
# small network, the default $r, s$ initialisation $\mathcal{N}(1, 0.5^2)$ (exercise 1 turns that
# knob) and every member seeing the same rows. On real digits (notebook
# [06](06_digits_under_shift.ipynb)) BatchEnsemble's members turn out far less diverse than
# independent networks, as the field reports on image benchmarks; notebook
# [03](03_diversity_explorer.ipynb) shows that how diverse they start is set by the
# initialisation. Notebook [`07_what_batchensemble_buys`](07_what_batchensemble_buys.ipynb) puts
# these settings side by side, with the other training protocol, and says when BatchEnsemble's
# uncertainty is worth having.

# %% [markdown]
# ## Exercises
#
# Each exercise has a cell to edit and a check cell that says "correct" or what is still off; the
# checks can be re-run as often as you like. Solutions are in `notebooks/solutions/`; to see one,
# type e.g. `%load solutions/02_ex1_diversity_knob.py` into a new cell and run it. (The
# parameter count by hand is exercise 3 of [notebook 01](01_effective_weights.ipynb).)
#
# ### Exercise 1 · Turn the diversity knob up
#
# Retrain the BatchEnsemble with fast weights drawn with twice the default spread,
# $r, s \sim \mathcal{N}(1, 1)$. **Predict first**, and write your prediction down in the cell:
# will the members' mean weight cosine (averaged over the layers) go `"up"` or `"down"`? Then set
# `r_std = s_std = 1.0` and run the cells. The check compares your prediction with what happened.
# (Solution: `solutions/02_ex1_diversity_knob.py`.)

# %%
my_prediction = None  # "up" or "down", written before you change r_std and s_std
r_std = s_std = 0.5  # the default; set both to 1.0
knob = make_models(SEEDS[0], r_std=r_std, s_std=s_std)["BatchEnsemble"]
bel.fit(knob, x_train, y_train, steps=STEPS, learning_rate=LEARNING_RATE)
knob_nll = compare.classification_summary(bel.predict(knob, x_test), y_test)["nll"]

# %%
default_cos = np.mean(layer_cosines(models["BatchEnsemble"]))
knob_cos = np.mean(layer_cosines(knob))
if my_prediction not in ("up", "down"):
    print('not yet: set my_prediction to "up" or "down" (before you change r_std and s_std)')
elif r_std <= 0.5 or s_std <= 0.5:
    print(f'prediction recorded: "{my_prediction}". Now set r_std = s_std = 1.0 and run again.')
else:
    happened = "down" if knob_cos < default_cos else "up"
    print(f"mean weight cosine: {default_cos:.2f} at std 0.5, {knob_cos:.2f} at std {r_std}"
          f" ({happened}); NLL {runs['BatchEnsemble'][0]['nll']:.3f} -> {knob_nll:.3f},"
          f" naive ensemble {runs['naive'][0]['nll']:.3f}")
    print("correct: your prediction matches the measurement" if my_prediction == happened else
          f'not what happened: you predicted "{my_prediction}", the cosine went {happened}. '
          "Why? Larger spread rescales the rows and columns of W more differently per member.")

# %% [markdown]
# ### Exercise 2 · When does BatchEnsemble approach a single model's size?
#
# With $E = 4$, 25% of the naive ensemble's parameters would be the size of one single network.
# For an MLP $2 \to H \to H \to 2$, find the smallest width $H$ among 16, 32, 64, 128, 256, 512
# at which BatchEnsemble stores at most 30% of the naive ensemble's parameters. Count with
# `compare.parameter_count(nnx.eval_shape(lambda: ...))` (instant, even for wide layers), or with
# the formula of notebook 01, section 6. (Solution: `solutions/02_ex2_width.py`.)

# %%
smallest_width = None  # your answer, one of WIDTHS
WIDTHS = (16, 32, 64, 128, 256, 512)


# %%
def ratio_at(width):
    """BatchEnsemble's parameters / the naive ensemble's, for hidden layers of `width` units."""
    count = lambda convert: compare.parameter_count(nnx.eval_shape(  # noqa: E731
        lambda: convert(bel.mlp(2, 2, hidden=(width, width), rngs=0), E, rngs=1)))
    return count(bel.batchensemble) / count(bel.naive_ensemble)


if smallest_width not in WIDTHS:
    print(f"not yet: set smallest_width to one of the widths {WIDTHS}, got {smallest_width!r}.")
elif ratio_at(smallest_width) <= 0.30 and all(ratio_at(w) > 0.30 for w in WIDTHS
                                                if w < smallest_width):
    print(f"correct: at H = {smallest_width}, BatchEnsemble holds {ratio_at(smallest_width):.0%} "
          "of the naive parameters; the per-member r, s and bias matter less as layers widen.")
else:
    print(f"not yet: at H = {smallest_width} the ratio is {ratio_at(smallest_width):.0%}; "
          "look for the smallest width where it is <= 30%.")

# %% [markdown]
# ## Summary
#
# - BatchEnsemble's members share $W$ and differ by rank-one rescalings $r_i s_i^\top$. Where
#   they disagree, on the data or away from it, is measured by the distance to the nearest training
#   point; section 10 states, from the per-seed numbers, how the two ensembles compare on each side
#   on this toy plane.
# - A difference between two models counts only where it is larger than its spread over the seeds
#   (`bel.compare.seed_gap`): read comparisons from the per-seed dots, never from one run.
# - BatchEnsemble saves memory for certain (here less than half of the naive ensemble, far more
#   for wide layers); time against a vectorised naive ensemble is a matter of layout and overheads.
# - A reliability diagram shows where ECE comes from: bins below the diagonal are over-confident.
# - Every member here sees the same rows (`bel.fit`'s default, the uncertainty-baselines recipe);
#   the paper splits each batch among the members. Notebook
#   [`07_what_batchensemble_buys`](07_what_batchensemble_buys.ipynb) compares the two and puts
#   this notebook's toy results beside the digits of notebook 06 and the field's benchmarks.
#
# ## References
#
# - Y. Wen, D. Tran, J. Ba. *BatchEnsemble: an Alternative Approach to Efficient Ensemble and
#   Lifelong Learning.* ICLR 2020. [arXiv:2002.06715v2](https://arxiv.org/abs/2002.06715v2): the
#   layer and its vectorisation (Section 3.1), its cost (Section 3.2, Figure 1).
# - [google/uncertainty-baselines](https://github.com/google/uncertainty-baselines): the
#   BatchEnsemble recipe `bel.fit` follows (same rows for every member, fast weights at half the
#   learning rate); issue #188 there for the two protocols.
# - B. Lakshminarayanan, A. Pritzel, C. Blundell. *Simple and Scalable Predictive Uncertainty
#   Estimation using Deep Ensembles.* NeurIPS 2017.
#   [arXiv:1612.01474](https://arxiv.org/abs/1612.01474)
# - C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger. *On Calibration of Modern Neural Networks.* ICML
#   2017 (reliability diagrams, ECE). [arXiv:1706.04599](https://arxiv.org/abs/1706.04599)
# - A. Zamyatin, P. Indri, S. Malhotra, T. Gärtner. *Is BatchEnsemble a Single Model? On
#   Calibration and Diversity of Efficient Ensembles.* 2026.
#   [arXiv:2601.16936](https://arxiv.org/abs/2601.16936)
#
# **Next:** [`03_diversity_explorer`](03_diversity_explorer.ipynb): drag sliders and watch the
# members' diversity appear and collapse, with every diversity score defined in depth.
