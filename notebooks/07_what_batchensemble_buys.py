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
# # 07 · What BatchEnsemble buys you, and what it doesn't
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/OWNER/REPO/HEAD?labpath=notebooks/07_what_batchensemble_buys.ipynb)
#
# Notebooks 02, 03 and 06 seem to disagree. Notebook 02 found BatchEnsemble's members disagreeing
# *less* than a naive ensemble's far from the training data of a 2-D toy; notebook 06 found them
# disagreeing *more* than the naive members on digits the models had never seen. The field
# disagrees too: on image benchmarks BatchEnsemble has been called "a single model", on tabular
# data it leads the benchmarks. This notebook puts the field's published numbers next to
# measurements of its own and answers one question: **when is BatchEnsemble's uncertainty good?**
#
# **What you will learn**
# - what the field has measured for BatchEnsemble (their numbers, cited, not re-run here);
# - that "away from the data" means two different things, *near* (unseen classes, mild shift)
#   and *far* (inputs unlike any training image), and how BatchEnsemble fares on each;
# - the two ways to feed members during training (every member the same rows, or each member
#   its own sub-batch, the paper's protocol), measured at equal compute;
# - the TabM recipe (many members that differ only in the first layer) on tabular features;
# - a decision table: BatchEnsemble, a naive ensemble or one model, and at what cost.
#
# **Prerequisites.** Notebooks [`02_batchensemble_vs_naive`](02_batchensemble_vs_naive.ipynb)
# (the scores: accuracy, NLL, ECE, disagreement, mutual information) and
# [`06_digits_under_shift`](06_digits_under_shift.ipynb) (the digits, OOD detection by AUROC).
# **Run time:** about 20 seconds on a 2-core laptop CPU (the last cell prints this run's time).

# %%
# Colab or a fresh machine: install bel from its repository if it is missing (no-op here).
import importlib.util, subprocess, sys  # noqa: E401, I001
if importlib.util.find_spec("bel") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "bel @ git+https://github.com/OWNER/REPO"], check=True)

# %% [markdown]
# ## Setup
#
# One set of constants for the whole notebook. Every digits model is an MLP with two hidden
# layers of `HIDDEN` units, trained by `bel.fit` with Adam for `STEPS` steps on mini-batches of
# `BATCH` images; every ensemble has `E` members (the TabM-style ones `K`); every experiment runs
# once per seed in `SEEDS`. `notice` shows a sentence whose numbers come from the cells above it.

# %%
# %matplotlib inline
import time

START, START_CPU = time.perf_counter(), time.process_time()  # the run time printed at the end

import numpy as np
from IPython.display import Markdown, display

import bel
import bel.plots as plots
from bel import compare, metrics
from bel.plots import style
from bel.recipes import over_seeds, tabm_style

# %%
style.use()
E, K, HIDDEN = 4, 16, (32, 32)
BATCH, STEPS, LEARNING_RATE = 64, 150, 1e-2
SEEDS = (0, 1, 2, 3, 4)


def notice(text):
    display(Markdown(text))


# %% [markdown]
# ## 1. What the field has measured
#
# These are other people's numbers, quoted from their sources; nothing in this section is re-run
# here.
#
# **uncertainty-baselines** (Google's reference implementations; [CIFAR-10 table of
# `baselines/cifar`](https://github.com/google/uncertainty-baselines/tree/main/baselines/cifar)),
# a Wide ResNet-28-10 on CIFAR-10:
#
# | method | accuracy | NLL | ECE | parameters |
# |---|---|---|---|---|
# | one network (deterministic) | 96.0% | 0.159 | 0.0231 | 36.5M |
# | BatchEnsemble, 4 members | 96.3% | 0.136 | 0.0177 | 36.6M |
# | naive (deep) ensemble, 4 members | 96.6% | 0.114 | 0.010 | 146M |
#
# One way to read such a table: of the improvement a naive ensemble brings over one network, what
# share does BatchEnsemble get, and for what share of the naive ensemble's extra parameters?

# %%
UB = {"single": {"accuracy": 96.0, "NLL": 0.159, "ECE": 0.0231, "params (M)": 36.5},
      "BatchEnsemble": {"accuracy": 96.3, "NLL": 0.136, "ECE": 0.0177, "params (M)": 36.6},
      "naive": {"accuracy": 96.6, "NLL": 0.114, "ECE": 0.010, "params (M)": 146.0}}


def share_of_gap(single, batchensemble, naive):
    """How much of the way from one network to the naive ensemble BatchEnsemble gets (1 = all)."""
    return (batchensemble - single) / (naive - single)


ub_share = {k: share_of_gap(UB["single"][k], UB["BatchEnsemble"][k], UB["naive"][k]) for k in UB["single"]}

# %% tags=["remove-input"]
notice(
    f"On CIFAR-10, BatchEnsemble gets {ub_share['accuracy']:.0%} of the naive ensemble's gain in "
    f"accuracy, {ub_share['NLL']:.0%} of its gain in NLL and {ub_share['ECE']:.0%} of its gain in "
    f"ECE, for {ub_share['params (M)']:.1%} of its extra parameters. A good deal, but about half "
    "an ensemble, not a whole one."
)

