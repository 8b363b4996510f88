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
# # 01 · Effective weights: one shared W, a rank-one pair per member
#
# [![Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/OWNER/REPO/HEAD?labpath=notebooks/01_effective_weights.ipynb)
#
# A BatchEnsemble layer (Wen, Tran & Ba, ICLR 2020,
# [arXiv:2002.06715v2](https://arxiv.org/abs/2002.06715v2)) stores *one* weight matrix $W$ and, for
# every ensemble member $i$, two small vectors $r_i$ and $s_i$. Member $i$ behaves exactly like an
# ordinary layer with the weight $W \circ (r_i s_i^\top)$, its *effective weight* (the paper's
# Equation 1 and Figure 2).
#
# **What you will learn**
# - to build $W \circ (r_i s_i^\top)$ by hand with `jax.numpy` and to read every piece of it as a
#   heatmap;
# - that `bel.BatchEnsembleLinear` gives the same numbers as multiplying by each member's explicit
#   weight, although it never builds those matrices;
# - why the batch must be laid out *member-major* (`bel.tile`, not `jnp.repeat`), and what silently
#   goes wrong otherwise;
# - how the initialisation of $r$ and $s$ decides how different the members start, and why members
#   that start identical stay identical through training (the collapse);
# - how many parameters and bytes this saves against $E$ separate layers, measured from the layer's
#   own state.
#
# **Prerequisites.** Matrix products and broadcasting in NumPy or `jax.numpy`; what a linear layer
# computes. **Run time:** 11–23 s (measured by `make bench` in a fresh kernel on a shared 2-core
# CPU).

# %%
# Colab or a fresh machine: install bel from its repository if it is missing (no-op here).
import importlib.util, subprocess, sys  # noqa: E401, I001
if importlib.util.find_spec("bel") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "bel @ git+https://github.com/OWNER/REPO"], check=True)

# %% [markdown]
# ## Setup
#
# One small layer is enough to see everything: 6 inputs, 4 outputs, $E = 4$ members. Figures are
# drawn by `bel.plots` in one house style (`bel.plots.style`).

# %%
# %matplotlib inline
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from IPython.display import display

import bel
from bel import metrics
from bel.plots import heatmap, plot_effective_weights, plot_factors, plot_member_layout, style

style.use()

# %% [markdown]
# ## 1. One shared $W$, one pair $(r_i, s_i)$ per member
#
# `bel.BatchEnsembleLinear` turns an ordinary `nnx.Linear` into an ensemble layer. It keeps the
# linear layer's kernel as the shared ("slow") weight $W$ of shape `[in, out]` and draws, per
# member, a "fast" vector $r_i$ of shape `[in]` and $s_i$ of shape `[out]`, here from the default
# $\mathcal{N}(1, 0.5^2)$. Every member also gets a bias of its own. The seeds are explicit (0 for
# the kernel, 1 for the fast weights), so every run gives the same numbers.

# %%
E = 4  # ensemble members
base = nnx.Linear(6, 4, rngs=nnx.Rngs(0))
layer = bel.BatchEnsembleLinear(base, rngs=1, num_members=E)

W, r, s = layer.kernel[...], layer.r[...], layer.s[...]
print("W    ", W.shape, "  shared by all members")
print("r    ", r.shape, "  row i is r_i, one entry per input feature")
print("s    ", s.shape, "  row i is s_i, one entry per output feature")
print("bias ", layer.bias[...].shape, "  one bias per member")

# %% [markdown]
# ## 2. Build $W \circ (r_i s_i^\top)$ by hand
#
# Two steps. First the *outer product* $r_i s_i^\top$: an `[in, out]` matrix whose entry $(a, b)$
# is $r_{i,a} \, s_{i,b}$. It has rank one: every row is a multiple of $s_i$. Then the *Hadamard*
# (elementwise) product $\circ$ with $W$:
#
# $$\big(W \circ (r_i s_i^\top)\big)_{ab} = W_{ab} \, r_{i,a} \, s_{i,b}.$$
#
# So $r_i$ rescales the **rows** of $W$ (the input features) and $s_i$ the **columns** (the output
# features). Broadcasting does all members at once.

