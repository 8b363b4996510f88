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
# # 04 · Sharding the members: what it costs and when it pays
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/OWNER/REPO/HEAD?labpath=notebooks/04_sharding_members.ipynb)
#
# Everything that belongs to member $i$ of a BatchEnsemble layer sits in row $i$ of $r$, $s$ and
# the bias; only $W$ is shared. That makes the members easy to spread over several devices, and
# the paper advertises exactly this: BatchEnsemble is "parallelizable across devices, where one
# device trains one member" (abstract of [Wen, Tran & Ba, 2020, arXiv:2002.06715v2](https://arxiv.org/abs/2002.06715v2)).
# This notebook does it with JAX's own sharding, checks that nothing changes numerically, and then
# counts honestly what it costs.
#
# **The result first.** With one member per device, sharding BatchEnsemble costs *more* than
# sharding a naive ensemble the same way: every device keeps a full copy of $W$ (so it stores
# more bytes than a naive member), and every training step needs an all-reduce of $W$'s gradient
# across devices, which the naive ensemble does not need at all. It pays when several members
# share a device: then they share one copy of $W$, and the per-device memory grows by a few
# vectors per member instead of a whole network. Sections 4 and 5 measure both.
#
# **What you will learn**
# - to simulate 8 devices on a CPU, build a mesh and place arrays with `NamedSharding` and
#   `PartitionSpec` (through `bel.sharding.shard_members` and `shard_batch`);
# - to read from the compiled XLA program which cross-device operations a step needs, and how
#   many bytes they move;
# - what each device stores, and from how many members per device BatchEnsemble beats a naive
#   ensemble;
# - what changes when the same code runs on many machines (`jax.distributed`).
#
# **Prerequisites**: notebooks 01 (the layer $W \circ (r_i s_i^\top)$ and the member-major
# batch) and 02 (the naive ensemble); `jax.jit` and `jax.grad`. **Run time**: 11–21 s
# (measured by `make bench` in a fresh kernel on a shared 2-core CPU).

# %%
# Colab or a fresh machine: install bel from its repository if it is missing (no-op here).
import importlib.util, subprocess, sys  # noqa: E401, I001

if importlib.util.find_spec("bel") is None:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "bel @ git+https://github.com/OWNER/REPO"],
        check=True,
    )

# %% [markdown]
# ## 0. Eight devices on one CPU
#
# JAX can split the CPU into several *simulated* devices. They share the same cores and memory,
# so nothing gets faster, but the program is sharded as it would be over 8 devices: the same
# placements, and the cross-device operations that XLA inserts for them on this backend, which
# this notebook reads from the compiled program. What it cannot show is how real hardware
# behaves: timings, memory limits, and the speed of an all-reduce between real GPUs (and the
# exact collectives XLA picks for them) may all differ. The flag is read once, when JAX starts:
# it must be set **before `jax` is imported**, which is why it comes first. (If you already
# imported JAX in this kernel, restart the kernel and run from the top.)

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
import numpy as np
import optax
from flax import nnx
from IPython.display import display

import bel
from bel.plots import style
from bel.sharding import collective_bytes, collectives, device_bytes, shard_batch, shard_members

style.use()
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
# ## 3. The forward pass runs where the members live
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
# ## 4. A training step, sharded and unsharded
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
# kernels $W$, one per layer, and nothing else: the gradients of $r$, $s$ and the biases never
# leave their device.
#
# **This is the price of sharing $W$.** A naive ensemble sharded the same way (each device holds
# its members' own kernels) has nothing to sum: member $k$'s gradient depends only on member $k$'s
# rows, which are on member $k$'s device. `collective_bytes` adds up what each device sends into
# the sums of one step, for both models. (`sharded` builds a sharded model under `nnx.eval_shape`:
# shapes and placements only, no numbers, which is all that compiling needs.)


# %%
def step_bytes(model) -> int:
    """Bytes each device sends into all-reduces for one loss-and-gradient step of ``model``."""
    graphdef, state = nnx.split(model)
    members = bel.num_members(model)

    def loss(state, inputs, labels):
        logits = nnx.merge(graphdef, state)(inputs)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    inputs, labels = (shard_batch(bel.tile(a, members), mesh) for a in (x, y))
    return collective_bytes(jax.value_and_grad(loss), state, inputs, labels).get("all-reduce", 0)