# %% [markdown]
# Three later studies disagree about how far that carries:
#
# - **Zamyatin et al. (2026), "Is BatchEnsemble a Single Model?"**
#   ([arXiv:2601.16936](https://arxiv.org/abs/2601.16936)): on CIFAR-10, CIFAR-10-C and SVHN,
#   BatchEnsemble underperforms deep ensembles and tracks a single model in accuracy,
#   calibration and out-of-distribution detection; in a controlled study on MNIST its members
#   are near-identical in function and in parameter space.
# - **Blørstad et al. (2026)** ([arXiv:2601.21581](https://arxiv.org/abs/2601.21581)), the
#   counterpoint: on tabular and time-series tasks BatchEnsemble matches deep ensembles'
#   uncertainty and beats MC dropout.
# - **TabM** (Gorishniy et al., ICLR 2025, [arXiv:2410.24210](https://arxiv.org/abs/2410.24210),
#   code [yandex-research/tabm](https://github.com/yandex-research/tabm)): an MLP made a
#   BatchEnsemble leads tabular deep-learning benchmarks. Its recipe differs from the image one:
#   many members ($k = 32$), members that differ *only in the first layer* at initialisation
#   (random signs), the mean of the members' losses as the objective, and probabilities averaged
#   at test time. Its authors find the members "weak individually, but powerful collectively".
#
# The notebooks of this course show the same split. Notebook 02 (two moons, 2-D) measured
# "away from the data" as *far* from every training point, and found BatchEnsemble's members
# disagreeing less there than independent networks. Notebook 06 (digits) measured it on digits the
# models never saw, and found BatchEnsemble's members disagreeing more. The next section tests
# whether the *kind* of "away" explains both.

# %% [markdown]
# ## 2. Near and far from the data
#
# ### Seven test sets at increasing distance
#
# The digits of notebook 06: scikit-learn's 8×8 images, digits 8 and 9 held out of training.
# Besides the clean test set, six sets of inputs the models were not trained on: two mild shifts
# of the test images (rotated 30°, Gaussian pixel noise σ = 0.5), the **unseen digits** 8 and 9,
# and three kinds of images unlike any digit: **pixel noise** (every pixel uniform in [0, 1]),
# **inverted** digits ($1 - x$: white strokes on black) and **brightened** digits ($3x$, strokes
# three times as bright as any training pixel).
#
# How far is each set from the data? As in notebook 02: the distance of an input to its nearest
# training image, $d(x) = \min_n \lVert x - x_n \rVert_2$, in units of $\tau$, the distance within
# which 95% of the clean test images lie.

# %%
digits = bel.data.digits(held_out=(8, 9), seed=0)
C, N = len(digits.classes), len(digits.x_test)
test = digits.x_test
SETS = {"test": test, "rotated 30°": bel.data.shift_digits(test, "rotate", 30, seed=1),
        "noise σ=0.5": bel.data.shift_digits(test, "noise", 0.5, seed=1),
        "unseen digits": digits.x_ood[:N],
        "pixel noise": np.random.default_rng(0).uniform(0, 1, test.shape).astype(np.float32),
        "inverted": 1 - test, "brightened ×3": 3 * test}
distance = {k: np.asarray(metrics.nearest_distance(v, digits.x_train)) for k, v in SETS.items()}
tau = float(np.quantile(distance["test"], 0.95))
far_from_data = {k: float(np.median(d) / tau) for k, d in distance.items()}
SETS = dict(sorted(SETS.items(), key=lambda kv: far_from_data[kv[0]]))  # nearest first
x_eval = np.concatenate(list(SETS.values()))  # one array: one compiled forward pass per model
print("median distance / τ:", ", ".join(f"{k} {v:.1f}" for k, v in far_from_data.items()))

# %% tags=["hide-input"]
fig = style.figure(6.4, 5.0)
axes = fig.subplots(len(SETS), 8)
for row, (label, images) in zip(axes, SETS.items(), strict=True):
    for ax, image in zip(row, images[:8], strict=True):
        ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([]), ax.set_yticks([])
    row[0].set_ylabel(f"{label}\n{far_from_data[label]:.1f} τ", rotation=0, ha="right",
                      va="center")
display(fig)

# %%
NEAR = [k for k in SETS if k != "test" and far_from_data[k] < 2]
FAR = [k for k in SETS if far_from_data[k] >= 2]
notice(
    f"Rows are ordered by median distance (in τ = {tau:.2f}). Within 2 τ lie "
    + ", ".join(NEAR) + ": **near** the data, sharing its strokes. Beyond 2 τ lie "
    + ", ".join(FAR) + ": **far** from every training image. The unseen digits, notebook 06's "
    f"out-of-distribution set, are near ({far_from_data['unseen digits']:.1f} τ)."
)

# %% [markdown]
# ### Three models per seed
#
# As in notebooks 02 and 06: **single** is one MLP, **BatchEnsemble** its `bel.batchensemble`
# conversion ($E = 4$, $r, s \sim \mathcal N(1, 0.5^2)$), **naive** its `bel.naive_ensemble`
# conversion ($E$ independent networks). A naive ensemble *is* $E$ single networks trained side
# by side (each member's loss term depends only on its own weights), so the single model of a seed
# is member 0 of its naive ensemble (notebook 06 explains the shortcut).
#
# `measure` turns an ensemble's logits on `x_eval` into every score used below: the clean-test
# scores of `compare.classification_summary`, and for every other set the mean mutual information
# (the members' disagreement, $\mathrm{MI} = H[\bar p] - \frac1E\sum_i H[p_i]$) and the AUROC of
# telling that set from the clean test set by the predictive entropy $H[\bar p]$ (0.5 is chance,
# 1 perfect; notebook 06 defines both).

