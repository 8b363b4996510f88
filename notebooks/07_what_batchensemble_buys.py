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
# disagrees too: on image benchmarks BatchEnsemble has been found to track a single model, on
# tabular data it leads the benchmarks. This notebook puts the field's published numbers next to
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
# **Prerequisites.** Notebooks [`02_batchensemble_vs_naive`](02_batchensemble_vs_naive.ipynb) (the
# scores: accuracy, NLL, ECE, disagreement, mutual information) and
# [`06_digits_under_shift`](06_digits_under_shift.ipynb) (the digits, OOD detection by AUROC).
# **Run time:** 16–28 s (measured by `make bench` in a fresh kernel on a shared 2-core CPU); most of
# it is compiling each kind of model once, not training.

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
# once per seed in `SEEDS`. `notice` shows a sentence whose numbers come from the cells above it;
# `compared` words a verdict of `compare.seed_gap` (per-seed gaps against their spread).

# %%
# %matplotlib inline
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
BATCH, STEPS, LEARNING_RATE = 64, 300, 1e-2
SEEDS = (0, 1, 2, 3, 4)


def notice(text):
    display(Markdown(text))


def compared(gap, other):
    """A compare.seed_gap verdict in words, e.g. 'better than the naive ensemble'."""
    words = {"better": "better than", "worse": "worse than"}
    return f"{words.get(gap.verdict, 'not measurably different from')} {other}"


def detail(gap):
    """The numbers behind a verdict: mean gap ± its spread over seeds, and the seeds won."""
    return f"gap {gap.mean:+.3f} ± {gap.spread:.3f}, ahead in {gap.wins} of {gap.seeds} seeds"


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


ub_share = {k: share_of_gap(*(UB[n][k] for n in UB)) for k in UB["single"]}

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
# The notebooks of this course show the same split. Notebook 02 (two moons and a 1-D
# regression) measured "away from the data" *far* from every training point: there
# BatchEnsemble's members spread less than independent networks on the regression, and on the
# moons their disagreement showed no measurable difference from the naive members'. Notebook 06
# (digits) measured it on digits the models never saw, and found BatchEnsemble's members
# disagreeing more. Notebook 03 watched BatchEnsemble's members alone spread out off the data of a
# regression, with no naive ensemble to compare with. The next section tests whether the *kind*
# of "away" explains all three.

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
# one image: a row of six 8×8 digits per set, one pixel of white between digits
tiles = np.pad([v[:6].reshape(6, 8, 8) for v in SETS.values()], ((0, 0), (0, 0), (1, 1), (1, 1)))
fig = style.figure(5.4, 5.0)
ax = fig.subplots()
ax.imshow(tiles.transpose(0, 2, 1, 3).reshape(len(SETS) * 10, 60), cmap="gray_r", vmin=0, vmax=1)
ax.set_yticks(10 * np.arange(len(SETS)) + 4.5,
              [f"{k}\n{far_from_data[k]:.1f} τ" for k in SETS])
ax.set_xticks([]), ax.spines[:].set_visible(False)
display(fig)

