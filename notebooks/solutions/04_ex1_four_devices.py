# Solution to exercise 1 of 04_sharding_members: 8 members on a mesh of 4 devices.
# ruff: noqa: F821  (jax, nnx and reference come from the notebook)
exercise_model = nnx.clone(reference)

# jax.make_mesh uses the first 4 of the 8 devices; each gets E / 4 = 2 members.
mesh_4 = jax.make_mesh((4,), ("members",))