# %%
def sharded(convert, m: int):
    """The MLP with m members per device, from shapes only (nothing is drawn or stored)."""
    mlp = bel.mlp(2, 2, hidden=(32, 32), rngs=0)
    return nnx.eval_shape(lambda: shard_members(convert(mlp, E * m, rngs=1), mesh))


# %%
kernel_bytes = sum(layer.kernel[...].nbytes for layer in reference.layers[::2])
print(
    f"BatchEnsemble: {step_bytes(model):5d} B per device per step "
    f"(the three kernels' gradients: {kernel_bytes} B, plus the 4-byte loss)"
)
naive_bytes = step_bytes(sharded(bel.naive_ensemble, 1))
print(f"naive:         {naive_bytes:5d} B per device per step (the loss only)")

# %% [markdown]
# The naive ensemble exchanges only the 4-byte loss (and only because the loss is reported as one
# mean over all members; training itself needs nothing). BatchEnsemble exchanges a gradient the
# size of $W$ at every step. With a toy MLP that is a few KiB; with a real network it is the size
# of the whole shared network, every step, and on real hardware the devices wait for it.
#
# Longer training gives the same picture as the single step: 60 more steps of the same compiled
# `train_step` on both models, with the loss of the first step (above) as step 1.

# %%
losses = {name: [float(results[name][0])] for name in runs}  # step 1
for _ in range(60):
    for name, run in runs.items():
        loss, _ = train_step(*run)
        losses[name].append(float(loss))
difference = np.max(np.abs(np.array(losses["sharded"]) - np.array(losses["unsharded"])))
print(f"max |Δ loss| over {len(losses['sharded'])} steps: {difference:.2g}")
print("r is still sharded:", model.layers[2].r[...].sharding.spec)

# %% tags=["hide-input"]
steps = np.arange(1, len(losses["unsharded"]) + 1)  # step 1 is the first update
fig = style.figure(6, 3)
ax = fig.subplots()
ax.plot(steps, losses["unsharded"], lw=5, alpha=0.4, label="one device")
ax.plot(steps, losses["sharded"], "k--", lw=1.2, label=f"{E} devices, one member each")
ax.set(xlabel="training step", ylabel="mean cross-entropy over members", xlim=(1, steps[-1]))
ax.legend()
display(fig)

# %% [markdown]
# The dashed 8-device curve runs inside the thick one-device curve from step 1 to the last
# step: the sharded training follows the same path.
#
# `bel.fit` also runs unchanged on a sharded model. It builds its own unsharded arrays (the tiled
# batch), so call it inside `with jax.set_mesh(mesh):`, which tells JAX which devices such arrays
# belong to.

# %% [markdown]
# ## 5. What each device stores, and when sharding BatchEnsemble pays
#
# `device_bytes` adds up, per device, the bytes of the pieces it holds. Per layer with $d_{in}$
# inputs and $d_{out}$ outputs, a device holding $m$ members stores (float32, 4 bytes a number)
#
# $$\text{BatchEnsemble: } 4\,\big(d_{in} d_{out} + m\,(d_{in} + 2 d_{out})\big), \qquad
# \text{naive: } 4\,m\,(d_{in} d_{out} + d_{out}).$$
#
# At $m = 1$ the naive member wins by exactly the bytes of $r$ and $s$. From $m = 2$ on the
# shared $W$ is paid once for several members. Keep the 8 devices and let the ensemble grow,
# $E = 8m$ for $m = 1, 2, 4, 8, 16$ members per device:

# %%
members_per_device = [1, 2, 4, 8, 16]
converters = {"BatchEnsemble": bel.batchensemble, "naive": bel.naive_ensemble}
memory = {
    name: [device_bytes(sharded(convert, m))[0] for m in members_per_device]
    for name, convert in converters.items()
}