# %%
def measure(z):
    """Every score of an ensemble from its logits z [E, len(x_eval), C]."""
    z = np.asarray(z)
    row = compare.classification_summary(z[:, :N], digits.y_test)
    entropy, mi = np.asarray(metrics.predictive_entropy(z)), np.asarray(metrics.mutual_information(z))
    for b, name in enumerate(SETS):
        part = slice(b * N, (b + 1) * N)
        row[f"MI {name}"] = float(mi[part].mean())
        if name != "test":
            row[f"AUROC {name}"] = float(metrics.auroc(entropy[:N], entropy[part]))
    return row


# %% [markdown]
# Training: `bel.fit` with mini-batches of `BATCH` images for `STEPS` steps, every member on the
# same rows (its default, the protocol section 3 examines). `run` trains one method for one seed
# and keeps its logits; `over_seeds` (from `bel.recipes`) calls it for every seed and gathers each
# score into an array with one entry per seed.

# %%
logits, models = {}, {}  # (method, seed) -> member logits on x_eval / the trained model


def run(method, convert, **fit_options):
    def one_seed(seed):
        model = convert(bel.mlp(64, C, hidden=HIDDEN, rngs=seed), seed + 100)
        options = {"batch_size": BATCH, "learning_rate": LEARNING_RATE} | fit_options
        bel.fit(model, digits.x_train, digits.y_train, steps=STEPS, seed=seed, **options)
        logits[method, seed] = np.asarray(bel.predict(model, x_eval))
        models[method, seed] = model
        return measure(logits[method, seed])
    return over_seeds(one_seed, SEEDS)


# %%
results = {"BatchEnsemble": run("BatchEnsemble", lambda m, s: bel.batchensemble(m, E, rngs=s)),
           "naive": run("naive", lambda m, s: bel.naive_ensemble(m, E, rngs=s))}
for seed in SEEDS:  # the single network of each seed: member 0 of its naive ensemble
    logits["single", seed] = logits["naive", seed][:1]
results["single"] = over_seeds(lambda s: measure(logits["single", s]), SEEDS)
MAIN = ["single", "BatchEnsemble", "naive"]
print({name: f"accuracy {r['accuracy'].mean():.3f}" for name, r in results.items()})

# %% [markdown]
# ### The toy, measured the same way
#
# Notebook 02's setting: two noisy moons, 200 training points, the same three architectures on
# 2-D inputs, full-batch training. Here "on the data" is the test points, "near" the points of a
# grid between $\tau$ and $3\tau$ from the nearest training point, "far" those beyond $5\tau$
# (notebook 02's "away").

# %%
x_moons, y_moons = bel.data.two_moons(200, noise=0.3, seed=0)
x_moons_test, _ = bel.data.two_moons(500, noise=0.3, seed=1)
grid_points, _ = bel.data.grid((-3.0, 3.0, -3.0, 3.0), 50)
d_grid = np.asarray(metrics.nearest_distance(grid_points, x_moons))
tau_moons = float(np.quantile(metrics.nearest_distance(x_moons_test, x_moons), 0.95))
BANDS = {"on (test points)": np.arange(500),
         "near (τ to 3τ)": 500 + np.flatnonzero((d_grid > tau_moons) & (d_grid <= 3 * tau_moons)),
         "far (beyond 5τ)": 500 + np.flatnonzero(d_grid > 5 * tau_moons)}
x_moons_eval = np.concatenate([x_moons_test, grid_points])


# %%
def moons_seed(seed):
    base = bel.mlp(2, 2, hidden=HIDDEN, rngs=seed)
    row = {}
    for name, model in [("BatchEnsemble", bel.batchensemble(base, E, rngs=seed + 100)),
                        ("naive", bel.naive_ensemble(base, E, rngs=seed + 100))]:
        bel.fit(model, x_moons, y_moons, steps=300, learning_rate=1e-2)
        mi = np.asarray(metrics.mutual_information(bel.predict(model, x_moons_eval)))
        row |= {(name, band): mi[rows].mean() for band, rows in BANDS.items()}
    return {f"{name} | {band}": v for (name, band), v in row.items()}


moons = over_seeds(moons_seed, SEEDS)

# %% [markdown]
# ### Where BatchEnsemble's members disagree more than independent networks
#
# For every seed, the ratio of BatchEnsemble's mean mutual information to the naive ensemble's on
# each set: above 1, BatchEnsemble's members disagree more than independent networks do. The
# x axis runs from on the data to far from it (in τ for the digits).

# %% tags=["hide-input"]
def ratio_panel(ax, ratios, title):
    for i, (label, r) in enumerate(ratios.items()):
        plots.seed_dots(ax, i, r, color=plots.model_color("BatchEnsemble"))
    ax.axhline(1, color="0.3", ls="--", lw=0.8)
    ax.set_yscale("log", base=2)
    ax.set_xticks(range(len(ratios)), list(ratios), rotation=30, ha="right")
    ax.set(title=title, ylabel="MI: BatchEnsemble / naive")


digit_ratio = {f"{k} ({far_from_data[k]:.1f}τ)": results["BatchEnsemble"][f"MI {k}"]
               / results["naive"][f"MI {k}"] for k in SETS}
moons_ratio = {b: moons[f"BatchEnsemble | {b}"] / moons[f"naive | {b}"] for b in BANDS}
fig = style.figure(9, 3.4)
left, right = fig.subplots(1, 2, width_ratios=[3, 7], sharey=True)
ratio_panel(left, moons_ratio, "two moons (notebook 02)")
ratio_panel(right, digit_ratio, "digits (notebook 06)")
display(fig)

# %%
def more_or_less(a, b):
    """Verdict on 'a disagrees more than b' from per-seed numbers."""
    gap = compare.seed_gap(a, b)
    return {"better": "more", "worse": "less"}.get(gap.verdict, "no measurably different") , gap


