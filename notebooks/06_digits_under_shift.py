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
# # 06 · Real digits under shift and out of distribution: is BatchEnsemble one model?
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/OWNER/REPO/HEAD?labpath=notebooks/06_digits_under_shift.ipynb)
#
# Every notebook so far used generated 2-D data. An uncertainty method is judged on real data
# that drift away from the training set, the way Ovadia et al. (2019) judged ensembles. Here the
# data are real 8×8 images of handwritten digits that ship inside scikit-learn (no download). We
# train a **single** network, a **BatchEnsemble** (Wen, Tran & Ba, ICLR 2020,
# [arXiv:2002.06715v2](https://arxiv.org/abs/2002.06715v2)) of $E = 4$ members and a **naive
# ensemble** of 4 independent networks, each over several seeds. Then we rotate the test digits,
# add noise to them, show the models digits they never saw, and measure how every model copes.
# Last, we measure whether BatchEnsemble's members really differ, or whether it is in effect
# one model (the question of Zamyatin et al., 2026).
#
# **The result first.** Everything is measured in this run, so the numbers cannot be typed
# here: the section *The main result*, right after training, compares BatchEnsemble with the
# single network and the naive ensemble seed by seed on calibration under shift and on OOD
# detection, and says "better" only where the gap is larger than its spread over the seeds; the
# *Conclusions* at the end say the same in sentences and place them beside notebooks 02 and 03.
# Notebook [`07_what_batchensemble_buys`](07_what_batchensemble_buys.ipynb) puts all of these
# results together with what the field has measured.
#
# **What you will learn**
# - to read accuracy, NLL, ECE and Brier score *against shift severity*, one dot per seed;
# - to read reliability diagrams in and out of distribution (Guo et al., 2017);
# - to score out-of-distribution (OOD) detection by AUROC with three uncertainty scores
#   (Hendrycks & Gimpel, 2017) and to read accuracy–rejection curves (Lakshminarayanan et al.,
#   2017);
# - to measure how alike ensemble members are, in function space and in weight space, and how
#   the initialisation of $r, s$ changes that.
#
# **Prerequisites.** Notebooks `01_effective_weights` (member $i$ uses $W \circ (r_i s_i^\top)$) and
# `02_batchensemble_vs_naive` (the scores NLL, ECE, Brier, disagreement, mutual information).
# **Run time:** 17–27 s (measured by `make bench` in a fresh kernel on a shared 2-core CPU); the
# last cell prints this run's time.

# %%
# Colab or a fresh machine: install bel from its repository if it is missing (no-op here).
import importlib.util, subprocess, sys  # noqa: E401, I001
if importlib.util.find_spec("bel") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "bel @ git+https://github.com/OWNER/REPO"], check=True)

# %% [markdown]
# ## Setup
#
# One set of constants for the whole notebook: every network has two hidden layers of `HIDDEN`
# units; every ensemble has `E` members; every model gets the same budget of `STEPS` full-batch
# Adam steps at `LEARNING_RATE`; every experiment is repeated for each seed in `SEEDS`.
# `notice` prints a sentence whose numbers are computed from the results above it.

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

# %%
style.use()
E, HIDDEN, STEPS, LEARNING_RATE = 4, (32, 32), 50, 2e-2
SEEDS = [0, 1, 2, 3, 4]
MODELS = ["single", "BatchEnsemble", "naive"]


def notice(text):
    display(Markdown(text))


# %% [markdown]
# ## The data: digits, shifted digits and digits never seen
#
# `bel.data.digits` loads scikit-learn's `load_digits` (greyscale 8×8 images, pixels scaled to
# [0, 1]) and splits each digit's images into a training and a test part with a fixed seed. The
# digits 8 and 9 are **held out**: the models learn to tell the digits 0–7 apart and never see an
# 8 or a 9. Those images form the out-of-distribution set `x_ood`: a model cannot be right on them,
# so the best it can do is to be unsure.
#
# `bel.data.shift_digits` corrupts test images with a severity knob: rotation by a number of
# degrees, or Gaussian pixel noise of a given standard deviation (a third kind, translation, is
# left for exercise 2). `bel.data.DIGIT_SHIFTS` holds a ladder of severities for each kind.

# %%
digits = bel.data.digits(held_out=(8, 9), seed=0)
C = len(digits.classes)
KINDS = {kind: bel.data.DIGIT_SHIFTS[kind] for kind in ("rotate", "noise")}
print(f"train {digits.x_train.shape}, test {digits.x_test.shape}, OOD {digits.x_ood.shape}")
held_out = sorted(set(digits.ood_digits.tolist()))
print(f"classes (digits) {digits.classes.tolist()}, held out {held_out}")
for kind, levels in KINDS.items():
    print(f"{kind:7s} severities {list(levels)}")

# %% [markdown]
# What the models will see: a row of test digits as they are, rotated, with noise, and a row of
# the held-out digits.

# %%
first_of_class = [int(np.argmax(digits.y_test == k)) for k in range(C)]  # one of each class
shown = digits.x_test[first_of_class][:8]
examples = {
    "test": shown,
    "rotated 45°": bel.data.shift_digits(shown, "rotate", 45),
    "noise σ = 0.5": bel.data.shift_digits(shown, "noise", 0.5, seed=1),
    "held out (OOD)": digits.x_ood[::40][:8],
}


# %% tags=["hide-input"]
fig = style.figure(6.4, 3.6)
axes = fig.subplots(len(examples), 8)
for row, (label, images) in zip(axes, examples.items(), strict=True):
    for ax, image in zip(row, images, strict=True):
        ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([]), ax.set_yticks([])
    row[0].set_ylabel(label, rotation=0, ha="right", va="center")
display(fig)