# %%
rank_one = r[:, :, None] * s[:, None, :]  # [E, in, out]: r_i s_iᵀ for every member i
effective_weights = W[None, :, :] * rank_one  # [E, in, out]: W ∘ (r_i s_iᵀ)

print(effective_weights.shape)
print("member 0 via jnp.outer:", bool(jnp.allclose(rank_one[0], jnp.outer(r[0], s[0]))))

# %% [markdown]
# Here are the pieces for member 0: red is positive, blue negative, white zero. $r_0$ is drawn as
# a column (one entry per row of $W$) and $s_0^\top$ as a row (one entry per column of $W$). There
# are two colour scales: one for the factors $r_0$, $s_0^\top$, $r_0 s_0^\top$ and one shared by
# $W$ and the effective weight, so that you can compare those two directly.

# %%
factor_scale = max(float(jnp.abs(a).max()) for a in (r[0], s[0], rank_one[0]))
weight_scale = max(float(jnp.abs(a).max()) for a in (W, effective_weights[0]))
panels = [("$W$", W, weight_scale), ("$r_0$", r[0][:, None], factor_scale),
          ("$s_0^T$", s[0][None, :], factor_scale), ("$r_0 s_0^T$", rank_one[0], factor_scale),
          ("$W \\circ (r_0 s_0^T)$", effective_weights[0], weight_scale)]
fig = style.figure(9, 2.6)
axes = fig.subplots(1, 5, width_ratios=[4, 1, 4, 4, 4])
for ax, (title, matrix, vmax) in zip(axes, panels, strict=True):
    heatmap(ax, matrix, title=title, vmax=vmax)
fig.colorbar(axes[3].images[0], ax=axes[3], shrink=0.8, label="factors")
fig.colorbar(axes[4].images[0], ax=axes[4], shrink=0.8, label="$W$ and $W \\circ (r_0 s_0^T)$")
display(fig)
print(f"negative entries: {int((r[0] < 0).sum())} of {r.shape[1]} in r_0, "
      f"{int((s[0] < 0).sum())} of {s.shape[1]} in s_0;  entries of r_0, s_0 closest to 0: "
      f"{float(r[0][jnp.abs(r[0]).argmin()]):+.2f}, {float(s[0][jnp.abs(s[0]).argmin()]):+.2f}")

# %% [markdown]
# Notice what the factors do. Both vectors are drawn around 1, so most entries of
# $r_0 s_0^\top$ are positive and member 0's weight keeps most signs of $W$; what changes is the
# strength. An entry of $r_0$ or $s_0$ near 0 (pale) fades its whole row or column of
# $W \circ (r_0 s_0^\top)$ to nearly white, a dark one strengthens it, and a negative one (blue)
# flips the signs of its whole row or column. The printed line says which of these occur for
# member 0: compare it with the strips in the figure.

# %% [markdown]
# ### Several members side by side
#
# `bel.plots.plot_factors` draws the same five panels for several members, one member per row.
# Each column has one colour scale for all rows (bars underneath; the $r_i$ and $s_i^T$ columns
# share one), and $W$ and the effective weights share one scale (the first and last bars are the
# same), so you can compare members entry by entry and see what each member does to $W$.

# %% tags=["hide-input"]
plot_factors(layer, members=[0, 1, 2], cell=0.25)

# %% [markdown]
# Notice that the $W$ column is the same picture in every row: the members share it. All their
# differences come from the thin $r_i$ and $s_i$ strips, and every member's effective weight is
# $W$ with its rows and columns reweighted differently, never a new pattern from scratch.

# %% [markdown]
# ### The layer computes the same matrices
#
# `layer.effective_weights()` returns the same `[E, in, out]` array, computed by the library. The
# two agree up to float32 rounding (the library multiplies in a different order).

# %%
difference = jnp.abs(layer.effective_weights() - effective_weights).max()
print(f"max |layer.effective_weights() - by hand| = {float(difference):.1e}")