mi_verdict = {k: more_or_less(results["BatchEnsemble"][f"MI {k}"], results["naive"][f"MI {k}"])
              for k in SETS}
moons_verdict = {b: more_or_less(moons[f"BatchEnsemble | {b}"], moons[f"naive | {b}"])
                 for b in BANDS}

# %% tags=["remove-input"]
def said(verdicts):
    return "; ".join(f"{k}: {word} ({g.mean:+.3f} ± {g.spread:.3f} nats, more in {g.wins} of "
                     f"{g.seeds} seeds)" for k, (word, g) in verdicts.items())


notice(
    "BatchEnsemble's members disagree, compared with the naive members, on the two moons: "
    + said(moons_verdict) + ". On the digits: " + said(mi_verdict) + "."
)

# %% [markdown]
# Read the two panels from left to right. On and near the data, BatchEnsemble's members
# disagree more than independent networks; the further out, the smaller that lead, until far
# from the data it is gone or reversed. Both notebooks measured the same curve at different
# points: notebook 06's unseen digits lie *near* the data, where BatchEnsemble's members still
# disagree more; notebook 02's "away" lies *far* from it. A BatchEnsemble member is the shared
# $W$ with its rows and columns rescaled, so away from the data, where only the shared $W$ decides
# how the network extrapolates, the members extrapolate alike.
#
# ### Does the disagreement flag the inputs?
#
# More disagreement is not automatically better: notebook 02 found BatchEnsemble's members
# disagreeing more *on* the data too, where the answer is settled. What matters is whether the
# uncertainty separates the new inputs from the test set. One AUROC per set, model and seed:

# %% tags=["hide-input"]
OTHER = [k for k in SETS if k != "test"]
auroc = {k: {name: results[name][f"AUROC {k}"] for name in MAIN} for k in OTHER}
fig = style.figure(9, 3.2)
plots.grouped_seed_dots({f"{k}\n{far_from_data[k]:.1f}τ": v for k, v in auroc.items()},
                        ax=fig.subplots(), ylabel="AUROC vs clean test (entropy)",
                        reference=0.5, reference_label="chance")
display(fig)

# %%
def versus(a, b, score, higher_is_better=True, among=None):
    """seed_gap of method a against method b on one score (from `among`, default `results`)."""
    among = results if among is None else among
    return compare.seed_gap(among[a][score], among[b][score], higher_is_better=higher_is_better)


auroc_vs = {k: {other: versus("BatchEnsemble", other, f"AUROC {k}") for other in ("single", "naive")}
            for k in OTHER}
shares = {k: share_of_gap(*(results[n][f"AUROC {k}"].mean() for n in MAIN)) for k in OTHER}

# %% tags=["remove-input"]
def line(k):
    s, n = auroc_vs[k]["single"], auroc_vs[k]["naive"]
    means = ", ".join(f"{name} {results[name][f'AUROC {k}'].mean():.3f}" for name in MAIN)
    return (f"- **{k}** ({far_from_data[k]:.1f} τ; {means}): BatchEnsemble is {s.verdict} "
            f"against the single model (ahead in {s.wins} of {s.seeds} seeds) and {n.verdict} "
            f"against the naive ensemble (ahead in {n.wins} of {n.seeds}).")


notice("AUROC of the predictive entropy, mean over seeds:\n" + "\n".join(line(k) for k in OTHER))

# %% [markdown]
# Two things to notice. First, the ranking depends on the set, and the distance explains much of
# it: where BatchEnsemble's members disagree more (near), its AUROC keeps up with the naive
# ensemble's; far out, where they stop disagreeing more, it falls back towards the single model.
# Second, the brightened digits: they lie furthest from the data of all, yet *every* model is
# more confident on them than on the test set (AUROC below 0.5). A ReLU network's logits grow
# along the direction of its input, so all members, independent or not, agree confidently there.
# No ensemble of this kind flags every far input; distance to the data and ensemble disagreement
# are different things.

# %% [markdown]
# ## 3. Two ways to feed the members
#
# A BatchEnsemble trains all members in one pass over a member-major batch. Which rows does
# member $i$ see? Two protocols:
#
# - **same rows** (`members_see="same"`, the default of `bel.fit` and what notebooks 02–06 use):
#   the step's batch of $B$ rows is tiled $E$ times, so every member sees all $B$ rows
#   ($E \cdot B$ rows through the network). This is the uncertainty-baselines recipe. Asked why
#   it departs from the paper ([uncertainty-baselines issue
#   #188](https://github.com/google/uncertainty-baselines/issues/188)), Dustin Tran answered
#   that they "initially tried different sub-batches per ensemble member, but later that tiling
#   to duplicate the same sub-batch typically worked a tad better".
# - **split** (`members_see="split"`, the paper's protocol, [arXiv:2002.06715v2](https://arxiv.org/abs/2002.06715v2)
#   §3.1): the step's batch is divided into $E$ sub-batches, one per member, so each member
#   sees its own rows; its Appendix B notes that this "can encourage diversity as well" (both
#   quoted in the issue above).
#
# **Equal compute.** The cost of a step is the number of rows pushed through the network. So
# "same" with batches of $B$ (tiled to $E \cdot B$ rows) is compared with "split" with batches of
# $E \cdot B$ (cut into $E$ sub-batches of $B$), for the same number of steps: the same arithmetic,
# but under "split" the shared $W$ sees $E$ times more distinct images per step, and each member
# a different quarter of them.

# %%
split = run("BatchEnsemble (split)", lambda m, s: bel.batchensemble(m, E, rngs=s),
            batch_size=E * BATCH, members_see="split")