# %% tags=["remove-input"]
notice(
    "Even at this tiny resolution the digits are readable; a 45° turn already makes some "
    "look like other digits, noise of σ = 0.5 buries the strokes in speckle, and the held-out "
    f"digits ({', '.join(map(str, held_out))}) share strokes with the "
    "digits the models know."
)

# %% [markdown]
# ## Three models from one architecture
#
# All three start from `bel.mlp(64, C, hidden=HIDDEN)`:
# **single** is the network itself; **BatchEnsemble** (`bel.batchensemble`) replaces every
# `nnx.Linear` by a `BatchEnsembleLinear` with one shared $W$ and a fast pair $r_i, s_i$ (and a
# bias) per member; **naive** (`bel.naive_ensemble`) gives every member its own kernels. Both
# conversions return a new model and leave the base untouched.
#
# One shortcut saves a third of the training: a naive ensemble *is* $E$ single networks trained
# side by side. Each member's part of the loss depends only on its own weights, and Adam's steps
# do not change when a loss is scaled by $1/E$ (up to its tiny $\epsilon$), so member 0 of the
# naive ensemble is trained exactly like a single network with the same budget. The single model
# of each seed is that member (notebook 02 uses the same shortcut for its regression).


# %%
def make(name, seed, **options):
    """An ensemble from one seed (`options` go to the BatchEnsemble layers)."""
    base = bel.mlp(64, C, hidden=HIDDEN, rngs=seed)
    if name == "naive":
        return bel.naive_ensemble(base, E, rngs=seed + 100)
    return bel.batchensemble(base, E, rngs=seed + 100, **options)


# %% [markdown]
# ## Training: the same budget for every model and seed
#
# `bel.fit` trains full-batch with Adam in one compiled loop; an ensemble trains all members on
# the same batch (tiled member-major), and the loss is the mean of the members' losses.
# BatchEnsemble's fast weights learn at half the rate of $W$ (`fast_lr_multiplier=0.5`, the
# uncertainty-baselines recipe). Every member seeing the same rows is that recipe too (`bel.fit`'s
# default); the paper instead gives each member its own sub-batch (§3.1), and notebook
# [07](07_what_batchensemble_buys.ipynb) measures both protocols. Each model is compiled once
# per structure: the second and later seeds reuse the compiled loop.
#
# Before training and after, every model predicts on *one* array that stacks the clean test set,
# every shifted copy of it and the OOD set (`x_eval`), so that each model needs one compiled
# forward pass only.

# %%
blocks = [(kind, s) for kind, levels in KINDS.items() for s in levels] + [("translate", 2.0)]
x_eval = np.concatenate(
    [bel.data.shift_digits(digits.x_test, kind, s, seed=1) for kind, s in blocks] + [digits.x_ood]
)
N, N_OOD = len(digits.x_test), len(digits.x_ood)
print(f"x_eval {x_eval.shape}: {len(blocks)} test sets of {N} and {N_OOD} OOD images")
print(f"(the last test set, {blocks[-1]}, is for exercise 2)")


# %%
def block(z, kind, severity):
    """The part of member logits `z` [E, len(x_eval), C] that belongs to one shifted test set."""
    b = blocks.index((kind, severity))
    return z[:, b * N : (b + 1) * N]


def ood(z):
    return z[:, -N_OOD:]


# %%
ENSEMBLES = ["BatchEnsemble", "naive"]
logits, start_logits, start_weights, trained = {}, {}, {}, {}
fit_seconds = {name: [] for name in ENSEMBLES}
for seed in SEEDS:  # the two ensembles of a seed one after the other: their times pair up
    for name in ENSEMBLES:
        model = make(name, seed)
        start_logits[name, seed] = np.asarray(bel.predict(model, x_eval))
        start_weights[name, seed] = bel.member_weights(model)
        clock = time.perf_counter()
        bel.fit(model, digits.x_train, digits.y_train, steps=STEPS, learning_rate=LEARNING_RATE)
        fit_seconds[name].append(time.perf_counter() - clock)
        logits[name, seed] = np.asarray(bel.predict(model, x_eval))
        trained[name, seed] = model
for seed in SEEDS:  # the single network of each seed: member 0 of its naive ensemble
    logits["single", seed] = logits["naive", seed][:1]

# %% [markdown]
# Sizes are *measured* from the models' state with `bel.compare` (parameters, of which fast
# weights, and bytes). The last column is this machine's time for one `bel.fit` call, the mean
# over the seeds after the first (the first one also compiles).

# %%
size_of = {"single": bel.mlp(64, C, hidden=HIDDEN, rngs=0)} | {n: trained[n, 0] for n in ENSEMBLES}
sizes = compare.sizes(size_of)
for name in ENSEMBLES:
    sizes[name]["fit (s)"] = np.mean(fit_seconds[name][1:])
columns = ["params", "fast (r, s)", "KiB", "fit (s)"]  # the single network's fit is not timed
print(compare.format_table(sizes, columns, formats={"KiB": ".1f", "fit (s)": ".2f"}))

# %% tags=["remove-input"]
be_share = sizes["BatchEnsemble"]["params"] / sizes["naive"]["params"]
fit_ratio = np.array(fit_seconds["BatchEnsemble"][1:]) / np.array(fit_seconds["naive"][1:])
notice(
    f"BatchEnsemble stores {be_share:.0%} of the naive ensemble's parameters "
    f"({sizes['BatchEnsemble']['params'] / sizes['single']['params']:.2f}× a single network); "
    f"one training run took {np.median(fit_ratio):.1f}× the naive ensemble's time (seed by "
    f"seed, each pair timed back to back: {fit_ratio.min():.1f}× to {fit_ratio.max():.1f}×; the "
    f"first seed, which compiles, is left out). Both push every input "
    f"through {E} networks' worth of arithmetic: BatchEnsemble saves memory, not computation "
    "(notebook 02 times the two in detail)."
)