# %% [markdown]
# ## 3. The forward pass: one matmul for all members
#
# The effective weights are for looking at. The forward pass never builds them: for a batch $X$ in
# which rows $[kB, (k+1)B)$ belong to member $k$, the layer computes
#
# $$Y = \big((X \circ R)\, W\big) \circ S + \text{bias},$$
#
# where row block $k$ of $R$ and $S$ repeats $r_k$ and $s_k$: one matrix product with the shared $W$
# for all $E \cdot B$ rows, with an elementwise product before and after. This is the
# vectorised form of the paper's §3.1 ("Vectorization"). Versions of the paper and other
# implementations differ in which of the two vectors they put on the input side; in `bel`, which
# keeps `nnx.Linear`'s `[in, out]` kernel, $r_i$ always scales the inputs (the rows of $W$) and
# $s_i$ the outputs (its columns). `bel.tile(x, E)` stacks $E$ copies of a batch `x` in that
# order; `bel.untile` splits the `[E·B, out]` result back into `[E, B, out]`.
#
# Is that really member $i$ using the weight $W \circ (r_i s_i^\top)$? Compare with the explicit
# computation $x \, (W \circ r_i s_i^\top) + b_i$ for every member.

# %%
B = 5
x = jax.random.normal(jax.random.key(2), (B, 6))  # 5 inputs with 6 features

members = bel.untile(layer(bel.tile(x, E)), E)  # [E, B, out], fast path
explicit = jnp.stack([x @ effective_weights[i] + layer.bias[i] for i in range(E)])

print("fast path:", members.shape, "   explicit:", explicit.shape)
print(f"max |fast path - explicit| = {float(jnp.abs(members - explicit).max()):.1e}")

# %% [markdown]
# The difference is float32 rounding: the two computations are the same function, evaluated in a
# different order.

# %% [markdown]
# ## 4. Member-major layout: `tile`, not `repeat`
#
# The layer does not know which example a row holds: it only knows that rows $[kB, (k+1)B)$ get
# member $k$'s $r_k$, $s_k$ and bias. `jnp.tile` (what `bel.tile` does) puts the whole batch once
# per member, one block after the other. `jnp.repeat` looks similar but *interleaves*: it repeats
# each example $E$ times in a row. Tile and repeat the example numbers to see the difference.

# %%
example = jnp.arange(B)
print("bel.tile  :", bel.tile(example, E).tolist())
print("jnp.repeat:", jnp.repeat(example, E).tolist())

# %% [markdown]
# Now feed the repeated batch to the layer. Nothing raises an error, since $E \cdot B$ rows divide
# evenly among $E$ members, but the numbers that `untile` returns for "member $k$, example $j$" are
# no longer about example $j$:

# %%
wrong = bel.untile(layer(jnp.repeat(x, E, axis=0)), E)
print(f"max |repeat - explicit| = {float(jnp.abs(wrong - explicit).max()):.2f}")
for k in range(E):
    correct = jnp.all(jnp.isclose(wrong[k], explicit[k], atol=1e-5), axis=-1)
    print(f"member {k}: {int(correct.sum())} of {B} outputs are about the right example")

# %% [markdown]
# The picture explains it. Each cell is one row of the stacked batch, placed where the layer puts
# it: grid row $k$ is member $k$'s block, column $j$ is where `untile` reads member $k$'s answer
# for example $j$; the number (and colour) is the example actually sitting there. Red frames mark
# the cells that do not hold example $j$.

# %% tags=["hide-input"]
fig = style.figure(8.5, 2.6)
left, right = fig.subplots(1, 2)
plot_member_layout(bel.tile(example, E), E, ax=left, title="bel.tile(x, E): member-major")
plot_member_layout(jnp.repeat(example, E), E, ax=right, title="jnp.repeat(x, E): interleaved")
display(fig)

# %% [markdown]
# Notice that with `tile` every member sees every example, in order, with no red frame. With
# `repeat`, member 0 sees only the first couple of examples (each several times) and the last
# member only the last couple, so almost every answer `untile` hands back belongs to another
# example, and an ensemble average over members would mix predictions for different inputs. A
# real-world bug came from tiling during training and repeating at test time: always use
# `bel.tile`.