# %%
NEAR = [k for k in SETS if k != "test" and far_from_data[k] < 2]
FAR = [k for k in SETS if far_from_data[k] >= 2]
notice(
    f"Rows are ordered by median distance (in τ = {tau:.2f}). Within 2 τ lie "
    + ", ".join(NEAR) + ": **near** the data, sharing its strokes. Beyond 2 τ lie "
    + ", ".join(FAR) + ": **far** from every training image. The unseen digits, notebook 06's "
    f"out-of-distribution set, are {'near' if 'unseen digits' in NEAR else 'far'} "
    f"({far_from_data['unseen digits']:.1f} τ)."
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
    row = compare.classification_summary(z[:, :N], digits.y_test)
    entropy = np.asarray(metrics.predictive_entropy(z))
    mi = np.asarray(metrics.mutual_information(z))
    for b, name in enumerate(SETS):
        part = slice(b * N, (b + 1) * N)
        row[f"MI {name}"] = float(mi[part].mean())
        if name != "test":
            row[f"AUROC {name}"] = float(metrics.auroc(entropy[:N], entropy[part]))
    return row


# %% [markdown]
# Training: `bel.fit` with mini-batches of `BATCH` images for `STEPS` steps, every member on the
# same rows (its default; section 3 examines the alternative). `run` trains one method for one
# seed and keeps its logits and model; `over_seeds` (from `bel.recipes`) calls it for every seed
# and gathers each score into an array with one entry per seed.

# %%
logits, models = {}, {}  # (method, seed) -> member logits on x_eval / the trained model


def run(method, convert, **fit_options):
    def one_seed(seed):
        model = convert(bel.mlp(64, C, hidden=HIDDEN, rngs=seed), seed + 100)
        options = {"batch_size": BATCH, "learning_rate": LEARNING_RATE} | fit_options
        bel.fit(model, digits.x_train, digits.y_train, steps=STEPS, seed=seed, **options)
        models[method, seed] = model
        logits[method, seed] = np.asarray(bel.predict(model, x_eval))
        return measure(logits[method, seed])

    return over_seeds(one_seed, SEEDS)


# %%
results = {"BatchEnsemble": run("BatchEnsemble", lambda m, s: bel.batchensemble(m, E, rngs=s)),
           "naive": run("naive", lambda m, s: bel.naive_ensemble(m, E, rngs=s))}
for seed in SEEDS:  # the single network of a seed: member 0 of its naive ensemble, repeated E
    # times: E copies of one network predict exactly what it predicts (and never disagree), and
    # they reuse the metrics already compiled for E members.
    logits["single", seed] = np.repeat(logits["naive", seed][:1], E, axis=0)
results["single"] = over_seeds(lambda s: measure(logits["single", s]), SEEDS)
MAIN = ["single", "BatchEnsemble", "naive"]
print(", ".join(f"{n} accuracy {results[n]['accuracy'].mean():.3f}" for n in MAIN))

# %% [markdown]
# ### Where do BatchEnsemble's members disagree more than independent networks?
#
# For every seed, the ratio of BatchEnsemble's mean mutual information to the naive ensemble's on
# each set (log scale): above 1, BatchEnsemble's members disagree more than independent networks
# do. The x axis runs from on the data to far from it (the median distance in τ). Notebook 02
# measured the same ratio on the two moons, where its "away" lies beyond 5 τ: far, in these terms.


# %% tags=["hide-input"]
digit_ratio = {f"{k} ({far_from_data[k]:.1f}τ)": results["BatchEnsemble"][f"MI {k}"]
               / results["naive"][f"MI {k}"] for k in SETS}
fig = style.figure(7, 3.4)
ax = fig.subplots()
for i, r in enumerate(digit_ratio.values()):
    plots.seed_dots(ax, i, r, color=plots.model_color("BatchEnsemble"))
ax.axhline(1, color="0.3", ls="--", lw=0.8)
ax.set_yscale("log", base=2)
ax.set_xticks(range(len(digit_ratio)), list(digit_ratio), rotation=30, ha="right")
ax.set(title="digits (notebook 06's sets and more)", ylabel="MI: BatchEnsemble / naive")
display(fig)


# %%
def more_or_less(a, b):
    """Does a disagree more than b, per seed? 'more', 'less' or 'not measurably more or less'"""
    gap = compare.seed_gap(a, b)
    return {"better": "more", "worse": "less"}.get(gap.verdict, "not measurably more or less"), gap


mi_word = {k: more_or_less(results["BatchEnsemble"][f"MI {k}"], results["naive"][f"MI {k}"])
           for k in SETS}
lead_fades = all(mi_word[k][0] == "more" for k in NEAR) and any(
    mi_word[k][0] != "more" for k in FAR)


# %% tags=["remove-input"]
def said(words):
    return "; ".join(f"{k}: {word} ({g.mean:+.3f} ± {g.spread:.3f} nats, more in {g.wins} of "
                     f"{g.seeds} seeds)" for k, (word, g) in words.items())


notice("BatchEnsemble's members disagree, compared with the naive members: " + said(mi_word)
       + ".")

# %% tags=["remove-input"]
more_near, more_far = (sum(mi_word[k][0] == "more" for k in sets) for sets in (NEAR, FAR))
notice(
    "**Read the figure from left to right.** BatchEnsemble's members disagree measurably more "
    f"than independent networks on {more_near} of the {len(NEAR)} near sets and on {more_far} of "
    f"the {len(FAR)} far sets. "
    + ("So the lead BatchEnsemble's members have near the data fades far from it, and notebooks "
       "02 and 06 measured the same curve at different points: 06's unseen digits lie near the "
       "data, 02's \"away\" far from it." if lead_fades else
       "In this run the lead does not simply fade with distance; the dots above show where it "
       "holds.")
)

# %% [markdown]
# Why the lead can fade far from the data: a BatchEnsemble member is the shared $W$ with its
# rows and columns rescaled ($W \circ r_i s_i^\top$). Near the data those rescalings change which
# features each member leans on, and members part ways there. Far from the data, where a ReLU
# network extrapolates along straight lines set by its weights, every member inherits the
# direction of the one shared $W$, so they extrapolate more alike than independently drawn
# networks do. Notebook 03's finding fits this: it measured BatchEnsemble alone, and its members
# do spread out off the data; what this notebook adds is *how much, compared with independent
# networks*, at each distance.
#
# ### Does the disagreement flag the inputs?
#
# More disagreement is not automatically better: notebook 02 found BatchEnsemble's members
# disagreeing more *on* the data too, where the answer is settled (the "test" column above says
# whether they do here). What matters is whether the uncertainty separates the new inputs from the
# test set. One AUROC per set, model and seed (with the predictive entropy, which the single
# model has too):

# %% tags=["hide-input"]
OTHER = [k for k in SETS if k != "test"]
auroc = {f"{k}\n{far_from_data[k]:.1f}τ": {n: results[n][f"AUROC {k}"] for n in MAIN}
         for k in OTHER}
fig = style.figure(9, 3.2)
plots.grouped_seed_dots(auroc, ax=fig.subplots(), ylabel="AUROC vs clean test (entropy)",
                        reference=0.5, reference_label="chance")
display(fig)


# %%
def versus(a, b, score, higher_is_better=True):
    """seed_gap of method a against method b on one score, seed by seed."""
    return compare.seed_gap(results[a][score], results[b][score], higher_is_better=higher_is_better)


auroc_vs = {k: {o: versus("BatchEnsemble", o, f"AUROC {k}") for o in ("single", "naive")}
            for k in OTHER}


# %% tags=["remove-input"]
def line(k):
    s, n = auroc_vs[k]["single"], auroc_vs[k]["naive"]
    means = ", ".join(f"{name} {results[name][f'AUROC {k}'].mean():.3f}" for name in MAIN)
    return (f"- **{k}** ({far_from_data[k]:.1f} τ; {means}): BatchEnsemble is "
            f"{compared(s, 'the single model')} (ahead in {s.wins} of {s.seeds} seeds) and "
            f"{compared(n, 'the naive ensemble')} (ahead in {n.wins} of {n.seeds}).")


notice("AUROC of the predictive entropy, mean over seeds:\n" + "\n".join(line(k) for k in OTHER))

# %% tags=["remove-input"]
confident = [k for k in OTHER if max(results[n][f"AUROC {k}"].mean() for n in MAIN) < 0.5]
even = [k for k in OTHER if auroc_vs[k]["naive"].verdict != "worse"]
notice(
    f"On {len(even)} of the {len(OTHER)} sets BatchEnsemble flags new inputs at least as well as "
    "the naive ensemble (not measurably worse). "
    + ("Its extra disagreement near the data comes with extra disagreement on the test set, so "
       "it does not turn into a better separation. " if mi_word["test"][0] == "more" else "")
    + (f"On {', '.join(confident)}, every model is *more* confident than on the test set (AUROC "
       "below 0.5), although no set is further from the data: a ReLU network's logits grow with "
       "the size of its input, so all members, independent or not, agree confidently there. "
       "Distance to the data and ensemble disagreement are different things."
       if confident else "")
)

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
# - **split** (`members_see="split"`, the paper's protocol,
#   [arXiv:2002.06715v2](https://arxiv.org/abs/2002.06715v2) §3.1): "we can divide the input
#   mini-batch into M sub-batches and each sub-batch receives ensemble weight" (quoted in the
#   issue above), so each member sees its own rows.
#
# **Equal compute.** The cost of a step is the number of rows pushed through the network. So
# "same" with batches of $B$ (tiled to $E \cdot B$ rows) is compared with "split" with batches of
# $E \cdot B$ (cut into $E$ sub-batches of $B$), for the same number of steps: the same arithmetic,
# but under "split" the shared $W$ sees $E$ times as many distinct images per step, and each
# member a different quarter of them.

# %%
results["BatchEnsemble (split)"] = run(
    "BatchEnsemble (split)", lambda m, s: bel.batchensemble(m, E, rngs=s),
    batch_size=E * BATCH, members_see="split")
PROTOCOL = ["BatchEnsemble", "BatchEnsemble (split)"]
PROTOCOL_SCORES = {"accuracy": "accuracy ↑", "nll": "NLL ↓", "ece": "ECE ↓",
                   "disagreement": "disagreement (test)", "AUROC unseen digits": "AUROC unseen ↑",
                   "AUROC pixel noise": "AUROC pixel noise ↑"}
LOWER = {"nll", "ece"}  # scores where lower is better


# %% tags=["hide-input"]
def as_runs(names, scores):
    """plot_over_seeds wants, per model, one dict of scores per seed."""
    return {n: [{s: results[n][s][i] for s in scores} for i in range(len(SEEDS))] for n in names}


plots.plot_over_seeds(as_runs(PROTOCOL, PROTOCOL_SCORES), list(PROTOCOL_SCORES),
                      labels=PROTOCOL_SCORES, ncols=3, panel_size=3.0)

# %% tags=["remove-input"]
protocol = {s: versus(*PROTOCOL[::-1], s, s not in LOWER) for s in PROTOCOL_SCORES}
level = [s for s, g in protocol.items() if g.verdict == "no measurable difference"]
notice("**Split against same rows** (BatchEnsemble, equal compute, each line split − same): "
       + "; ".join(f"{label.rstrip(' ↑↓')}: {protocol[s]}" for s, label in PROTOCOL_SCORES.items())
       + f". On {len(level)} of the {len(protocol)} scores the two protocols are within the "
       "seeds' spread of each other.")

# %% [markdown]
# "A tad better", in Tran's words, is the size of effect to expect between the protocols: read
# the verdicts above for which way it goes on these digits. Next to the gaps between the methods
# of section 2 it is small. The notebooks keep the default, "same", so that every member sees
# every training example, as a naive ensemble's members do.

# %% [markdown]
# ## 4. Members, initialisation and the TabM recipe on tabular features
#
# An 8×8 digit is also a row of 64 numeric features, and an MLP on it is a tabular model: the
# setting of TabM and of Blørstad et al. Three more BatchEnsembles, each changing one thing:
#
# - **random signs**: $E = 4$, every layer's $r, s$ drawn from $\{-1, +1\}$ (the paper's
#   Appendix B) instead of $\mathcal N(1, 0.5^2)$: the **initialisation**;
# - **BatchEnsemble (16)**: $K = 16$ members with the default initialisation: the **number of
#   members**;
# - **TabM-style** (`bel.recipes.tabm_style`): $K = 16$ members that differ only in the first
#   layer at initialisation: member $k$ starts as the base network applied to $x \circ r_k$, with
#   $r_k$ random signs, and every later layer starts at $r = s = 1$. Trained as TabM trains (the
#   mean of the members' losses, which `bel.fit` minimises) and averaged as TabM averages
#   (probabilities). TabM itself also gives each member its own output layer and uses $k = 32$,
#   wider layers and early stopping: this is its initialisation and its many members, not all of
#   it.

# %%
BIG = f"BatchEnsemble ({K})"
CONVERT = {
    "single": lambda m, s: m, "BatchEnsemble": lambda m, s: bel.batchensemble(m, E, rngs=s),
    "random signs": lambda m, s: bel.batchensemble(m, E, rngs=s, init="random_sign"),
    BIG: lambda m, s: bel.batchensemble(m, K, rngs=s),
    "TabM-style": lambda m, s: tabm_style(m, K, rngs=s),
    "naive": lambda m, s: bel.naive_ensemble(m, E, rngs=s)}
for name in ["random signs", BIG, "TabM-style"]:
    results[name] = run(name, CONVERT[name])
TABULAR = list(CONVERT)

# %% [markdown]
# What each one stores, measured from its state (`compare.sizes` adds up the arrays of the models
# trained above, seed 0's; for the single network, a fresh `bel.mlp`). The last column is
# the arithmetic: every member pushes every input through a full-size network, so an ensemble of
# $E$ costs $E$ times one network's compute, BatchEnsemble or not. What BatchEnsemble saves is
# memory.

# %%
trained = {n: models[n, SEEDS[0]] if n != "single" else bel.mlp(64, C, hidden=HIDDEN, rngs=0)
           for n in CONVERT}  # fmt: skip
sizes = compare.sizes(trained)
for name, row in sizes.items():
    row["× single"] = row["params"] / sizes["single"]["params"]
    row["members"] = bel.num_members(trained[name])
print(compare.format_table(sizes, formats={"KiB": ".1f", "× single": ".2f"}))

# %% [markdown]
# Now the scores, one dot per seed (the three variants in the colours of their method family):

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
def verdicts(a, b):
    """a against b on five scores, each a compare.SeedGap."""
    return {s: versus(a, b, s, s not in LOWER)
            for s in ["accuracy", "nll", "ece", "AUROC unseen digits", "AUROC pixel noise"]}


tabm_vs = {other: verdicts("TabM-style", other) for other in ("BatchEnsemble", "naive", BIG)}
signs_vs, big_vs = verdicts("random signs", "BatchEnsemble"), verdicts(BIG, "BatchEnsemble")
collective = {n: results[n]["accuracy"] - results[n]["member_accuracy"] for n in TABULAR}


# %% tags=["remove-input"]
def summary_of(gaps):
    return "; ".join(f"{s} {g.verdict} ({g.mean:+.3f} ± {g.spread:.3f})" for s, g in gaps.items())


notice("\n".join([
    f"- **Initialisation** (random signs against N(1, 0.5²), E = {E}): {summary_of(signs_vs)}.",
    f"- **Members** ({K} against {E}, same initialisation): {summary_of(big_vs)}.",
    f"- **TabM-style** against BatchEnsemble ({E}): {summary_of(tabm_vs['BatchEnsemble'])}.",
    f"- **TabM-style** against the naive ensemble: {summary_of(tabm_vs['naive'])}.",
    f"- **TabM-style** against BatchEnsemble ({K}), the same {K} members, only the initialisation "
    f"differs: {summary_of(tabm_vs[BIG])}.",
    "- **Weak individually, powerful collectively**: accuracy of the ensemble minus its members' "
    "mean accuracy, " + ", ".join(f"{n} {v.mean():+.3f}" for n, v in collective.items()) + ".",
]))

# %% tags=["remove-input"]
strongest = max(collective, key=lambda n: collective[n].mean())
weakest_members = min(TABULAR, key=lambda n: results[n]["member_accuracy"].mean())
tabm = tabm_vs["naive"]
notice(
    f"The {strongest} ensemble gains most over its own members, whose accuracy is "
    + ("the lowest" if weakest_members == strongest else f"not the lowest ({weakest_members})")
    + ": its members make different mistakes, which is what an ensemble needs. At flagging the "
    f"unseen digits the TabM-style ensemble is {compared(tabm['AUROC unseen digits'], 'naive')}; "
    f"its calibration (ECE) on the clean test set is {compared(tabm['ece'], 'naive')}. Against "
    f"BatchEnsemble ({K}), with the same members, parameters and compute, only the "
    "initialisation differs: members that start apart in the first layer, by signs rather than "
    "small rescalings."
)

# %% [markdown]
# ## 5. When is BatchEnsemble's uncertainty good? A decision table
#
# Each row names a need, the score above that measures it, and the candidates ordered from
# cheapest (fewest parameters, then fewest members) to dearest. The table picks the cheapest
# candidate that no other candidate beats by more than the seeds' spread (`compare.seed_gap`):
# one network wins a row when no ensemble is measurably better at that job; BatchEnsemble wins
# it when the naive ensemble is not measurably better.

# %%
FLAGGED = [k for k in FAR if k not in confident]  # far sets some model flags better than chance
for r in results.values():  # per seed, the mean AUROC over the near and over those far sets
    r["AUROC near"] = np.mean([r[f"AUROC {k}"] for k in NEAR], axis=0)
    r["AUROC far"] = np.mean([r[f"AUROC {k}"] for k in FLAGGED], axis=0)


def cheapest_good(names, score):
    """The first (cheapest) of `names` that no other one beats measurably on `score`."""
    for a in names:
        if all(versus(a, b, score, score not in LOWER).verdict != "worse" for b in names):
            return a
    return names[-1]


# %%
THREE, FOUR = MAIN, ["single", "BatchEnsemble", "TabM-style", "naive"]
NEEDS = {  # need: (score, candidates from cheapest to dearest)
    "the right class on data like the training data": ("accuracy", THREE),
    "honest probabilities on such data (NLL)": ("nll", THREE),
    "to flag near inputs (unseen classes, mild shift)": ("AUROC near", THREE),
    "to flag far inputs (unlike any training input)": ("AUROC far", THREE),
    "to flag near inputs, tabular features, more members allowed": ("AUROC near", FOUR),
    "calibrated probabilities, tabular features (ECE)": ("ece", FOUR),
    "a training protocol for BatchEnsemble, for accuracy": ("accuracy", PROTOCOL),
    "a training protocol for BatchEnsemble, to flag near inputs": ("AUROC near", PROTOCOL),
}
SAY = {"single": "one network", "naive": "naive ensemble", "BatchEnsemble (split)": "split",
       "BatchEnsemble": "BatchEnsemble"}
choice = {need: cheapest_good(names, score) for need, (score, names) in NEEDS.items()}


# %% tags=["remove-input"]
def cost(name):
    row = sizes.get(name, sizes["BatchEnsemble"])
    return f"{row['× single']:.1f}× params, {row['members']}× compute"


rows = ["| you need | choose | measured here (mean over seeds) | cost vs one network |",
        "|---|---|---|---|"]
for need, (score, names) in NEEDS.items():
    means = ", ".join(f"{n} {results[n][score].mean():.3f}" for n in names)
    said_choice = SAY.get(choice[need], choice[need])
    if names == PROTOCOL:
        said_choice = "same rows" if choice[need] == "BatchEnsemble" else "split (§3.1)"
    rows.append(f"| {need} | **{said_choice}** | {score}: {means} | {cost(choice[need])} |")
if confident:
    rows.append(f"| to flag inputs like {', '.join(confident)} | **none of these**: check the "
                "distance to the training data | AUROC below 0.5 for every model | — |")
notice("\n".join(rows))

# %% [markdown]
# "Far" averages the far sets that at least one model flags better than chance; a set that no
# model flags gets its own row. Where candidates tie within the seeds' spread, the table takes the
# cheapest; another data set or more seeds may break the tie.

# %% [markdown]
# ## Conclusions
#
# Each line is printed from the numbers measured above; re-run with other seeds and they update.

# %%
near_vs = {o: versus("BatchEnsemble", o, "AUROC near") for o in ("single", "naive")}
far_vs = {o: versus("BatchEnsemble", o, "AUROC far") for o in ("single", "naive")}
nll_vs = {o: versus("BatchEnsemble", o, "nll", higher_is_better=False) for o in ("single", "naive")}
split_vs = {s: versus(*PROTOCOL[::-1], s, s not in LOWER)
            for s in ("accuracy", "AUROC near", "nll")}
tabm_near = versus("TabM-style", "naive", "AUROC near")
be_share = sizes["BatchEnsemble"]["params"] / sizes["naive"]["params"]
tabm_share = sizes["TabM-style"]["params"] / sizes["naive"]["params"]

# %% tags=["remove-input"]
notice("\n".join([
    f"- **The field.** On CIFAR-10 (uncertainty-baselines' numbers, not re-run here) "
    f"BatchEnsemble gets {ub_share['NLL']:.0%} of a naive ensemble's NLL gain for "
    f"{ub_share['params (M)']:.1%} of its extra parameters. On the digits its NLL is "
    f"{compared(nll_vs['single'], 'one network')}'s and "
    f"{compared(nll_vs['naive'], 'the naive ensemble')}'s, with {be_share:.0%} of the naive "
    "ensemble's parameters.",
    f"- **Near the data** ({', '.join(NEAR)}) BatchEnsemble's AUROC is "
    f"{compared(near_vs['single'], 'one network')}'s and "
    f"{compared(near_vs['naive'], 'the naive ensemble')}'s ({detail(near_vs['naive'])}); "
    "its members disagree more than the naive members on "
    f"{sum(mi_word[k][0] == 'more' for k in NEAR)} of the {len(NEAR)} near sets.",
]))

# %% tags=["remove-input"]
notice("\n".join([
    f"- **Far from the data** ({', '.join(FLAGGED)}) its AUROC is "
    f"{compared(far_vs['single'], 'one network')}'s and "
    f"{compared(far_vs['naive'], 'the naive ensemble')}'s ({detail(far_vs['naive'])}); its members "
    f"disagree more on {sum(mi_word[k][0] == 'more' for k in FAR)} of the {len(FAR)} far sets.",
]))

# %% tags=["remove-input"]
notice("\n".join([
    f"- **Protocol.** Each member its own sub-batch (the paper's §3.1) against the same rows, at "
    f"equal compute: accuracy {split_vs['accuracy'].verdict}, near AUROC "
    f"{split_vs['AUROC near'].verdict}, NLL {split_vs['nll'].verdict}.",
    f"- **TabM recipe.** {K} members differing only in the first layer's signs: near AUROC "
    f"{compared(tabm_near, 'the naive ensemble')}'s ({detail(tabm_near)}), with "
    f"{tabm_share:.0%} of its parameters and {K / E:.0f}× its compute.",
]))

# %% [markdown]
#
# %% tags=["remove-input"]
notice(
    "**So, when is BatchEnsemble's uncertainty good?** Near the training data (new classes of "
    f"the same kind, mild corruptions: {', '.join(NEAR)}) its AUROC is "
    f"{compared(near_vs['single'], 'one network')}'s and "
    f"{compared(near_vs['naive'], 'a naive ensemble')}'s, for {be_share:.0%} of the naive "
    f"ensemble's parameters. Far from it ({', '.join(FLAGGED)}) it is "
    f"{compared(far_vs['single'], 'one network')}'s and "
    f"{compared(far_vs['naive'], 'the naive ensemble')}'s, with a mean gap to the naive ensemble "
    f"of {far_vs['naive'].mean:+.3f} there against {near_vs['naive'].mean:+.3f} near the data."
)

# %% [markdown]
# Far from the data is where BatchEnsemble's members, sharing the weight that decides how the
# network extrapolates, lose their lead in disagreement; it is where the image benchmarks and
# Zamyatin et al. look (other data sets as OOD) and where notebook 02 looked. On tabular
# features with many members that start apart (TabM) it is a strong ensemble, which is where
# TabM and Blørstad et al. look. Inputs that make every ReLU network more confident (the
# brightened digits here) no ensemble of this kind flags: check the distance to the training
# data as well. And in every setting an ensemble, BatchEnsemble or naive, costs $E$ times one
# network's compute; BatchEnsemble saves memory.

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
# far, and will BatchEnsemble's members disagree `"more"`, `"less"` or `"not measurably more or
# less"` than the naive members on it? Then compute its median distance to the nearest
# training image in units of `tau`, and for every seed the mean mutual information of the trained
# `models["BatchEnsemble", seed]` and `models["naive", seed]` on it.
# (Solution: `solutions/07_ex1_translated_digits.py`.)

# %%
translated = bel.data.shift_digits(test, "translate", 2.0, seed=1)
my_prediction = None  # "more", "less" or "not measurably more or less", before you compute
translated_distance = None  # median distance to the nearest training image / tau
translated_mi = {}  # {"BatchEnsemble": [one mean MI per seed], "naive": [...]}


# %%
def check_translated():
    if my_prediction not in ("more", "less", "not measurably more or less"):
        return print('not yet: first write your prediction: "more", "less" or '
                     '"not measurably more or less"')
    reference = float(np.median(metrics.nearest_distance(translated, digits.x_train)) / tau)
    if not np.isclose(translated_distance or 0, reference, atol=1e-3):
        return print("not yet: translated_distance is the median nearest distance divided by tau")
    mi = {n: [float(np.mean(metrics.mutual_information(bel.predict(models[n, s], translated))))
              for s in SEEDS] for n in ("BatchEnsemble", "naive")}
    if set(translated_mi) != set(mi) or not all(np.allclose(translated_mi[n], mi[n]) for n in mi):
        return print("not yet: translated_mi needs, per ensemble, each seed's mean MI")
    word, gap = more_or_less(np.array(mi["BatchEnsemble"]), np.array(mi["naive"]))
    print(f"correct: {reference:.1f} τ from the data; BatchEnsemble's members disagree {word} "
          f"({detail(gap)}); you predicted {my_prediction!r}")


check_translated()

# %% [markdown]
# ### Exercise 2 · Distance as a detector
#
# Section 2 ended with inputs that make every model *more* confident. The distance to the
# nearest training image needs no model at all. Compute, for every set in `OTHER`, the AUROC of
# telling it from the clean test set with the distance itself as the score (`distance[k]` holds
# every input's distance; `metrics.auroc(negatives, positives)`), into `distance_auroc`
# (`{set: AUROC}`). On which sets does it beat every model? (Solution:
# `solutions/07_ex2_distance_detector.py`.)

# %%
distance_auroc = {}  # {set name: AUROC of the distance, clean test against that set}


# %%
def check_distance():
    reference = {k: float(metrics.auroc(distance["test"], distance[k])) for k in OTHER}
    if set(distance_auroc) != set(OTHER):
        return print(f"not yet: distance_auroc needs one entry per set of OTHER: {OTHER}")
    if not all(np.isclose(distance_auroc[k], reference[k], atol=1e-4) for k in OTHER):
        return print("not yet: some AUROCs differ; negatives = the test set's distances")
    best_model = {k: max(results[n][f"AUROC {k}"].mean() for n in MAIN) for k in OTHER}
    wins = [k for k in OTHER if reference[k] > best_model[k]]
    print(f"correct: the distance beats every model on {', '.join(wins) or 'no set'} "
          f"({len(wins)} of {len(OTHER)} sets)")


check_distance()

# %% [markdown]
# ### Exercise 3 · How many TabM members do you need?
#
# TabM's members can be pruned after training. `logits["TabM-style", seed]` holds the $K$ members'
# logits on `x_eval`, so the ensemble of its first $k$ members is
# `logits["TabM-style", seed][:k]`. Write `pruned_auroc(k)`: the AUROC (predictive entropy, clean
# test against unseen digits, as in `measure`) of the first `k` members, averaged over the seeds.
# Then set `smallest_k` to the smallest $k$ among 1, 2, 4, 8, 16 whose AUROC is within 0.01 of
# all $K$ members'. (Solution: `solutions/07_ex3_pruned_members.py`.)


# %%
def pruned_auroc(k):
    """Mean over the seeds of the unseen-digit AUROC of the first k TabM-style members."""
    return 0.5  # ... replace with the measurement


smallest_k = None  # your answer


# %%
def check_pruning():
    if smallest_k is None:
        return print("not yet: write pruned_auroc(k), then set smallest_k")
    b = list(SETS).index("unseen digits")

    def reference(k):
        ents = [np.asarray(metrics.predictive_entropy(logits["TabM-style", s][:k])) for s in SEEDS]
        return np.mean([float(metrics.auroc(e[:N], e[b * N : (b + 1) * N])) for e in ents])

    values = {k: reference(k) for k in (1, 2, 4, 8, 16)}
    if not all(np.isclose(pruned_auroc(k), values[k], atol=1e-4) for k in (1, 4, K)):
        return print("not yet: pruned_auroc(k) differs from the check's; `measure` shows how")
    best = min(k for k, v in values.items() if v >= values[K] - 0.01)
    print(f"correct: {best} members reach {values[best]:.3f} (all {K}: {values[K]:.3f})"
          if smallest_k == best else "not yet: the AUROCs are right, but not smallest_k")


check_pruning()

# %% [markdown]
# ## Summary
#
# - The field: on images, BatchEnsemble buys part of an ensemble's gain for almost no extra
#   memory (uncertainty-baselines) and can behave like one model (Zamyatin et al.); on tabular
#   data, with TabM's recipe, it is a leading ensemble (Gorishniy et al.; Blørstad et al.).
# - "Away from the data" has two meanings: *near* inputs share the training data's features,
#   *far* ones share none. Measure which one a test set is, by the distance to the nearest
#   training input, before reading an OOD score.
# - BatchEnsemble's members share $W$; how much more or less they disagree than independent
#   networks depends on that distance, and the conclusions above give this run's verdicts.
# - The training protocol (same rows or one sub-batch per member), the number of members and the
#   initialisation are knobs with measured effects; many members that start apart (TabM) trade
#   the members' own accuracy for their disagreement, and section 4 measures what that buys.
# - Far inputs can make every ReLU network more confident (the brightened digits here): ensemble
#   disagreement is no substitute for checking the distance to the training data.
#
# ## References
#
# - Y. Wen, D. Tran, J. Ba. *BatchEnsemble: an Alternative Approach to Efficient Ensemble and
#   Lifelong Learning.* ICLR 2020. [arXiv:2002.06715v2](https://arxiv.org/abs/2002.06715v2):
#   one sub-batch per member (§3.1), random-sign initialisation (Appendix B).
# - uncertainty-baselines: [CIFAR baselines and their results
#   table](https://github.com/google/uncertainty-baselines/tree/main/baselines/cifar); the
#   protocol question, [issue #188](https://github.com/google/uncertainty-baselines/issues/188).
# - A. Zamyatin, P. Indri, S. Malhotra, T. Gärtner. *Is BatchEnsemble a Single Model? On
#   Calibration and Diversity of Efficient Ensembles.* 2026.
#   [arXiv:2601.16936](https://arxiv.org/abs/2601.16936)
# - M. Blørstad, H. J. Mostein, N. Blaser, P. Parviainen. *Evaluating Prediction Uncertainty
#   Estimates from BatchEnsemble.* 2026. [arXiv:2601.21581](https://arxiv.org/abs/2601.21581)
# - Y. Gorishniy, A. Kotelnikov, A. Babenko. *TabM: Advancing Tabular Deep Learning with
#   Parameter-Efficient Ensembling.* ICLR 2025.
#   [arXiv:2410.24210](https://arxiv.org/abs/2410.24210), code
#   [yandex-research/tabm](https://github.com/yandex-research/tabm).
# - Y. Ovadia et al. *Can You Trust Your Model's Uncertainty? Evaluating Predictive Uncertainty
#   Under Dataset Shift.* NeurIPS 2019. [arXiv:1906.02530](https://arxiv.org/abs/1906.02530)
# - D. Hendrycks, K. Gimpel. *A Baseline for Detecting Misclassified and Out-of-Distribution
#   Examples in Neural Networks.* ICLR 2017. [arXiv:1610.02136](https://arxiv.org/abs/1610.02136)
# - B. Lakshminarayanan, A. Pritzel, C. Blundell. *Simple and Scalable Predictive Uncertainty
#   Estimation using Deep Ensembles.* NeurIPS 2017.
#   [arXiv:1612.01474](https://arxiv.org/abs/1612.01474)
#
# **Back to** the [notebook index](../README.md#notebooks).