# %% [markdown]
# ## The main result
#
# The scores of the ensembles' mean prediction (mean of the members' probabilities), as
# mean ± standard deviation over the seeds: on the clean test set, on rotated and noisy test sets
# of middle severity, and the OOD detection AUROC with the predictive entropy as the score (0.5 is
# chance, 1 perfect; defined in the section on OOD detection below). Lower is better for NLL and
# ECE; the scores are defined in [notebook 02, section 1](02_batchensemble_vs_naive.ipynb).
# The verdicts compare the models seed by seed (`bel.compare.seed_gap`): seed $i$ of
# BatchEnsemble against seed $i$ of the other model, and "better" only when the mean gap is larger
# than the gaps' standard deviation over the seeds.

# %%
scores = {  # every score of compare.classification_summary, per model, test set and seed
    (name, kind, v): [compare.classification_summary(block(logits[name, s], kind, v), digits.y_test)
                      for s in SEEDS]
    for name in MODELS for kind, v in blocks if kind in KINDS
}  # fmt: skip


def seeds_of(name, kind, severity, score):
    """One score of one model on one test set: an array with one value per seed."""
    return np.array([r[score] for r in scores[name, kind, severity]])


# %%
def ood_auroc(z, score=metrics.predictive_entropy):
    """AUROC of `score` (higher = more suspect) between the clean test set and the OOD set."""
    s = score(np.concatenate([block(z, "rotate", 0.0), ood(z)], axis=1))  # one shape: one compile
    return float(metrics.auroc(s[:N], s[N:]))


def mean_std(values):
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


entropy_auroc = {n: [ood_auroc(logits[n, s]) for s in SEEDS] for n in MODELS}  # per seed


# %%
ROT, NOISE = 30.0, 0.5  # the middle severities of the table
KINDS_AT = [("rotate", ROT), ("noise", NOISE)]
main = {
    name: {
        "acc": mean_std(seeds_of(name, "rotate", 0.0, "accuracy")),
        "member acc": mean_std(seeds_of(name, "rotate", 0.0, "member_accuracy")),
        "NLL": mean_std(seeds_of(name, "rotate", 0.0, "nll")),
        "ECE": mean_std(seeds_of(name, "rotate", 0.0, "ece")),
        f"ECE rot {ROT:.0f}°": mean_std(seeds_of(name, "rotate", ROT, "ece")),
        f"ECE noise {NOISE}": mean_std(seeds_of(name, "noise", NOISE, "ece")),
        "OOD AUROC": mean_std(entropy_auroc[name]),
    }
    for name in MODELS
}
print(compare.format_table(main))


# %%
be, nv = "BatchEnsemble", "naive"


def against(values, higher_is_better=False):
    """BatchEnsemble against the single model and the naive ensemble, from per-seed values."""
    return "; ".join(
        compare.seed_verdict(values[be], values[other], (be, other),
                             higher_is_better=higher_is_better)
        for other in ("single", nv)
    )  # fmt: skip


# %% tags=["remove-input"]
ece_at = {v: {n: seeds_of(n, k, v, "ece") for n in MODELS} for k, v in KINDS_AT}
notice(
    f"**The main result.** ECE at rotation {ROT:.0f}°: {against(ece_at[ROT])}. ECE under noise "
    f"σ = {NOISE}: {against(ece_at[NOISE])}. OOD AUROC (entropy): "
    f"{against(entropy_auroc, higher_is_better=True)}."
)

# %% [markdown]
# The pictures below show where these numbers come from, seed by seed.
#
# ## Scores against shift severity
#
# For each kind of shift and each severity, the four scores of every model and seed (Ovadia et
# al., 2019, draw the same kind of curves for rotated MNIST). Each dot is one seed; the
# line is the mean over seeds and the band ± one standard deviation.

# %%
SCORES = {"accuracy": "accuracy", "nll": "NLL", "ece": "ECE (15 bins)", "brier": "Brier"}
shift_scores = {  # kind -> score -> model -> [seeds, severities]
    kind: {
        score: {name: np.stack([seeds_of(name, kind, v, score) for v in levels], axis=1)
                for name in MODELS}
        for score in SCORES
    }
    for kind, levels in KINDS.items()
}  # fmt: skip

# %% tags=["hide-input"]
fig = plots.shift_curves(KINDS["rotate"], shift_scores["rotate"], xlabel="rotation (degrees)",
                         labels=SCORES)  # fmt: skip
for ax in fig.axes:
    ax.set_xticks([0, 45, 90, 135, 180])  # the severities span 0-180 degrees
display(fig)


# %%
def mean_at(kind, score, name, severity):
    return shift_scores[kind][score][name][:, list(KINDS[kind]).index(severity)].mean()


# %% tags=["remove-input"]
worst_acc = {n: min(mean_at("rotate", "accuracy", n, v) for v in (90.0, 120.0)) for n in MODELS}
notice(
    f"Accuracy falls with rotation for all three models (at {ROT:.0f}°: "
    + ", ".join(f"{n} {mean_at('rotate', 'accuracy', n, ROT):.2f}" for n in MODELS)
    + f") and ECE rises with it up to 90°–120° (at {ROT:.0f}° the main result above compares "
    + f"them). At 90° and 120° accuracy is down to {min(worst_acc.values()):.2f}–"
    f"{max(worst_acc.values()):.2f}, chance for {C} classes being {1 / C:.3f}, while ECE stays "
    f"above {min(mean_at('rotate', 'ece', n, v) for n in MODELS for v in (90.0, 120.0)):.2f}: "
    "the models are confidently wrong. At 180° accuracy partly recovers (single "
    f"{mean_at('rotate', 'accuracy', 'single', 180.0):.2f}): some digits look alike upside down."
)

