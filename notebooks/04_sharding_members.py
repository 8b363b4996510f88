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
# # 04 · Sharding the members: when one device is not enough
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/OWNER/REPO/HEAD?labpath=notebooks/04_sharding_members.ipynb)
#
# **What you will learn.** Everything that belongs to member `i` of a BatchEnsemble layer sits in
# row `i` of `r`, `s` and the bias; only `W` is shared. That makes the members easy to spread
# over several devices: give every device its own rows of `r`, `s` and bias, a copy of `W`, and
# the rows of the member-major batch that belong to its members. You will simulate 8 devices on
# this CPU, build a mesh with `jax.make_mesh`, place the members with `bel.sharding.shard_members`
# (plain `NamedSharding` and `PartitionSpec` underneath) and look at where every array lives. You
# will check that the sharded forward pass and a training step give the same numbers as the
# unsharded ones, read in the compiled program that the forward pass needs no communication at all
# and the backward pass exactly one sum across devices, measure what each device has to store
# (against a naive ensemble, honestly), and see what changes when the same code runs on many
# machines with `jax.distributed`.

# %% [markdown]
# ## 0. Eight devices on one CPU
#
# JAX can split the CPU into several *simulated* devices. They share the same cores and memory,
# so nothing gets faster, but every sharding rule, every placement and every communication step
# is exactly what would happen on 8 GPUs. The flag is read once, when JAX starts: it must be set
# **before `jax` is imported**, which is why it comes first. (If you already imported JAX in this
# kernel, restart the kernel and run from the top.)

# %%
import os

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"  # before importing jax

import jax

print(jax.devices())
if len(jax.devices()) != 8:
    print("JAX started before XLA_FLAGS was set: restart the kernel and run from the top.")

# %%
# %matplotlib inline
import re

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
from flax import nnx

import bel
from bel.sharding import collectives, device_bytes, shard_batch, shard_members

plt.rcParams["figure.dpi"] = 80
E = 8  # ensemble members: one per device

# %% [markdown]
# ## 1. A mesh gives the devices names
#
# A *mesh* arranges devices in a grid and names its axes. One axis is enough here: 8 devices
# along an axis called `"members"`. A `PartitionSpec` then says, per array axis, which mesh axis
# it is split over (`P("members")`: split the first axis 8 ways) or that it is copied to every
# device (`None`, or `P()` for the whole array). `jax.make_mesh` makes an *explicit* mesh by
# default: the sharding becomes part of each array's type, so you can print it.

# %%
mesh = jax.make_mesh((8,), ("members",))
print(mesh)

# %% [markdown]
# ## 2. Put the members on the devices
#
# The model is a BatchEnsemble MLP (2 → 32 → 32 → 2) with `E = 8` members, for the two-moons
# task. `reference` stays on one device; `model` is an exact copy that `shard_members` spreads
# out: every layer's `r`, `s` and bias get `P("members")`, the shared kernels `W` get `P()`.

# %%
x, y = bel.data.two_moons(256, seed=0)
reference = bel.batchensemble(bel.mlp(2, 2, hidden=(32, 32), rngs=0), E, rngs=1)
model = shard_members(nnx.clone(reference), mesh)

for path, param in nnx.to_flat_state(nnx.state(model)):
    array = param.get_value()
    local = array.addressable_shards[0].data.shape
    name = "/".join(map(str, path))
    print(f"{name:16} {array.shape!s:9} {array.sharding.spec!s:20} on each device: {local}")

# %% [markdown]
# Every `[8, …]` parameter keeps one row per device, and every kernel is stored whole on each
# device. `jax.debug.visualize_array_sharding` draws the same thing for one array: here the middle
# layer's `r` (8 members × 32 inputs) and its kernel `W` (32 × 32).

# %%
jax.debug.visualize_array_sharding(model.layers[2].r[...])

# %% [markdown]
# `r` is cut into 8 horizontal strips: member `k`'s row lives on CPU `k` and nowhere else.

# %%
jax.debug.visualize_array_sharding(model.layers[2].kernel[...])

# %% [markdown]
# `W` is one undivided block labelled with all 8 devices: each of them holds the full matrix.

# %% [markdown]
# ## 3. What does each device store?
#
# `device_bytes` adds up, per device, the bytes of the pieces it holds. The figure compares the
# BatchEnsemble model with a naive ensemble (8 independent MLPs of the same shape), both sharded
# by `shard_members`, on meshes of 1, 2, 4 and 8 devices: 8, 4, 2 and 1 members per device.

# %%
def bytes_on_device_0(make_model, n_devices: int) -> int:
    small_mesh = jax.make_mesh((n_devices,), ("members",))
    return device_bytes(shard_members(make_model(), small_mesh))[0]


def make_batchensemble():
    return bel.batchensemble(bel.mlp(2, 2, hidden=(32, 32), rngs=0), E, rngs=1)


