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
# # 05 · Lifelong learning: one shared W, a new member per task
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/OWNER/REPO/HEAD?labpath=notebooks/05_lifelong_learning.ipynb)
#
# **What you will learn.** The second half of the BatchEnsemble paper is not about ensembles at
# all: it is about learning a *sequence* of tasks without forgetting the old ones. You train the
# shared weight `W` (with its `r`, `s` and bias) on a first task, then freeze `W` and learn every
# new task as a new *member*: only a new pair `r`, `s` and a bias per layer. You will watch this
# learn five rotated versions of a toy problem, check bit for bit that nothing learned earlier
# changes, compare it with the obvious alternative (keep fine-tuning one network, which forgets),
# and count what a new task costs: `in + out (+ out)` parameters per layer instead of a whole
# network.

# %% [markdown]
# ## Setup
#
# Everything below runs on a CPU in seconds. `bel.lifelong` holds the four small functions this
# notebook needs (`add_member`, `member`, `set_member`, `parameter_cost`) plus two helpers to make
# the tasks and score them; `bel.plots.lifelong` draws the figures.

# %%
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from flax import nnx

import bel
import bel.lifelong as lifelong
import bel.plots.lifelong as lifelong_plots

plt.rcParams["figure.dpi"] = 80
STEPS, LEARNING_RATE = 400, 1e-2  # the same training budget for every task and every method

# %% [markdown]
# ## The tasks: one problem, five rotations
#
# Task `t` is the two-moons problem rotated by `ANGLES[t]` degrees about the origin. The tasks
# share structure (curved class boundaries) but conflict: a point that is class 0 in one task can
# be class 1 in another, so one network cannot get them all right at once. Each task has its own
# training set and a larger held-out test set (another seed).

# %%
ANGLES = [0, 45, 90, 135, 180]
NAMES = [f"{a}°" for a in ANGLES]
train_tasks = lifelong.rotated_tasks(ANGLES, n=256, seed=0)
test_tasks = lifelong.rotated_tasks(ANGLES, n=512, seed=1)
fig = lifelong_plots.task_maps(test_tasks, titles=NAMES)

# %% [markdown]
# Notice how the 180° task puts each class roughly where the *other* class was in the 0° task:
# learning it with the same weights means unlearning the first one.

# %% [markdown]
# ## Task 0: train everything
#
# A BatchEnsemble MLP with **one** member, `2 → 64 → 64 → 2`, trained in full (kernels `W`, `r`,
# `s`, biases) on the first task. One member is enough: in the lifelong setting a member is not an
# ensemble voter but *the adapter of one task*. Its `r` and `s` start as random signs (±1 entries,
# the paper's Appendix B), and so will every later member's: a new member then starts from
# sign-flipped versions of the features `W` computes, which gives it more to choose from than
# factors that all start near +1.

# %%
model = bel.batchensemble(bel.mlp(2, 2, hidden=(64, 64), rngs=0), 1, rngs=1, init="random_sign")
bel.fit(model, *train_tasks[0], steps=STEPS, learning_rate=LEARNING_RATE)
task0_model = nnx.clone(model)  # kept for the fine-tuning baseline below
print(f"task 0 test accuracy: {lifelong.task_accuracies(model, test_tasks[:1])[0]:.3f}")

# %% [markdown]
# ## A new task: freeze W, add one member
#
# For task 1 the recipe has four steps:
#
# 1. `add_member(model, rngs)` gives every BatchEnsemble layer a new row: fresh `r` and `s` drawn
#    like the existing ones (random signs here), and a bias row that starts at the mean of the
#    existing members' biases.
# 2. `member(model, 1)` returns member 1 as a one-member model. In it, every shared weight is a
#    `FrozenWeight`, which is *not* an `nnx.Param`: no optimiser that trains `nnx.Param`s can see
#    it. This is freezing by type, not by name.
# 3. `bel.fit` trains that one-member model as usual, so it updates exactly `r`, `s` and bias.
# 4. `set_member(model, 1, new)` writes them into row 1 and nowhere else.