# %% tags=["hide-input"]
plots.shift_curves(KINDS["noise"], shift_scores["noise"], xlabel="noise standard deviation",
                   labels=SCORES)  # fmt: skip

# %% tags=["remove-input"]
noise_acc = {n: seeds_of(n, "noise", NOISE, "accuracy") for n in MODELS}
noise_nll = {n: seeds_of(n, "noise", NOISE, "nll") for n in MODELS}
notice(
    f"Under noise of σ = {NOISE}, accuracy: {against(noise_acc, higher_is_better=True)}. "
    f"NLL: {against(noise_nll)}."
)

# %% [markdown]
# ## Reliability diagrams in and out of distribution
#
# The reliability diagram of [notebook 02, section 6](02_batchensemble_vs_naive.ipynb) (Guo et
# al., 2017): per confidence bin, the fraction of right answers against the mean confidence; below
# the diagonal a model is over-confident. The dots' areas show how many inputs fall in each bin;
# a bin with fewer than 10 inputs is drawn grey with its count beside it and left off the line,
# since one answer more or less moves its accuracy by a tenth or more. The test sets of all seeds
# are pooled (each seed's model predicts its own copy).

# %%
def pooled_curve(name, kind, severity):
    z = np.concatenate([block(logits[name, s], kind, severity) for s in SEEDS], axis=1)
    return metrics.reliability_curve(z, np.tile(digits.y_test, len(SEEDS)))


panels = {"clean test": ("rotate", 0.0), f"rotated {ROT:.0f}°": ("rotate", ROT),
          f"noise σ = {NOISE}": ("noise", NOISE)}  # fmt: skip
fig = style.figure(9, 3.4)
axes = fig.subplots(1, 3)
for ax, (title, (kind, v)) in zip(axes, panels.items(), strict=True):
    curves = {name: pooled_curve(name, kind, v) for name in MODELS}
    plots.reliability_diagram(curves, ax=ax, title=title, legend=False)
fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right center")
display(fig)

# %%
def over_confidence(name, kind, severity):
    """Mean confidence minus accuracy over the pooled inputs: > 0 means over-confident."""
    c = pooled_curve(name, kind, severity)
    used = np.asarray(c.count) > 0
    gap = (np.asarray(c.confidence) - np.asarray(c.accuracy))[used]
    return float((np.asarray(c.count)[used] * gap).sum() / np.asarray(c.count).sum())


# %% tags=["remove-input"]
gaps = {title: {n: over_confidence(n, *where) for n in MODELS} for title, where in panels.items()}
shifted = [g for title, g in gaps.items() if title != "clean test"]
top = {n: pooled_curve(n, "rotate", ROT) for n in MODELS}  # the last bin: confidence > 14/15
notice(
    "Mean confidence minus accuracy (above 0: over-confident) is "
    + "; ".join(f"{title}: " + ", ".join(f"{n} {v:+.3f}" for n, v in g.items())
                for title, g in gaps.items())
    + ". Under both shifts "
    + ("every model is over-confident" if all(v > 0 for g in shifted for v in g.values())
       else "not every model is over-confident")
    + f". Rotated by {ROT:.0f}°, the top bin holds "
    + ", ".join(f"{n} {float(c.count[-1] / c.count.sum()):.0%}" for n, c in top.items())
    + " of the inputs, and is right on "
    + ", ".join(f"{n} {float(c.accuracy[-1]):.0%}" for n, c in top.items()) + " of them."
)  # fmt: skip


# %% [markdown]
# ## Out-of-distribution detection
#
# Can a model tell the digits it knows from the 8s and 9s it never saw? Each model gives every
# input an uncertainty score, and the AUROC (`bel.metrics.auroc`) is the probability that a random
# OOD image scores higher than a random test image, ties counting ½:
#
# $$\mathrm{AUROC} = \frac{1}{N_- N_+}\sum_{i,j}\Big(\mathbb 1[s^+_j > s^-_i]
#   + \tfrac12\,\mathbb 1[s^+_j = s^-_i]\Big).$$
#
# Three scores: the predictive entropy $H[\bar p]$, the mutual information (entropy minus the
# members' mean entropy: the members' disagreement) and the maximum probability
# $\max_c \bar p(c)$, negated (Hendrycks & Gimpel, 2017).

# %%
SCORE_FNS = {
    "entropy": metrics.predictive_entropy,
    "mutual information": metrics.mutual_information,
    "max probability": lambda z: -metrics.max_probability(z),
}
aurocs = {"entropy": entropy_auroc} | {  # the entropy's AUROCs are computed above
    score: {name: [ood_auroc(logits[name, s], fn) for s in SEEDS] for name in MODELS}
    for score, fn in SCORE_FNS.items() if score != "entropy"
}  # fmt: skip
plots.grouped_seed_dots(aurocs, ylabel="OOD AUROC (digits 8, 9)", reference=0.5,
                        reference_label="chance")  # fmt: skip

# %% tags=["remove-input"]
mean_auroc = {s: {n: np.mean(v) for n, v in per.items()} for s, per in aurocs.items()}
ent = mean_auroc["entropy"]
notice(
    "With the entropy as the score the mean AUROCs are "
    + ", ".join(f"{n} {v:.3f}" for n, v in ent.items())
    + "; the max probability's AUROC differs from the entropy's by at most "
    f"{max(abs(mean_auroc['max probability'][n] - ent[n]) for n in MODELS):.3f} (mean over "
    "seeds). The single model's mutual "
    "information is 0 everywhere (one member cannot disagree with itself), so its AUROC is "
    f"exactly {mean_auroc['mutual information']['single']:.1f}. The BatchEnsemble seeds spread "
    "over "
    f"{np.ptp(aurocs['entropy']['BatchEnsemble']):.3f} in AUROC, the naive ones over "
    f"{np.ptp(aurocs['entropy']['naive']):.3f}."
)