# %% [markdown]
# ## 5. Initialisation decides how different the members start
#
# How different are the members' effective weights before any training? That depends only on how
# $r$ and $s$ are drawn. Here are five choices, all on the same $W$:
#
# - `"normal"` with std 0: every $r_i = s_i = \mathbf{1}$, so every member *is* $W$: identical
#   members;
# - `"normal"` with std 0.1, 0.5 (the common default) and 1: $r, s \sim \mathcal{N}(1, \sigma^2)$;
# - `"random_sign"`: every entry of $r$ and $s$ is $\pm 1$ (the paper's Appendix B).
#
# To put a number on "how different", take the cosine similarity of two members' flattened
# effective weights, $\cos(W_i, W_j) = \langle W_i, W_j \rangle / (\lVert W_i \rVert \, \lVert W_j
# \rVert)$ (1: same direction), and average it over pairs: `bel.metrics.mean_pairwise_cosine`.

# %%
settings = {
    "std 0": dict(r_std=0.0, s_std=0.0),
    "std 0.1": dict(r_std=0.1, s_std=0.1),
    "std 0.5": dict(r_std=0.5, s_std=0.5),
    "std 1": dict(r_std=1.0, s_std=1.0),
    "random_sign": dict(init="random_sign"),
}
initialised = {
    name: bel.BatchEnsembleLinear(base, rngs=1, num_members=E, **options).effective_weights()
    for name, options in settings.items()
}
cosine = {name: float(metrics.mean_pairwise_cosine(w)) for name, w in initialised.items()}

# %% [markdown]
# One row per setting, one column per member, all on one colour scale so that brightness can be
# compared across rows too. The scale is $\pm 2 \max |W|$: the few entries beyond it are drawn at
# full colour. The mean pairwise cosine is in each row's label.

# %% tags=["hide-input"]
vmax = 2 * float(jnp.abs(W).max())
fig = style.figure(6.5, 8.5)
axes = fig.subplots(len(settings), E)
for row, (name, weights) in enumerate(initialised.items()):
    titles = None if row == 0 else [""] * E  # "member i" on the top row only
    label = f"{name}\ncos {cosine[name]:.2f}"
    plot_effective_weights(weights, axes=axes[row], vmax=vmax, label=label, titles=titles,
                           colorbar=False)
fig.colorbar(axes[0, 0].images[0], ax=axes, shrink=0.4, label="effective weight")
display(fig)

# %% [markdown]
# Notice the top row: four copies of the same matrix, and a cosine of 1. Going down, the members
# drift apart: with std 0.1 they still look alike, with std 1 some entries change sign and some
# grow far brighter than anything in $W$. `random_sign` is different in kind: every entry keeps
# its size $|W_{ab}|$ (the same pattern of intensity in each member) and only the signs flip, by
# row and by column.
#
# For a large layer the cosine has a simple prediction. Draw $r$ and $s$ from
# $\mathcal{N}(1, \sigma^2)$. The inner product of two different members' effective weights,
# $\sum_{ab} W_{ab}^2 \, r_{i,a} r_{j,a} \, s_{i,b} s_{j,b}$, averages $\sum_{ab} W_{ab}^2$
# (independent factors of mean 1), while each member's squared norm averages
# $(1 + \sigma^2)^2 \sum_{ab} W_{ab}^2$ (the mean of $r^2$ and of $s^2$ is $1 + \sigma^2$). So the
# mean cosine is about
#
# $$\overline{\cos} \approx \frac{1}{(1 + \sigma^2)^2}.$$
#
# Random signs are independent between members: about 0. The small 6 × 4 layer above is noisy; a
# 256 × 256 layer follows the prediction closely:

# %%
wide = nnx.Linear(256, 256, rngs=nnx.Rngs(0))
print(f"{'setting':<12} {'6 x 4 layer':>12} {'256 x 256':>10} {'predicted':>10}")
for name, options in settings.items():
    w = bel.BatchEnsembleLinear(wide, rngs=1, num_members=E, **options).effective_weights()
    sigma = options.get("r_std")
    predicted = 0.0 if sigma is None else 1 / (1 + sigma**2) ** 2
    print(f"{name:<12} {cosine[name]:>12.3f} {float(metrics.mean_pairwise_cosine(w)):>10.3f}"
          f" {predicted:>10.3f}")