def make_naive():
    return bel.naive_ensemble(bel.mlp(2, 2, hidden=(32, 32), rngs=0), E, rngs=1)


n_devices = [1, 2, 4, 8]
per_device = {
    "BatchEnsemble": [bytes_on_device_0(make_batchensemble, n) for n in n_devices],
    "naive ensemble": [bytes_on_device_0(make_naive, n) for n in n_devices],
}

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.4))
positions = np.arange(len(n_devices))
for offset, (label, values) in zip((-0.2, 0.2), per_device.items(), strict=True):
    ax.bar(positions + offset, np.array(values) / 1024, width=0.4, label=label)
ax.set_xticks(positions, [f"{n} device{'s' * (n > 1)}\n{E // n} per device" for n in n_devices])
ax.set_ylabel("KiB of parameters per device")
ax.set_title(f"One device's share of an E = {E} ensemble")
ax.legend()
plt.show()

for label, values in per_device.items():
    print(f"{label:15}", "  ".join(f"{v:6d} B" for v in values))

# %% [markdown]
# With all 8 members on one device, BatchEnsemble stores a fraction of what the naive ensemble
# needs: that is the paper's memory saving. Spread out to one member per device, the saving is
# gone: every device keeps a full copy of `W` plus its member's small vectors, while a naive
# member keeps just its own kernels and biases, so the naive ensemble needs slightly *less* per
# device (the printed numbers). BatchEnsemble's memory advantage comes from members *sharing* a
# device; sharding members buys parallel computation, not memory.

# %% [markdown]
# ## 4. The forward pass runs where the members live
#
# `shard_batch` splits the member-major batch `tile(x, E)` (8 blocks of 256 rows) along its rows
# over the same mesh axis, so device `k` receives exactly member `k`'s block: the rows that need
# `r_k`, `s_k` and `b_k`, which are already there. Look at the type: `2048@members` means "2048
# rows, split over the `members` axis".

# %%
x_members = shard_batch(bel.tile(x, E), mesh)
print(jax.typeof(x_members))
jax.debug.visualize_array_sharding(x_members)

# %% [markdown]
# The batch is cut into 8 strips of 256 rows in the same order as the rows of `r` above: CPU `k`
# holds member `k`'s block.

# %%
forward = nnx.jit(lambda model, inputs: model(inputs))

outputs = forward(model, x_members)  # sharded
expected = forward(reference, bel.tile(x, E))  # one device
print("outputs:", jax.typeof(outputs))
print("max |sharded - unsharded| =", np.max(np.abs(np.asarray(outputs) - np.asarray(expected))))

# %% [markdown]
# The output stays split over `members` and matches the one-device result. Each device now holds
# the logits of its own member, and only those:

# %%
per_member = np.asarray(bel.untile(expected, E))  # [E, 256, 2], from the one-device run
for shard in outputs.addressable_shards[:3]:
    rows = shard.index[0]  # the slice of the global rows this device holds
    k = rows.start // len(x)  # ... which are member k's block
    same = np.array_equal(np.asarray(shard.data), per_member[k])
    print(f"{shard.device}: rows {rows.start}-{rows.stop - 1}, member {k}'s logits: {same}")
print("...")

# %% [markdown]
# Did the devices need to talk to each other? `collectives` compiles a function for given
# arguments and counts the cross-device operations (`all-reduce`, `all-gather`, …) in the XLA
# program. An empty result means: every device computed its part alone.

# %%
graphdef, state = nnx.split(model)


def apply(state, inputs):
    return nnx.merge(graphdef, state)(inputs)


print("forward pass:", collectives(apply, state, x_members))

# %% [markdown]
# ## 5. A training step, sharded and unsharded
#
# One step of training: cross-entropy of every member on its rows, gradients, and an update with
# `bel.fast_weight_optimizer` (AdamW for `W` and the biases, Adam at half the rate for `r`, `s`).
# The same function runs on both models; only the placement of the inputs differs.

# %%
@nnx.jit
def train_step(model, optimizer, inputs, labels):
    def loss_fn(model):
        logits = model(inputs)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss, grads


# %%
y_members = shard_batch(bel.tile(y, E), mesh)
runs = {  # name: (model, its optimizer, inputs, labels)
    "unsharded": (reference, bel.tile(x, E), bel.tile(y, E)),
    "sharded": (model, x_members, y_members),
}
runs = {
    name: (m, nnx.Optimizer(m, bel.fast_weight_optimizer(m, 1e-2), wrt=nnx.Param), xs, ys)
    for name, (m, xs, ys) in runs.items()
}
results = {name: train_step(*run) for name, run in runs.items()}  # one step each

# %%
(loss0, grads0), (loss1, grads1) = results["unsharded"], results["sharded"]