results["BatchEnsemble (split)"] = split
PROTOCOL_SCORES = {"accuracy": "accuracy ↑", "nll": "NLL ↓", "ece": "ECE ↓",
                   "disagreement": "disagreement (test)", "AUROC unseen digits": "AUROC unseen ↑",
                   "AUROC pixel noise": "AUROC pixel noise ↑"}

# %% tags=["hide-input"]
def as_runs(names, scores, among=None):
    """plot_over_seeds wants, per model, one dict of scores per seed."""
    among = results if among is None else among
    return {n: [{s: among[n][s][i] for s in scores} for i in range(len(SEEDS))] for n in names}


plots.plot_over_seeds(as_runs(["BatchEnsemble", "BatchEnsemble (split)"], PROTOCOL_SCORES),
                      list(PROTOCOL_SCORES), labels=PROTOCOL_SCORES, ncols=6, panel_size=1.5)

# %%
LOWER = {"nll", "ece"}
protocol = {s: versus("BatchEnsemble (split)", "BatchEnsemble", s, s not in LOWER)
            for s in PROTOCOL_SCORES}
notice("**Split against same rows** (BatchEnsemble, equal compute): " + "; ".join(
    f"{label.rstrip(' ↑↓')}: {protocol[s]}" for s, label in PROTOCOL_SCORES.items()) + ".")

# %% [markdown]
# ## 4. Members, initialisation and the TabM recipe on tabular features
#
# An 8×8 digit is also a row of 64 numeric features, and an MLP on it is a tabular model: the
# setting of TabM and of Blørstad et al. Three more BatchEnsembles, each changing one thing:
#
# - **random signs**: $E = 4$, every layer's $r, s$ drawn from $\{-1, +1\}$ (the paper's
#   Appendix B) instead of $\mathcal N(1, 0.5^2)$: the **initialisation**;
# - **BatchEnsemble ($K$)**: $K = 16$ members with the default initialisation: the **number of
#   members**;
# - **TabM-style** (`bel.recipes.tabm_style`): $K = 16$ members that differ only in the first
#   layer at initialisation, member $k$ starting as the base network applied to $x \circ r_k$ with
#   $r_k$ random signs, every later layer starting at $r = s = 1$. Trained as TabM trains (the mean
#   of the members' losses, which `bel.fit` minimises) and averaged as TabM averages
#   (probabilities). TabM itself also gives each member its own output layer and uses $k = 32$,
#   wider layers and early stopping; this is its initialisation and member count, not all of it.

# %%
BIG = f"BatchEnsemble ({K})"
results["random signs"] = run("random signs",
                              lambda m, s: bel.batchensemble(m, E, rngs=s, init="random_sign"))
results[BIG] = run(BIG, lambda m, s: bel.batchensemble(m, K, rngs=s))
results["TabM-style"] = run("TabM-style", lambda m, s: tabm_style(m, K, rngs=s))
TABULAR = ["single", "BatchEnsemble", "random signs", BIG, "TabM-style", "naive"]

# %% [markdown]
# What each one stores, measured from its state (`compare.sizes` counts the arrays of the model;
# `nnx.eval_shape` builds each model as shapes only, so nothing is allocated):

# %%
from flax import nnx  # noqa: E402

CONVERT = {"single": lambda m: m, "BatchEnsemble": lambda m: bel.batchensemble(m, E, rngs=1),
           "random signs": lambda m: bel.batchensemble(m, E, rngs=1, init="random_sign"),
           BIG: lambda m: bel.batchensemble(m, K, rngs=1), "TabM-style": lambda m: tabm_style(m, K, rngs=1),
           "naive": lambda m: bel.naive_ensemble(m, E, rngs=1)}
sizes = compare.sizes({n: nnx.eval_shape(lambda f=f: f(bel.mlp(64, C, hidden=HIDDEN, rngs=0)))
                       for n, f in CONVERT.items()})
members = {"single": 1, "BatchEnsemble": E, "random signs": E, BIG: K, "TabM-style": K, "naive": E}
for name, row in sizes.items():
    row["× single"] = row["params"] / sizes["single"]["params"]
    row["rows per input"] = members[name]
print(compare.format_table(sizes, formats={"KiB": ".1f", "× single": ".2f"}))

# %% [markdown]
# The last column is the arithmetic: every member pushes every input through a full-size network,
# so an ensemble of $E$ costs $E$ times one network's compute at test time, BatchEnsemble or not;
# what BatchEnsemble saves is memory. Now the scores, one dot per seed:

# %% tags=["hide-input"]
TAB_SCORES = {"accuracy": "accuracy ↑", "member_accuracy": "member accuracy ↑", "nll": "NLL ↓",
              "ece": "ECE ↓", "AUROC unseen digits": "AUROC unseen ↑",
              "AUROC pixel noise": "AUROC pixel noise ↑"}
fig = style.figure(9, 5.2)
for ax, (score, label) in zip(fig.subplots(2, 3).ravel(), TAB_SCORES.items(), strict=True):
    for i, name in enumerate(TABULAR):
        colour = style.MODEL_COLORS.get(name, style.MODEL_COLORS["BatchEnsemble"])
        plots.seed_dots(ax, i, results[name][score], color=colour)
    ax.set_xticks(range(len(TABULAR)), TABULAR, rotation=35, ha="right")
    ax.set_title(label)
    ax.grid(axis="y", color="0.9", lw=0.6)
display(fig)

# %%
TAB_VERDICTS = {"accuracy": True, "nll": False, "ece": False, "AUROC unseen digits": True,
                "AUROC pixel noise": True}