# %% [markdown]
# ## Accuracy–rejection curves
#
# A model that knows when it does not know can abstain. Mix the test set and the OOD set (an OOD
# image is always a mistake, as in Lakshminarayanan et al.'s (2017) test on known and unseen
# classes, which plots accuracy against a confidence threshold), let each model reject its least
# confident inputs (by max probability) and measure the accuracy on the rest
# (`bel.metrics.accuracy_rejection_curve`). A model that rejected exactly its mistakes would reach
# 1.0 as soon as it had rejected its error rate.

# %%
REJECTED = np.linspace(0.0, 0.9, 10)
labels_mix = np.concatenate([digits.y_test, np.full(N_OOD, -1)])  # -1: no right answer


def rejection_curve(z):
    z_mix = np.concatenate([block(z, "rotate", 0.0), ood(z)], axis=1)
    p = metrics.ensemble_probs(z_mix)
    return metrics.accuracy_rejection_curve(np.argmax(p, -1) == labels_mix, p.max(-1), REJECTED)


curves = {name: np.array([rejection_curve(logits[name, s]) for s in SEEDS]) for name in MODELS}
plots.seed_curves(REJECTED, curves, xlabel="fraction rejected (least confident first)",
                  ylabel="accuracy on the rest", title="test + OOD digits")  # fmt: skip

# %% tags=["remove-input"]
at = list(REJECTED).index(0.5)
notice(
    f"Without rejection every model is right on only {curves['single'][:, 0].mean():.0%} of the "
    f"mix (the OOD images, {N_OOD / (N + N_OOD):.0%} of it, are always wrong). Rejecting the least "
    "confident half raises accuracy to "
    + ", ".join(f"{n} {c[:, at].mean():.3f}" for n, c in curves.items())
    + "; rejecting the single model's mistakes first would give "
    f"{min(1.0, curves['single'][:, 0].mean() / 0.5):.3f}."
)

# %% [markdown]
# ## Is BatchEnsemble one model?
#
# Zamyatin et al. (2026) report BatchEnsemble members that are nearly identical in function and
# parameter space on MNIST, and a BatchEnsemble that tracks a single model on OOD detection. Here
# is the same question on the digits, with five measures of how alike the members are, each
# averaged over pairs of members (`bel.metrics`):
#
# - **disagreement** $D$ ([notebook 02, section 1](02_batchensemble_vs_naive.ipynb)): fraction
#   of inputs where two members' predicted classes differ, and
#   **disagreement / error** $D / \bar e$, divided by the members' mean error rate (Fort et al.,
#   2019): 0 for identical members, 2 for members whose mistakes never coincide (each
#   member's mistake is then a disagreement with the other);
# - **KL**: mean $\mathrm{KL}(p_i \,\|\, p_j)$ between two members' predictions;
# - **correlation** of two members' predicted probabilities (flattened over inputs and classes);
# - **weight cosine** ([notebook 01, section 5](01_effective_weights.ipynb)): cosine similarity
#   of two members' effective weights $W \circ (r_i s_i^\top)$, all layers concatenated (for the
#   naive ensemble, the members' own kernels).
#
# Disagreement is measured on the clean test set and on the OOD set, at initialisation and after
# training, for BatchEnsemble and the naive ensemble.

# %%
def similarity(z, weights):
    """How alike the members are: z are member logits on x_eval, weights [E, P]."""
    test = block(z, "rotate", 0.0)
    return {
        "disagreement": float(metrics.pairwise_disagreement(test)),
        "disagreement / error": float(metrics.normalized_disagreement(test, digits.y_test)),
        "KL": float(metrics.pairwise_kl(test)),
        "correlation": float(metrics.pairwise_correlation(test)),
        "OOD disagreement": float(metrics.pairwise_disagreement(ood(z))),
        "weight cosine": float(metrics.mean_pairwise_cosine(weights)),
    }


# %%
trained_weights = {(n, s): bel.member_weights(trained[n, s]) for n in ENSEMBLES for s in SEEDS}
alike = {}
for name in ENSEMBLES:
    for when, z, w in [("at init", start_logits, start_weights),
                       ("trained", logits, trained_weights)]:
        alike[name, when] = [similarity(z[name, s], w[name, s]) for s in SEEDS]
table = {f"{name} {when}": {k: mean_std([r[k] for r in rows]) for k in rows[0]}
         for (name, when), rows in alike.items()}  # fmt: skip
print(compare.format_table(table))

# %% tags=["hide-input"]
MEASURES = ["disagreement / error", "OOD disagreement", "correlation", "weight cosine"]
fig = style.figure(9, 3.2)
axes = fig.subplots(1, len(MEASURES))
for ax, measure in zip(axes, MEASURES, strict=True):
    values = {when: {name: [r[measure] for r in alike[name, when]] for name in ENSEMBLES}
              for when in ["at init", "trained"]}  # fmt: skip
    plots.grouped_seed_dots(values, ax=ax, title=measure, legend=False)
fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2)
display(fig)


# %%
def mean_of(name, when, measure):
    return np.mean([r[measure] for r in alike[name, when]])


after = {(n, m): mean_of(n, "trained", m) for n in (be, nv) for m in table[f"{be} trained"]}
cos_init = mean_of(be, "at init", "weight cosine")