def max_difference(tree_a, tree_b) -> float:
    pairs = zip(jax.tree.leaves(tree_a), jax.tree.leaves(tree_b), strict=True)
    return max(np.max(np.abs(np.asarray(a) - np.asarray(b))) for a, b in pairs)


print("loss:              ", float(loss0), float(loss1))
print("max |Δ gradient| = ", max_difference(grads0, grads1))
print("max |Δ parameter| =", max_difference(nnx.state(reference), nnx.state(model)))
print("gradient of r:     ", jax.typeof(grads1["layers"][2]["r"][...]))
print("gradient of W:     ", jax.typeof(grads1["layers"][2]["kernel"][...]))

# %% [markdown]
# Same loss, same gradients, same updated parameters, up to float32 rounding (sums taken in a
# different order). The gradient of `r` is split over the devices like `r` itself, while the
# gradient of `W` is whole everywhere. That one needs communication: every member's rows
# contribute to it, and they live on different devices. The compiled gradient program shows where:

# %%
def loss_of_state(state, inputs, labels):
    logits = apply(state, inputs)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


gradient_fn = jax.value_and_grad(loss_of_state)
print("loss and gradients:", collectives(gradient_fn, state, x_members, y_members))
program = jax.jit(gradient_fn).lower(state, x_members, y_members).compile().as_text()
for line in program.splitlines():
    if " all-reduce(" in line:
        summed = re.search(r"= (.*?) all-reduce\(", line).group(1)
        print("it sums:", re.sub(r"\{[\d,]*\}", "", summed))  # layouts such as {1,0} removed

# %% [markdown]
# A single all-reduce (a sum over the 8 devices) for the whole step. XLA bundles into it the
# loss (`f32[]`: each device's share of the mean over all rows) and the gradients of the three
# kernels `W`, one per layer, and nothing else: the gradients of `r`, `s` and the biases never
# leave their device.
#
# Longer training gives the same picture: 100 more steps of the same compiled `train_step` on
# both models.

# %%
losses = {name: [] for name in runs}
for _ in range(100):
    for name, run in runs.items():
        loss, _ = train_step(*run)
        losses[name].append(float(loss))
difference = np.max(np.abs(np.array(losses["sharded"]) - np.array(losses["unsharded"])))
print("max |Δ loss| over 100 steps:", difference)
print("r is still sharded:", model.layers[2].r[...].sharding.spec)

# %%
fig, ax = plt.subplots(figsize=(5.5, 3))
ax.plot(losses["unsharded"], lw=4, alpha=0.4, label="one device")
ax.plot(losses["sharded"], "k--", lw=1, label="8 devices, one member each")
ax.set_xlabel("training step")
ax.set_ylabel("mean cross-entropy over members")
ax.legend()
plt.show()

# %% [markdown]
# The dashed 8-device curve runs exactly inside the thick one-device curve from the first step to
# the last: the sharded training follows the same path.
#
# `bel.fit` also runs unchanged on a sharded model. It builds its own unsharded arrays (the tiled
# batch), so call it inside `with jax.set_mesh(mesh):`, which tells JAX which devices such arrays
# belong to.

# %% [markdown]
# ## 6. From one machine to many: `jax.distributed`
#
# Nothing above depends on the devices being simulated, or on one machine. On a cluster, the same
# script is started once per host (by SLURM, `mpirun`, Kubernetes, or a cloud TPU launcher), and
# the processes join up before anything else happens:
#
# ```python
# jax.distributed.initialize()  # coordinator address, process count and id from the cluster
# mesh = jax.make_mesh((jax.device_count(),), ("members",))  # every device of every host
# model = shard_members(make_batchensemble(), mesh)  # unchanged
#
# rows = np.arange(E * B).reshape(jax.process_count(), -1)[jax.process_index()]
# local = load_member_major_rows(rows)  # this host's rows only
# inputs = jax.make_array_from_process_local_data(NamedSharding(mesh, P("members")), local)
# ```
#
# **What changes.**
# - *Launch*: one process per host, each running the same program; `jax.distributed.initialize()`
#   connects them (on SLURM, TPU pods and Kubernetes-style clusters it finds the coordinator by
#   itself; otherwise pass `coordinator_address`, `num_processes`, `process_id`).
# - *The mesh* is built over `jax.devices()`, which now lists the devices of all hosts
#   (`jax.local_devices()` are the ones this process drives).
# - *Data loading*: each host loads only the rows that land on its own devices and assembles the
#   global array with `jax.make_array_from_process_local_data`. A global array is no longer fully
#   visible to one process: printing or saving it needs
#   `jax.experimental.multihost_utils.process_allgather`, and usually only process 0 writes files.
# - *Communication*: the all-reduce of section 5 now crosses the network between hosts, so
#   which devices sit on the same host starts to matter for speed (not for the numbers).
#
# **What does not change.** The model code, `bel.batchensemble`, `shard_members`, every
# `PartitionSpec`, the jitted training step, and the numbers it computes. `shard_members` places
# ordinary host arrays on a global mesh with `jax.device_put`; every process must therefore build
# the same model, which it does because every random draw comes from an explicit seed.