# %% [markdown]
# ### The collapse: identical members stay identical
#
# With std 0 the members start as copies of one layer. Does training pull them apart? Take a small
# network, `bel.mlp(2, 2, hidden=(8, 8))`, convert every layer with std 0, and look at the
# gradient of the training loss. Every member sees the same tiled batch, and member $i$'s output
# depends only on $W$, $r_i$, $s_i$ and $b_i$; when all members are equal, their outputs, their
# losses and therefore the gradients of their own $r_i$, $s_i$, $b_i$ are equal too:

# %%
x_moons, y_moons = bel.data.two_moons(200, noise=0.3, seed=0)
net = bel.mlp(2, 2, hidden=(8, 8), rngs=0)
collapsed = bel.batchensemble(net, E, rngs=1, r_std=0.0, s_std=0.0)


def loss_fn(model):
    logits = model(bel.tile(x_moons, E))  # every member sees the same 200 points
    return optax.softmax_cross_entropy_with_integer_labels(logits, bel.tile(y_moons, E)).mean()


grads = nnx.jit(nnx.grad(loss_fn))(collapsed)  # compiled once, as bel.fit does
for name in ["r", "s", "bias"]:
    g = grads.layers[2][name][...]  # [E, 8]: one row per member
    print(f"gradient of {name:<4} in the hidden layer: max |member i - member 0| = "
          f"{float(jnp.abs(g - g[0]).max()):.1e}  (largest entry {float(jnp.abs(g).max()):.1e})")

# %% [markdown]
# Equal gradients give equal updates (Adam, like any optimiser, treats each entry by its own
# gradient history, which is the same for every member), so the members are still equal after
# the step, and after the next one, and after every step. Train the collapsed network and, for
# comparison, the same network converted with the default std 0.5, with `bel.fit`:

# %%
spread = bel.batchensemble(net, E, rngs=1)  # the default r, s ~ N(1, 0.5²)
for model in (collapsed, spread):
    bel.fit(model, x_moons, y_moons, steps=300, learning_rate=1e-2)
trained = {"std 0": collapsed.layers[2].effective_weights(),
           "std 0.5": spread.layers[2].effective_weights()}
for name, w in trained.items():
    print(f"{name:<8} after training: max |W_i - W_0| = {float(jnp.abs(w - w[0]).max()):.1e}, "
          f"mean pairwise cosine {float(metrics.mean_pairwise_cosine(w)):.3f}")

# %% tags=["hide-input"]
vmax = max(float(jnp.abs(w).max()) for w in trained.values())
fig = style.figure(7, 3.6)
axes = fig.subplots(2, E)
for row, (name, weights) in enumerate(trained.items()):
    plot_effective_weights(weights, axes=axes[row], vmax=vmax, label=f"{name}, trained",
                           titles=None if row == 0 else [""] * E, colorbar=False)
fig.colorbar(axes[0, 0].images[0], ax=axes, shrink=0.6, label="effective weight")
display(fig)

# %% [markdown]
# Notice the top row: after 300 steps of training the four members' hidden layers are still one
# and the same matrix, to the last bit, while the default initialisation (bottom row) gives four
# different ones. This is the *collapse*: an ensemble that costs $E$ forward passes and predicts
# like one network. Nothing in the training loss warns you, since a collapsed ensemble can fit
# the data as well as one network; only a diversity measurement (here the cosine of exactly 1)
# shows it. Full-batch training on a tiled batch has no noise that could break the tie (the
# paper's protocol, which gives each member its own sub-batch, would: the members would then see
# different rows; notebook 07 compares the two protocols). The paper's Appendix B and common code
# defaults avoid the collapse by drawing $r$ and $s$ with random signs or from
# $\mathcal{N}(1, 0.5^2)$. The later notebooks refer back to this section.

# %% [markdown]
# ## 6. Parameters and memory, measured
#
# Count what a layer actually stores: every `nnx.Param` in its state (the fast weights $r$, $s$
# are a `Param` subclass, `bel.FastWeight`), and the bytes of each array (its size times the
# bytes of one entry, which is what `array.nbytes` reports); `bel.compare.parameter_count` and
# `bel.compare.state_bytes` do exactly this. The comparison is a naive ensemble: $E$ separate
# `nnx.Linear` layers of the same shape.