# %%
ratio = np.array(memory["naive"]) / np.array(memory["BatchEnsemble"])
print(" m    E  BatchEnsemble     naive   naive / BatchEnsemble")
for i, m in enumerate(members_per_device):
    be, nv = memory["BatchEnsemble"][i], memory["naive"][i]
    print(f"{m:2d} {E * m:4d} {be:12d} B {nv:8d} B {ratio[i]:16.2f}")
rs_bytes = 4 * sum(layer.in_features + layer.out_features for layer in reference.layers[::2])
extra = memory["BatchEnsemble"][0] - memory["naive"][0]
print(f"at m = 1, BatchEnsemble stores {extra} B more per device; r and s are {rs_bytes} B")
largest = {name: sharded(convert, members_per_device[-1]) for name, convert in converters.items()}
traffic = {name: f"{step_bytes(model)} B" for name, model in largest.items()}
print(f"at m = {members_per_device[-1]}, the all-reduce per step is still {traffic}")

# %% tags=["hide-input"]
fig = style.figure(8.5, 3.2)
ax_memory, ax_ratio = fig.subplots(1, 2)
for name in converters:  # the house colours for the two models
    kib = np.array(memory[name]) / 1024
    ax_memory.plot(members_per_device, kib, "o-", c=style.MODEL_COLORS[name], label=name)
ax_ratio.plot(members_per_device, ratio, "ko-", label="measured")
ax_ratio.axhline(1, color="grey", ls=":", label="equal memory")
for ax in (ax_memory, ax_ratio):
    ax.set_xscale("log", base=2)
    ax.set_xticks(members_per_device, members_per_device)
    ax.set_xlabel(f"members per device m (E = {E}·m on {E} devices)")
    ax.legend()
ax_memory.set(ylabel="KiB of parameters per device", title="(a) memory per device", ylim=(0, None))
ax_ratio.set(ylabel="naive ÷ BatchEnsemble", title="(b) how much more the naive ensemble needs")
display(fig)

# %% [markdown]
# In (a) the two lines start almost together at one member per device, with BatchEnsemble slightly
# *above*, and then part: the naive ensemble's memory grows by a whole network per added member,
# BatchEnsemble's by a few vectors. In (b) the ratio starts just below 1 (BatchEnsemble needs
# more) and climbs with every doubling of $m$; the table gives the bytes. The price of this
# saving does not grow with $m$: the all-reduce per step stays the size of $W$'s gradient (last
# printed line), however many members share a device.
#
# So: sharding buys **parallel computation**; BatchEnsemble's **memory** advantage comes from
# members *sharing* a device, and sharding one member per device gives it up and adds an
# all-reduce per step. The sensible layout is as few devices as the computation needs, each with
# many members. (When $W$ itself is too large for one device, it has to be split as well, over a
# second mesh axis: tensor parallelism. Then the forward pass needs communication too; that is
# beyond this notebook.)

# %% [markdown]
# ## 6. From one machine to many: `jax.distributed`
#
# Nothing above depends on the devices being simulated, or on one machine. On a cluster, the same
# script is started once per host (by SLURM, `mpirun`, Kubernetes, or a cloud TPU launcher), and
# the processes join up before anything else happens. The script below is a **launch recipe,
# shown and not executed here** (it needs a cluster); every name in it is defined in it:
#
# ```python
# # launch.py, started once per host, e.g. `srun python launch.py` under SLURM
# import jax
# import numpy as np
# from jax.sharding import NamedSharding, PartitionSpec as P
#
# import bel
# from bel.sharding import shard_members
#
# jax.distributed.initialize()  # coordinator address, process count and id from the cluster
# E, B = jax.device_count(), 256  # one member per device of every host, B rows per member
# mesh = jax.make_mesh((E,), ("members",))  # every device of every host
# model = shard_members(bel.batchensemble(bel.mlp(2, 2, hidden=(32, 32), rngs=0), E, rngs=1), mesh)
#
# x, y = bel.data.two_moons(B, seed=0)  # the same seed on every host: the same data
# local_rows = np.arange(E * B).reshape(jax.process_count(), -1)[jax.process_index()]
# local = np.asarray(bel.tile(x, E))[local_rows]  # a real loader reads only these rows
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
# - *Communication*: the all-reduce of section 4 now crosses the network between hosts, so the
#   bytes measured there are paid in network time at every step.
#
# **What does not change.** The model code, `bel.batchensemble`, `shard_members`, every
# `PartitionSpec`, the jitted training step, and the numbers it computes. `shard_members` places
# ordinary host arrays on a global mesh with `jax.device_put`; every process must therefore build
# the same model, which it does because every random draw comes from an explicit seed.