# %% tags=["remove-input"]
notice(
    f"After training, the BatchEnsemble's members disagree on "
    f"{after[be, 'disagreement']:.1%} of the test digits (naive {after[nv, 'disagreement']:.1%}), "
    f"or {after[be, 'disagreement / error']:.2f} times their error rate (naive "
    f"{after[nv, 'disagreement / error']:.2f}); on the OOD digits, "
    f"{after[be, 'OOD disagreement']:.0%} against {after[nv, 'OOD disagreement']:.0%}. In weight "
    f"space they are far from independent: cosine {after[be, 'weight cosine']:.2f} against "
    f"{after[nv, 'weight cosine']:.2f}, and training "
    + ("raised" if after[be, "weight cosine"] > cos_init else "lowered")
    + f" it from {cos_init:.2f} at initialisation."
)

# %% [markdown]
# ### The knob that matters: the initialisation of $r, s$
#
# BatchEnsemble's members differ only through $r_i, s_i$ (and their biases), so the way these
# start should decide how alike the members end up. We retrain the BatchEnsemble on every seed
# for each of two other initialisations, everything else at its default: random signs $\pm 1$
# (the paper's Appendix B), and $\mathcal N(1, \sigma^2)$ with $\sigma = 0.1$ instead of the
# default $0.5$. (The member count and the training protocol are measured in notebook
# [07](07_what_batchensemble_buys.ipynb).)

# %%
KNOBS = {  # label: options of the BatchEnsemble layers
    "±1 signs": {"init": "random_sign"},
    "σ = 0.1": {"r_std": 0.1, "s_std": 0.1},
}


# %%
default = zip(alike[be, "trained"], SEEDS, strict=True)
knobs = {"default": [r | {"OOD AUROC": ood_auroc(logits[be, s])} for r, s in default]}
for label, options in KNOBS.items():
    knobs[label] = []
    for seed in SEEDS:
        model = make(be, seed, **options)
        bel.fit(model, digits.x_train, digits.y_train, steps=STEPS, learning_rate=LEARNING_RATE)
        z, w = np.asarray(bel.predict(model, x_eval)), bel.member_weights(model)
        knobs[label].append(similarity(z, w) | {"OOD AUROC": ood_auroc(z)})
print(", ".join(f"{label}: {len(rows)} seeds" for label, rows in knobs.items()))  # fmt: skip

# %%
KNOB_MEASURES = ["disagreement / error", "OOD disagreement", "weight cosine", "OOD AUROC"]
naive_reference = {m: np.mean([r[m] for r in alike[nv, "trained"]]) for m in KNOB_MEASURES[:3]}
naive_reference["OOD AUROC"] = np.mean(aurocs["entropy"][nv])
fig = style.figure(9, 5.6)
axes = fig.subplots(2, 2).ravel()
for ax, measure in zip(axes, KNOB_MEASURES, strict=True):
    values = {label: {be: [r[measure] for r in rows]} for label, rows in knobs.items()}
    plots.grouped_seed_dots(values, ax=ax, title=measure, reference=naive_reference[measure],
                            reference_label="naive ensemble (mean)", legend=False)
    ax.tick_params(axis="x", labelrotation=30)
fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2)
display(fig)


# %%
def knob_mean(label, measure):
    return np.mean([r[measure] for r in knobs[label]])


knob = {(k, m): knob_mean(k, m) for k in knobs for m in KNOB_MEASURES}
wide = {m: [r[m] for r in knobs["default"]] for m in KNOB_MEASURES}  # σ = 0.5
narrow = {m: [r[m] for r in knobs["σ = 0.1"]] for m in KNOB_MEASURES}


# %% tags=["remove-input"]
notice(
    f"From σ = 0.1 to the default σ = 0.5 the OOD disagreement goes from "
    f"{knob['σ = 0.1', 'OOD disagreement']:.0%} to {knob['default', 'OOD disagreement']:.0%}, "
    "and the OOD AUROC: "
    + compare.seed_verdict(wide["OOD AUROC"], narrow["OOD AUROC"], ("σ = 0.5", "σ = 0.1"))
    + f" (naive ensemble {naive_reference['OOD AUROC']:.3f}). Random signs give a weight cosine of "
    f"{knob['±1 signs', 'weight cosine']:.2f} (default {knob['default', 'weight cosine']:.2f}) "
    f"and an OOD disagreement of {knob['±1 signs', 'OOD disagreement']:.0%} (default "
    f"{knob['default', 'OOD disagreement']:.0%}): weight cosine measures the direction of the "
    "weights, which sign flips turn, and says little about how differently the members predict."
)  # fmt: skip

# %% [markdown]
# ## Conclusions
#
# Each statement below is printed from the numbers measured above; re-run with other seeds and
# they update.

# %%
clean = {n: seeds_of(n, "rotate", 0.0, "accuracy") for n in MODELS}
nll_clean = {n: seeds_of(n, "rotate", 0.0, "nll") for n in MODELS}
member_acc = {n: seeds_of(n, "rotate", 0.0, "member_accuracy").mean() for n in MODELS}
near = [r["OOD AUROC"] for r in knobs["σ = 0.1"]]  # σ = 0.1 members, per seed
tight = {"disagreement / error": [r["disagreement / error"] for r in knobs["σ = 0.1"]]}
per_seed = {n: [r["disagreement / error"] for r in alike[n, "trained"]] for n in (be, nv)}

# %% tags=["remove-input"]
notice(
    f"- **In distribution**, accuracy: {against(clean, higher_is_better=True)}. NLL: "
    f"{against(nll_clean)}. BatchEnsemble's members are on their own {member_acc[be]:.3f} "
    f"accurate, against {member_acc[nv]:.3f} for the naive members and "
    f"{member_acc['single']:.3f} for a single network."
)

# %% tags=["remove-input"]
notice(
    f"- **Under shift**, ECE at rotation {ROT:.0f}°: {against(ece_at[ROT])}. Under noise "
    f"σ = {NOISE}, ECE: {against(ece_at[NOISE])}; accuracy: "
    f"{against(noise_acc, higher_is_better=True)}; NLL: {against(noise_nll)}."
)