# %%
rngs = nnx.Rngs(2)  # one stream for every new member's r and s
lifelong.add_member(model, rngs)
new = lifelong.member(model, 1)
trainable = bel.compare.parameter_count(new, nnx.Param)
frozen = bel.compare.parameter_count(new, lifelong.FrozenWeight)
print(f"trainable in member 1: {trainable} parameters (r, s, bias of 3 layers)")
print(f"frozen, shared with member 0: {frozen} (the kernels W)")

# %% [markdown]
# Now train member 1 on task 1 and write it back. Before that, take a snapshot of member 0 and the
# kernels, to check afterwards that they did not move by a single bit.

# %%
snapshot = nnx.state(lifelong.member(model, 0))  # member 0's rows and the frozen W, as arrays
bel.fit(new, *train_tasks[1], steps=STEPS, learning_rate=LEARNING_RATE)
lifelong.set_member(model, 1, new)
unchanged = jax.tree.map(jnp.array_equal, snapshot, nnx.state(lifelong.member(model, 0)))
assert all(jax.tree.leaves(unchanged)), "member 0 or a shared kernel changed"
print("member 0 and every kernel are bit-identical after learning task 1")
print("test accuracy per task:", lifelong.task_accuracies(model, test_tasks).round(3))

# %% [markdown]
# `task_accuracies` scores task `j` with member `j` (the task identity is known at test time, as in
# the paper) and leaves tasks without a member as `nan`.
#
# ## The remaining tasks, and an accuracy matrix
#
# The same four steps for tasks 2, 3 and 4. After every task we record one row of the
# *task × time* accuracy matrix: row `i` holds the test accuracy on every task after training on
# task `i`, and we re-check that every earlier member is bit-identical.

# %%
def learn_new_task(model, t):
    lifelong.add_member(model, rngs)
    new = lifelong.member(model, t)
    bel.fit(new, *train_tasks[t], steps=STEPS, learning_rate=LEARNING_RATE)
    lifelong.set_member(model, t, new)


# %%
acc_lifelong = [lifelong.task_accuracies(task0_model, test_tasks)]
acc_lifelong.append(lifelong.task_accuracies(model, test_tasks))
for t in range(2, len(ANGLES)):
    before = [nnx.state(lifelong.member(model, k)) for k in range(t)]
    learn_new_task(model, t)
    after = [nnx.state(lifelong.member(model, k)) for k in range(t)]
    assert all(jax.tree.leaves(jax.tree.map(jnp.array_equal, before, after)))
    acc_lifelong.append(lifelong.task_accuracies(model, test_tasks))
acc_lifelong = np.array(acc_lifelong)
print(f"{lifelong.num_members(model)} members; earlier members bit-identical after every task")

# %% [markdown]
# ## The baseline: keep fine-tuning one network
#
# The obvious alternative starts from the *same* task-0 network and simply trains all of it on
# each new task in turn, with the same number of steps. It has no extra parameters, and nothing
# stops it from overwriting what the earlier tasks needed.

# %%
def tasks_seen_so_far(t):
    """Member 0 (the only one) answers tasks 0..t; later tasks are left as nan."""
    return [0] * (t + 1) + [None] * (len(ANGLES) - t - 1)


finetuned = nnx.clone(task0_model)
acc_finetune = [lifelong.task_accuracies(finetuned, test_tasks, tasks_seen_so_far(0))]
for t in range(1, len(ANGLES)):
    bel.fit(finetuned, *train_tasks[t], steps=STEPS, learning_rate=LEARNING_RATE)
    acc_finetune.append(lifelong.task_accuracies(finetuned, test_tasks, tasks_seen_so_far(t)))
acc_finetune = np.array(acc_finetune)

# %% [markdown]
# Both matrices side by side. Read a *column* downwards to follow one task over time; the diagonal
# is the accuracy right after learning a task. Tasks not learned yet are left blank on both sides.

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
lifelong_plots.accuracy_matrix(
    acc_lifelong, axes[0], title="frozen W + one member per task", task_labels=NAMES
)
lifelong_plots.accuracy_matrix(
    acc_finetune, axes[1], title="fine-tuning one network", task_labels=NAMES
)
fig.tight_layout()