def verdicts(a, b):
    return {s: versus(a, b, s, higher) for s, higher in TAB_VERDICTS.items()}


tabm_vs = {other: verdicts("TabM-style", other) for other in ("BatchEnsemble", "naive", BIG)}
signs_vs, big_vs = verdicts("random signs", "BatchEnsemble"), verdicts(BIG, "BatchEnsemble")
collective = {n: results[n]["accuracy"].mean() - results[n]["member_accuracy"].mean() for n in TABULAR}

# %% tags=["remove-input"]
def summary_of(gaps):
    return "; ".join(f"{s} {g.verdict} ({g.mean:+.3f} ± {g.spread:.3f})" for s, g in gaps.items())


notice("\n".join([
    f"- **Initialisation** (random signs against N(1, 0.5²), E = {E}): {summary_of(signs_vs)}.",
    f"- **Members** ({K} against {E}, same initialisation): {summary_of(big_vs)}.",
    f"- **TabM-style** against BatchEnsemble ({E}): {summary_of(tabm_vs['BatchEnsemble'])}.",
    f"- **TabM-style** against the naive ensemble: {summary_of(tabm_vs['naive'])}.",
    f"- **TabM-style** against BatchEnsemble ({K}), the same {K} members and structure, only the "
    f"initialisation differs: {summary_of(tabm_vs[BIG])}.",
    "- **Weak individually, powerful collectively**: accuracy of the ensemble minus its members' "
    "mean accuracy, " + ", ".join(f"{n} {v:+.3f}" for n, v in collective.items()) + ".",
]))

# %% [markdown]
# The TabM recipe changes what the members are. Starting the members apart only in the first
# layer, with signs rather than small rescalings, makes each member a visibly weaker classifier
# on its own (the member-accuracy panel), while the ensemble of them stays as accurate as the
# others: the members make different mistakes, which is what an ensemble needs, and it shows in
# detecting the unseen digits and the pixel noise. The price here is calibration on the clean test
# set (its ECE panel): with this short training the averaged prediction of many disagreeing
# members is less confident than it should be. Read the verdict lines for which of these
# differences are larger than the seeds' spread.

# %% [markdown]
# ## 5. When is BatchEnsemble's uncertainty good? A decision table
#
# Every row is backed by a number measured above (means over the seeds; the verdict compares
# per-seed numbers with their spread, as `compare.seed_gap` does).

# %%
for name, r in results.items():  # one near and one far AUROC per seed: the mean over those sets
    r["AUROC near"] = np.mean([r[f"AUROC {k}"] for k in NEAR], axis=0)
    r["AUROC far"] = np.mean([r[f"AUROC {k}"] for k in FAR], axis=0)
BY_COST = sorted(TABULAR, key=lambda n: (sizes[n]["params"], members[n]))  # cheapest first


def cheapest_good(names, score, higher=True):
    """The first (cheapest) of `names` that no other one beats measurably on `score`."""
    for a in names:
        if all(versus(a, b, score, higher).verdict != "worse" for b in names if b != a):
            return a
    return names[-1]


# %%
NEEDS = {  # what you need: (the score that measures it, higher is better, the candidates)
    "the right class, on data like the training data": ("accuracy", True, BY_COST),
    "honest probabilities on data like the training data": ("nll", False, BY_COST),
    "to flag near inputs (unseen classes, mild shift)": ("AUROC near", True, BY_COST),
    "to flag far inputs (unlike any training input)": ("AUROC far", True, BY_COST),
    "a training protocol for BatchEnsemble": ("AUROC near", True,
                                               ["BatchEnsemble", "BatchEnsemble (split)"]),
}
choice = {need: cheapest_good(names, score, higher) for need, (score, higher, names) in NEEDS.items()}


# %% tags=["remove-input"]
def cost(name):
    if name not in sizes:
        return "as BatchEnsemble"
    return f"{sizes[name]['× single']:.1f}× params, {members[name]}× compute"


rows = ["| you need | choose | measured here (mean over seeds) | cost vs one network |",
        "|---|---|---|---|"]
for need, (score, _, names) in NEEDS.items():
    means = ", ".join(f"{n} {results[n][score].mean():.3f}" for n in names)
    rows.append(f"| {need} | **{choice[need]}** | {score}: {means} | {cost(choice[need])} |")
notice("\n".join(rows))

# %% [markdown]
# How the table is made: for each need, the candidates are ordered from cheapest (fewest
# parameters, then fewest members) to dearest, and the table picks the cheapest one that no other
# candidate beats by more than the seeds' spread. So "one network" wins a row when no ensemble is
# measurably better at that job, and BatchEnsemble wins a row when the naive ensemble is not
# measurably better than it. Far from the data, keep the brightened digits in mind: none of
# these models flags them (section 2), so an ensemble is no substitute for checking that an input
# resembles the training data.

# %% [markdown]
# ## Conclusions
#
# Each line is printed from the numbers measured above; re-run with other seeds and they update.

# %%
near_vs = {o: versus("BatchEnsemble", o, "AUROC near") for o in ("single", "naive")}
far_vs = {o: versus("BatchEnsemble", o, "AUROC far") for o in ("single", "naive")}
nll_vs = {o: versus("BatchEnsemble", o, "nll", higher_is_better=False) for o in ("single", "naive")}
split_vs = {s: versus("BatchEnsemble (split)", "BatchEnsemble", s, s not in LOWER)
            for s in ("AUROC near", "nll")}