# %% tags=["remove-input"]
notice(
    f"- **Out of distribution** (entropy AUROC): {against(entropy_auroc, higher_is_better=True)}. "
    f"BatchEnsemble's seeds spread {np.std(entropy_auroc[be]):.3f}, the naive ensemble's "
    f"{np.std(entropy_auroc[nv]):.3f}. With the mutual information as the score, "
    + compare.seed_verdict(aurocs["mutual information"][be], aurocs["mutual information"][nv],
                           (be, nv))
    + "."
)  # fmt: skip

# %% tags=["remove-input"]
notice(
    "- **Is BatchEnsemble one model?** Disagreement per error of the trained members: "
    + compare.seed_verdict(per_seed[nv], per_seed[be], (nv, be), better="higher")
    + f"; on the OOD digits they disagree on {after[be, 'OOD disagreement']:.0%} (naive "
    f"{after[nv, 'OOD disagreement']:.0%}). In weight space they are one model rescaled: cosine "
    f"{after[be, 'weight cosine']:.2f}. With r, s ~ N(1, 0.1²) the members "
    f"disagree {np.mean(tight['disagreement / error']):.2f}× their error rate, and the OOD "
    "AUROC against the single model's: "
    + compare.seed_verdict(near, entropy_auroc["single"], ("σ = 0.1", "single"),
                           higher_is_better=True)
    + "."
)  # fmt: skip

# %% tags=["remove-input"]
ood_dis = {n: [r["OOD disagreement"] for r in alike[n, "trained"]] for n in (be, nv)}
notice(
    "**How this fits with notebooks 02, 03 and 07.** Here, with the default initialisation "
    f"N(1, 0.5²) and {STEPS} full-batch steps, the members' disagreement on the held-out digits: "
    + compare.seed_verdict(ood_dis[be], ood_dis[nv], (be, nv), better="higher")
    + ". With σ = 0.1 instead, its OOD AUROC against the single model's: "
    + compare.seed_verdict(narrow["OOD AUROC"], entropy_auroc["single"], ("σ = 0.1", "single"))
    + "."
)  # fmt: skip

# %% [markdown]
# So on these digits BatchEnsemble's members are as different as their initialisation makes
# them: the default spread of $r, s$ keeps them apart through this short training, a small one
# gives near copies that detect OOD digits like one network, which is what Zamyatin et al. (2026)
# report for BatchEnsemble on MNIST and image benchmarks. Two things set this notebook apart from
# notebook [02](02_batchensemble_vs_naive.ipynb)'s toy plane. The held-out 8s and 9s share
# strokes with the digits the models know, so they are *near* the training distribution, like the
# rotated and noisy digits, rather than far from it like the corners of the plane in 02, where
# straight-line extrapolation takes over. And every member here saw the same rows (`bel.fit`'s
# default, the uncertainty-baselines recipe), while the paper splits each batch among the
# members. Notebook [`07_what_batchensemble_buys`](07_what_batchensemble_buys.ipynb) measures
# both protocols and the member count, and sets these results beside the field's published
# numbers.

# %% [markdown]
# ## Exercises
#
# Each exercise has a cell to edit and a check cell that says "correct" or what is still off.
# Solutions are in `notebooks/solutions/`; to see one, type e.g.
# `%load solutions/06_ex1_auroc_by_counting.py` into a new cell and run it.
#
# ### Exercise 1 · AUROC by counting pairs
#
# Write `auroc_by_counting(negatives, positives)`: go through every (negative, positive) pair, count
# 1 when the positive scores higher, ½ on a tie, and divide by the number of pairs. The check
# compares it with `bel.metrics.auroc` on examples full of ties.
# (Solution: `solutions/06_ex1_auroc_by_counting.py`.)

# %%
def auroc_by_counting(negatives, positives):
    """P(a positive outscores a negative), ties counting 1/2, by counting every pair."""
    wins = 0.0
    for s_neg in negatives:
        for s_pos in positives:
            wins += 1.0 if s_pos > s_neg else 0.0  # ... and a tie?
    return wins / (len(negatives) * len(positives))


# %%
def check_auroc():
    rng = np.random.default_rng(6)
    for n_neg, n_pos in [(3, 2), (7, 5), (12, 9)]:
        neg = rng.integers(0, 3, n_neg).astype(np.float32)  # small integers: many ties
        pos = rng.integers(0, 4, n_pos).astype(np.float32)
        mine, reference = auroc_by_counting(neg, pos), float(metrics.auroc(neg, pos))
        if not np.isclose(mine, reference, atol=1e-6):
            print(f"not yet: for {neg.tolist()} vs {pos.tolist()} you give {mine:.4f}, "
                  f"bel.metrics.auroc {reference:.4f}. Hint: what does a tie count?")  # fmt: skip
            return
    print("correct: AUROC = (wins + ties / 2) / pairs, the Mann-Whitney statistic")


check_auroc()

# %% [markdown]
# ### Exercise 2 · A third shift: translation
#
# `bel.data.shift_digits(x, "translate", 2.0)` moves every test digit by 2 pixels in a random
# direction; `x_eval` holds that test set too, so every model's logits on it are already in
# `block(logits[name, seed], "translate", 2.0)`. Predict first: which of the three models will be
# best calibrated? Then compute, for each model, the mean over the seeds of `metrics.ece` on
# these logits into `translated_ece`, and set `best_calibrated` to the name of the model with the
# lowest. (Solution: `solutions/06_ex2_translation.py`.)

# %%
translated_ece = {}  # {model name: mean ECE over the seeds}
best_calibrated = "?"