# %%
def parameters_and_bytes(module: nnx.Module) -> tuple[int, int]:
    """Number of parameters and their bytes, read from the module's state by `bel.compare`."""
    return bel.compare.parameter_count(module), bel.compare.state_bytes(module)


state = nnx.state(layer, nnx.Param)
for name, variable in state.items():
    print(f"{name:<7} {type(variable).__name__:<11} {variable.shape}")

# %% [markdown]
# The formulas: BatchEnsemble stores $W$ once plus, per member, $r_i$, $s_i$ and a bias, so
# $n_\mathrm{in} n_\mathrm{out} + E\,(n_\mathrm{in} + 2 n_\mathrm{out})$ parameters; $E$ separate
# layers store $E\,(n_\mathrm{in} n_\mathrm{out} + n_\mathrm{out})$. Measure the small layer from
# the top of this notebook and a wide 256 × 256 one, and compare.

# %%
print(f"{'in x out':>9} {'BE':>7} {'formula':>8} {'separate':>9} {'formula':>8} {'ratio':>6}"
      f" {'BE bytes':>9} {'sep. bytes':>11}")
for plain in (base, wide):  # the 6 x 4 and the 256 x 256 nnx.Linear from above
    n_in, n_out = plain.in_features, plain.out_features
    be_params, be_bytes = parameters_and_bytes(bel.BatchEnsembleLinear(plain, 1, num_members=E))
    separate = nnx.List([nnx.Linear(n_in, n_out, rngs=nnx.Rngs(10 + i)) for i in range(E)])
    sep_params, sep_bytes = parameters_and_bytes(separate)
    be_formula, sep_formula = n_in * n_out + E * (n_in + 2 * n_out), E * (n_in * n_out + n_out)
    print(f"{f'{n_in} x {n_out}':>9} {be_params:>7,} {be_formula:>8,} {sep_params:>9,}"
          f" {sep_formula:>8,} {sep_params / be_params:>6.2f} {be_bytes:>9,} {sep_bytes:>11,}")

# %% [markdown]
# The measured counts match the formulas, and every parameter is a 4-byte float32. The saving
# depends on the size: the per-member cost $E\,(n_\mathrm{in} + 2 n_\mathrm{out})$ grows with the
# width of the layer, the shared $n_\mathrm{in} n_\mathrm{out}$ with its square.
#
# To see the trend without allocating (or compiling) anything, `nnx.eval_shape` builds a module
# whose state holds only shapes and dtypes, and the same `parameters_and_bytes` counts it.
# (`partial` fixes the width as a plain number: an argument handed to `eval_shape` itself would
# become abstract too, and a shape must be concrete.) The dots below are measured that way for
# square layers ($n_\mathrm{in} = n_\mathrm{out} = n$) with $E = 4$; the curves are the formulas'
# ratio $E (n^2 + n) / (n^2 + 3 E n)$ for $E = 2, 4, 8$.

# %%
def batchensemble_layer(n: int) -> bel.BatchEnsembleLinear:
    return bel.BatchEnsembleLinear(nnx.Linear(n, n, rngs=nnx.Rngs(0)), 1, num_members=E)


def separate_layers(n: int) -> nnx.List:
    return nnx.List([nnx.Linear(n, n, rngs=nnx.Rngs(i)) for i in range(E)])


widths = [2, 4, 8, 32, 128, 512, 2048]
measured_ratio = []
for n in widths:
    be_params, _ = parameters_and_bytes(nnx.eval_shape(partial(batchensemble_layer, n)))
    sep_params, _ = parameters_and_bytes(nnx.eval_shape(partial(separate_layers, n)))
    measured_ratio.append(sep_params / be_params)

# %% tags=["hide-input"]
width = np.logspace(0, 11, 200, base=2)
fig = style.figure(6, 3.2)
ax = fig.subplots()
for num_members in (2, 4, 8):
    ratio = num_members * (width**2 + width) / (width**2 + 3 * num_members * width)
    ax.plot(width, ratio, label=f"E = {num_members} (formula)")
    ax.axhline(num_members, color="grey", lw=0.6, ls=":")