tabm_near = versus("TabM-style", "naive", "AUROC near")
far_band = "far (beyond 5τ)"
nll_share = share_of_gap(*(results[n]["nll"].mean() for n in MAIN))

# %% tags=["remove-input"]
notice("\n".join([
    f"- **The field.** On CIFAR-10 (uncertainty-baselines' numbers, not re-run) BatchEnsemble "
    f"gets {ub_share['NLL']:.0%} of a naive ensemble's NLL gain for {ub_share['params (M)']:.1%} of "
    f"its extra parameters; on the digits here it gets {nll_share:.0%} of it (NLL {nll_vs['single'].verdict} "
    f"than one network's, {nll_vs['naive'].verdict} than the naive ensemble's).",
    f"- **Near the data** (unseen digits, rotation, noise) BatchEnsemble's AUROC is "
    f"{near_vs['single'].verdict} than one network's and {near_vs['naive'].verdict} than the "
    f"naive ensemble's ({near_vs['naive']}).",
    f"- **Far from the data** it is {far_vs['single'].verdict} than one network's and "
    f"{far_vs['naive'].verdict} than the naive ensemble's ({far_vs['naive']}); on the two moons its "
    f"members disagree {moons_verdict[far_band][0]} than the naive members beyond 5τ.",
    f"- **Protocol.** Giving each member its own sub-batch (the paper's §3.1) instead of the same "
    f"rows is, at equal compute, {split_vs['AUROC near'].verdict} on near AUROC and "
    f"{split_vs['nll'].verdict} on NLL.",
    f"- **TabM recipe.** {K} members differing only in the first layer's signs are "
    f"{tabm_near.verdict} than the naive ensemble at flagging near inputs ({tabm_near}), with "
    f"{sizes['TabM-style']['params'] / sizes['naive']['params']:.0%} of its parameters.",
]))

# %% [markdown]
# So, **when is BatchEnsemble's uncertainty good?** Near the data: on inputs that share the
# training data's features (new classes of the same kind, mild corruptions) its members disagree
# at least as much as independent networks, and that disagreement flags such inputs. Far from the
# data it tends back towards one network, because its members share the weight that decides how
# the network extrapolates; that is where the image benchmarks and Zamyatin et al. look (their
# OOD sets are other data sets, far from the training images), and where notebook 02 looked. On
# tabular features, with many members that start apart (the TabM recipe), it is a strong
# ensemble, which is where TabM and Blørstad et al. look. In every setting it saves memory, not
# compute: each member still pushes every input through a full-size network.

# %% [markdown]
# ## Exercises
#
# Each exercise has a cell to edit and a check cell that says "correct" or what is still off; the
# checks can be re-run as often as you like. Solutions are in `notebooks/solutions/`; to see one,
# type e.g. `%load solutions/07_ex1_translated_digits.py` into a new cell and run it.
#
# ### Exercise 1 · Is it the distance?
#
# Move every test digit by 2 pixels (`translated`, below). **Predict first**: is this set near or
# far, and will BatchEnsemble's members disagree `"more"`, `"less"` or `"no measurably
# different"` than the naive members on it? Then compute its median distance to the nearest
# training image in units of `tau`, and for every seed the mean mutual information of the trained
# `models["BatchEnsemble", seed]` and `models["naive", seed]` on it.
# (Solution: `solutions/07_ex1_translated_digits.py`.)

# %%
translated = bel.data.shift_digits(test, "translate", 2.0, seed=1)
my_prediction = None  # "more", "less" or "no measurably different", before you compute
translated_distance = None  # median distance / tau
translated_mi = {}  # {"BatchEnsemble": [one mean MI per seed], "naive": [...]}


# %%
def check_translated():
    reference = float(np.median(metrics.nearest_distance(translated, digits.x_train)) / tau)
    if my_prediction not in ("more", "less", "no measurably different"):
        return print('not yet: write your prediction first ("more", "less" or "no measurably different")')
    if translated_distance is None or not np.isclose(translated_distance, reference, atol=1e-3):
        return print("not yet: translated_distance should be the median nearest distance / tau")
    mi = {n: [float(np.mean(metrics.mutual_information(bel.predict(models[n, s], translated))))
              for s in SEEDS] for n in ("BatchEnsemble", "naive")}
    if set(translated_mi) != set(mi) or not all(np.allclose(translated_mi[n], mi[n], atol=1e-4) for n in mi):
        return print("not yet: translated_mi needs, per ensemble, the mean MI of each seed's model")
    word, gap = more_or_less(np.array(mi["BatchEnsemble"]), np.array(mi["naive"]))
    print(f"correct: {reference:.1f} τ from the data, BatchEnsemble's members disagree {word} ({gap});"
          f" you predicted {my_prediction!r}")


check_translated()

# %% [markdown]
# ### Exercise 2 · How much of the way, seed by seed?
#
# Section 1 measured, from the field's table, the share of a naive ensemble's NLL gain that
# BatchEnsemble gets (`share_of_gap`). Compute the same share on the digits *for every seed*
# (pair seed $i$ of each model) into `nll_shares`, an array with one entry per seed. Is the
# share steady over seeds? (Solution: `solutions/07_ex2_share_of_gap.py`.)

# %%
nll_shares = None  # np.array with one share per seed


# %%
def check_shares():
    reference = share_of_gap(*(results[n]["nll"] for n in MAIN))
    if nll_shares is None or np.shape(nll_shares) != reference.shape:
        print(f"not yet: nll_shares should hold {len(SEEDS)} numbers, one per seed")
    elif not np.allclose(nll_shares, reference, atol=1e-4):
        print("not yet: per seed, (BatchEnsemble - single) / (naive - single) of the NLL")
    else:
        print(f"correct: from {reference.min():.0%} to {reference.max():.0%} over the seeds "
              f"(CIFAR-10: {ub_share['NLL']:.0%})")


