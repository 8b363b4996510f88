# Solution to exercise 1 of 01_effective_weights: member 2's W ∘ (r_2 s_2ᵀ), built by hand.
# ruff: noqa: F821 (exercise_layer and jnp come from the notebook)
r_2 = exercise_layer.r[...][2]  # [6]: scales the rows of W
s_2 = exercise_layer.s[...][2]  # [4]: scales the columns of W

W_2 = exercise_layer.kernel[...] * jnp.outer(r_2, s_2)  # W ∘ (r_2 s_2ᵀ), shape [6, 4]
# the same with broadcasting: exercise_layer.kernel[...] * r_2[:, None] * s_2[None, :]