ax.plot(widths, measured_ratio, "o", color="black", markeredgecolor="white",
        label="E = 4, measured")
ax.axhline(1, color="black", lw=0.6)
ax.legend(loc="upper left")
ax.set_xlabel("width (in = out)")
ax.set_ylabel("parameters:\nE separate / BatchEnsemble")
ax.set_xscale("log", base=2)
display(fig)

# %% [markdown]
# Notice that every curve rises towards its dotted line at $E$, and the measured dots sit on the
# $E = 4$ curve: a wide BatchEnsemble layer costs about as much as **one** layer, while a naive
# ensemble costs $E$ of them. For narrow layers the per-member vectors are not negligible and the
# saving is smaller; at a width of only a few units (below $2E / (E - 1)$) BatchEnsemble even
# stores more (the curves start under the solid line at 1). The paper reports the same for whole
# networks: its Section 3.2 puts a BatchEnsemble of four ResNet-32s at about 10% more parameters
# than one network, where a naive ensemble stores four, and its abstract sums up that "memory
# reduction is 3X at an ensemble of size 4".
#
# The same holds while the layer runs: the forward pass of section 3 touches $W$ once and the $E$
# small vectors, never $E$ full matrices. Only `effective_weights()` builds them, for looking at.

# %% [markdown]
# ## Exercises
#
# Each exercise cell runs as it is and its check says "not yet" until you fill it in; then the
# check says "correct" or explains what is off. The solutions are in `notebooks/solutions/`: to
# see one, type `%load solutions/01_ex1_effective_weight.py` (or `01_ex2_member_major.py`,
# `01_ex3_parameters.py`) into a new cell and run it; it replaces the cell's content with the
# solution.
#
# **Exercise 1 (by hand).** A new layer of the same shape, drawn from other seeds. Compute member
# 2's effective weight $W \circ (r_2 s_2^\top)$ from `exercise_layer.kernel`, `.r` and `.s` (read an
# array with `[...]`), without calling `effective_weights()`.

# %%
exercise_layer = bel.BatchEnsembleLinear(nnx.Linear(6, 4, rngs=nnx.Rngs(3)), rngs=4, num_members=E)

W_2 = None  # your code here: an array of shape [6, 4]

# %%
if W_2 is None:
    print("not yet - hint: take row 2 of r and of s, form their outer product, multiply by W")
else:
    expected = exercise_layer.effective_weights()[2]
    if jnp.shape(W_2) != expected.shape:
        print(f"not yet: W_2 should have the kernel's shape {expected.shape} ([in, out]), "
              f"got {jnp.shape(W_2)}")
    elif not jnp.allclose(W_2, expected, atol=1e-6):
        print("not yet: right shape, wrong numbers. Is it member 2 (the third row of r and s), "
              "and the outer product r_2 s_2ᵀ multiplied entrywise by W?")
    else:
        print("correct")

# %% [markdown]
# **Exercise 2 (layout).** A data pipeline hands you batches in the wrong layout,
# `x_interleaved = jnp.repeat(x, E, axis=0)`, and the original `x` is gone. Write
# `to_member_major(x_interleaved)`, which rearranges the rows of any such batch into member-major
# order, using only its argument (the original batch is not available to it, so `bel.tile` cannot
# help), so that the layer gives every member the right examples. The check calls it on batches
# you have not seen, of several sizes.


# %%
def to_member_major(x_interleaved):
    return None  # your code here: an array of the same shape, [E*B, features], member-major


# %%
def check_member_major():
    for b, key in [(B, 20), (3, 21), (7, 22)]:  # batches the function has not seen
        x_new = jax.random.normal(jax.random.key(key), (b, 6))
        got = to_member_major(jnp.repeat(x_new, E, axis=0))
        if got is None:
            return print("not yet - hint: row t of x_interleaved holds example t // E; reshape "
                         "it to [B, E, 6], swap the first two axes, and reshape back")
        if jnp.shape(got) != (E * b, 6):
            return print(f"not yet: for B = {b} expected shape {(E * b, 6)}, got {jnp.shape(got)}")
        if not jnp.allclose(got, bel.tile(x_new, E)):
            return print(f"not yet: for B = {b} block k (rows k*B to k*B+B-1) must hold examples "
                         "0, 1, ..., B-1 of the batch in order")
    print("correct")