# %% [markdown]
# On the left, every column keeps its value from the moment its task is learned to the end: the
# earlier members are never written, so their accuracy cannot move. On the right, each new rotation
# erodes the earlier tasks, the more the further it is rotated from them; by the end the network is
# far *below* chance (0.5) on the 0° task, because the 180° task asks for nearly the opposite
# labels.

# %%
print("right after learning each task, lifelong:   ", np.diag(acc_lifelong).round(3))
print("right after learning each task, fine-tuning:", np.diag(acc_finetune).round(3))
print("at the end, lifelong:                       ", acc_lifelong[-1].round(3))
print("at the end, fine-tuning:                    ", acc_finetune[-1].round(3))

# %% [markdown]
# The first two lines are the diagonals: a new member, which can only rescale the rows and columns
# of the frozen `W` and shift its biases, learned each rotation about as well as fine-tuning the
# whole network did. The last two lines are the bottom rows of the matrices.
#
# *Try this:* remove `init="random_sign"` where the model is built (members then start from
# `r, s ~ N(1, 0.5²)`) and rerun with a few different seeds in `nnx.Rngs(2)`. Do the new members
# always reach the same accuracy in the same number of steps?

# %% [markdown]
# ## What each approach has learned, seen as decision maps
#
# Top row: member `t` of the lifelong model on task `t`. Bottom row: the fine-tuned network after
# the last task, on every task. Colour is the predicted probability of class 1; the dots are the
# test points, coloured by their true class.

# %%
members = [lifelong.member(model, t) for t in range(len(ANGLES))]
fig = lifelong_plots.task_maps(
    test_tasks, {"lifelong\n(member t)": members, "fine-tuned\n(after 180°)": finetuned},
    titles=NAMES,
)

# %% [markdown]
# Each member draws its own boundary along its own rotated moons. The fine-tuned network has only
# one boundary left, the one for 180°: right on the last task, and on the 0° task it puts each moon
# on the wrong side.

# %% [markdown]
# ## What a new task costs
#
# A new member adds `in + out` (for `r` and `s`) plus `out` (its bias) per layer. For
# `2 → 64 → 64 → 2` that is `(2+64+64) + (64+64+64) + (64+2+2)`. The alternative that does not
# forget either is a separate network per task. Both numbers below are counted from the models'
# state, not from the formula.

# %%
cost = lifelong.parameter_cost(model)
separate = bel.compare.parameter_count(bel.mlp(2, 2, hidden=(64, 64), rngs=0))
print(f"shared kernels W (paid once):  {cost['shared']}")
print(f"one more task, lifelong:       {cost['per_task']}")
print(f"one more task, separate model: {separate}")
print(f"a new task costs {cost['per_task'] / separate:.1%} of a separate model")

# %%
tasks_seen = np.arange(1, 21)
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(tasks_seen, tasks_seen * separate, "o-", ms=3, label="a separate network per task")
lifelong_total = cost["shared"] + tasks_seen * cost["per_task"]
ax.plot(tasks_seen, lifelong_total, "o-", ms=3, label="shared W + one member per task")
ax.axhline(separate, color="grey", ls="--", label="one fine-tuned network (forgets)")
ax.set(xlabel="number of tasks", ylabel="parameters", xticks=[1, 5, 10, 15, 20])
ax.legend(fontsize=8)
fig.tight_layout()
print("tasks   lifelong   separate networks")
for n in (1, 5, 20):
    print(f"{n:5d} {lifelong_total[n - 1]:10d} {n * separate:19d}")

# %% [markdown]
# Separate networks grow by a whole network per task; the lifelong model by a sliver, so its line
# is almost flat. With a single task it is even slightly larger than one plain network (it carries
# `r` and `s` on top of `W`), but a few tasks later it is a fraction of the separate networks (see
# the counts printed above the figure).