check_shares()

# %% [markdown]
# ### Exercise 3 · How many TabM members do you need?
#
# TabM's members can be pruned after training. `logits["TabM-style", seed]` holds the $K$ members'
# logits on `x_eval`; the ensemble of its first $k$ members is `logits["TabM-style", seed][:k]`.
# Write `pruned_auroc(k)`: the AUROC (predictive entropy, clean test against unseen digits, as in
# `measure`) of the first `k` members, averaged over the seeds. Then set `smallest_k` to the
# smallest $k$ in 1, 2, 4, 8, 16 whose AUROC is within 0.01 of all $K$ members'.
# (Solution: `solutions/07_ex3_pruned_members.py`.)

# %%
def pruned_auroc(k):
    """Mean over seeds of the unseen-digit AUROC of the first k TabM-style members."""
    return 0.5  # ... replace with the real measurement


smallest_k = None


# %%
def check_pruning():
    b = list(SETS).index("unseen digits")
    def reference(k):
        ent = [np.asarray(metrics.predictive_entropy(logits["TabM-style", s][:k])) for s in SEEDS]
        return np.mean([float(metrics.auroc(e[:N], e[b * N:(b + 1) * N])) for e in ent])
    ks = [1, 2, 4, 8, 16]
    values = {k: reference(k) for k in ks}
    if not all(np.isclose(pruned_auroc(k), values[k], atol=1e-4) for k in (1, 4, K)):
        return print("not yet: pruned_auroc(k) differs from the check's; see `measure` for the AUROC")
    best = min(k for k in ks if values[k] >= values[K] - 0.01)
    print(f"correct: {best} members reach {values[best]:.3f} (all {K}: {values[K]:.3f})"
          if smallest_k == best else f"not yet: the AUROCs are right; smallest_k is not {smallest_k}")


check_pruning()

# %% [markdown]
# ## Summary
#
# - The field: on images, BatchEnsemble buys about half of an ensemble's gain for almost no extra
#   memory (uncertainty-baselines) and can behave like one model (Zamyatin et al.); on tabular
#   data, with TabM's recipe, it is a leading ensemble (Gorishniy et al.; Blørstad et al.).
# - "Away from the data" has two meanings. *Near* inputs share the training data's features;
#   *far* ones share none. Measure which one you test, by the distance to the nearest training
#   input, before reading an OOD score.
# - BatchEnsemble's members share $W$: their disagreement is largest relative to independent
#   networks near the data, and fades far from it. The conclusions above give this run's verdicts.
# - Training protocol (same rows or one sub-batch per member), number of members and
#   initialisation are knobs with measurable effects; many members that start apart (TabM) make
#   weak members and a strong ensemble.
# - No ensemble of ReLU networks flags every far input: brightened digits make every model *more*
#   confident.
#
# ## References
#
# - Y. Wen, D. Tran, J. Ba. *BatchEnsemble: an Alternative Approach to Efficient Ensemble and
#   Lifelong Learning.* ICLR 2020. [arXiv:2002.06715v2](https://arxiv.org/abs/2002.06715v2):
#   sub-batches per member (§3.1), random-sign initialisation (Appendix B).
# - uncertainty-baselines, [CIFAR baselines and their results
#   table](https://github.com/google/uncertainty-baselines/tree/main/baselines/cifar); the
#   protocol question: [issue #188](https://github.com/google/uncertainty-baselines/issues/188).
# - A. Zamyatin, P. Indri, S. Malhotra, T. Gärtner. *Is BatchEnsemble a Single Model? On
#   Calibration and Diversity of Efficient Ensembles.* 2026.
#   [arXiv:2601.16936](https://arxiv.org/abs/2601.16936)
# - M. Blørstad, H. J. Mostein, N. Blaser, P. Parviainen. *Evaluating Prediction Uncertainty
#   Estimates from BatchEnsemble.* 2026. [arXiv:2601.21581](https://arxiv.org/abs/2601.21581)
# - Y. Gorishniy, A. Kotelnikov, A. Babenko. *TabM: Advancing Tabular Deep Learning with
#   Parameter-Efficient Ensembling.* ICLR 2025. [arXiv:2410.24210](https://arxiv.org/abs/2410.24210),
#   code [yandex-research/tabm](https://github.com/yandex-research/tabm).
# - Y. Ovadia et al. *Can You Trust Your Model's Uncertainty? Evaluating Predictive Uncertainty
#   Under Dataset Shift.* NeurIPS 2019. [arXiv:1906.02530](https://arxiv.org/abs/1906.02530)
# - D. Hendrycks, K. Gimpel. *A Baseline for Detecting Misclassified and Out-of-Distribution
#   Examples in Neural Networks.* ICLR 2017. [arXiv:1610.02136](https://arxiv.org/abs/1610.02136)
# - B. Lakshminarayanan, A. Pritzel, C. Blundell. *Simple and Scalable Predictive Uncertainty
#   Estimation using Deep Ensembles.* NeurIPS 2017.
#   [arXiv:1612.01474](https://arxiv.org/abs/1612.01474)
#
# **Back to:** the [notebook index](../README.md#notebooks).

# %%
wall, cpu = time.perf_counter() - START, time.process_time() - START_CPU
print(f"this run took {wall:.0f} s of wall-clock time and {cpu:.0f} s of CPU time (all threads);")
print("other programs on a busy machine stretch the first, not the second")