check_member_major()

# %% [markdown]
# **Exercise 3 (arithmetic).** Write the parameter count of a BatchEnsemble layer as a function,
# including layers without a bias (`nnx.Linear(..., use_bias=False)`). The check measures
# layers of several shapes with `parameters_and_bytes` (built with `nnx.eval_shape`, shapes only,
# so the check is instant).

# %%
def batchensemble_parameters(n_in: int, n_out: int, num_members: int, use_bias: bool = True):
    return None  # your code here: an int


# %%
def layer_to_count(n_in: int, n_out: int, num_members: int, use_bias: bool):
    plain = nnx.Linear(n_in, n_out, use_bias=use_bias, rngs=nnx.Rngs(0))
    return bel.BatchEnsembleLinear(plain, 1, num_members=num_members)


shapes = [(3, 7, 2, True), (5, 1, 6, False), (10, 10, 4, True), (8, 2, 1, False)]


# %%
if batchensemble_parameters(3, 7, 2) is None:
    print("not yet - hint: W once, then per member r (in), s (out) and, with a bias, b (out)")
else:
    for n_in, n_out, e, use_bias in shapes:
        abstract = nnx.eval_shape(partial(layer_to_count, n_in, n_out, e, use_bias))  # shapes only
        measured, _ = parameters_and_bytes(abstract)
        formula = batchensemble_parameters(n_in, n_out, e, use_bias)
        if formula != measured:
            print(f"not yet: in={n_in}, out={n_out}, E={e}, use_bias={use_bias}: the layer "
                  f"stores {measured} parameters, your formula gives {formula}")
            break
    else:
        print("correct")

# %% [markdown]
# ## Summary
#
# - Member $i$ of a BatchEnsemble layer is an ordinary linear layer with weight
#   $W \circ (r_i s_i^\top)$: the shared $W$ with its rows scaled by $r_i$ and its columns by $s_i$.
# - The layer computes all members with one matrix product, $((X \circ R)\, W) \circ S +
#   \text{bias}$, and gives the same numbers as the explicit weights, provided the batch is
#   member-major (`bel.tile`, never `jnp.repeat`).
# - How different the members start is set by the initialisation of $r$ and $s$: identical at
#   std 0, mean cosine about $1 / (1 + \sigma^2)^2$ for $\mathcal{N}(1, \sigma^2)$, about 0 for
#   random signs. Members that start identical get identical gradients and stay identical through
#   full-batch training: the collapse.
# - A wide layer costs about one layer instead of $E$, measured from its state.
#
# ## References
#
# - Y. Wen, D. Tran, J. Ba. *BatchEnsemble: an Alternative Approach to Efficient Ensemble and
#   Lifelong Learning.* ICLR 2020. [arXiv:2002.06715v2](https://arxiv.org/abs/2002.06715v2): the
#   effective weight (Section 3.1, Equation 1, Figure 2), the vectorised forward pass (Equation 5),
#   the memory cost (Section 3.2), random-sign initialisation (Appendix B).
# - The fast-weight training recipe used by `bel.fit` follows the BatchEnsemble baselines in
#   [google/uncertainty-baselines](https://github.com/google/uncertainty-baselines), including
#   that every member sees the same rows (the collapse experiment above); the paper instead splits
#   each batch among the members (§3.1), a difference notebooks 02 and 07 take up.
#
# **Next:** [`02_batchensemble_vs_naive`](02_batchensemble_vs_naive.ipynb) trains BatchEnsemble
# against a naive ensemble of independent networks and measures what this saving costs in
# quality, and where the members disagree. Whether members that are rescaled copies of one $W$
# differ *enough* for their disagreement to be useful uncertainty is the question notebooks 02,
# 03 and 06 measure, and [`07_what_batchensemble_buys`](07_what_batchensemble_buys.ipynb)
# answers with all of them and the field's results together.