# %% [markdown]
# ## Exercises
#
# Each exercise cell runs as it is and its check says "not yet" until you fill it in; then it says
# "correct" or explains what is off, as often as you re-run it. Solutions are in
# `notebooks/solutions/`: type `%load solutions/04_ex1_four_devices.py` (or
# `04_ex2_members_and_data.py`) into a new cell and run it; it replaces the cell's content with
# the solution.
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
    check = forward(exercise_model, shard_batch(bel.tile(x, E), mesh_4))
    error = float(jnp.max(jnp.abs(check - forward(reference, bel.tile(x, E)))))
    if r_rows != [2, 2, 2, 2]:
        print(f"not quite: expected 4 devices with 2 rows of r each, got rows per device {r_rows}")
    elif error > 1e-5:
        print(f"not quite: the outputs differ from the one-device outputs by {error:.2g}")
    else:
        print("correct: 2 members per device, same outputs as on one device")

# %% [markdown]
#

# %% [markdown]
# **Exercise 2 (members × data).** With more devices than members, a second mesh axis can split
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
    unsharded_4 = bel.batchensemble(bel.mlp(2, 2, hidden=(32, 32), rngs=0), 4, rngs=1)
    model_4 = shard_members(nnx.clone(unsharded_4), mesh_2d)
    if rows != [len(x) // 2] * 8:
        print(f"not quite: expected 8 devices with {len(x) // 2} rows each, got {rows}")
    else:
        error = jnp.max(jnp.abs(forward(model_4, x_2d) - forward(unsharded_4, bel.tile(x, 4))))
        print(
            "correct: 4 members x 2 halves of the batch, same outputs"
            if error < 1e-5
            else f"not quite: the outputs differ from the unsharded model's by {error:.2g}"
        )

# %% [markdown]
# ## Summary
#
# - `shard_members` gives every device its members' rows of $r$, $s$ and bias and a full copy of
#   $W$; `shard_batch` gives it the matching rows of the member-major batch. Both are a few
#   `NamedSharding` / `PartitionSpec` placements; the model code does not change, and sharded and
#   unsharded computations agree to float32 rounding, step by step.
# - The forward pass needs no communication. Every training step needs one all-reduce of $W$'s
#   gradient (the size of $W$): the price of sharing $W$ across devices, which a naive ensemble
#   sharded the same way does not pay.
# - With one member per device, BatchEnsemble also stores more per device than a naive ensemble
#   (by exactly $r$ and $s$). It pays when several members share a device: memory then grows by
#   a few vectors per member, against a whole network per member for the naive ensemble.
# - On many hosts only the launch, the global mesh and the data loading change.
# - This notebook is about cost, not about what the members predict: whether BatchEnsemble's
#   members are different enough to be worth running side by side is measured in notebooks 02,
#   03 and 06 and summed up in [`07_what_batchensemble_buys`](07_what_batchensemble_buys.ipynb).
#
# ## References
#
# - Y. Wen, D. Tran, J. Ba. *BatchEnsemble: an Alternative Approach to Efficient Ensemble and
#   Lifelong Learning.* ICLR 2020. [arXiv:2002.06715v2](https://arxiv.org/abs/2002.06715v2) (the
#   quotation above is from its abstract).
# - JAX: [Distributed arrays and automatic parallelization](https://docs.jax.dev/en/latest/notebooks/Distributed_arrays_and_automatic_parallelization.html),
#   [Explicit sharding](https://docs.jax.dev/en/latest/notebooks/explicit-sharding.html),
#   [Multi-process environments](https://docs.jax.dev/en/latest/multi_process.html).
#
# **Next:** [05 · Lifelong learning](05_lifelong_learning.ipynb): the paper's other use of one
# shared $W$, learning a sequence of tasks with one new member per task.