# %% [markdown]
# ## Exercises
#
# Each exercise cell runs as it is and its check says "not yet" until you fill it in; then it says
# "correct" or explains what is off. Solutions are in `notebooks/solutions/`: type
# `%load solutions/04_ex1_four_devices.py` (or `04_ex2_bytes.py`, `04_ex3_members_and_data.py`)
# into a new cell and run it; it replaces the cell's content with the solution.
#
# **Exercise 1 (two members per device).** Build a mesh over 4 of the 8 devices, with the axis
# name `"members"`, and shard `exercise_model` (a fresh copy of the `E = 8` reference) on it.

# %%
exercise_model = nnx.clone(reference)

mesh_4 = None  # your code here: a mesh of 4 devices, axis "members"

# %%
if mesh_4 is None:
    print("not yet - hint: jax.make_mesh takes the mesh shape and the axis names, like `mesh`")
else:
    exercise_model = shard_members(exercise_model, mesh_4)
    r_rows = [s.data.shape[0] for s in exercise_model.layers[2].r[...].addressable_shards]
    assert r_rows == [2, 2, 2, 2], (
        f"expected 4 devices holding 2 rows of r each, got rows per device {r_rows}"
    )
    check = forward(exercise_model, shard_batch(bel.tile(x, E), mesh_4))
    assert jnp.allclose(check, forward(reference, bel.tile(x, E)), atol=1e-5)
    print("correct: 2 members per device, same outputs as on one device")

# %% [markdown]
# **Exercise 2 (bytes per device).** Write down how many bytes device 0 holds for the
# BatchEnsemble MLP (2 → 32 → 32 → 2, float32, `E = 8`) when it is sharded over `n` devices.
# Count it from the shapes, not with `device_bytes`; the check compares it with `device_bytes`
# for `n` = 1, 2, 4 and 8.

# %%
def predicted_bytes(n: int) -> int | None:
    return None  # your code here


# %%
if predicted_bytes(1) is None:
    print("not yet - hint: every device holds all three kernels W; of r, s and the bias it holds")
    print("E / n rows; each float32 number takes 4 bytes")
else:
    for n, measured in zip(n_devices, per_device["BatchEnsemble"], strict=True):
        assert predicted_bytes(n) == measured, (
            f"n = {n}: device 0 holds {measured} bytes, your formula gives {predicted_bytes(n)}"
        )
    print("correct")

# %% [markdown]
# **Exercise 3 (members × data).** With more devices than members, a second mesh axis can split
# each member's rows: data parallelism *inside* every member. Take `E = 4` members on a 4 × 2
# mesh with axes `("members", "data")`, and shard the batch over both axes at once
# (`shard_batch(..., axis=("members", "data"))`). Each device then holds half of one member's rows.

# %%
mesh_2d = None  # your code here: the 4 x 2 mesh, axes ("members", "data")
x_2d = None  # your code here: bel.tile(x, 4), sharded over both mesh axes

# %%
if mesh_2d is None or x_2d is None:
    print("not yet - hint: jax.make_mesh((4, 2), ...), then shard_batch with a tuple of axes")
else:
    rows = [s.data.shape[0] for s in x_2d.addressable_shards]
    assert rows == [len(x) // 2] * 8, f"expected 8 devices with {len(x) // 2} rows each, got {rows}"
    unsharded_4 = bel.batchensemble(bel.mlp(2, 2, hidden=(32, 32), rngs=0), 4, rngs=1)
    model_4 = shard_members(nnx.clone(unsharded_4), mesh_2d)
    error = jnp.max(jnp.abs(forward(model_4, x_2d) - forward(unsharded_4, bel.tile(x, 4))))
    assert error < 1e-5, f"the outputs differ from the unsharded model's by {error}"
    print("correct: 4 members x 2 halves of the batch, same outputs")

# %% [markdown]
# ## What you have seen
#
# - `shard_members` gives every device its members' rows of `r`, `s` and bias and a full copy of
#   `W`; `shard_batch` gives it the matching rows of the member-major batch. Both are a few
#   `NamedSharding`/`PartitionSpec` placements; the model code does not change.
# - The forward pass then runs with no communication at all and returns outputs that stay split
#   by member; a training step needs one all-reduce, for the shared `W`'s gradients (and the loss).
# - Sharded and unsharded computations agree to float32 rounding, step by step.
# - Sharding members buys parallel computation, not memory: BatchEnsemble's saving comes from many
#   members sharing one copy of `W`, which is exactly what one-member-per-device gives up.
# - On many hosts only the launch, the global mesh and the data loading change.