# %% [markdown]
# ## What this does not give you
#
# - **Task identity at test time.** Each task is answered by *its* member; the model has to be told
#   which task an input belongs to. The paper makes the same assumption.
# - **A good W for every future task.** `W` is learned on task 0 only. The new members can only
#   rescale its rows and columns (`W ∘ r sᵀ`) and shift the biases, so a task that needs features
#   `W` never learned can be learned less well than by a network of its own.
# - **Constant memory.** The model still grows by one member per task, just slowly.

# %% [markdown]
# ## Exercises
#
# Each exercise cell runs as it is and its check says "not yet" until you fill it in; then the
# check says "correct" or explains what is off. The solutions are in `notebooks/solutions/`: to
# see one, type `%load solutions/05_ex1_cost.py` (or `05_ex2_new_task.py`,
# `05_ex3_forgetting.py`) into an empty cell and run it.
#
# **Exercise 1 — the cost of a task by hand.** A lifelong BatchEnsemble network
# `3 → 32 → 32 → 4` with biases: how many parameters does one more task add? Write the formula as
# Python arithmetic (not a count from the model).

# %%
my_cost = None  # replace None with your arithmetic, e.g. (3 + 32 + 32) + ...

# %%
# nnx.eval_shape builds the model from shapes only: instant, no random numbers drawn.
reference = nnx.eval_shape(
    lambda: bel.batchensemble(bel.mlp(3, 4, hidden=(32, 32), rngs=0), 1, rngs=1)
)
expected = lifelong.parameter_cost(reference)["per_task"]
if my_cost is None:
    print("not yet — hint: per layer, r has `in` entries, s and the bias `out` each")
elif my_cost == expected:
    print("correct")
else:
    print(f"not quite: you have {my_cost}; check each layer's in + out + out once more")

# %% [markdown]
# **Exercise 2 — one more task.** Add a sixth task: the un-rotated moons with the two labels
# swapped (`1 - y`). Learn it as member 5 with the four steps above, and store the one-member model
# you trained in `member5`. Does any earlier task's accuracy change?

# %%
swapped_train = (train_tasks[0][0], 1 - train_tasks[0][1])
swapped_test = (test_tasks[0][0], 1 - test_tasks[0][1])
member5 = None  # your code: add_member, member, fit, set_member

# %%
if member5 is None:
    print("not yet — hint: lifelong.add_member(model, rngs), then lifelong.member(model, 5) ...")
else:
    acc_new = lifelong.task_accuracies(model, [*test_tasks, swapped_test])
    assert lifelong.num_members(model) == 6, "the model should have 6 members now"
    assert np.array_equal(acc_new[:5], acc_lifelong[-1]), "an earlier task's accuracy changed"
    assert acc_new[5] > 0.9, f"member 5 reaches only {acc_new[5]:.3f} on the swapped task"
    print(f"correct: {acc_new[5]:.3f} on the new task, earlier tasks exactly as before")

# %% [markdown]
# **Exercise 3 — measuring forgetting.** A common summary of an accuracy matrix `acc` with `T`
# tasks is the *average forgetting*: for every task but the last, how much its accuracy dropped
# from right after it was learned (`acc[j, j]`) to the end (`acc[T-1, j]`), averaged over those
# `T-1` tasks. Write `forgetting(acc)`.

# %%
def forgetting(acc):
    return None  # your code


# %%
toy = np.array([[0.9, np.nan, np.nan], [0.6, 1.0, np.nan], [0.5, 0.8, 0.7]])
answer = forgetting(toy)
if answer is None:
    print("not yet — hint: compare the diagonal with the last row, for j < T-1")
elif np.isclose(answer, ((0.9 - 0.5) + (1.0 - 0.8)) / 2):
    print("correct on a toy matrix; on ours:")
    print(f"  lifelong:    {forgetting(acc_lifelong):.3f}")
    print(f"  fine-tuning: {forgetting(acc_finetune):.3f}")
else:
    print(f"not quite: forgetting(toy) should be 0.3, got {answer}")