# %%
def check_translation():
    moved = {n: [block(logits[n, s], "translate", 2.0) for s in SEEDS] for n in MODELS}
    reference = {n: np.mean([float(metrics.ece(z, digits.y_test)) for z in moved[n]])
                 for n in MODELS}  # fmt: skip
    if set(translated_ece) != set(MODELS):
        print(f"not yet: translated_ece needs one entry per model {MODELS}")
    elif not all(np.isclose(translated_ece[n], reference[n], atol=1e-4) for n in MODELS):
        print("not yet: some ECEs differ from the check's; average metrics.ece over SEEDS")
    elif best_calibrated != min(reference, key=reference.get):
        print(f"not yet: the ECEs are right, but {best_calibrated!r} is not the lowest")
    else:
        print(f"correct: {best_calibrated} has the lowest ECE under a 2-pixel translation")


check_translation()

# %% [markdown]
# ### Exercise 3 · Members or models?
#
# The single networks of the different seeds are independent models. Stack their clean-test
# logits into one `[len(SEEDS), N, C]` array, as if they were the members of one ensemble,
# and compute their pairwise disagreement and disagreement / error (`metrics`). Are BatchEnsemble's
# members more alike than independent networks, or less? (Solution:
# `solutions/06_ex3_independent_singles.py`.)

# %%
singles = None  # an array [len(SEEDS), N, C] of the single models' logits on the clean test set
singles_disagreement = 0.0
singles_normalized = 0.0


# %%
def singles_reference():
    """What the check expects: the singles' clean-test logits, disagreement, and per error."""
    z = np.concatenate([block(logits["single", s], "rotate", 0.0) for s in SEEDS])
    d = float(metrics.pairwise_disagreement(z))
    return z, d, float(metrics.normalized_disagreement(z, digits.y_test))


# %%
def check_singles():
    reference, d, d_per_error = singles_reference()
    shaped = singles is not None and np.shape(singles) == reference.shape
    if not shaped or not np.allclose(singles, reference):
        print(f"not yet: singles should stack the singles' clean-test logits, {reference.shape}")
    elif not np.isclose(singles_disagreement, d):
        print("not yet: singles_disagreement is not metrics.pairwise_disagreement(singles)")
    elif not np.isclose(singles_normalized, d_per_error):
        print("not yet: singles_normalized is not metrics.normalized_disagreement(singles, labels)")
    else:
        print(f"correct: {len(SEEDS)} single networks disagree {d_per_error:.2f}x their error "
              f"rate; BatchEnsemble's members {after[be, 'disagreement / error']:.2f}x")


check_singles()

# %% [markdown]
# ## Summary
#
# - Real data need no download: `bel.data.digits` splits scikit-learn's digits and holds digits
#   out as an OOD set; `bel.data.shift_digits` rotates, adds noise or translates with a severity
#   knob.
# - Judge uncertainty where it matters, away from the training distribution: scores against shift
#   severity, reliability diagrams under shift, OOD AUROC with several scores, accuracy–rejection
#   curves; every one of them over seeds, one dot per seed.
# - The same metrics answer "is BatchEnsemble one model?": disagreement (also per error),
#   KL, prediction correlation and weight cosine, at initialisation and after training, and for
#   each initialisation of the fast weights. The conclusions above give this run's answers, with a
#   verdict only where a gap is larger than its spread over the seeds.
#
# ## References
#
# - Y. Wen, D. Tran, J. Ba. *BatchEnsemble: an Alternative Approach to Efficient Ensemble and
#   Lifelong Learning.* ICLR 2020. [arXiv:2002.06715v2](https://arxiv.org/abs/2002.06715v2)
#   (random-sign initialisation of $r, s$: Appendix B).
# - Y. Ovadia et al. *Can You Trust Your Model's Uncertainty? Evaluating Predictive Uncertainty
#   Under Dataset Shift.* NeurIPS 2019. [arXiv:1906.02530](https://arxiv.org/abs/1906.02530)
# - C. Guo, G. Pleiss, Y. Sun, K. Q. Weinberger. *On Calibration of Modern Neural Networks.* ICML
#   2017. [arXiv:1706.04599](https://arxiv.org/abs/1706.04599)
# - D. Hendrycks, K. Gimpel. *A Baseline for Detecting Misclassified and Out-of-Distribution
#   Examples in Neural Networks.* ICLR 2017. [arXiv:1610.02136](https://arxiv.org/abs/1610.02136)
# - B. Lakshminarayanan, A. Pritzel, C. Blundell. *Simple and Scalable Predictive Uncertainty
#   Estimation using Deep Ensembles.* NeurIPS 2017.
#   [arXiv:1612.01474](https://arxiv.org/abs/1612.01474)
# - S. Fort, H. Hu, B. Lakshminarayanan. *Deep Ensembles: A Loss Landscape Perspective.* 2019
#   (disagreement divided by the error rate). [arXiv:1912.02757](https://arxiv.org/abs/1912.02757)
# - Zamyatin et al. *Is BatchEnsemble a Single Model?* 2026.
#   [arXiv:2601.16936](https://arxiv.org/abs/2601.16936)
# - The data: scikit-learn's
#   [`load_digits`](https://scikit-learn.org/stable/modules/generated/sklearn.datasets.load_digits.html)
#   (a copy of the UCI optical recognition of handwritten digits test set).
#
# **Next:** [`07_what_batchensemble_buys`](07_what_batchensemble_buys.ipynb): what
# BatchEnsemble buys you, and what it doesn't, across all of these settings; or back to
# [`03_diversity_explorer`](03_diversity_explorer.ipynb) to move the initialisation sliders
# yourself.

# %%
wall, cpu = time.perf_counter() - START, time.process_time() - START_CPU
print(f"this run took {wall:.0f} s of wall-clock time and {cpu:.0f} s of CPU time (all threads);")
print("other programs on a busy machine stretch the first, not the second")
